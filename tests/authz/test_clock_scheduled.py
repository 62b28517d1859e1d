"""The clock's periodic jobs: discrepancy tickets on the clock, grant expiry, yellow and red warnings
with 督办 recorded once, mail to a real local SMTP server, and the CLI that runs it all.

Times are Beijing time in the comments. A request submitted on Wednesday 2026-09-30, the eve of
the National Day holiday (10-01..07), has its 3-working-day review due on Saturday 10-10, a
make-up working day; the yellow warning starts on 10-09.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from authz.clock import flows as clock_flows
from authz.clock import notify, scheduled
from authz.clock.cli import clock_app
from authz.clock.models import ClockStage, Notification, OutboundMessage
from authz.clock.settings import ClockSettings
from authz.sharing import service as sharing_service
from authz.sharing.models import Grant, SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import (
    Channel,
    GrantStatus,
    NotificationKind,
    OutboundStatus,
    RequestAction,
    RequestStatus,
    StageKind,
    StageState,
)
from catalog_schema import migrate
from catalog_schema.database import get_engine, get_sessionmaker
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement
from catalog_schema.keys.service import get_keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import Discrepancy, IngestBatch
from catalog_schema.library.schemas import DiscrepancyResolve
from catalog_schema.pagination import PageParams
from catalog_schema.types import BatchStatus, DiscrepancyKind, DiscrepancyStatus, Library
from catalog_schema.user import service as user_service
from catalog_schema.user.roles import Role
from demo import catalog as demo_catalog
from tests import factories
from tests.authz.test_notify import free_port, local_smtp, local_webhook

SUBMITTED = datetime(2026, 9, 30, 2, 0, tzinfo=UTC)  # Wed 09-30 10:00
BEFORE_WARNING = datetime(2026, 10, 8, 1, 0, tzinfo=UTC)  # Thu 10-08 09:00, first day back
DUE_SOON = datetime(2026, 10, 9, 1, 0, tzinfo=UTC)  # Fri 10-09 09:00, one working day left
DUE_SOON_LATER = datetime(2026, 10, 9, 8, 0, tzinfo=UTC)  # Fri 10-09 16:00
OVERDUE = datetime(2026, 10, 11, 1, 0, tzinfo=UTC)  # Sun 10-11 09:00, the day after the due day
OVERDUE_LATER = datetime(2026, 10, 12, 1, 0, tzinfo=UTC)  # Mon 10-12 09:00

DETECTED = datetime(2026, 9, 29, 2, 0, tzinfo=UTC)  # Tue 09-29 10:00: 10 working days → Mon 10-19
ID_NUMBER = "350102199001011234"
SUPERVISOR = "xiexiaofeng@sjj.rongcheng.gov.cn"  # 数据局's 督办 contact, 谢晓峰

NO_CHANNELS = ClockSettings(smtp_host="", notify_webhook_url="")


@pytest.fixture
def request_(db: Session) -> SharingRequest:
    """A request for 市场监管's 企业登记基本信息, submitted on the eve of National Day."""
    requester = user_service.get_by_username(db=db, username="requester")
    assert requester is not None
    return sharing_service.submit(
        db=db,
        data=RequestCreate(**factories.direct_request()),
        user=requester,
        now=SUBMITTED,
    )


def _review(request: SharingRequest) -> ClockStage:
    [stage] = request.stages
    return stage


def _notifications(db: Session, stage: ClockStage, kind: NotificationKind) -> list[Notification]:
    return list(
        db.scalars(select(Notification).where(Notification.stage_id == stage.id, Notification.kind == kind))
    )


def _department(db: Session, slug: str) -> Department:
    department = db.scalar(select(Department).where(Department.slug == slug))
    assert department is not None
    return department


@pytest.fixture
def ticket(db: Session) -> Discrepancy:
    """人社 spells a citizen's name differently from 公安, the authoritative source of 人口.姓名."""
    return _ticket(db, detected_at=DETECTED)


