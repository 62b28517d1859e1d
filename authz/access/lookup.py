"""Keyed and batch lookups: the current records of the subjects a call names, projected and masked.

A call is authorised by ``authz.access.guard``, its records read here through the blind index (or
asked of the provider's service, ``authz.access.proxy``), projected to the granted items and
masked; ``authz.access.trail`` then counts its subjects against the quota and commits its access
records, one per subject, before anything is answered.
"""

import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, bindparam, or_, select
from sqlalchemy.orm import Session

from authz.access import controls as access_controls
from authz.access import datasets, guard, masking, proxy
from authz.access.exceptions import ProviderFailed, Refused, SubjectNotFound, Unauthenticated
from authz.access.schemas import (
    BatchIn,
    BatchOut,
    BatchResult,
    Call,
    LookupIn,
    LookupOut,
    Record,
    SubjectKey,
)
from authz.access.settings import DataSettings, get_settings
from authz.access.trail import Trail, commit_served, record_refusal
from authz.calendar.service import local_date
from authz.types import AccessMode, AccessOutcome
from catalog_schema.database import utcnow
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import LibraryRecord
from catalog_schema.types import Library
from quality import credit_kinds

# -- the statements of the guarded path, built once (Core, so no ORM work per call) ----------------

_LIBRARY_RECORDS = cast(Table, LibraryRecord.__table__)
# No ORDER BY: sorting by key would tempt SQLite to walk the per-department unique index over the
# whole library (a full scan at a million records, measured by bench-api) instead of looking the
# keys up in ix_library_records_subject; the few rows found are ordered in Python.
_CURRENT = select(
    _LIBRARY_RECORDS.c.subject_key, _LIBRARY_RECORDS.c.department_id, _LIBRARY_RECORDS.c["values"]
).where(_LIBRARY_RECORDS.c.library == bindparam("library"), _LIBRARY_RECORDS.c.valid_to.is_(None))
_CURRENT_OF_KEYS = _CURRENT.where(_LIBRARY_RECORDS.c.subject_key.in_(bindparam("keys", expanding=True)))
_OF_DEPARTMENT = _LIBRARY_RECORDS.c.department_id == bindparam("department")
_CURRENT_OF_KEYS_IN_VIEW = _CURRENT_OF_KEYS.where(_OF_DEPARTMENT)


Presenter = Callable[[guard.Terms, guard.SharedResource, dict[str, Any]], Record]


def value_of(resource: guard.SharedResource, values: dict[str, Any], name: str) -> Any:
    """Item ``name``'s value in one record: a library's values are by element, a dataset's by item."""
    if resource.library is None:
        return values.get(name)
    item = resource.items.get(name)
    return values.get(item.element) if item is not None and item.element else None


def project(terms: guard.Terms, resource: guard.SharedResource, values: dict[str, Any]) -> Record:
    """The granted items of one record, masked."""
    return {name: masking.mask(terms.rules[name], value_of(resource, values, name)) for name in terms.items}


def derive(values: dict[str, Any], today: date) -> dict[str, Any]:
    """Add what the platform derives as it serves a credit record: its 公示状态, as of ``today``."""
    status = credit_kinds.publicity_status(values.get(credit_kinds.PUBLICITY_END_ELEMENT), today)
    if status is not None:
        values[credit_kinds.PUBLICITY_STATUS_ELEMENT] = status
    return values


def _records(
    db: Session, keyring: Keyring, resource: guard.SharedResource, wanted: list[guard.Subject], today: date
) -> dict[str, list[dict[str, Any]]]:
    """Current records of each subject (by stored key) in the resource's view.

    A department's view holds its own values; the platform's composite the union of every
    department's. A credit subject is named by its subject code alone and has a record per
    decision: those are read as the stored-key range of that first part. A dataset's rows are
    its own (``authz.access.datasets``); a provider's service is asked (``authz.access.proxy``).
    """
    library = resource.library
    if library is None:
        if isinstance(resource, guard.ProxiedResource):
            return proxy.records(db=db, resource=resource, wanted=wanted)
        return datasets.records(db.connection(), keyring, resource, wanted)
    conn = db.connection()
    params: dict[str, Any] = {"library": library}
    if resource.department_id is not None:
        params["department"] = resource.department_id
    if library is Library.credit:
        r = _LIBRARY_RECORDS.c
        ranges = [subjects.stored_prefix_range(keyring, library, s.parts[0]) for s in wanted]
        statement = _CURRENT.where(
            or_(*(and_(r.subject_key >= low, r.subject_key < high) for low, high in ranges))
        )
        if resource.department_id is not None:
            statement = statement.where(_OF_DEPARTMENT)
        rows = conn.execute(statement, params).all()
    else:
        params["keys"] = [s.stored for s in wanted]
        statement = _CURRENT_OF_KEYS if resource.department_id is None else _CURRENT_OF_KEYS_IN_VIEW
        rows = conn.execute(statement, params).all()
    merged: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r.subject_key, r.department_id)):
        values = keyring.unseal(json.loads(row.values), aad=row.subject_key)
        merged.setdefault(row.subject_key, {}).update(values)
    found: dict[str, list[dict[str, Any]]] = {s.stored: [] for s in wanted}
    for stored, values in merged.items():
        owner = stored.split(":", 1)[0] if library is Library.credit else stored
        found[owner].append(derive(values, today) if library is Library.credit else values)
    # The key itself is not among the stored values (it is the record's sealed subject key): the
    # caller named it, so its elements are filled in from the canonical parts.
    for subject in wanted:
        for values in found[subject.stored]:
            for element, part in zip(subjects.LOOKUP_KEY[library], subject.parts, strict=False):
                values.setdefault(element, part)
        found[subject.stored] = [values for values in found[subject.stored] if resource.keeps(values)]
    return found


