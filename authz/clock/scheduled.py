"""The feedback clock's periodic jobs, run in this order by the ``govdx_sharing_clock`` DAG.

1. :func:`sync_discrepancies` puts every open discrepancy ticket on the clock and closes the stage
   of every ticket that has been answered;
2. :func:`expire_grants` ends grants whose validity is over;
3. :func:`recompute_and_warn` brings stage states up to date and records each yellow warning,
   red warning and 督办 exactly once;
4. :func:`deliver` sends what was queued for mail and the webhook.

Each job takes an explicit session (tests pass theirs) and has a ``run_…`` wrapper that opens its
own transaction; :func:`deliver` takes a session factory instead, as it opens a short transaction
before and after sending and none while it waits on a server. All return a small JSON-able dict
for the Airflow log.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from authz.calendar import service as calendar_service
from authz.calendar.service import WorkingCalendar
from authz.clock import notify
from authz.clock import service as clock_service
from authz.clock.models import ClockStage, SlaProfile
from authz.clock.settings import ClockSettings
from authz.sharing import service as sharing_service
from authz.types import NotificationKind, StageKind, StageState
from catalog_schema.database import get_sessionmaker, session_scope, utcnow
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement
from catalog_schema.keys.service import get_keyring
from catalog_schema.library import sealing
from catalog_schema.library.models import Discrepancy
from catalog_schema.types import DiscrepancyStatus, Library

OPEN_STATES = [s.value for s in StageState if s.is_open]
# Stages started per flush when a pipeline run has just opened many tickets.
SYNC_CHUNK = 2000


def mask_key(key: str) -> str:
    """A subject key as an inbox or a mail may show it: an ID number becomes 350102********1234."""
    if len(key) <= 10:
        return key
    return f"{key[:6]}{'*' * min(len(key) - 10, 8)}{key[-4:]}"


def discrepancy_subject(ticket_id: int, library: Library, element_name: str, subject_key: str) -> str:
    """ "校核差异工单 #12 人口.姓名 350102********1234": never the full subject key."""
    return (
        f"校核差异工单 #{ticket_id} {library.label.removesuffix('库')}.{element_name} {mask_key(subject_key)}"
    )


def _calendar(db: Session, settings: ClockSettings) -> WorkingCalendar:
    return calendar_service.get_calendar(db=db, region=settings.calendar_region)


def _start_discrepancy_stage(
    db: Session,
    *,
    ticket_id: int,
    library: Library,
    element_name: str,
    subject_key: str,
    subject_cipher: str | None,
    department_id: int,
    detected_at: datetime,
    calendar: WorkingCalendar,
    profile: SlaProfile,
) -> ClockStage:
    # The stored key is a blind index; the stage's subject shows the masked plaintext key.
    plaintext = sealing.open_subject(get_keyring(), subject_key, subject_cipher) or subject_key
    return clock_service.start(
        db=db,
        kind=StageKind.discrepancy,
        department_id=department_id,
        subject=discrepancy_subject(ticket_id, library, element_name, plaintext),
        at=detected_at,
        calendar=calendar,
        profile=profile,
        discrepancy_id=ticket_id,
    )


def _unclocked(db: Session) -> Sequence[Row[Any]]:
    """Open tickets without a stage: id, library, element, subject key and cipher, department, detected."""
    d = Discrepancy
    return db.execute(
        select(
            d.id,
            d.library,
            DataElement.name,
            d.subject_key,
            d.subject_cipher,
            d.authoritative_department_id,
            d.detected_at,
        )
        .join(DataElement, DataElement.id == d.element_id)
        .outerjoin(ClockStage, ClockStage.discrepancy_id == d.id)
        .where(d.status == DiscrepancyStatus.open, ClockStage.id.is_(None))
        .order_by(d.id)
    ).all()


def _start_chunk(
    db: Session, rows: Sequence[Row[Any]], calendar: WorkingCalendar, profile: SlaProfile
) -> int:
    """Start a stage for each ticket of ``rows`` that has none yet; how many were started."""
    pending = list(rows)
    while pending:
        try:
            with db.begin_nested():
                started = [
                    _start_discrepancy_stage(
                        db,
                        ticket_id=ticket_id,
                        library=library,
                        element_name=element_name,
                        subject_key=subject_key,
                        subject_cipher=subject_cipher,
                        department_id=department_id,
                        detected_at=detected_at,
                        calendar=calendar,
                        profile=profile,
                    )
                    for (
                        ticket_id,
                        library,
                        element_name,
                        subject_key,
                        subject_cipher,
                        department_id,
                        detected_at,
                    ) in pending
                ]
        except IntegrityError:
            # Another run (or a resolve) started some of these tickets since they were read.
            taken = set(
                db.scalars(
                    select(ClockStage.discrepancy_id).where(
                        ClockStage.discrepancy_id.in_([row[0] for row in pending])
                    )
                )
            )
            if not taken:
                raise
            pending = [row for row in pending if row[0] not in taken]
            continue
        for stage in started:  # keep the session small when a pipeline run opened many tickets
            db.expunge(stage)
        return len(started)
    return 0


def sync_discrepancies(*, db: Session, now: datetime, settings: ClockSettings) -> dict[str, Any]:
    """Start a stage, counted from detection, for open tickets without one; close answered tickets' stages."""
    calendar = _calendar(db, settings)
    profile = clock_service.active_profile(db=db)
    unclocked = _unclocked(db)
    started = sum(
        _start_chunk(db, unclocked[i : i + SYNC_CHUNK], calendar, profile)
        for i in range(0, len(unclocked), SYNC_CHUNK)
    )
    d = Discrepancy
    answered = db.execute(
        select(ClockStage, d.resolved_at)
        .join(d, d.id == ClockStage.discrepancy_id)
        .where(ClockStage.state.in_(OPEN_STATES), d.status != DiscrepancyStatus.open)
    ).all()
    for stage, resolved_at in answered:
        clock_service.close(stage=stage, at=resolved_at or now, calendar=calendar)
    db.flush()
    return {"started": started, "closed": len(answered)}