def _ticket(db: Session, *, detected_at: datetime, subject_key: str = ID_NUMBER) -> Discrepancy:
    renshe, gongan = _department(db, "renshe"), _department(db, "gongan")
    batch = IngestBatch(
        source="test_canbao",
        title="测试参保数据",
        library=Library.population,
        department_id=renshe.id,
        run_id="test",
        status=BatchStatus.succeeded,
    )
    db.add(batch)
    db.flush()
    keyring = get_keyring()
    ticket = Discrepancy(
        library=Library.population,
        element_id=db.scalar(select(DataElement.id).where(DataElement.code == "population.name")),
        # Stored as the pipelines store it: the blind index, the key itself sealed.
        subject_key=subjects.stored_key(keyring, Library.population, [subject_key]),
        subject_cipher=subjects.subject_cipher(keyring, Library.population, [subject_key]),
        kind=DiscrepancyKind.value_mismatch,
        authoritative_department_id=gongan.id,
        authoritative_value="张三",
        other_department_id=renshe.id,
        other_value="张叁",
        detected_at=detected_at,
        batch_id=batch.id,
        status=DiscrepancyStatus.open,
    )
    db.add(ticket)
    db.flush()
    return ticket


def _stage_of(db: Session, ticket: Discrepancy) -> ClockStage:
    stage = db.scalar(select(ClockStage).where(ClockStage.discrepancy_id == ticket.id))
    assert stage is not None
    db.refresh(stage)
    return stage


# Yellow warnings


def test_a_stage_with_more_than_a_working_day_left_gets_no_warning(db, request_):
    summary = scheduled.recompute_and_warn(db=db, now=BEFORE_WARNING, settings=NO_CHANNELS)

    stage = _review(request_)
    assert (summary["yellow"], summary["red"]) == (0, 0)
    assert (stage.state, stage.yellow_at) == (StageState.on_time, None)


def test_a_stage_entering_due_soon_gets_a_yellow_warning_in_the_responsible_inbox(db, request_):
    summary = scheduled.recompute_and_warn(db=db, now=DUE_SOON, settings=NO_CHANNELS)

    stage = _review(request_)
    [warning] = _notifications(db, stage, NotificationKind.due_soon)
    assert summary["yellow"] == 1
    assert (stage.state, stage.yellow_at) == (StageState.due_soon, DUE_SOON)
    assert (warning.department_id, warning.role) == (_department(db, "shujuju").id, Role.catalog_admin.value)
    subject = f"共享申请 {request_.number}《企业登记基本信息》规范性审查"
    assert warning.title == f"【黄牌预警】{subject}，将于 2026-10-10 到期"
    assert warning.request_id == request_.id


def test_a_yellow_warning_is_recorded_once_across_runs(db, request_):
    scheduled.recompute_and_warn(db=db, now=DUE_SOON, settings=NO_CHANNELS)

    again = scheduled.recompute_and_warn(db=db, now=DUE_SOON_LATER, settings=NO_CHANNELS)

    stage = _review(request_)
    assert again["yellow"] == 0
    assert len(_notifications(db, stage, NotificationKind.due_soon)) == 1
    assert stage.yellow_at == DUE_SOON


def test_a_yellow_warning_goes_to_the_webhook_but_not_to_the_supervisor(db, request_):
    settings = ClockSettings(smtp_host="127.0.0.1", notify_webhook_url="http://127.0.0.1:9/hook")

    scheduled.recompute_and_warn(db=db, now=DUE_SOON, settings=settings)

    [message] = db.scalars(select(OutboundMessage)).all()
    assert (message.channel, message.payload["event"]) == (Channel.webhook, "due_soon")
    assert message.payload["stage"]["due_on"] == "2026-10-10"


# Red warnings and 督办


