"""The data plane's guard: every check a call passes before a record is read, in order.

Each call, in this order: authenticate the client; check the shape of the keys (length, control
characters) before anything else is read; find the resource and this department's grant for it;
check validity (Asia/Shanghai dates), purpose reference, access mode and items; check the
resource's 管控参数 (allowed modes, query key, time window, source address); check the keys'
check digits; read the current records through the blind index (for a provider's service,
接口共享: end the read transaction, then forward the key); project them to the granted items;
mask them per the grant; then, in the write transaction, count the call against the
resource's rate limit and the subjects against the daily quota, and append the access records;
answer.

Here: the checks up to the keys' check digits (the 管控参数 in ``controls``). ``lookup`` reads,
projects and masks; ``proxy`` forwards; ``export`` streams (never a provider's service); ``trail``
counts the rate and the quota, writes the records and explains the transactions.
"""

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NoReturn, cast

from sqlalchemy import Connection, Row, Table, and_, bindparam, select
from sqlalchemy.orm import Session

from authz import security
from authz.access import controls as access_controls
from authz.access import masking, resource_rows
from authz.access.exceptions import Refused, Unauthenticated
from authz.access.resource_rows import ResourceRow
from authz.access.schemas import CertificateKey, SubjectKey
from authz.access.trail import Trail
from authz.calendar.service import local_date
from authz.clients import service as clients_service
from authz.clients.models import ApiClient
from authz.sharing.models import Grant, SharingRequest
from authz.types import AccessReason, GrantStatus, MaskRule
from catalog_schema.database import for_statement_reads, json_value
from catalog_schema.dataset import subjects as dataset_subjects
from catalog_schema.errors import Problem
from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects
from catalog_schema.resource.controls import Controls, InvalidControlParam
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import ProxyDelivery
from catalog_schema.settings import platform_department
from catalog_schema.types import (
    CREDIT_CODE_ELEMENTS,
    ID_ELEMENT,
    SUBJECT_CODE_ELEMENTS,
    DeliveryKind,
    Library,
    ResourceStatus,
    Sensitivity,
    ShareType,
)
from quality import gb11643, gb32100

MAX_KEY_PART = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


# -- what the checks find --------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One item of a resource: the element it carries, that element's library and sensitivity."""

    name: str
    element: str | None
    library: Library | None
    sensitivity: Sensitivity | None


@dataclass(frozen=True)
class QueryKey:
    """A dataset's query key: its items, and the element each carries (its key form and checks)."""

    items: tuple[str, ...]
    elements: tuple[str | None, ...]


@dataclass(frozen=True)
class SharedResource:
    """A published, shared resource as a call sees it: its binding, its items by name, its 管控参数.

    A library view reads ``library``; a department's view only its provider's records
    (``department_id``), the platform's composite every department's (None). ``where`` keeps the
    records whose element holds one of the listed values (a 行政处罚 view of the credit library).
    A dataset (库表交换) reads its own rows by ``query_key``; ``library`` is None.
    """

    id: int
    code: str
    library: Library | None
    items: dict[str, Item]
    controls: Controls | InvalidControlParam
    delivery: DeliveryKind = DeliveryKind.library
    department_id: int | None = None
    where: tuple[tuple[str, frozenset[str]], ...] = ()
    query_key: QueryKey | None = None

    def keeps(self, values: dict[str, Any]) -> bool:
        """Whether a record is in the view (its ``where`` elements hold allowed values)."""
        return all(values.get(element) in allowed for element, allowed in self.where)


@dataclass(frozen=True)
class ProxiedResource(SharedResource):
    """A provider's service (接口共享): called with its ``query_key`` through its ``binding``.

    A subclass, not a field of every resource: the library path builds a SharedResource per call.
    """

    binding: ProxyDelivery | None = None


@dataclass(frozen=True)
class Terms:
    """The grant a call is served under, and what it lets this call see."""

    grant_id: int
    request_number: str
    daily_quota: int | None
    items: list[str]
    rules: dict[str, MaskRule]


@dataclass(frozen=True)
class Subject:
    """A well-formed key: canonical parts, what the library stores, and the audit fingerprint."""

    parts: tuple[str, ...]
    stored: str
    fingerprint: str


@dataclass(frozen=True)
class Authorised:
    """A keyed call that passed every check: its resource, terms and subjects."""

    resource: SharedResource
    terms: Terms
    read: list[Subject | None]  # per key, in the order given
    subjects: list[Subject]  # distinct


# -- the statements of the checks, built once (Core, so no ORM work per call) ----------------------

_RESOURCES = cast(Table, Resource.__table__)
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


# -- the checks, in order --------------------------------------------------------------------------


def _refuse(reason: AccessReason, detail: str = "", detail_en: str = "", **kwargs: Any) -> NoReturn:
    raise Refused(reason, detail, detail_en, **kwargs)


