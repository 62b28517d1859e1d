"""Stages on the working-day clock: start, pause (补正), resume, close, and recompute with warnings.

A stage's deadline is ``working_days`` working days after the day it started, extended by the
working days its pauses covered: a pause from day p to day r adds the working days in (p, r], so
the day a requester answers does not count, as the day of any starting event does not.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.orm import Session

import catalog_schema.models  # noqa: F401  (every table clock_stages refers to, for bulk UPDATEs)
from authz.calendar import service as calendar_service
from authz.calendar.models import CalendarArrangement
from authz.calendar.schemas import ArrangementFile
from authz.calendar.service import WorkingCalendar, end_of_day, local_date, start_of_day
from authz.clock.models import ClockStage, SlaProfile
from authz.clock.schemas import SlaProfileUpdate
from authz.types import RUNNING_STATES, StageKind, StageState
from catalog_schema.errors import Conflict
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role

DEFAULT_PROFILE = "default"

# Whose inbox a stage's warnings go to, in the stage's department.
RESPONSIBLE_ROLE = {
    StageKind.review: Role.catalog_admin,
    StageKind.provision: Role.catalog_admin,
    StageKind.decision: Role.dept_approver,
    StageKind.discrepancy: Role.dept_approver,
}


def now_utc() -> datetime:
    return datetime.now(UTC)


def active_profile(*, db: Session) -> SlaProfile:
    """The SLA profile in force; the 3/3/10 defaults when none is stored."""
    profile = db.scalar(select(SlaProfile).where(SlaProfile.is_active.is_(True)).order_by(SlaProfile.id))
    return profile or SlaProfile(
        name=DEFAULT_PROFILE,
        review_days=3,
        provision_days=3,
        decision_days=10,
        discrepancy_days=10,
        due_soon_days=1,
        is_active=True,
    )


def _pause_days(calendar: WorkingCalendar, pauses: Iterable[dict[str, Any]], today: date) -> int:
    """Working days covered by pauses: (paused day, resumed day], up to today for an open pause."""
    total = 0
    for pause in pauses:
        paused_on = local_date(datetime.fromisoformat(pause["from"]))
        until = pause.get("until")
        resumed_on = local_date(datetime.fromisoformat(until)) if until else today
        total += calendar.working_days_between(paused_on, resumed_on)
    return total


@dataclass(frozen=True)
class Schedule:
    due_on: date
    due_at: datetime
    warn_at: datetime
    provisional: bool


def schedule_of(
    calendar: WorkingCalendar,
    *,
    start_on: date,
    working_days: int,
    pauses: Iterable[dict[str, Any]],
    due_soon_days: int,
    today: date,
) -> Schedule:
    """Due date, yellow-warning start and provisional flag of a stage, from its start and pauses."""
    due = calendar.deadline(start_on, working_days + _pause_days(calendar, pauses, today))
    warn_on = calendar.working_day_before(due.due_on, due_soon_days)
    return Schedule(due.due_on, end_of_day(due.due_on), start_of_day(warn_on), due.provisional)


# A moved deadline is a new deadline: its yellow and red warnings (and 督办) are owed again.
_WARNINGS_CLEARED = {"yellow_at": None, "red_at": None, "escalated_at": None}


def _apply(stage: ClockStage, plan: Schedule) -> None:
    if stage.due_on is not None and plan.due_on != stage.due_on:
        for name, value in _WARNINGS_CLEARED.items():
            setattr(stage, name, value)
    stage.due_on, stage.due_at, stage.warn_at, stage.provisional = (
        plan.due_on,
        plan.due_at,
        plan.warn_at,
        plan.provisional,
    )


def reschedule(*, stage: ClockStage, calendar: WorkingCalendar, today: date) -> None:
    """Recompute a stage's deadline from its start, its limit and its pauses (open ones up to ``today``)."""
    _apply(
        stage,
        schedule_of(
            calendar,
            start_on=stage.start_on,
            working_days=stage.working_days,
            pauses=stage.pauses,
            due_soon_days=stage.due_soon_days,
            today=today,
        ),
    )