def test_an_overdue_stage_gets_a_red_warning_and_is_escalated_to_the_responsible_role(db, request_):
    summary = scheduled.recompute_and_warn(db=db, now=OVERDUE, settings=NO_CHANNELS)

    stage = _review(request_)
    [red] = _notifications(db, stage, NotificationKind.overdue)
    [escalation] = _notifications(db, stage, NotificationKind.escalation)
    assert (summary["red"], summary["escalated"]) == (1, 1)
    assert (stage.state, stage.red_at, stage.escalated_at) == (StageState.overdue, OVERDUE, OVERDUE)
    assert red.role == Role.catalog_admin.value and red.title.startswith("【红牌预警】")
    assert (escalation.role, escalation.department_id) == (
        Role.catalog_admin.value,
        _department(db, "shujuju").id,
    )
    assert "谢晓峰" in escalation.body and SUPERVISOR in escalation.body


def test_red_warning_and_escalation_are_recorded_once_across_runs(db, request_):
    settings = ClockSettings(smtp_host="127.0.0.1", notify_webhook_url="")
    scheduled.recompute_and_warn(db=db, now=OVERDUE, settings=settings)

    again = scheduled.recompute_and_warn(db=db, now=OVERDUE_LATER, settings=settings)

    stage = _review(request_)
    assert (again["red"], again["escalated"], again["queued"]) == (0, 0, 0)
    assert len(_notifications(db, stage, NotificationKind.overdue)) == 1
    assert len(_notifications(db, stage, NotificationKind.escalation)) == 1
    assert len(db.scalars(select(OutboundMessage)).all()) == 1
    assert stage.escalated_at == OVERDUE


def test_a_stage_first_seen_overdue_gets_the_red_warning_only(db, request_):
    summary = scheduled.recompute_and_warn(db=db, now=OVERDUE, settings=NO_CHANNELS)

    stage = _review(request_)
    [red] = _notifications(db, stage, NotificationKind.overdue)
    assert (summary["yellow"], summary["red"]) == (0, 1)
    assert (stage.state, stage.red_at) == (StageState.overdue, OVERDUE)
    assert red.title.startswith("【红牌预警】") and red.role == Role.catalog_admin.value
    assert stage.yellow_at is None
    assert _notifications(db, stage, NotificationKind.due_soon) == []


def test_escalation_mail_reaches_the_supervisor_through_a_real_smtp_server(db, session_factory, request_):
    with local_smtp() as (port, mailbox):
        settings = ClockSettings(smtp_host="127.0.0.1", smtp_port=port, notify_webhook_url="")
        scheduled.recompute_and_warn(db=db, now=OVERDUE, settings=settings)

        delivered = scheduled.deliver(session_factory=session_factory, now=OVERDUE, settings=settings)

    [envelope] = mailbox.envelopes
    [mail] = mailbox.messages()
    assert delivered == {"sent": 1, "failed": 0, "retrying": 0, "waiting": 0}
    assert envelope.rcpt_tos == [SUPERVISOR]
    assert mail["Subject"] == f"【督办】共享申请 {request_.number}《企业登记基本信息》规范性审查已超期"
    assert "谢晓峰" in mail.get_content()


def test_escalation_reaches_a_real_webhook_with_the_stage_and_the_supervisor(db, session_factory, request_):
    with local_webhook() as (url, received):
        settings = ClockSettings(notify_webhook_url=url)
        scheduled.recompute_and_warn(db=db, now=OVERDUE, settings=settings)

        scheduled.deliver(session_factory=session_factory, now=OVERDUE, settings=settings)

    [call] = received
    payload = call["json"]
    assert (payload["event"], payload["request_id"]) == ("escalation", request_.id)
    assert payload["stage"]["kind"] == StageKind.review.value
    assert payload["department"]["slug"] == "shujuju"
    assert payload["supervisor"]["email"] == SUPERVISOR


def test_escalation_mail_to_an_unreachable_server_stays_pending_for_the_next_run(
    db, session_factory, request_
):
    settings = ClockSettings(smtp_host="127.0.0.1", smtp_port=free_port(), notify_webhook_url="")
    scheduled.recompute_and_warn(db=db, now=OVERDUE, settings=settings)

    delivered = scheduled.deliver(session_factory=session_factory, now=OVERDUE, settings=settings)

    db.expire_all()
    [message] = db.scalars(select(OutboundMessage)).all()
    assert delivered == {"sent": 0, "failed": 0, "retrying": 1, "waiting": 0}
    assert (message.status, message.attempts) == (OutboundStatus.pending, 1)
    assert message.last_error