def _authenticate(conn: Connection, secret: str, trail: Trail, resource_code: str) -> list[Row[Any]]:
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


def _resource(conn: Connection, code: str) -> SharedResource:
    row = resource_rows.read(conn, code)
    if row is None:
        _refuse(AccessReason.resource_unavailable, f"信息资源 {code}", f"resource {code}")
    # The row is read on every call, so a change to the catalog shows at once; what is built from
    # it is built once per content (bench-api: parsing the items on every call cost 3% of a lookup).
    return _shared(code, row)


@functools.lru_cache(maxsize=512)
def _shared(code: str, row: ResourceRow) -> SharedResource:
    """The call's view of a resource row; refuses one that is not shared or not served."""
    shared = row.status is ResourceStatus.published and row.share_type is not ShareType.none
    items: dict[str, Item] = {}
    rows = sorted(json_value(row.items) or [], key=lambda item: item[0])
    for _position, name, element, library, sensitivity in rows:
        items[name] = Item(
            name,
            element,
            Library.of(library) if library else None,
            Sensitivity.of(sensitivity) if sensitivity else None,
        )
    if shared and row.delivery_kind is DeliveryKind.dataset:
        return _dataset(row, code, items)
    if shared and row.delivery_kind is DeliveryKind.proxy:
        return _proxy(row, code, items)
    view = shared and row.delivery_kind is DeliveryKind.library
    binding = (json_value(row.delivery) or {}) if view else {}
    library = binding.get("library")
    if library is None:
        _refuse(AccessReason.resource_unavailable, f"信息资源 {code}", f"resource {code}")
    return SharedResource(
        id=row.id,
        code=code,
        library=Library.of(library),
        items=items,
        controls=access_controls.parsed(row.controls),
        delivery=row.delivery_kind,
        department_id=_view_department(row.provider, row.provider_id, Library.of(library)),
        where=tuple(
            (element, frozenset(allowed)) for element, allowed in (binding.get("where") or {}).items()
        ),
    )


def _dataset(row: ResourceRow, code: str, items: dict[str, Item]) -> SharedResource:
    """A dataset (库表交换): its provider's own rows, read by the binding's query key."""
    names = tuple((json_value(row.delivery) or {}).get("query_key") or ())
    if not names or any(name not in items for name in names):
        _refuse(AccessReason.resource_unavailable, f"信息资源 {code}", f"resource {code}")
    return SharedResource(
        id=row.id,
        code=code,
        library=None,
        items=items,
        controls=access_controls.parsed(row.controls),
        delivery=DeliveryKind.dataset,
        department_id=row.provider_id,
        query_key=QueryKey(names, tuple(items[name].element for name in names)),
    )


def _proxy(row: ResourceRow, code: str, items: dict[str, Item]) -> SharedResource:
    """A provider's service (接口共享): forwarded by ``authz.access.proxy``, keyed by one item."""
    binding = ProxyDelivery.model_validate(json_value(row.delivery) or {})
    if binding.query_key not in items:
        _refuse(AccessReason.resource_unavailable, f"信息资源 {code}", f"resource {code}")
    return ProxiedResource(
        id=row.id,
        code=code,
        library=None,
        items=items,
        controls=access_controls.parsed(row.controls),
        delivery=DeliveryKind.proxy,
        department_id=row.provider_id,
        query_key=QueryKey((binding.query_key,), (items[binding.query_key].element,)),
        binding=binding,
    )


def _view_department(provider: str, provider_id: int, library: Library) -> int | None:
    """Whose records a view reads: a department's own values, except where the platform composes them
    or the view is of certificates, whose records are the issuer's by type (the view's ``where``)."""
    if provider == platform_department() or library is Library.certificate:
        return None
    return provider_id


def _usable(grant: Row[Any], today: date) -> bool:
    return grant.status is GrantStatus.active and grant.valid_from <= today <= grant.valid_until


def _grant(trail: Trail, resource: SharedResource, grants: list[Row[Any]], today: date) -> Row[Any]:
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


def _terms(trail: Trail, resource: SharedResource, grant: Row[Any], wanted: list[str] | None) -> Terms:
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
    return Terms(
        grant_id=grant.id,
        request_number=grant.request_number,
        daily_quota=grant.daily_quota,
        items=items,
        rules=rules,
    )


def _well_formed(library: Library, parts: tuple[str, ...]) -> bool:
    """Whether canonical ``parts`` are a key of ``library``; national codes are checked by ``quality``."""
    if library is Library.population:
        return gb11643.is_valid_key(parts[0])
    if library is Library.legal_person:
        return gb32100.is_valid_key(parts[0])
    if library is Library.credit:
        return gb11643.is_valid_key(parts[0]) or gb32100.is_valid_key(parts[0])
    return all(parts)


