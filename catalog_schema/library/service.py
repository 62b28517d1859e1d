"""Reads and administrative writes on batches, quarantine, discrepancy tickets and library records."""

import json
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from catalog_schema.database import utcnow
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement
from catalog_schema.errors import Conflict, Forbidden, NotFound
from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import (
    Discrepancy,
    IngestBatch,
    LibraryRecord,
    QuarantinedRow,
    ResourceFreshness,
)
from catalog_schema.library.schemas import DiscrepancyResolve, SubjectRecord, SubjectValue
from catalog_schema.pagination import PageParams, paginate
from catalog_schema.resource.models import Resource
from catalog_schema.types import (
    BatchStatus,
    DiscrepancyStatus,
    Library,
    QuarantineQueue,
    QuarantineStatus,
    ResourceStatus,
)
from catalog_schema.user.models import User

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
# Parts of a stored key per library (connectors' source specs): a certificate is type + number, a
# credit record subject + decision or case number; the others are one code.
KEY_PARTS = {Library.certificate: 2, Library.credit: 2}


def key_parts(*, library: Library, subject_key: str) -> tuple[str, ...]:
    """A key as a caller types it ("type:number" for a certificate) in canonical parts."""
    count = KEY_PARTS.get(library, 1)
    pieces = subject_key.split(subjects.KEY_SEPARATOR, count - 1)
    elements = [*subjects.LOOKUP_KEY[library], *[""] * count][: len(pieces)]
    return subjects.canonical(elements, pieces)


def _stored(keyring: Keyring, library: Library, subject_key: str) -> str:
    return subjects.stored_key(keyring, library, key_parts(library=library, subject_key=subject_key))


def list_batches(
    *,
    db: Session,
    params: PageParams,
    source: str | None = None,
    library: Library | None = None,
    status: BatchStatus | None = None,
) -> tuple[list[IngestBatch], int]:
    """Batches, newest first."""
    stmt = select(IngestBatch).order_by(IngestBatch.id.desc())
    if source is not None:
        stmt = stmt.where(IngestBatch.source == source)
    if library is not None:
        stmt = stmt.where(IngestBatch.library == library)
    if status is not None:
        stmt = stmt.where(IngestBatch.status == status)
    return paginate(db, stmt, params)


def freshness(*, db: Session, resource_id: int) -> ResourceFreshness | None:
    """The last freshness check of a resource (``govdx library freshness`` and the pipelines write it)."""
    return db.get(ResourceFreshness, resource_id)


def overdue(*, db: Session, params: PageParams) -> tuple[list[ResourceFreshness], int]:
    """Published resources whose data is overdue: never supplied first, then the longest overdue."""
    stmt = (
        select(ResourceFreshness)
        .join(ResourceFreshness.resource)
        .where(ResourceFreshness.missed.is_(True), Resource.status == ResourceStatus.published)
        .order_by(ResourceFreshness.last_loaded_at.is_not(None), ResourceFreshness.due_at, Resource.code)
    )
    return paginate(db, stmt, params)


def get_batch(*, db: Session, batch_id: int) -> IngestBatch:
    """One batch; NotFound when there is none."""
    batch = db.get(IngestBatch, batch_id)
    if batch is None:
        raise NotFound(f"批次 {batch_id} 不存在", f"batch {batch_id} does not exist", code="batch_not_found")
    return batch


def latest_batches(*, db: Session) -> list[IngestBatch]:
    """The newest batch of each source that ran to an end."""
    newest = (
        select(IngestBatch.source, IngestBatch.id)
        .where(IngestBatch.status != BatchStatus.running)
        .order_by(IngestBatch.source, IngestBatch.id.desc())
    )
    seen: dict[str, int] = {}
    for source, batch_id in db.execute(newest):
        seen.setdefault(source, batch_id)
    return list(
        db.scalars(select(IngestBatch).where(IngestBatch.id.in_(seen.values())).order_by(IngestBatch.source))
    )


def list_quarantine(
    *,
    db: Session,
    params: PageParams,
    source: str | None = None,
    queue: QuarantineQueue | None = None,
    status: QuarantineStatus | None = QuarantineStatus.open,
    rule: str | None = None,
    batch_id: int | None = None,
) -> tuple[list[QuarantinedRow], int]:
    """Quarantined rows, oldest first, open ones by default."""
    stmt = select(QuarantinedRow).order_by(QuarantinedRow.id)
    if source is not None:
        stmt = stmt.where(QuarantinedRow.source == source)
    if queue is not None:
        stmt = stmt.where(QuarantinedRow.queue == queue)
    if status is not None:
        stmt = stmt.where(QuarantinedRow.status == status)
    if batch_id is not None:
        stmt = stmt.where(QuarantinedRow.batch_id == batch_id)
    if rule is not None:
        stmt = stmt.where(QuarantinedRow.reasons.contains(f'"rule": "{rule}"'))
    return paginate(db, stmt, params)


def get_quarantined(*, db: Session, row_id: int) -> QuarantinedRow:
    """One quarantined row; NotFound when there is none."""
    row = db.get(QuarantinedRow, row_id)
    if row is None:
        raise NotFound(
            f"隔离记录 {row_id} 不存在",
            f"quarantined row {row_id} does not exist",
            code="quarantined_row_not_found",
        )
    return row


def discard(*, db: Session, row: QuarantinedRow, note: str, user: User | None) -> QuarantinedRow:
    """Close a quarantined row without loading it, saying why."""
    if row.status is not QuarantineStatus.open:
        raise Conflict(
            f"隔离记录 {row.id} 已处理",
            f"quarantined row {row.id} was already handled",
            code="quarantined_row_closed",
        )
    row.status = QuarantineStatus.discarded
    row.resolution_note = note
    row.resolved_by_id = user.id if user else None
    row.resolved_at = utcnow()
    return row