def start(
    *,
    db: Session,
    kind: StageKind,
    department_id: int,
    subject: str,
    at: datetime,
    calendar: WorkingCalendar,
    profile: SlaProfile,
    request_id: int | None = None,
    discrepancy_id: int | None = None,
) -> ClockStage:
    """Start a stage at ``at`` with the profile's limit for its kind."""
    stage = ClockStage(
        kind=kind,
        department_id=department_id,
        subject=subject[:300],
        request_id=request_id,
        discrepancy_id=discrepancy_id,
        working_days=profile.days_for(kind),
        due_soon_days=profile.due_soon_days,
        started_at=at,
        start_on=local_date(at),
        pauses=[],
        state_changed_at=at,
    )
    _apply(
        stage,
        schedule_of(
            calendar,
            start_on=stage.start_on,
            working_days=stage.working_days,
            pauses=(),
            due_soon_days=profile.due_soon_days,
            today=stage.start_on,
        ),
    )
    stage.state = stage.running_state_at(at)
    db.add(stage)
    return stage


def stages_of_tickets(*, db: Session, ticket_ids: list[int]) -> list[ClockStage]:
    """The clock stages of these discrepancy tickets (a ticket has one once a clock run started it)."""
    return list(db.scalars(select(ClockStage).where(ClockStage.discrepancy_id.in_(ticket_ids))))


def _require_running(stage: ClockStage) -> None:
    if stage.state not in RUNNING_STATES:
        raise Conflict(
            f"办理环节“{stage.kind.label}”当前为“{stage.state.label}”，不能计时操作",
            f"stage {stage.kind.value} is {stage.state.value}; the clock cannot change it",
            code="stage_not_running",
        )


def pause(*, stage: ClockStage, at: datetime, reason: str, by: str) -> None:
    """Stop the clock while the requester prepares supplementary material (补正)."""
    _require_running(stage)
    stage.pauses = [*stage.pauses, {"from": at.isoformat(), "until": None, "reason": reason, "by": by}]
    stage.paused_since = at
    stage.state = StageState.paused
    stage.state_changed_at = at


def _close_pause(stage: ClockStage, at: datetime) -> None:
    if stage.paused_since is None:
        return
    stage.pauses = [*stage.pauses[:-1], {**stage.pauses[-1], "until": at.isoformat()}]
    stage.paused_since = None


def resume(*, stage: ClockStage, at: datetime, calendar: WorkingCalendar) -> None:
    """Restart the clock; the deadline moves by the working days the pause covered."""
    if stage.state is not StageState.paused:
        raise Conflict(
            f"办理环节“{stage.kind.label}”未暂停",
            f"stage {stage.kind.value} is not paused",
            code="stage_not_paused",
        )
    _close_pause(stage, at)
    reschedule(stage=stage, calendar=calendar, today=local_date(at))
    stage.state = stage.running_state_at(at)
    stage.state_changed_at = at


def close(*, stage: ClockStage, at: datetime, calendar: WorkingCalendar, cancelled: bool = False) -> None:
    """End a stage: met or met late against its due time, or cancelled (withdrawn in time, not measured).

    A stage withdrawn after its deadline stays measured as met late: withdrawing must not wipe
    an overdue stage out of the on-time rate.
    """
    if not stage.state.is_open:
        raise Conflict(
            f"办理环节“{stage.kind.label}”已办结",
            f"stage {stage.kind.value} is already closed",
            code="stage_closed",
        )
    if stage.paused_since is not None:
        _close_pause(stage, at)
        reschedule(stage=stage, calendar=calendar, today=local_date(at))
    stage.completed_at = at
    late = at > stage.due_at
    if cancelled and not late:
        stage.state = StageState.cancelled
    else:
        stage.state = StageState.met_late if late else StageState.met
    stage.state_changed_at = at


@dataclass
class RecomputeReport:
    """What one recompute changed."""

    deadlines_checked: int = 0
    deadlines_changed: int = 0
    states_changed: int = 0
    rejudged: int = 0  # closed stages whose met / met late verdict changed under a loaded arrangement
    open_by_state: dict[str, int] = field(default_factory=dict)


