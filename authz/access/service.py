"""The data plane: a department system gets exactly what its grant allows, and every call is logged.

Each call, in this order: authenticate the client; check the shape of the keys (length, control
characters) before anything else is read; find the resource and this department's grant for it;
check validity (Asia/Shanghai dates), purpose reference, access mode and items; check the keys'
check digits; read the current records through the blind index; project them to the granted
items; mask them per the grant; then, in the write transaction, count the subjects against the
daily quota and append the access records; answer.

The data plane owns its transactions (``lookup``, ``batch`` and ``open_export`` commit): a refusal
rolls back whatever the call had done, then appends its access record, commits, and is raised;
a served call commits its usage and its access records together before anything is returned,
so a failed append means no data (no record, no data). The checks and reads run in a read
transaction; only the quota count, the records and the commit take the write lock. A served call
writes one record per subject, all with the call's request id, so an auditor searching a subject
finds batch calls too.
"""

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NoReturn, cast

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import Connection, Row, Table, and_, bindparam, distinct, func, or_, select
from sqlalchemy.orm import Session
from stdnum.cn import ric
from stdnum.exceptions import InvalidChecksum, ValidationError

from authz import security
from authz.access import commit as group_commit
from authz.access import masking
from authz.access.commit import Usage, Write
from authz.access.schemas import (
    BatchIn,
    BatchOut,
    BatchResult,
    CertificateKey,
    LookupIn,
    LookupOut,
    Record,
    SubjectKey,
)
from authz.access.settings import DataSettings, get_settings
from authz.audit.chain import AccessEntry
from authz.calendar.service import local_date
from authz.clients import service as clients_service
from authz.clients.models import ApiClient
from authz.sharing.models import Grant, SharingRequest
from authz.types import AccessMode, AccessOutcome, AccessReason, GrantStatus, MaskRule
from catalog_schema.database import for_statement_reads, json_rows, json_value, utcnow
from catalog_schema.element.models import DataElement
from catalog_schema.errors import Forbidden, NotFound, Problem, Unauthorized
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import LibraryRecord
from catalog_schema.resource.models import Resource, ResourceItem
from catalog_schema.types import Library, ResourceStatus, Sensitivity, ShareType
from quality import gb32100