def _ticket_scope(stmt: Select[tuple[Discrepancy]], department_id: int | None) -> Select[tuple[Discrepancy]]:
    if department_id is None:
        return stmt
    return stmt.where(
        or_(
            Discrepancy.authoritative_department_id == department_id,
            Discrepancy.other_department_id == department_id,
        )
    )


def list_discrepancies(
    *,
    db: Session,
    keyring: Keyring,
    params: PageParams,
    department_id: int | None,
    status: DiscrepancyStatus | None = None,
    library: Library | None = None,
    element: str | None = None,
    subject_key: str | None = None,
) -> tuple[list[Discrepancy], int]:
    """Tickets, newest first; ``department_id`` limits them to tickets naming that department."""
    stmt = _ticket_scope(select(Discrepancy).order_by(Discrepancy.id.desc()), department_id)
    if status is not None:
        stmt = stmt.where(Discrepancy.status == status)
    if library is not None:
        stmt = stmt.where(Discrepancy.library == library)
    if element is not None:
        stmt = stmt.join(DataElement, DataElement.id == Discrepancy.element_id).where(
            DataElement.code == element
        )
    if subject_key is not None:
        # Typed in the clear; the blind index depends on the library, so without one: each library's.
        stmt = stmt.where(
            or_(
                *(
                    and_(
                        Discrepancy.library == lib,
                        Discrepancy.subject_key == _stored(keyring, lib, subject_key),
                    )
                    for lib in ([library] if library is not None else list(Library))
                )
            )
        )
    return paginate(db, stmt, params)


def get_discrepancy(*, db: Session, ticket_id: int, department_id: int | None) -> Discrepancy:
    """One ticket the caller may see; others read as missing."""
    ticket = db.scalar(_ticket_scope(select(Discrepancy).where(Discrepancy.id == ticket_id), department_id))
    if ticket is None:
        raise NotFound(
            f"差异工单 {ticket_id} 不存在",
            f"discrepancy ticket {ticket_id} does not exist",
            code="discrepancy_not_found",
        )
    return ticket


ALLOWED_RESOLUTIONS = {
    DiscrepancyStatus.open: {
        DiscrepancyStatus.confirmed,
        DiscrepancyStatus.corrected,
        DiscrepancyStatus.dismissed,
    },
    DiscrepancyStatus.confirmed: {DiscrepancyStatus.corrected, DiscrepancyStatus.dismissed},
}


def resolve(
    *,
    db: Session,
    ticket: Discrepancy,
    data: DiscrepancyResolve,
    user: User | None,
    at: datetime | None = None,
) -> Discrepancy:
    """Confirm, correct or dismiss a ticket, recording who, when and why (its clock: authz.clock.flows)."""
    if (
        user is not None
        and user.role.value == "dept_approver"
        and user.department_id != ticket.authoritative_department_id
    ):
        raise Forbidden(
            "只有该数据元权威源部门的审批人或平台数据管理员可以处理此工单",
            "only the authoritative department's approver or the catalog administrator may resolve it",
            code="not_ticket_owner",
        )
    allowed = ALLOWED_RESOLUTIONS.get(ticket.status, set())
    if data.status not in allowed:
        raise Conflict(
            f"工单 {ticket.id} 状态为“{ticket.status.label}”，不能改为“{data.status.label}”",
            f"ticket {ticket.id} is {ticket.status.value} and cannot become {data.status.value}",
            code="discrepancy_transition_invalid",
        )
    ticket.status = data.status
    ticket.resolution_note = data.note
    ticket.resolved_by_id = user.id if user else None
    ticket.resolved_at = at or utcnow()
    return ticket


def subject_on(
    *, db: Session, keyring: Keyring, library: Library, subject_key: str, on: date | None
) -> SubjectRecord:
    """A subject's values on ``on`` (end of that day, Asia/Shanghai), or now; ``subject_key`` as typed."""
    parts = key_parts(library=library, subject_key=subject_key)
    subject_key = subjects.plaintext_key(parts)
    r = LibraryRecord
    stmt = (
        select(r, Department.slug)
        .join(Department, Department.id == r.department_id)
        .where(r.library == library, r.subject_key == subjects.stored_key(keyring, library, parts))
    )
    if on is None:
        stmt = stmt.where(r.valid_to.is_(None))
    else:
        moment = datetime.combine(on + timedelta(days=1), time(), LOCAL_TZ).astimezone(UTC)
        stmt = stmt.where(r.valid_from < moment, or_(r.valid_to.is_(None), r.valid_to >= moment))
    values = []
    for record, slug in db.execute(stmt.order_by(Department.slug)):
        for element, value in keyring.unseal(json.loads(record.values), aad=record.subject_key).items():
            values.append(
                SubjectValue(
                    element=element,
                    value=value,
                    department=slug,
                    valid_from=record.valid_from,
                    valid_to=record.valid_to,
                    batch_id=record.batch_id,
                )
            )
    if not values:
        raise NotFound(
            f"{library.label}中没有主体 {subject_key}" + (f"（{on}）" if on else ""),
            f"no subject {subject_key} in the {library.value} library" + (f" on {on}" if on else ""),
            code="subject_not_found",
        )
    return SubjectRecord(
        library=library, subject_key=subject_key, on=on, values=sorted(values, key=lambda v: v.element)
    )