def serve_keyed(
    *,
    db: Session,
    secret: str,
    call: Call,
    mode: AccessMode,
    resource_code: str,
    keys: Sequence[SubjectKey],
    wanted: list[str] | None,
    keyring: Keyring | None,
    settings: DataSettings | None,
    now: datetime | None,
    present: Presenter | None = None,
) -> tuple[guard.Authorised, dict[str, list[Record]]]:
    """Authorise, read, project, mask and log a keyed call, and commit; the served records by stored key.

    ``present`` turns a record into what the call answers (the granted items, masked, by default;
    a 核验 call's verdicts); rows_returned counts records only when it hands values over.
    """
    at = now or utcnow()
    keyring = keyring or keys_service.get_keyring()
    trail = Trail.begin(call, mode, resource_code, list(wanted or []))
    trail.keys = len(keys)
    # Checks and reads run in a read transaction, outside the writer queue: only the quota count,
    # the access records and the commit hold SQLite's write lock, so the other calls' token,
    # grant, decryption and masking work runs while this one's commit waits for the disk.
    try:
        authorised = guard.authorise_keyed(
            db=db,
            secret=secret,
            keyring=keyring,
            trail=trail,
            resource_code=resource_code,
            keys=keys,
            wanted=wanted,
            at=at,
            max_batch=(settings or get_settings()).max_batch if mode is AccessMode.batch else 1,
        )
        resource, terms = authorised.resource, authorised.terms
        found = _records(db, keyring, resource, authorised.subjects, local_date(at))
    except (Refused, Unauthenticated, ProviderFailed) as denial:
        record_refusal(db, trail, denial, at)
        raise
    served: dict[str, list[Record]] = {}
    entries = []
    for subject in authorised.subjects:
        records = [(present or project)(terms, resource, values) for values in found[subject.stored]]
        served[subject.stored] = records
        outcome = AccessOutcome.served if records else AccessOutcome.not_found
        returned = len(records) if present is None else 0
        entries.append(
            trail.entry(outcome, subject_fingerprint=subject.fingerprint, subjects=1, rows_returned=returned)
        )
    commit_served(
        db,
        trail,
        entries,
        at,
        grant_id=terms.grant_id,
        quota=terms.daily_quota,
        count=len(authorised.subjects),
        window=access_controls.window(trail=trail, resource_id=resource.id, found=resource.controls, at=at),
    )
    return authorised, served


def _answer_head(call: Call, authorised: guard.Authorised) -> dict[str, Any]:
    terms = authorised.terms
    return {
        "request_id": call.request_id,
        "resource": authorised.resource.code,
        "grant": terms.request_number,
        "items": terms.items,
        "masking": {name: rule.value for name, rule in terms.rules.items()},
    }


def lookup(
    *,
    db: Session,
    secret: str,
    call: Call,
    data: LookupIn,
    keyring: Keyring | None = None,
    now: datetime | None = None,
) -> LookupOut:
    """One subject's masked record under the caller's grant; raises a logged Denial or SubjectNotFound."""
    authorised, served = serve_keyed(
        db=db,
        secret=secret,
        call=call,
        mode=AccessMode.lookup,
        resource_code=data.resource,
        keys=[data.key],
        wanted=data.items,
        keyring=keyring,
        settings=None,
        now=now,
    )
    records = served[authorised.subjects[0].stored]
    if not records:
        raise SubjectNotFound(
            "没有该主体的记录",
            "no record of this subject",
            extra={"request_id": call.request_id},
        )
    return LookupOut(**_answer_head(call, authorised), records=records)


def batch(
    *,
    db: Session,
    secret: str,
    call: Call,
    data: BatchIn,
    keyring: Keyring | None = None,
    settings: DataSettings | None = None,
    now: datetime | None = None,
) -> BatchOut:
    """Several subjects' masked records, one result per key in the order given."""
    authorised, served = serve_keyed(
        db=db,
        secret=secret,
        call=call,
        mode=AccessMode.batch,
        resource_code=data.resource,
        keys=data.keys,
        wanted=data.items,
        keyring=keyring,
        settings=settings,
        now=now,
    )
    results = []
    for i, subject in enumerate(authorised.read):
        records = served[subject.stored] if subject is not None else []
        results.append(BatchResult(index=i, found=bool(records), records=records))
    return BatchOut(**_answer_head(call, authorised), results=results)