# Discrepancy tickets


def test_sync_starts_a_discrepancy_stage_counted_from_detection(db, ticket):
    summary = scheduled.sync_discrepancies(db=db, now=DETECTED + timedelta(hours=1), settings=NO_CHANNELS)

    stage = _stage_of(db, ticket)
    assert summary == {"started": 1, "closed": 0}
    assert (stage.kind, stage.department_id) == (StageKind.discrepancy, ticket.authoritative_department_id)
    assert (stage.started_at, stage.working_days, stage.due_on.isoformat()) == (DETECTED, 10, "2026-10-19")


def test_a_discrepancy_stage_subject_masks_the_id_number(db, ticket):
    scheduled.sync_discrepancies(db=db, now=DETECTED, settings=NO_CHANNELS)

    stage = _stage_of(db, ticket)
    assert stage.subject == f"校核差异工单 #{ticket.id} 人口.姓名 350102********1234"
    assert ID_NUMBER not in stage.subject


def test_sync_is_idempotent(db, ticket):
    scheduled.sync_discrepancies(db=db, now=DETECTED, settings=NO_CHANNELS)

    again = scheduled.sync_discrepancies(db=db, now=DETECTED, settings=NO_CHANNELS)

    assert again == {"started": 0, "closed": 0}
    assert len(db.scalars(select(ClockStage).where(ClockStage.discrepancy_id == ticket.id)).all()) == 1


def test_sync_closes_the_stage_of_a_ticket_answered_elsewhere_at_its_answer_time(db, ticket):
    scheduled.sync_discrepancies(db=db, now=DETECTED, settings=NO_CHANNELS)
    answered = datetime(2026, 10, 12, 2, 0, tzinfo=UTC)
    ticket.status, ticket.resolved_at = DiscrepancyStatus.corrected, answered
    db.flush()

    summary = scheduled.sync_discrepancies(db=db, now=answered + timedelta(days=3), settings=NO_CHANNELS)

    stage = _stage_of(db, ticket)
    assert summary == {"started": 0, "closed": 1}
    assert (stage.state, stage.completed_at) == (StageState.met, answered)


def test_resolving_a_ticket_closes_its_stage_at_once(db):
    ticket = _ticket(db, detected_at=datetime.now(UTC) - timedelta(hours=1))
    scheduled.sync_discrepancies(db=db, now=datetime.now(UTC), settings=NO_CHANNELS)

    clock_flows.resolve(
        db=db, ticket=ticket, data=DiscrepancyResolve(status="corrected", note="已按户籍更正"), user=None
    )

    stage = _stage_of(db, ticket)
    assert (stage.state, stage.completed_at) == (StageState.met, ticket.resolved_at)


def test_resolving_a_ticket_the_clock_had_not_picked_up_still_measures_it(db):
    ticket = _ticket(db, detected_at=datetime.now(UTC) - timedelta(minutes=5))

    clock_flows.resolve(
        db=db, ticket=ticket, data=DiscrepancyResolve(status="dismissed", note="人社数据有误"), user=None
    )

    stage = _stage_of(db, ticket)
    assert (stage.started_at, stage.state) == (ticket.detected_at, StageState.met)


def test_an_overdue_discrepancy_is_escalated_to_the_authoritative_department(db, ticket):
    scheduled.sync_discrepancies(db=db, now=DETECTED, settings=NO_CHANNELS)

    scheduled.recompute_and_warn(db=db, now=datetime(2026, 10, 20, 1, 0, tzinfo=UTC), settings=NO_CHANNELS)

    stage = _stage_of(db, ticket)
    [red] = _notifications(db, stage, NotificationKind.overdue)
    [escalation] = _notifications(db, stage, NotificationKind.escalation)
    assert (red.department_id, red.role) == (ticket.authoritative_department_id, Role.dept_approver.value)
    assert "张明" in escalation.body  # 公安's 督办 contact
    assert ID_NUMBER not in escalation.title + escalation.body


