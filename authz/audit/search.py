"""Searching the access log: filters, the subject fingerprint lookup, and the outside-approval view.

:func:`search` finds records by the keyed fingerprint of the subject an auditor types, never by
the subject itself: a keyed call's record by its ``subject_fingerprint``, a bulk export's by the
row groups that list the fingerprint in ``access_subjects``.
"""

import re
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from authz.audit import traces
from authz.audit.models import AccessRecord, AccessSubject
from authz.audit.schemas import AuditFilter, AuditRecordRead
from authz.sharing.models import Grant
from authz.types import OUTSIDE_APPROVAL, AccessOutcome
from catalog_schema.dataset import subjects as dataset_subjects
from catalog_schema.department import service as department_service
from catalog_schema.department.models import Department
from catalog_schema.errors import InvalidInput
from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects
from catalog_schema.pagination import PageParams
from catalog_schema.resource.models import Resource
from catalog_schema.types import DeliveryKind, Library
from quality.rules import ID_ELEMENT


def subject_key(text: str) -> str:
    """The canonical subject key an auditor typed: an ID number or code, or a certificate's "type:number"."""
    parts = re.split("[:：]", text.strip(), maxsplit=1)
    if len(parts) == 2:
        return subjects.plaintext_key(subjects.canonical(subjects.LOOKUP_KEY[Library.certificate], parts))
    # ID numbers and credit codes (and credit subject codes) are compacted the same way.
    return subjects.canonical_part(ID_ELEMENT, text)


def _department_id(db: Session, ref: str) -> int:
    if ref.isdigit() and len(ref) <= 9:
        return int(ref)  # records outlive departments, so an id need not name one still there
    return department_service.get_by_ref(db=db, ref=ref).id


def check_range(since: datetime | None, until: datetime | None) -> None:
    """Refuse a time range that ends before it starts."""
    if since is not None and until is not None and since >= until:
        raise InvalidInput(
            "时间范围无效：开始时间（from）应早于结束时间（to）",
            "invalid time range: from must be before to",
            code="invalid_range",
        )


def _conditions(db: Session, keyring: Keyring, filters: AuditFilter) -> list[ColumnElement[bool]]:
    check_range(filters.since, filters.until)
    where: list[ColumnElement[bool]] = []
    if filters.since is not None:
        where.append(AccessRecord.at >= filters.since)
    if filters.until is not None:
        where.append(AccessRecord.at < filters.until)
    if filters.department is not None:
        where.append(AccessRecord.department_id == _department_id(db, filters.department))
    if filters.system is not None:
        where.append(AccessRecord.client_id == filters.system)
    if filters.resource is not None:
        where.append(AccessRecord.resource_code == filters.resource)
    if filters.outcome is not None:
        where.append(AccessRecord.outcome == filters.outcome.value)
    if filters.reason is not None:
        where.append(AccessRecord.reason_code == filters.reason.value)
    if filters.subject is not None:
        key = subject_key(filters.subject)
        fingerprint = keyring.fingerprint(key)
        # A keyed call's record names its subject; a bulk export's row groups list theirs by trace id.
        exported = _exported(db, keyring, key)
        where.append(or_(AccessRecord.subject_fingerprint == fingerprint, AccessRecord.seq.in_(exported)))
    return where


def _exported(db: Session, keyring: Keyring, key: str) -> list[int]:
    """The seqs of export row groups that list ``key``, whichever library or dataset they read it in."""
    parts = key.split(subjects.KEY_SEPARATOR)
    datasets = db.scalars(select(Resource.code).where(Resource.delivery_kind == DeliveryKind.dataset))
    namespaces = [library.value for library in Library] + [dataset_subjects.namespace(c) for c in datasets]
    found: list[int] = []
    for trace in {traces.trace_id(keyring.subject_index(space, parts)) for space in namespaces}:
        bucket = db.execute(
            select(AccessSubject.record_seq, AccessSubject.ids).where(
                AccessSubject.bucket == traces.bucket_of(trace)
            )
        )
        found += [seq for seq, packed in bucket if traces.contains(packed, trace)]
    return found


def search(
    *,
    db: Session,
    keyring: Keyring,
    filters: AuditFilter,
    params: PageParams,
    outside_approval: bool = False,
) -> tuple[list[AuditRecordRead], int]:
    """One page of access records matching ``filters``, newest first, and how many match in all."""
    where = _conditions(db, keyring, filters)
    if outside_approval:
        where += [
            AccessRecord.outcome == AccessOutcome.refused.value,
            AccessRecord.reason_code.in_(sorted(r.value for r in OUTSIDE_APPROVAL)),
        ]
    total = db.scalar(select(func.count()).select_from(AccessRecord).where(*where)) or 0
    rows = db.execute(
        select(AccessRecord, Department.slug, Department.name, Grant.request_number)
        .outerjoin(Department, Department.id == AccessRecord.department_id)
        .outerjoin(Grant, Grant.id == AccessRecord.grant_id)
        .where(*where)
        .order_by(AccessRecord.seq.desc())
        .limit(params.page_size)
        .offset((params.page - 1) * params.page_size)
    ).all()
    items = [
        AuditRecordRead.of(record, department_slug=slug, department_name=name, request_number=number)
        for record, slug, name, number in rows
    ]
    return items, total