def _stage_of(db: Session, ticket_id: int) -> ClockStage | None:
    return db.scalar(select(ClockStage).where(ClockStage.discrepancy_id == ticket_id))


def close_discrepancy_stage(
    *, db: Session, ticket: Discrepancy, at: datetime, start_missing: bool = True
) -> ClockStage | None:
    """Stop the clock of an answered ticket.

    A ticket answered before the clock picked it up is started and closed now, so it still counts
    in the on-time rate (``start_missing``; not for a ticket that was answered already).
    """
    stage = _stage_of(db, ticket.id)
    settings = ClockSettings()
    calendar = _calendar(db, settings)
    if stage is None:
        if not start_missing:
            return None
        try:
            with db.begin_nested():
                stage = _start_discrepancy_stage(
                    db,
                    ticket_id=ticket.id,
                    library=ticket.library,
                    element_name=ticket.element.name,
                    subject_key=ticket.subject_key,
                    subject_cipher=ticket.subject_cipher,
                    department_id=ticket.authoritative_department_id,
                    detected_at=ticket.detected_at,
                    calendar=calendar,
                    profile=clock_service.active_profile(db=db),
                )
        except IntegrityError:
            # The clock run started this ticket since it was read: close that stage instead.
            stage = _stage_of(db, ticket.id)
            if stage is None:
                raise
    if stage.state.is_open:
        clock_service.close(stage=stage, at=at, calendar=calendar)
    db.flush()
    return stage


def expire_grants(*, db: Session, now: datetime) -> dict[str, Any]:
    """End every active grant whose validity is over (Beijing date)."""
    return {"expired": sharing_service.expire_grants(db=db, now=now)}