def test_a_departments_requester_gets_no_escalation_for_a_ticket_it_does_not_handle(db, ticket):
    gongan_requester = factories.user(db, "ga_requester", "dept_requester", "gongan")
    approver = user_service.get_by_username(db=db, username="approver")
    assert approver is not None
    scheduled.sync_discrepancies(db=db, now=DETECTED, settings=NO_CHANNELS)
    scheduled.recompute_and_warn(db=db, now=datetime(2026, 10, 20, 1, 0, tzinfo=UTC), settings=NO_CHANNELS)

    requester_sees, _ = notify.inbox(db=db, user=gongan_requester, params=PageParams())
    approver_sees, _ = notify.inbox(db=db, user=approver, params=PageParams())

    assert NotificationKind.escalation not in {n.kind for n, _ in requester_sees}
    assert NotificationKind.escalation in {n.kind for n, _ in approver_sees}


def _started_elsewhere(session_factory, ticket: Discrepancy) -> None:
    """Another process puts ``ticket`` on the clock and commits."""
    with session_factory() as other:
        scheduled._start_discrepancy_stage(
            other,
            ticket_id=ticket.id,
            library=ticket.library,
            element_name="姓名",
            subject_key=ticket.subject_key,
            subject_cipher=ticket.subject_cipher,
            department_id=ticket.authoritative_department_id,
            detected_at=ticket.detected_at,
            calendar=scheduled._calendar(other, NO_CHANNELS),
            profile=scheduled.clock_service.active_profile(db=other),
        )
        other.commit()


def test_sync_skips_a_ticket_another_run_started_after_it_was_read(db, session_factory, ticket, monkeypatch):
    later = _ticket(db, detected_at=DETECTED + timedelta(hours=1), subject_key="350102199202022345")
    read = scheduled._unclocked

    def read_then_race(session):
        rows = read(session)
        _started_elsewhere(session_factory, ticket)
        return rows

    monkeypatch.setattr(scheduled, "_unclocked", read_then_race)

    summary = scheduled.sync_discrepancies(db=db, now=DETECTED + timedelta(hours=2), settings=NO_CHANNELS)

    assert summary == {"started": 1, "closed": 0}
    for t in (ticket, later):
        assert len(db.scalars(select(ClockStage).where(ClockStage.discrepancy_id == t.id)).all()) == 1


def test_resolving_a_ticket_the_clock_started_meanwhile_closes_that_stage(db, session_factory, monkeypatch):
    ticket = _ticket(db, detected_at=datetime.now(UTC) - timedelta(minutes=5))
    read = scheduled._stage_of
    raced = []

    def read_then_race(session, ticket_id):
        stage = read(session, ticket_id)
        if not raced:
            raced.append(ticket_id)
            _started_elsewhere(session_factory, ticket)
        return stage

    monkeypatch.setattr(scheduled, "_stage_of", read_then_race)

    clock_flows.resolve(
        db=db, ticket=ticket, data=DiscrepancyResolve(status="corrected", note="已按户籍更正"), user=None
    )

    [stage] = db.scalars(select(ClockStage).where(ClockStage.discrepancy_id == ticket.id)).all()
    db.refresh(stage)
    assert (stage.state, stage.completed_at) == (StageState.met, ticket.resolved_at)


# Grants


def test_expire_grants_ends_a_grant_whose_validity_passed(db):
    requester = user_service.get_by_username(db=db, username="requester")
    admin = user_service.get_by_username(db=db, username="catalog_admin")
    assert requester is not None and admin is not None
    request = sharing_service.submit(
        db=db,
        data=RequestCreate(**factories.direct_request(valid_until="2026-10-31")),
        user=requester,
        now=SUBMITTED,
    )
    for action in (RequestAction.accept, RequestAction.provide):
        sharing_service.act(
            db=db, request=request, action=action, data=TransitionIn(), user=admin, now=SUBMITTED
        )

    summary = scheduled.expire_grants(db=db, now=datetime(2026, 11, 1, 2, 0, tzinfo=UTC))

    assert summary == {"expired": 1}
    assert request.status is RequestStatus.expired
    assert request.grant is not None and request.grant.status is GrantStatus.expired