def recompute(
    *,
    db: Session,
    now: datetime,
    calendar: WorkingCalendar,
    all_deadlines: bool = False,
) -> RecomputeReport:
    """Bring open stages up to date at ``now``.

    Deadlines are recomputed for paused stages (their due day moves while they wait), provisional
    ones (an arrangement may have been loaded since) or, with ``all_deadlines``, every open stage.
    States of running stages then follow from ``due_at``/``warn_at`` in one UPDATE.
    """
    report = RecomputeReport()
    today = local_date(now)
    open_states = [s.value for s in StageState if s.is_open]
    stmt = select(
        ClockStage.id,
        ClockStage.start_on,
        ClockStage.working_days,
        ClockStage.due_soon_days,
        ClockStage.pauses,
        ClockStage.due_on,
        ClockStage.warn_at,
        ClockStage.provisional,
    ).where(ClockStage.state.in_(open_states))
    if not all_deadlines:
        stmt = stmt.where(ClockStage.provisional.is_(True) | ClockStage.paused_since.is_not(None))
    changes: list[dict[str, Any]] = []
    # Most stages were never paused, and many share a start day and limit: compute each once.
    unpaused: dict[tuple[date, int, int], Schedule] = {}
    rows = db.execute(stmt)
    for stage_id, start_on, working_days, due_soon_days, pauses, due_on, warn_at, provisional in rows:
        report.deadlines_checked += 1
        key = (start_on, working_days, due_soon_days)
        plan = unpaused.get(key) if not pauses else None
        if plan is None:
            plan = schedule_of(
                calendar,
                start_on=start_on,
                working_days=working_days,
                pauses=pauses or (),
                due_soon_days=due_soon_days,
                today=today,
            )
            if not pauses:
                unpaused[key] = plan
        if (plan.due_on, plan.warn_at, plan.provisional) != (due_on, warn_at, provisional):
            change = {
                "id": stage_id,
                "due_on": plan.due_on,
                "due_at": plan.due_at,
                "warn_at": plan.warn_at,
                "provisional": plan.provisional,
            }
            changes.append(change | _WARNINGS_CLEARED if plan.due_on != due_on else change)
    if changes:
        db.execute(update(ClockStage), changes)
    report.deadlines_changed = len(changes)
    running = [s.value for s in RUNNING_STATES]
    new_state = ClockStage.running_state_at(now)
    result: CursorResult[Any] = db.execute(  # type: ignore[assignment]
        update(ClockStage)
        .where(ClockStage.state.in_(running), ClockStage.state != new_state)
        .values(state=new_state, state_changed_at=now)
        .execution_options(synchronize_session=False)
    )
    report.states_changed = result.rowcount or 0
    report.open_by_state = {
        str(state): count
        for state, count in db.execute(
            select(ClockStage.state, func.count())
            .where(ClockStage.state.in_(open_states))
            .group_by(ClockStage.state)
        )
    }
    db.expire_all()
    return report


def update_profile(*, db: Session, data: SlaProfileUpdate, user: User | None) -> SlaProfile:
    """Change the active SLA profile's limits; running stages keep theirs, new stages use these."""
    profile = active_profile(db=db)
    if profile.id is None:
        db.add(profile)
    for name, value in data.model_dump(exclude_unset=True, exclude_none=True).items():
        setattr(profile, name, value)
    profile.updated_by_id = user.id if user else None
    db.flush()
    return profile


def apply_arrangement(
    *,
    db: Session,
    arrangement: ArrangementFile,
    user: User | None,
    region: str,
    now: datetime | None = None,
) -> tuple[CalendarArrangement, RecomputeReport]:
    """Load a calendar arrangement, then recompute every open stage's deadline under it.

    All open stages, not only provisional ones: an arrangement replaces the package's days for
    its year, and a regional one can move deadlines that were already firm.
    """
    row = calendar_service.load_arrangement(db=db, arrangement=arrangement, user=user)
    calendar = calendar_service.get_calendar(db=db, region=region)
    at = now or now_utc()
    report = recompute(db=db, now=at, calendar=calendar, all_deadlines=True)
    report.rejudged = rejudge_closed(db=db, calendar=calendar)
    return row, report


def rejudge_closed(*, db: Session, calendar: WorkingCalendar) -> int:
    """Closed stages measured against a provisional deadline are judged again under ``calendar``."""
    stages = db.scalars(
        select(ClockStage).where(
            ClockStage.provisional.is_(True),
            ClockStage.completed_at.is_not(None),
            ClockStage.state.in_((StageState.met, StageState.met_late)),
        )
    ).all()
    changed = 0
    for stage in stages:
        assert stage.completed_at is not None
        reschedule(stage=stage, calendar=calendar, today=local_date(stage.completed_at))
        verdict = StageState.met if stage.completed_at <= stage.due_at else StageState.met_late
        if verdict is not stage.state:
            stage.state = verdict
            changed += 1
    db.flush()
    return changed