def recompute_and_warn(*, db: Session, now: datetime, settings: ClockSettings) -> dict[str, Any]:
    """Bring running stages' states up to ``now``, then record the warnings they call for."""
    report = clock_service.recompute(
        db=db,
        now=now,
        calendar=_calendar(db, settings),
        all_deadlines=False,
    )
    return {
        "deadlines_changed": report.deadlines_changed,
        "states_changed": report.states_changed,
        "open_by_state": report.open_by_state,
        **record_warnings(db=db, now=now, settings=settings),
    }


_WARNED = (
    ClockStage.id,
    ClockStage.kind,
    ClockStage.department_id,
    ClockStage.subject,
    ClockStage.due_on,
    ClockStage.request_id,
    ClockStage.discrepancy_id,
)


def _payload(
    event: NotificationKind, row: Any, department: Department, entry: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """What the webhook receives (and what the outbound row keeps): plain JSON, no ID numbers."""
    kind: StageKind = row.kind
    supervisor = None
    if event is NotificationKind.escalation:
        supervisor = {
            "name": department.supervisor_name,
            "phone": department.supervisor_phone,
            "email": department.supervisor_email,
        }
    return {
        "event": event.value,
        "event_label": event.label,
        "at": now.isoformat(),
        "title": entry["title"],
        "body": entry["body"],
        "stage": {
            "id": row.id,
            "kind": kind.value,
            "kind_label": kind.label,
            "subject": row.subject,
            "due_on": row.due_on.isoformat(),
        },
        "request_id": row.request_id,
        "discrepancy_id": row.discrepancy_id,
        "department": {"id": department.id, "slug": department.slug, "name": department.name},
        "supervisor": supervisor,
    }


def _supervisor_line(department: Department) -> str:
    if not department.supervisor_name and not department.supervisor_email:
        return "本部门未登记督办联系人，请部门负责人督促办理。"
    contact = "，".join(
        part
        for part in (
            f"电话 {department.supervisor_phone}" if department.supervisor_phone else "",
            f"邮箱 {department.supervisor_email}" if department.supervisor_email else "",
        )
        if part
    )
    return f"请督办联系人 {department.supervisor_name or ''}（{contact}）督促办理并反馈。"


def _yellow(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "department_id": row.department_id,
        "role": clock_service.RESPONSIBLE_ROLE[row.kind],
        "kind": NotificationKind.due_soon,
        "title": f"【黄牌预警】{row.subject}，将于 {row.due_on} 到期",
        "body": (
            f"{row.subject}的办理时限将于 {row.due_on}（北京时间当日 24 时）届满，请抓紧办理；"
            "逾期将红牌预警并督办。"
        ),
        "at": now,
        "stage_id": row.id,
        "request_id": row.request_id,
    }


def _red(row: Any, now: datetime) -> dict[str, Any]:
    return {
        "department_id": row.department_id,
        "role": clock_service.RESPONSIBLE_ROLE[row.kind],
        "kind": NotificationKind.overdue,
        "title": f"【红牌预警】{row.subject}，已于 {row.due_on} 到期",
        "body": f"{row.subject}的办理时限已于 {row.due_on} 届满仍未办结，已超期，已转督办，请立即办理。",
        "at": now,
        "stage_id": row.id,
        "request_id": row.request_id,
    }


def _escalation(row: Any, department: Department, now: datetime) -> dict[str, Any]:
    return {
        "department_id": row.department_id,
        # Those who must act on it, not the whole department: a requester may not even see the request.
        "role": clock_service.RESPONSIBLE_ROLE[row.kind],
        "kind": NotificationKind.escalation,
        "title": f"【督办】{row.subject}已超期",
        "body": (
            f"{department.name}：{row.subject}的办理时限已于 {row.due_on} 届满仍未办结。"
            f"{_supervisor_line(department)}"
        ),
        "at": now,
        "stage_id": row.id,
        "request_id": row.request_id,
    }


def record_warnings(*, db: Session, now: datetime, settings: ClockSettings) -> dict[str, Any]:
    """Record each stage's yellow warning and its red warning with 督办, once each, for states as they stand.

    Marking and selecting is one ``UPDATE … WHERE yellow_at IS NULL … RETURNING``: only stages that
    need a warning are loaded, and two runs at once cannot both warn the same stage. Notifications
    and outbound messages are then inserted in bulk.
    """
    yellow = db.execute(
        update(ClockStage)
        .where(ClockStage.state == StageState.due_soon, ClockStage.yellow_at.is_(None))
        .values(yellow_at=now)
        .returning(*_WARNED)
        .execution_options(synchronize_session=False)
    ).all()
    red = db.execute(
        update(ClockStage)
        .where(ClockStage.state == StageState.overdue, ClockStage.red_at.is_(None))
        .values(red_at=now, escalated_at=now)
        .returning(*_WARNED)
        .execution_options(synchronize_session=False)
    ).all()
    department_ids = {row.department_id for row in [*yellow, *red]}
    departments = {d.id: d for d in db.scalars(select(Department).where(Department.id.in_(department_ids)))}
    entries: list[dict[str, Any]] = []
    # (index of the entry, stage row, event, mail recipient) of each notification that goes out too.
    carried: list[tuple[int, Any, NotificationKind, str | None]] = []
    for row in yellow:
        entries.append(_yellow(row, now))
        if settings.notify_webhook_url:
            carried.append((len(entries) - 1, row, NotificationKind.due_soon, None))
    for row in red:
        department = departments[row.department_id]
        entries.append(_red(row, now))
        entries.append(_escalation(row, department, now))
        carried.append((len(entries) - 1, row, NotificationKind.escalation, department.supervisor_email))
    ids = notify.post_many(db=db, entries=entries)
    messages = [
        message
        for index, row, event, supervisor_email in carried
        for message in notify.outbound_values(
            notification_id=ids[index],
            title=entries[index]["title"],
            body=entries[index]["body"],
            at=now,
            settings=settings,
            supervisor_email=supervisor_email,
            payload=_payload(event, row, departments[row.department_id], entries[index], now),
        )
    ]
    queued = notify.queue_many(db=db, messages=messages)
    # Stages this session already holds were changed behind its back.
    db.expire_all()
    return {"yellow": len(yellow), "red": len(red), "escalated": len(red), "queued": queued}


def deliver(
    *, session_factory: Callable[[], Session], now: datetime, settings: ClockSettings
) -> dict[str, Any]:
    """Send pending mail and webhook messages."""
    return notify.deliver_pending(session_factory=session_factory, settings=settings, now=now).as_dict()


def run_sync_discrepancies(now: datetime | None = None) -> dict[str, Any]:
    with session_scope() as db:
        return sync_discrepancies(db=db, now=now or utcnow(), settings=ClockSettings())


def run_expire_grants(now: datetime | None = None) -> dict[str, Any]:
    with session_scope() as db:
        return expire_grants(db=db, now=now or utcnow())


def run_recompute_and_warn(now: datetime | None = None) -> dict[str, Any]:
    with session_scope() as db:
        return recompute_and_warn(db=db, now=now or utcnow(), settings=ClockSettings())


def run_deliver(now: datetime | None = None) -> dict[str, Any]:
    return deliver(session_factory=get_sessionmaker(), now=now or utcnow(), settings=ClockSettings())


def run_clock(now: datetime | None = None) -> dict[str, Any]:
    """Every job in order, each in its own transaction, as one DAG run does (for the CLI and the demo)."""
    at = now or utcnow()
    return {
        "at": at.isoformat(),
        "sync_discrepancies": run_sync_discrepancies(at),
        "expire_grants": run_expire_grants(at),
        "recompute_and_warn": run_recompute_and_warn(at),
        "deliver": run_deliver(at),
    }