MAX_KEY_PART = 64
_ID_FORMAT = re.compile(r"[0-9]{17}[0-9X]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# access_records.resource_code; an unknown code is logged cut to fit, and refused as unavailable.
_RESOURCE_MAX = 40

REASON_EN: dict[AccessReason, str] = {
    AccessReason.invalid_token: "invalid, expired or revoked credentials",
    AccessReason.purpose_missing: (
        "no purpose reference (header X-Govdx-Purpose: the request number or business reference)"
    ),
    AccessReason.purpose_unknown: "the purpose reference does not match the grant",
    AccessReason.no_grant: "your department has no grant for this resource",
    AccessReason.grant_expired: "the grant has expired",
    AccessReason.grant_revoked: "the grant has been revoked",
    AccessReason.grant_not_yet_valid: "the grant is not valid yet",
    AccessReason.mode_not_granted: "the grant does not allow this access mode",
    AccessReason.items_beyond_grant: "the requested items go beyond the grant",
    AccessReason.over_quota: "the grant's daily quota is used up",
    AccessReason.batch_too_large: "too many keys in one batch",
    AccessReason.invalid_key: "malformed subject key",
    AccessReason.resource_unavailable: "no such resource, or it is not shared",
}


# -- refusals --------------------------------------------------------------------------------------


class Refused(Forbidden):
    """A refused data call (403) with its stable reason; in the access log by the time it is seen."""

    outcome = AccessOutcome.refused

    def __init__(
        self,
        reason: AccessReason,
        detail: str = "",
        detail_en: str = "",
        *,
        problems: list[Problem] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            reason.label + (f"：{detail}" if detail else ""),
            REASON_EN[reason] + (f": {detail_en}" if detail_en else ""),
            code=reason.value,
            problems=problems,
            extra=extra,
        )
        self.reason = reason


class Unauthenticated(Unauthorized):
    """No valid client token (401 ``invalid_token``); recorded with outcome ``unauthenticated``."""

    outcome = AccessOutcome.unauthenticated
    reason = AccessReason.invalid_token

    def __init__(self) -> None:
        super().__init__(*clients_service.INVALID_CLIENT, code=AccessReason.invalid_token.value)


Denial = Refused | Unauthenticated


class SubjectNotFound(NotFound):
    """A lookup of a subject the library does not hold (404); recorded as ``not_found``."""

    code = "subject_not_found"


# -- what a call brings -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """Who asks and on what grounds, from the request: token, purpose, operator, request id, address."""

    token: str | None
    purpose: str | None
    operator: str | None
    request_id: str
    client_ip: str | None


@dataclass
class _Trail:
    """What is known of a call so far: a refusal is recorded with all of it."""

    call: Call
    mode: AccessMode
    resource_code: str | None
    items: list[str]
    keys: int = 0
    client_id: str | None = None
    department_id: int | None = None
    grant_id: int | None = None
    fingerprints: list[str] = field(default_factory=list)

    def entry(self, outcome: AccessOutcome, **fields: Any) -> AccessEntry:
        call = self.call
        return AccessEntry(
            mode=self.mode.value,
            outcome=outcome.value,
            request_id=call.request_id,
            client_id=self.client_id,
            department_id=self.department_id,
            operator=call.operator,
            grant_id=self.grant_id,
            purpose_ref=call.purpose,
            resource_code=self.resource_code,
            client_ip=call.client_ip,
            items=list(self.items),
            **fields,
        )

    def refusals(self, denial: Denial) -> list[AccessEntry]:
        """One record per subject named (when the keys could be read), else one for the call."""
        common = {"reason_code": denial.reason.value, "reason": denial.message}
        if not self.fingerprints:
            return [self.entry(denial.outcome, subjects=self.keys, **common)]
        return [
            self.entry(denial.outcome, subject_fingerprint=f, subjects=1, **common) for f in self.fingerprints
        ]


@dataclass(frozen=True)
class _Item:
    name: str
    element: str | None
    library: Library | None
    sensitivity: Sensitivity | None


@dataclass(frozen=True)
class _Resource:
    id: int
    code: str
    library: Library
    items: dict[str, _Item]


@dataclass(frozen=True)
class _Terms:
    """The grant a call is served under, and what it lets this call see."""

    grant_id: int
    request_number: str
    daily_quota: int | None
    items: list[str]
    rules: dict[str, MaskRule]

    def project(self, resource: _Resource, values: dict[str, Any]) -> Record:
        """The granted items of one record, masked."""
        out: Record = {}
        for name in self.items:
            item = resource.items.get(name)
            value = values.get(item.element) if item is not None and item.element else None
            out[name] = masking.mask(self.rules[name], value)
        return out


@dataclass(frozen=True)
class _Subject:
    """A well-formed key: canonical parts, what the library stores, and the audit fingerprint."""

    parts: tuple[str, ...]
    stored: str
    fingerprint: str


# -- the statements of the guarded path, built once (Core, so no ORM work per call) ---------------

_RESOURCES, _ITEMS, _ELEMENTS = (cast(Table, m.__table__) for m in (Resource, ResourceItem, DataElement))
# One row per resource, its items aggregated (authz/access: a row per item costs a step each).
_ITEM_ROWS = (
    select(
        json_rows(
            _ITEMS.c.position, _ITEMS.c.name, _ELEMENTS.c.code, _ELEMENTS.c.library, _ELEMENTS.c.sensitivity
        )
    )
    .select_from(_ITEMS.outerjoin(_ELEMENTS, _ELEMENTS.c.id == _ITEMS.c.element_id))
    .where(_ITEMS.c.resource_id == _RESOURCES.c.id)
    .scalar_subquery()
)
_RESOURCE = select(
    _RESOURCES.c.id, _RESOURCES.c.status, _RESOURCES.c.share_type, _ITEM_ROWS.label("items")
).where(_RESOURCES.c.code == bindparam("code"))
_GRANTS_TABLE, _REQUESTS = cast(Table, Grant.__table__), cast(Table, SharingRequest.__table__)
_CLIENTS = cast(Table, ApiClient.__table__)
# The caller and its department's grants for the resource, in one query: the client row (checked
# by the clients service) on every row, and a grant, newest first, or none.
_CALLER = (
    select(
        *clients_service.IDENTITY_COLUMNS,
        *(
            _GRANTS_TABLE.c[name]
            for name in (
                "id",
                "request_number",
                "status",
                "valid_from",
                "valid_until",
                "items",
                "access_modes",
                "daily_quota",
                "masking",
            )
        ),
        _REQUESTS.c.business_reference,
    )
    .select_from(
        _CLIENTS.outerjoin(
            _GRANTS_TABLE.join(_REQUESTS, _REQUESTS.c.id == _GRANTS_TABLE.c.request_id).join(
                _RESOURCES, _RESOURCES.c.id == _GRANTS_TABLE.c.resource_id
            ),
            and_(
                _GRANTS_TABLE.c.department_id == _CLIENTS.c.department_id,
                _RESOURCES.c.code == bindparam("resource"),
            ),
        )
    )
    .where(_CLIENTS.c.client_id == bindparam("client_id"))
    .order_by(_GRANTS_TABLE.c.id.desc())
)
_LIBRARY_RECORDS = cast(Table, LibraryRecord.__table__)
# No ORDER BY: sorting by key would tempt SQLite to walk the per-department unique index over the
# whole library (a full scan at a million records, measured by bench-api) instead of looking the
# keys up in ix_library_records_subject; the few rows found are ordered in Python.
_CURRENT = select(
    _LIBRARY_RECORDS.c.subject_key, _LIBRARY_RECORDS.c.department_id, _LIBRARY_RECORDS.c["values"]
).where(_LIBRARY_RECORDS.c.library == bindparam("library"), _LIBRARY_RECORDS.c.valid_to.is_(None))
_CURRENT_OF_KEYS = _CURRENT.where(_LIBRARY_RECORDS.c.subject_key.in_(bindparam("keys", expanding=True)))


# -- the checks, in order ---------------------------------------------------------------------------


def _refuse(reason: AccessReason, detail: str = "", detail_en: str = "", **kwargs: Any) -> NoReturn:
    raise Refused(reason, detail, detail_en, **kwargs)


def _authenticate(conn: Connection, secret: str, trail: _Trail, resource_code: str) -> list[Row[Any]]:
    """Who calls, from the token and the client's row; returns its department's grants for the resource."""
    token = trail.call.token
    claims = security.read_client_token(token, secret=secret) if token else None
    rows = (
        conn.execute(_CALLER, {"client_id": claims.client_id, "resource": resource_code}).all()
        if claims
        else []
    )
    client = clients_service.identity_of(claims, rows[0]) if claims and rows else None
    if client is None:
        raise Unauthenticated()
    trail.client_id, trail.department_id = client.client_id, client.department_id
    return [row for row in rows if row.id is not None]


def _raw_parts(key: SubjectKey) -> list[str]:
    return [key.type_code, key.number] if isinstance(key, CertificateKey) else [key]


def _check_shape(keys: Sequence[SubjectKey]) -> None:
    """Oversized keys and control characters are refused before anything is read."""
    problems: list[Problem] = []
    for i, key in enumerate(keys):
        path = "key" if len(keys) == 1 else f"keys[{i}]"
        for part in _raw_parts(key):
            if len(part) > MAX_KEY_PART:
                problems.append(
                    Problem(
                        path, f"主体标识超过 {MAX_KEY_PART} 个字符", f"longer than {MAX_KEY_PART} characters"
                    )
                )
                break
            if _CONTROL.search(part):
                problems.append(Problem(path, "主体标识含有控制字符", "contains control characters"))
                break
    if problems:
        _refuse(AccessReason.invalid_key, problems=problems)


def _library_of(items: dict[str, _Item]) -> Library | None:
    """The library a resource's keys address: the one whose key element it carries, or its only one."""
    elements = {i.element for i in items.values() if i.element}
    for library, key in subjects.LOOKUP_KEY.items():
        if key[0] in elements:
            return library
    libraries = {i.library for i in items.values() if i.library is not None}
    return libraries.pop() if len(libraries) == 1 else None


def _resource(conn: Connection, code: str) -> _Resource:
    row = conn.execute(_RESOURCE, {"code": code}).first()
    shared = (
        row is not None and row.status is ResourceStatus.published and row.share_type is not ShareType.none
    )
    items: dict[str, _Item] = {}
    rows = sorted(json_value(row.items) or [], key=lambda item: item[0]) if row is not None else []
    for _position, name, element, library, sensitivity in rows:
        items[name] = _Item(
            name,
            element,
            Library.of(library) if library else None,
            Sensitivity.of(sensitivity) if sensitivity else None,
        )
    found = _library_of(items) if shared else None
    if row is None or found is None:
        _refuse(AccessReason.resource_unavailable, f"信息资源 {code}", f"resource {code}")
    return _Resource(id=row.id, code=code, library=found, items=items)


def _usable(grant: Row[Any], today: date) -> bool:
    return grant.status is GrantStatus.active and grant.valid_from <= today <= grant.valid_until


def _grant(trail: _Trail, resource: _Resource, grants: list[Row[Any]], today: date) -> Row[Any]:
    """This department's grant for the resource: the one the purpose names, and a usable one first."""
    if not grants:
        _refuse(AccessReason.no_grant, f"信息资源 {resource.code}", f"resource {resource.code}")
    purpose = trail.call.purpose
    named = [g for g in grants if purpose and purpose in (g.request_number, g.business_reference)]
    grant = max(named or grants, key=lambda g: (_usable(g, today), g.status is GrantStatus.active))
    trail.grant_id = grant.id
    number = grant.request_number
    if grant.status is GrantStatus.revoked:
        _refuse(AccessReason.grant_revoked, f"授权 {number}", f"grant {number}")
    if grant.status is GrantStatus.expired or grant.valid_until < today:
        _refuse(
            AccessReason.grant_expired,
            f"授权 {number} 有效期至 {grant.valid_until}",
            f"grant {number} was valid until {grant.valid_until}",
        )
    if grant.valid_from > today:
        _refuse(
            AccessReason.grant_not_yet_valid,
            f"授权 {number} 自 {grant.valid_from} 起生效",
            f"grant {number} is valid from {grant.valid_from}",
        )
    if not purpose:
        _refuse(AccessReason.purpose_missing)
    if not named:
        _refuse(
            AccessReason.purpose_unknown,
            f"“{purpose}”不是授权 {number} 的申请单号或业务办件号",
            f"{purpose!r} is neither the request number nor the business reference of grant {number}",
        )
    return grant


def _terms(trail: _Trail, resource: _Resource, grant: Row[Any], wanted: list[str] | None) -> _Terms:
    if trail.mode.value not in grant.access_modes:
        _refuse(
            AccessReason.mode_not_granted,
            f"授权 {grant.request_number} 不含“{trail.mode.label}”",
            f"grant {grant.request_number} does not allow {trail.mode.value}",
        )
    items = list(dict.fromkeys(wanted)) if wanted else list(grant.items)
    trail.items = items
    extra = [name for name in items if name not in grant.items]
    if extra:
        _refuse(
            AccessReason.items_beyond_grant,
            "、".join(extra),
            ", ".join(extra),
            extra={"items": extra},
        )
    rules: dict[str, MaskRule] = {}
    for name in items:
        given = grant.masking.get(name)
        item = resource.items.get(name)
        # A grant made before masking existed names no rule: its items get the default, never less.
        rules[name] = (
            MaskRule[given]
            if given in MaskRule.__members__
            else masking.default_rule(item.element if item else None, item.sensitivity if item else None)
        )
    return _Terms(
        grant_id=grant.id,
        request_number=grant.request_number,
        daily_quota=grant.daily_quota,
        items=items,
        rules=rules,
    )


def _id_number_ok(number: str) -> bool:
    """GB 11643: 17 digits, the ISO 7064 MOD 11-2 check character and a real birth date.

    Not the address code against stdnum's table of codes in force in the birth year, as
    ``quality.gb11643.validate`` also does: an address code is assigned when the number is issued,
    so 350102 (鼓楼区, since the 1980s) is right for someone born there in 1950. Refusing such a
    number would lock a real person out of every data call (and the table lookup is the slowest
    part of the check).
    """
    if not _ID_FORMAT.fullmatch(number) or ric.calc_check_digit(number) != number[17]:
        return False
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return True


def _credit_code_ok(code: str) -> bool:
    """GB 32100 shape; a bad check character passes when authority and type are known (pilot-era codes)."""
    try:
        gb32100.validate(code)
        return True
    except InvalidChecksum:
        return bool(gb32100.structurally_valid(pd.Series([code])).iloc[0])
    except ValidationError:
        return False


def _well_formed(library: Library, parts: tuple[str, ...]) -> bool:
    if library is Library.population:
        return _id_number_ok(parts[0])
    if library is Library.legal_person:
        return _credit_code_ok(parts[0])
    if library is Library.credit:
        return _id_number_ok(parts[0]) or _credit_code_ok(parts[0])
    return all(parts)


def _subject(keyring: Keyring, library: Library, key: SubjectKey) -> _Subject | None:
    """The canonical subject of ``key``, or None when it is not a well-formed key of ``library``."""
    raw = _raw_parts(key)
    elements = subjects.LOOKUP_KEY[library]
    if len(raw) != len(elements):
        return None
    parts = subjects.canonical(elements, raw)
    if not _well_formed(library, parts):
        return None
    return _Subject(
        parts=parts,
        stored=subjects.stored_key(keyring, library, parts),
        fingerprint=keyring.fingerprint(subjects.plaintext_key(parts)),
    )


def _key_problem(library: Library, path: str) -> Problem:
    what = {
        Library.population: ("公民身份号码（GB 11643）", "an ID number (GB 11643)"),
        Library.legal_person: ("统一社会信用代码（GB 32100）", "a credit code (GB 32100)"),
        Library.credit: ("公民身份号码或统一社会信用代码", "an ID number or a credit code"),
        Library.certificate: (
            '证照类型代码和证照编号 {"type_code", "number"}',
            'a certificate {"type_code", "number"}',
        ),
    }[library]
    return Problem(path, f"不是有效的{what[0]}", f"not {what[1]}")


def _subjects(
    keyring: Keyring, trail: _Trail, library: Library, keys: Sequence[SubjectKey]
) -> tuple[list[_Subject | None], list[Problem]]:
    """Every key read as a subject of ``library``; well-formed ones are fingerprinted for the log."""
    read = [_subject(keyring, library, key) for key in keys]
    trail.fingerprints = list(dict.fromkeys(s.fingerprint for s in read if s is not None))
    problems = [
        _key_problem(library, "key" if len(keys) == 1 else f"keys[{i}]")
        for i, s in enumerate(read)
        if s is None
    ]
    return read, problems


def _over_quota(terms: _Terms, before: int, count: int) -> Refused:
    """The refusal of a call whose ``count`` subjects do not fit in what is left of the daily quota."""
    quota = terms.daily_quota
    return Refused(
        AccessReason.over_quota,
        f"每日限额 {quota} 个主体，今日已用 {before}，本次 {count}",
        f"the daily quota is {quota} subjects; {before} used today, {count} asked",
        extra={"quota": quota, "used": before, "requested": count},
    )


def _records(
    conn: Connection, keyring: Keyring, library: Library, wanted: list[_Subject]
) -> dict[str, list[dict[str, Any]]]:
    """Current records of each subject (by stored key), each the union of its departments' values.

    A credit subject is named by its subject code alone and has a record per decision: those are
    read as the stored-key range of that first part.
    """
    if library is Library.credit:
        r = _LIBRARY_RECORDS.c
        ranges = [subjects.stored_prefix_range(keyring, library, s.parts[0]) for s in wanted]
        statement = _CURRENT.where(
            or_(*(and_(r.subject_key >= low, r.subject_key < high) for low, high in ranges))
        )
        rows = conn.execute(statement, {"library": library}).all()
    else:
        keys = [s.stored for s in wanted]
        rows = conn.execute(_CURRENT_OF_KEYS, {"library": library, "keys": keys}).all()
    merged: dict[str, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: (r.subject_key, r.department_id)):
        values = keyring.unseal(json.loads(row.values), aad=row.subject_key)
        merged.setdefault(row.subject_key, {}).update(values)
    found: dict[str, list[dict[str, Any]]] = {s.stored: [] for s in wanted}
    for stored, values in merged.items():
        owner = stored.split(":", 1)[0] if library is Library.credit else stored
        found[owner].append(values)
    # The key itself is not among the stored values (it is the record's sealed subject key): the
    # caller named it, so its elements are filled in from the canonical parts.
    for subject in wanted:
        for values in found[subject.stored]:
            for element, part in zip(subjects.LOOKUP_KEY[library], subject.parts, strict=False):
                values.setdefault(element, part)
    return found


# -- the transaction -------------------------------------------------------------------------------


def _record_refusal(db: Session, trail: _Trail, denial: Denial, at: datetime) -> None:
    """Undo whatever the call did, then log the refusal and commit it."""
    db.rollback()
    group_commit.submit(db=db, write=Write(entries=trail.refusals(denial), at=at))


def _commit_served(
    db: Session, trail: _Trail, terms: _Terms, entries: list[AccessEntry], at: datetime, count: int
) -> None:
    """Count ``count`` subjects against the quota and commit the call's records; raise if over quota.

    The read transaction ends first: the write is one of a group commit's (authz.access.commit).
    """
    db.rollback()
    denial: Refused | None = None

    def over_quota(before: int) -> list[AccessEntry]:
        nonlocal denial
        denial = _over_quota(terms, before, count)
        return trail.refusals(denial)

    usage = Usage(grant_id=terms.grant_id, day=local_date(at), subjects=count, quota=terms.daily_quota)
    write = group_commit.submit(
        db=db, write=Write(entries=entries, at=at, usage=usage, over_quota=over_quota)
    )
    if write.refused_at is not None and denial is not None:
        raise denial


@dataclass(frozen=True)
class _Authorised:
    resource: _Resource
    terms: _Terms
    read: list[_Subject | None]  # per key, in the order given
    subjects: list[_Subject]  # distinct


def _authorise(
    *,
    db: Session,
    secret: str,
    keyring: Keyring,
    trail: _Trail,
    resource_code: str,
    keys: Sequence[SubjectKey],
    wanted: list[str] | None,
    today: date,
    max_batch: int,
) -> _Authorised:
    """Every check of a keyed call, in order; returns the distinct subjects to read, or raises a Denial."""
    conn = for_statement_reads(db).connection()
    grants = _authenticate(conn, secret, trail, resource_code)
    if len(keys) > max_batch:
        _refuse(
            AccessReason.batch_too_large,
            f"本次 {len(keys)} 个，上限 {max_batch} 个",
            f"{len(keys)} keys, at most {max_batch}",
            extra={"max_batch": max_batch},
        )
    _check_shape(keys)
    resource = _resource(conn, resource_code)
    read, problems = _subjects(keyring, trail, resource.library, keys)
    grant = _grant(trail, resource, grants, today)
    terms = _terms(trail, resource, grant, wanted)
    if problems:
        _refuse(AccessReason.invalid_key, problems=problems)
    distinct_subjects = list({s.stored: s for s in read if s is not None}.values())
    return _Authorised(resource, terms, read, distinct_subjects)


def _serve(
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
) -> tuple[_Authorised, dict[str, list[Record]]]:
    """Authorise, read, project, mask and log a keyed call, and commit; the served records by stored key."""
    at = now or utcnow()
    keyring = keyring or keys_service.get_keyring()
    trail = _Trail(
        call=call, mode=mode, resource_code=resource_code[:_RESOURCE_MAX], items=list(wanted or [])
    )
    trail.keys = len(keys)
    # Checks and reads run in a read transaction, outside the writer queue: only the quota count,
    # the access records and the commit hold SQLite's write lock, so the other calls' token,
    # grant, decryption and masking work runs while this one's commit waits for the disk.
    try:
        authorised = _authorise(
            db=db,
            secret=secret,
            keyring=keyring,
            trail=trail,
            resource_code=resource_code,
            keys=keys,
            wanted=wanted,
            today=local_date(at),
            max_batch=(settings or get_settings()).max_batch if mode is AccessMode.batch else 1,
        )
        resource, terms = authorised.resource, authorised.terms
        found = _records(db.connection(), keyring, resource.library, authorised.subjects)
    except (Refused, Unauthenticated) as denial:
        _record_refusal(db, trail, denial, at)
        raise
    served: dict[str, list[Record]] = {}
    entries = []
    for subject in authorised.subjects:
        records = [terms.project(resource, values) for values in found[subject.stored]]
        served[subject.stored] = records
        outcome = AccessOutcome.served if records else AccessOutcome.not_found
        entries.append(
            trail.entry(
                outcome, subject_fingerprint=subject.fingerprint, subjects=1, rows_returned=len(records)
            )
        )
    _commit_served(db, trail, terms, entries, at, len(authorised.subjects))
    return authorised, served


def _answer_head(call: Call, authorised: _Authorised) -> dict[str, Any]:
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
    authorised, served = _serve(
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
            "the library holds no record of this subject",
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
    authorised, served = _serve(
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


# -- bulk export -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportPlan:
    """An authorised, logged export: what to stream, and how to mask it."""

    request_id: str
    resource: _Resource
    terms: _Terms
    rows: int

    @property
    def filename(self) -> str:
        return f"{self.resource.code.replace('/', '-')}-{self.request_id}.parquet"


def open_export(
    *,
    db: Session,
    secret: str,
    call: Call,
    resource: str,
    items: list[str] | None,
    keyring: Keyring | None = None,
    now: datetime | None = None,
) -> ExportPlan:
    """Authorise and log a bulk export and commit; the rows then stream through :func:`export_chunks`.

    The export counts every current subject of the library against the quota and in the record's
    ``rows_returned``, as of this moment; the stream reads the library as it is when it runs.
    """
    at = now or utcnow()
    today = local_date(at)
    trail = _Trail(
        call=call, mode=AccessMode.bulk_export, resource_code=resource[:_RESOURCE_MAX], items=items or []
    )
    try:
        conn = for_statement_reads(db).connection()
        grants = _authenticate(conn, secret, trail, resource)
        found = _resource(conn, resource)
        grant = _grant(trail, found, grants, today)
        terms = _terms(trail, found, grant, items)
        r = LibraryRecord
        count = int(
            db.scalar(
                select(func.count(distinct(r.subject_key))).where(
                    r.library == found.library, r.valid_to.is_(None)
                )
            )
            or 0
        )
    except (Refused, Unauthenticated) as denial:
        _record_refusal(db, trail, denial, at)
        raise
    trail.keys = count
    entry = trail.entry(AccessOutcome.served, subjects=count, rows_returned=count)
    _commit_served(db, trail, terms, [entry], at, count)
    return ExportPlan(request_id=call.request_id, resource=found, terms=terms, rows=count)


class _Drain:
    """A write-only file the Parquet writer fills and the response empties, chunk by chunk."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


def export_chunks(
    *, db: Session, plan: ExportPlan, keyring: Keyring | None = None, settings: DataSettings | None = None
) -> Iterator[bytes]:
    """The Parquet file of an authorised export, in pieces: one row group per ``export_rows`` subjects."""
    keyring = keyring or keys_service.get_keyring()
    size = (settings or get_settings()).export_rows
    schema = pa.schema([(name, pa.string()) for name in plan.terms.items])
    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema)
    r = LibraryRecord
    rows = db.execute(
        select(r.subject_key, r.subject_cipher, r.values)
        .where(r.library == plan.resource.library, r.valid_to.is_(None))
        .order_by(r.subject_key, r.department_id)
        .execution_options(yield_per=size)
    )
    columns: dict[str, list[str | None]] = {name: [] for name in plan.terms.items}
    pending_key: str | None = None
    pending: dict[str, Any] = {}

    key_elements = subjects.LOOKUP_KEY[plan.resource.library]

    def flush_subject() -> None:
        for name, value in plan.terms.project(plan.resource, pending).items():
            columns[name].append(value)

    def write_group() -> bytes:
        writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=schema))
        for values in columns.values():
            values.clear()
        return sink.take()

    try:
        for row in rows:
            if row.subject_key != pending_key:
                if pending_key is not None:
                    flush_subject()
                    if len(columns[plan.terms.items[0]]) >= size:
                        yield write_group()
                pending_key, pending = row.subject_key, {}
                if row.subject_cipher is not None:
                    # The key is not among the values; it is sealed beside them.
                    plain = keyring.decrypt(row.subject_cipher, aad=subjects.cipher_aad(row.subject_key))
                    pending.update(zip(key_elements, plain.split(subjects.KEY_SEPARATOR), strict=False))
            pending.update(keyring.unseal(json.loads(row.values), aad=row.subject_key))
        if pending_key is not None:
            flush_subject()
        if columns[plan.terms.items[0]]:
            yield write_group()
        writer.close()
        yield sink.take()
    finally:
        rows.close()
        if writer.is_open:
            writer.close()
