"""The clock of a stage: due dates, yellow and red, pauses for 补正, met and met late, recompute."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from authz.calendar.service import national_calendar, parse_arrangement
from authz.clock import service as clock_service
from authz.clock.models import ClockStage
from authz.clock.schemas import SlaProfileUpdate
from authz.sharing import service as sharing_service
from authz.sharing.models import SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import RequestAction, StageKind, StageState
from catalog_schema.user import service as user_service
from catalog_schema.user.models import User
from tests import factories

CAL = national_calendar()
# 2027 is provisional in the package; this arrangement makes 元旦 five days long.
ARRANGEMENT_2027 = parse_arrangement(
    {
        "year": 2027,
        "source": "测试用 2027 年节假日安排",
        "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-05"}],
    }
)


def beijing(text: str) -> datetime:
    """A Beijing wall-clock time as an aware UTC datetime."""
    return datetime.fromisoformat(text + "+08:00").astimezone(UTC)


def demo_user(db: Session, name: str) -> User:
    found = user_service.get_by_username(db=db, username=name)
    assert found is not None
    return found


def submit(db: Session, at: datetime, **overrides: object) -> SharingRequest:
    data = RequestCreate(**factories.sharing_request(**overrides))
    return sharing_service.submit(db=db, data=data, user=demo_user(db, "requester"), now=at)


def act(
    db: Session, request: SharingRequest, action: RequestAction, who: str, at: datetime, **body: object
) -> None:
    user = demo_user(db, who)
    sharing_service.act(db=db, request=request, action=action, data=TransitionIn(**body), user=user, now=at)


def recompute(db: Session, at: datetime) -> clock_service.RecomputeReport:
    return clock_service.recompute(db=db, now=at, calendar=CAL)


def review_stage(request: SharingRequest) -> ClockStage:
    return request.stages[0]


def test_review_is_due_three_working_days_after_submission(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    stage = review_stage(request)
    assert (stage.kind, stage.due_on, stage.state) == (
        StageKind.review,
        date(2026, 11, 19),
        StageState.on_time,
    )


def test_submission_just_before_national_day_is_due_on_the_make_up_saturday(db: Session) -> None:
    request = submit(db, beijing("2026-09-30T16:00"))
    assert review_stage(request).due_on == date(2026, 10, 10)


@pytest.mark.parametrize(
    ("at", "state"),
    [
        ("2026-11-17T23:59", StageState.on_time),  # two working days left
        ("2026-11-18T00:00", StageState.due_soon),  # one working day left: yellow
        ("2026-11-19T23:59", StageState.due_soon),  # the due day itself
        ("2026-11-20T00:00", StageState.overdue),  # red
    ],
)
def test_state_follows_the_working_days_left(db: Session, at: str, state: StageState) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    recompute(db, beijing(at))
    db.refresh(review_stage(request))
    assert review_stage(request).state is state


def test_yellow_starts_on_the_last_working_day_before_a_weekend_due_date(db: Session) -> None:
    # Submitted Thursday 2026-11-19: due Tuesday 11-24; one working day left from Monday 11-23.
    request = submit(db, beijing("2026-11-19T09:00"))
    recompute(db, beijing("2026-11-21T12:00"))
    db.refresh(review_stage(request))
    assert (review_stage(request).due_on, review_stage(request).state) == (
        date(2026, 11, 24),
        StageState.on_time,
    )


def test_recompute_reports_only_changed_states(db: Session) -> None:
    submit(db, beijing("2026-11-16T10:00"))
    first = recompute(db, beijing("2026-11-20T09:00"))
    again = recompute(db, beijing("2026-11-20T10:00"))
    assert (first.states_changed >= 1, again.states_changed) == (True, 0)


def test_decision_done_before_the_deadline_is_met(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(db, request, RequestAction.accept, "catalog_admin", beijing("2026-11-17T10:00"))
    act(db, request, RequestAction.approve, "approver", beijing("2026-12-01T23:59"))
    assert [s.state for s in request.stages] == [StageState.met, StageState.met]


def test_decision_done_after_the_deadline_is_met_late(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(db, request, RequestAction.accept, "catalog_admin", beijing("2026-11-20T10:00"))
    assert request.stages[0].state is StageState.met_late


def test_supplement_pauses_the_clock(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(
        db,
        request,
        RequestAction.request_supplement,
        "catalog_admin",
        beijing("2026-11-17T10:00"),
        reason="缺授权书",
    )
    stage = review_stage(request)
    assert (stage.state, stage.paused_since, stage.pauses[0]["reason"]) == (
        StageState.paused,
        beijing("2026-11-17T10:00"),
        "缺授权书",
    )


def test_paused_stage_never_turns_red(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(
        db,
        request,
        RequestAction.request_supplement,
        "catalog_admin",
        beijing("2026-11-17T10:00"),
        reason="缺授权书",
    )
    recompute(db, beijing("2026-12-10T10:00"))
    db.refresh(review_stage(request))
    assert review_stage(request).state is StageState.paused


def test_resumption_extends_the_deadline_by_the_working_days_paused(db: Session) -> None:
    # Paused Tuesday 11-17, answered Friday 11-20: (11-17, 11-20] holds 3 working days, so 11-19 → 11-24.
    request = submit(db, beijing("2026-11-16T10:00"))
    act(
        db,
        request,
        RequestAction.request_supplement,
        "catalog_admin",
        beijing("2026-11-17T10:00"),
        reason="缺授权书",
    )
    act(db, request, RequestAction.supplement, "requester", beijing("2026-11-20T15:00"), reason="已补充")
    stage = review_stage(request)
    assert (stage.state, stage.due_on, stage.pauses[0]["until"]) == (
        StageState.on_time,
        date(2026, 11, 24),
        beijing("2026-11-20T15:00").isoformat(),
    )


def test_pause_and_answer_on_the_same_day_keeps_the_deadline(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(
        db,
        request,
        RequestAction.request_supplement,
        "catalog_admin",
        beijing("2026-11-17T10:00"),
        reason="缺授权书",
    )
    act(db, request, RequestAction.supplement, "requester", beijing("2026-11-17T16:00"))
    assert review_stage(request).due_on == date(2026, 11, 19)


def test_pause_over_the_holiday_counts_only_working_days(db: Session) -> None:
    # Decision accepted Tuesday 09-29 is due 10-19 (the make-up Saturday 10-10 counts); paused 09-30 and
    # answered 10-09: (09-30, 10-09] holds 10-08 and 10-09, so the due day moves two working days.
    request = submit(db, beijing("2026-09-28T10:00"))
    act(db, request, RequestAction.accept, "catalog_admin", beijing("2026-09-29T10:00"))
    due_before = request.stages[1].due_on
    act(
        db,
        request,
        RequestAction.request_supplement,
        "approver",
        beijing("2026-09-30T10:00"),
        reason="补充用途",
    )
    act(db, request, RequestAction.supplement, "requester", beijing("2026-10-09T10:00"))
    assert (due_before, request.stages[1].due_on) == (date(2026, 10, 19), date(2026, 10, 21))


def test_a_paused_stages_due_date_moves_while_it_waits(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(
        db,
        request,
        RequestAction.request_supplement,
        "catalog_admin",
        beijing("2026-11-17T10:00"),
        reason="缺授权书",
    )
    recompute(db, beijing("2026-11-20T10:00"))
    db.refresh(review_stage(request))
    assert review_stage(request).due_on == date(2026, 11, 24)


def test_second_pause_adds_to_the_first(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(
        db,
        request,
        RequestAction.request_supplement,
        "catalog_admin",
        beijing("2026-11-17T10:00"),
        reason="一",
    )
    act(db, request, RequestAction.supplement, "requester", beijing("2026-11-18T10:00"))  # +1 → 11-20
    act(
        db,
        request,
        RequestAction.request_supplement,
        "catalog_admin",
        beijing("2026-11-19T10:00"),
        reason="二",
    )
    act(db, request, RequestAction.supplement, "requester", beijing("2026-11-23T10:00"))  # +2 → 11-24
    stage = review_stage(request)
    assert (stage.due_on, len(stage.pauses)) == (date(2026, 11, 24), 2)


def test_deadline_in_a_year_without_arrangement_is_provisional(db: Session) -> None:
    request = submit(db, beijing("2026-12-22T10:00"))
    act(db, request, RequestAction.accept, "catalog_admin", beijing("2026-12-24T10:00"))
    decision = request.stages[1]
    assert (decision.due_on, decision.provisional) == (date(2027, 1, 8), True)


def test_loading_the_arrangement_recomputes_provisional_deadlines(db: Session) -> None:
    request = submit(db, beijing("2026-12-22T10:00"))
    act(db, request, RequestAction.accept, "catalog_admin", beijing("2026-12-24T10:00"))
    _row, report = clock_service.apply_arrangement(
        db=db,
        arrangement=ARRANGEMENT_2027,
        user=None,
        region="",
        now=beijing("2026-12-25T10:00"),
    )
    decision = request.stages[1]
    db.refresh(decision)
    assert (report.deadlines_changed, decision.due_on, decision.provisional) == (1, date(2027, 1, 12), False)


def test_new_limits_apply_to_stages_started_afterwards(db: Session) -> None:
    before = submit(db, beijing("2026-11-16T10:00"))
    clock_service.update_profile(db=db, data=SlaProfileUpdate(review_days=5), user=None)
    after = submit(db, beijing("2026-11-16T10:00"))
    assert (review_stage(before).working_days, review_stage(after).working_days) == (3, 5)


def test_closing_a_closed_stage_is_refused(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(db, request, RequestAction.reject, "catalog_admin", beijing("2026-11-17T10:00"), reason="用途不明确")
    with pytest.raises(clock_service.Conflict):
        clock_service.close(stage=review_stage(request), at=beijing("2026-11-17T12:00"), calendar=CAL)


def test_withdrawing_an_overdue_request_still_counts_it_late(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(db, request, RequestAction.withdraw, "requester", beijing("2026-11-25T10:00"))
    assert review_stage(request).state is StageState.met_late


def test_withdrawing_in_time_cancels_the_stage(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(db, request, RequestAction.withdraw, "requester", beijing("2026-11-17T10:00"))
    assert review_stage(request).state is StageState.cancelled


def test_a_moved_deadline_owes_its_warnings_again(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    stage = review_stage(request)
    stage.yellow_at = beijing("2026-11-18T00:05")
    act(
        db,
        request,
        RequestAction.request_supplement,
        "catalog_admin",
        beijing("2026-11-18T10:00"),
        reason="缺",
    )
    act(db, request, RequestAction.supplement, "requester", beijing("2026-11-24T10:00"))
    assert (stage.due_on, stage.yellow_at) == (date(2026, 11, 25), None)


def test_rejecting_during_supplement_closes_the_pause_and_measures_the_stage(db: Session) -> None:
    request = submit(db, beijing("2026-11-16T10:00"))
    act(
        db,
        request,
        RequestAction.request_supplement,
        "catalog_admin",
        beijing("2026-11-17T10:00"),
        reason="缺",
    )
    act(db, request, RequestAction.reject, "catalog_admin", beijing("2026-11-27T10:00"), reason="逾期未补正")
    stage = review_stage(request)
    assert (stage.state, stage.paused_since, stage.due_on) == (StageState.met, None, date(2026, 12, 1))


def test_a_closed_stage_is_judged_again_when_its_provisional_year_is_arranged(db: Session) -> None:
    request = submit(db, beijing("2026-12-22T10:00"))
    act(db, request, RequestAction.accept, "catalog_admin", beijing("2026-12-24T10:00"))
    act(db, request, RequestAction.approve, "approver", beijing("2027-01-11T10:00"))  # provisional due 01-08
    late = request.stages[1].state
    _row, report = clock_service.apply_arrangement(
        db=db,
        arrangement=ARRANGEMENT_2027,
        user=None,
        region="",
        now=beijing("2027-01-12T10:00"),
    )
    decision = request.stages[1]
    db.refresh(decision)
    assert (late, report.rejudged, decision.state, decision.due_on) == (
        StageState.met_late,
        1,
        StageState.met,
        date(2027, 1, 12),
    )