def _well_formed_part(element: str | None, part: str) -> bool:
    """A dataset's key part, checked by the element its item carries (else by shape: not empty)."""
    if element == ID_ELEMENT:
        return gb11643.is_valid_key(part)
    if element in CREDIT_CODE_ELEMENTS:
        return gb32100.is_valid_key(part)
    if element in SUBJECT_CODE_ELEMENTS:
        return gb11643.is_valid_key(part) or gb32100.is_valid_key(part)
    return bool(part)


def _dataset_subject(keyring: Keyring, resource: SharedResource, key: SubjectKey) -> Subject | None:
    """The canonical subject of ``key`` in a dataset: its query key's parts, joined by ':' when several."""
    query_key = resource.query_key
    assert query_key is not None
    if not isinstance(key, str):
        return None
    raw = key.split(subjects.KEY_SEPARATOR, len(query_key.items) - 1)
    if len(raw) != len(query_key.items):
        return None
    parts = tuple(subjects.canonical_part(e or "", v) for e, v in zip(query_key.elements, raw, strict=True))
    if not all(_well_formed_part(e, p) for e, p in zip(query_key.elements, parts, strict=True)):
        return None
    return Subject(
        parts=parts,
        stored=dataset_subjects.stored_key(keyring, resource.code, parts),
        fingerprint=keyring.fingerprint(subjects.plaintext_key(parts)),
    )


def _subject(keyring: Keyring, library: Library, key: SubjectKey) -> Subject | None:
    """The canonical subject of ``key``, or None when it is not a well-formed key of ``library``."""
    raw = _raw_parts(key)
    elements = subjects.LOOKUP_KEY[library]
    if len(raw) != len(elements):
        return None
    parts = subjects.canonical(elements, raw)
    if not _well_formed(library, parts):
        return None
    return Subject(
        parts=parts,
        stored=subjects.stored_key(keyring, library, parts),
        fingerprint=keyring.fingerprint(subjects.plaintext_key(parts)),
    )


def _key_problem(resource: SharedResource, path: str) -> Problem:
    library = resource.library
    if library is None:
        names = "+".join(resource.query_key.items) if resource.query_key else ""
        return Problem(path, f"不是有效的{names}", f"not a valid {names}")
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
    keyring: Keyring, trail: Trail, resource: SharedResource, keys: Sequence[SubjectKey]
) -> tuple[list[Subject | None], list[Problem]]:
    """Every key read as a subject of the resource; well-formed ones are fingerprinted for the log."""
    library = resource.library
    if library is None:
        read = [_dataset_subject(keyring, resource, key) for key in keys]
    else:
        read = [_subject(keyring, library, key) for key in keys]
    trail.fingerprints = list(dict.fromkeys(s.fingerprint for s in read if s is not None))
    problems = [
        _key_problem(resource, "key" if len(keys) == 1 else f"keys[{i}]")
        for i, s in enumerate(read)
        if s is None
    ]
    return read, problems


def authorise_keyed(
    *,
    db: Session,
    secret: str,
    keyring: Keyring,
    trail: Trail,
    resource_code: str,
    keys: Sequence[SubjectKey],
    wanted: list[str] | None,
    at: datetime,
    max_batch: int,
) -> Authorised:
    """Every check of a keyed call, in order; returns the distinct subjects to read, or raises a Denial."""
    today = local_date(at)
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
    read, problems = _subjects(keyring, trail, resource, keys)
    grant = _grant(trail, resource, grants, today)
    terms = _terms(trail, resource, grant, wanted)
    access_controls.check(db=db, trail=trail, code=resource.code, found=resource.controls, at=at)
    if problems:
        _refuse(AccessReason.invalid_key, problems=problems)
    distinct_subjects = list({s.stored: s for s in read if s is not None}.values())
    return Authorised(resource, terms, read, distinct_subjects)


def authorise_export(
    *, db: Session, secret: str, trail: Trail, resource_code: str, wanted: list[str] | None, at: datetime
) -> tuple[SharedResource, Terms]:
    """Every check of a bulk export, in order: caller, resource, grant, items, 管控参数; or a Denial."""
    conn = for_statement_reads(db).connection()
    grants = _authenticate(conn, secret, trail, resource_code)
    resource = _resource(conn, resource_code)
    grant = _grant(trail, resource, grants, local_date(at))
    terms = _terms(trail, resource, grant, wanted)
    if isinstance(resource, ProxiedResource) and resource.binding is not None:
        # An interface answers a keyed query; there is no table on the platform to export.
        key = resource.binding.query_key
        _refuse(
            AccessReason.query_key_required,
            f"信息资源 {resource.code} 以“接口共享”方式交付，须以“{key}”逐条查询，不能批量导出",
            f"resource {resource.code} is a provider's service (proxy), read by its query key "
            f"({key}) only, never exported",
            extra={"query_key": [key]},
        )
    access_controls.check(db=db, trail=trail, code=resource.code, found=resource.controls, at=at)
    return resource, terms