def _expiring_grant(db: Session, valid_until: str) -> SharingRequest:
    requester = user_service.get_by_username(db=db, username="requester")
    admin = user_service.get_by_username(db=db, username="catalog_admin")
    assert requester is not None and admin is not None
    request = sharing_service.submit(
        db=db,
        data=RequestCreate(**factories.direct_request(valid_until=valid_until)),
        user=requester,
        now=SUBMITTED,
    )
    for action in (RequestAction.accept, RequestAction.provide):
        sharing_service.act(
            db=db, request=request, action=action, data=TransitionIn(), user=admin, now=SUBMITTED
        )
    return request


def test_expiry_skips_a_grant_revoked_after_it_was_selected(db, monkeypatch):
    revoked, expiring = _expiring_grant(db, "2026-10-31"), _expiring_grant(db, "2026-10-31")
    get = sharing_service.get

    def revoked_meanwhile(*, db, request_id, **kwargs):
        if request_id == revoked.id:
            # Another transaction revokes it and commits; this session still holds the old rows.
            db.execute(
                update(SharingRequest)
                .where(SharingRequest.id == revoked.id)
                .values(status=RequestStatus.revoked)
                .execution_options(synchronize_session=False)
            )
            db.execute(
                update(Grant)
                .where(Grant.request_id == revoked.id)
                .values(status=GrantStatus.revoked)
                .execution_options(synchronize_session=False)
            )
        return get(db=db, request_id=request_id, **kwargs)

    monkeypatch.setattr(sharing_service, "get", revoked_meanwhile)

    summary = scheduled.expire_grants(db=db, now=datetime(2026, 11, 1, 2, 0, tzinfo=UTC))

    assert summary == {"expired": 1}
    assert (revoked.status, revoked.grant.status) == (RequestStatus.revoked, GrantStatus.revoked)
    assert (expiring.status, expiring.grant.status) == (RequestStatus.expired, GrantStatus.expired)


# The command line, on a database of its own (the jobs open their own transactions)


@pytest.fixture
def clock_db(tmp_path, monkeypatch):
    monkeypatch.setenv("GOVDX_DATABASE_URL", f"sqlite:///{tmp_path / 'clock.sqlite'}")
    monkeypatch.delenv("GOVDX_SMTP_HOST", raising=False)
    monkeypatch.delenv("GOVDX_NOTIFY_WEBHOOK_URL", raising=False)
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    migrate.upgrade(get_engine())
    with get_sessionmaker()() as session:
        demo_catalog.seed(session)
        requester = user_service.get_by_username(db=session, username="requester")
        assert requester is not None
        sharing_service.submit(
            db=session, data=RequestCreate(**factories.direct_request()), user=requester, now=SUBMITTED
        )
        session.commit()
    yield get_sessionmaker()
    get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def test_clock_run_records_the_escalation_and_prints_the_summary(clock_db):
    result = CliRunner().invoke(clock_app, ["run", "--at", "2026-10-11T09:00"])

    assert result.exit_code == 0, result.output
    assert "red: 1" in result.output and "escalated: 1" in result.output
    with clock_db() as session:
        stage = session.scalars(select(ClockStage)).one()
        assert (stage.state, stage.escalated_at) == (StageState.overdue, OVERDUE)


def test_clock_run_with_a_malformed_time_exits_2():
    result = CliRunner().invoke(clock_app, ["run", "--at", "10/11/2026"])

    assert result.exit_code == 2
    assert "invalid_datetime" in result.output


def test_clock_run_refuses_a_time_in_the_future_and_records_nothing(clock_db):
    tomorrow = datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)

    result = CliRunner().invoke(clock_app, ["run", "--at", tomorrow.replace(tzinfo=None).isoformat()])

    assert result.exit_code == 2
    assert "future_time" in result.output and "未来" in result.output
    with clock_db() as session:
        stage = session.scalars(select(ClockStage)).one()
        assert (stage.yellow_at, stage.red_at) == (None, None)
