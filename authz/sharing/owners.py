"""A platform-kept composite is decided by the owners of its items (DESIGN.md "What a grant delivers").

A composite is a library view the platform department keeps over several departments' elements.
When the platform accepts a request for one, :func:`route_items` says, item by item, who grants it,
and :func:`open_parts` starts one decision stage per owner department that must decide (10 working
days after acceptance, on the same clock as any decision stage). The rule, fixed at acceptance:

- The platform grants, with no owner stage, an item that carries no element, the library's key
  (the caller's own identifier, echoed back), an element without an authoritative source or owned
  by the platform itself, and the requesting department's own element (its own data).
- Otherwise the owner D of the item's element E is asked through D's own published catalog
  entries carrying E, the most permissive one counting (a 不予共享 entry is about that resource,
  fingerprints or case files; E is shared if another entry of D's shares it):
  无条件 without 管控参数 → the platform grants it; 有条件, or 管控参数 → D decides; D has published
  no entry carrying E → D decides (nothing says how D shares it: the conservative reading);
  every entry of D carrying E is 不予共享 → the item cannot be requested: submission (and
  acceptance, should the catalog change) is refused with the legal basis, as for a 不予共享 resource.

Each owner approves (possibly fewer of its items) or denies (with a reason) only its own items.
When no owner is left to decide, the grant holds exactly the approved items, the platform's
included; when nothing but the key would be left, the request is denied.
"""

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.calendar.service import WorkingCalendar
from authz.clock import service as clock_service
from authz.clock.models import ClockStage, SlaProfile
from authz.sharing import grants as sharing_grants
from authz.sharing.models import OwnerDecision, SharingRequest
from authz.sharing.schemas import TransitionIn
from authz.types import MaskRule, OwnerOutcome, RequestAction, RequestStatus, Route, StageKind
from catalog_schema.department import service as department_service
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement
from catalog_schema.errors import Forbidden, InvalidInput, Problem
from catalog_schema.resource import delivery as resource_delivery
from catalog_schema.resource.models import Resource, ResourceItem
from catalog_schema.settings import platform_department
from catalog_schema.types import DeliveryKind, Library, ResourceStatus, ShareType
from catalog_schema.user.models import User


class Basis(enum.StrEnum):
    """Why an item of a composite is granted by whom."""

    no_element = "no_element"  # the platform's: not base-library data
    key = "key"  # the platform's: the library's key, which the caller supplies itself
    platform = "platform"  # the platform's: no authoritative source, or the platform owns it
    own = "own"  # the platform's: the requesting department owns the element
    unconditional = "unconditional"  # the platform's: the owner shares it 无条件, no 管控参数
    conditional = "conditional"  # the owner decides: its entry is 有条件共享
    controlled = "controlled"  # the owner decides: its entry has 管控参数
    no_entry = "no_entry"  # the owner decides: it has published no entry carrying the element
    not_shared = "not_shared"  # nobody: every entry of the owner carrying it is 不予共享

    @property
    def owner_decides(self) -> bool:
        return self in (Basis.conditional, Basis.controlled, Basis.no_entry)


@dataclass(frozen=True)
class ItemRoute:
    item: str
    department: Department  # the owner that decides, or the platform department
    basis: Basis
    legal_basis: str | None = None  # of a 不予共享 entry


def is_composite(resource: Resource) -> bool:
    """A library view the platform department keeps: its requests are routed to the owners."""
    return resource.delivery_kind is DeliveryKind.library and resource_delivery.is_platform(resource)


def _library(resource: Resource) -> Library | None:
    named = (resource.delivery or {}).get("library")
    if named:
        return Library.of(named)
    return resource_delivery.library_of([i.element for i in resource.items if i.element is not None])


def _entry_basis(entries: list[Resource]) -> tuple[Basis, str | None]:
    """The most permissive of an owner's own entries carrying an element."""
    if not entries:
        return Basis.no_entry, None
    if any(e.share_type is ShareType.unconditional and not e.control_params for e in entries):
        return Basis.unconditional, None
    if any(e.share_type is ShareType.conditional for e in entries):
        return Basis.conditional, None
    if any(e.share_type is ShareType.unconditional for e in entries):
        return Basis.controlled, None
    return Basis.not_shared, "；".join(e.share_legal_basis or "（未登记）" for e in entries)


def _owner_entries(db: Session, resource: Resource, elements: list[DataElement]) -> dict[int, list[Resource]]:
    """Per element id, the published entries of its owner (other than ``resource``) that carry it."""
    owners = {e.id: source.department_id for e in elements if (source := e.authoritative_source) is not None}
    if not owners:
        return {}
    rows = db.execute(
        select(ResourceItem.element_id, Resource)
        .join(Resource, ResourceItem.resource_id == Resource.id)
        .where(
            ResourceItem.element_id.in_(list(owners)),
            Resource.status == ResourceStatus.published,
            Resource.id != resource.id,
        )
    ).all()
    found: dict[int, list[Resource]] = {}
    for element_id, entry in rows:
        if entry.provider_id == owners[element_id] and entry not in found.setdefault(element_id, []):
            found[element_id].append(entry)
    return found


def route_items(
    *, db: Session, resource: Resource, items: list[str], requester_department_id: int
) -> list[ItemRoute]:
    """Who grants each requested item of a composite, and why (the rule in the module docstring)."""
    platform = department_service.get_by_ref(db=db, ref=platform_department())
    by_name = {i.name: i for i in resource.items}
    library = _library(resource)
    keys = resource_delivery.KEY_ELEMENTS.get(library, frozenset()) if library else frozenset()
    elements = [e for name in items if (i := by_name.get(name)) and (e := i.element) is not None]
    entries = _owner_entries(db, resource, elements)
    routes: list[ItemRoute] = []
    for name in items:
        item = by_name.get(name)
        element = item.element if item else None
        source = element.authoritative_source if element else None
        if element is None:
            routes.append(ItemRoute(name, platform, Basis.no_element))
        elif element.code in keys:
            routes.append(ItemRoute(name, platform, Basis.key))
        elif source is None or source.department_id == platform.id:
            routes.append(ItemRoute(name, platform, Basis.platform))
        elif source.department_id == requester_department_id:
            routes.append(ItemRoute(name, platform, Basis.own))
        else:
            basis, legal = _entry_basis(entries.get(element.id, []))
            owner = source.department if basis.owner_decides or basis is Basis.not_shared else platform
            routes.append(ItemRoute(name, owner, basis, legal))
    return routes


def refuse_not_shared(resource: Resource, routes: list[ItemRoute]) -> None:
    """Refuse items whose owner shares them in no entry (不予共享), showing the legal basis."""
    refused = [r for r in routes if r.basis is Basis.not_shared]
    if not refused:
        return
    names = "、".join(f"“{r.item}”" for r in refused)
    bases = "；".join(f"{r.item}（{r.department.name}）：{r.legal_basis}" for r in refused)
    raise Forbidden(
        f"信息资源《{resource.name}》的信息项{names}在其权属部门的目录中为不予共享类，不能申请。依据：{bases}",
        f"items {', '.join(r.item for r in refused)} of resource {resource.code} are not shared (不予共享) "
        f"by their owners and cannot be requested; legal basis: {bases}",
        code="item_not_shareable",
        problems=[Problem("items", f"“{r.item}”不予共享", f"{r.item!r} is not shared") for r in refused],
        extra={"legal_basis": {r.item: r.legal_basis for r in refused}},
    )


def _subject(request: SharingRequest, department: Department) -> str:
    return (
        f"共享申请 {request.number}《{request.resource.name}》{StageKind.decision.label}（{department.name}）"
    )


def open_parts(
    *,
    db: Session,
    request: SharingRequest,
    routes: list[ItemRoute],
    user: User | None,
    at: datetime,
    calendar: WorkingCalendar,
    profile: SlaProfile,
) -> list[ClockStage]:
    """At acceptance: one pending part and decision stage per deciding owner, and the platform's part."""
    platform = department_service.get_by_ref(db=db, ref=platform_department())
    deciding: dict[int, list[ItemRoute]] = {}
    granted: list[ItemRoute] = []
    for route in routes:
        (deciding.setdefault(route.department.id, []) if route.basis.owner_decides else granted).append(route)
    stages: list[ClockStage] = []
    for parts in deciding.values():
        department = parts[0].department
        stage = clock_service.start(
            db=db,
            kind=StageKind.decision,
            department_id=department.id,
            subject=_subject(request, department),
            at=at,
            calendar=calendar,
            profile=profile,
            request_id=request.id,
        )
        request.stages.append(stage)
        stages.append(stage)
        request.decisions.append(
            OwnerDecision(
                department=department,
                stage=stage,
                items=[r.item for r in parts],
                basis={r.item: r.basis.value for r in parts},
                outcome=OwnerOutcome.pending,
                approved_items=[],
                masking={},
            )
        )
    if granted:
        request.decisions.append(
            OwnerDecision(
                department=platform,
                items=[r.item for r in granted],
                basis={r.item: r.basis.value for r in granted},
                outcome=OwnerOutcome.platform,
                approved_items=[r.item for r in granted],
                masking={},
                decided_at=at,
                decided_by_id=user.id if user else None,
            )
        )
    request.route = Route.composite
    request.status = RequestStatus.pending_approval
    return stages


_DECIDING = (RequestStatus.pending_approval, RequestStatus.approval_supplement)


def pending(request: SharingRequest) -> list[OwnerDecision]:
    return [d for d in request.decisions if d.outcome is OwnerOutcome.pending]


def deciding_departments(request: SharingRequest) -> frozenset[int] | None:
    """The departments whose approvers act for the provider now: a composite's undecided owners."""
    if request.route is not Route.composite or request.status not in _DECIDING:
        return None
    return frozenset(d.department_id for d in pending(request))


def part_of(request: SharingRequest, user: User | None) -> OwnerDecision | None:
    """The undecided part of ``user``'s department, if it has one."""
    if user is None or request.route is not Route.composite:
        return None
    return next((d for d in pending(request) if d.department_id == user.department_id), None)


def approved_items(request: SharingRequest, part: OwnerDecision, data: TransitionIn) -> list[str]:
    """The items an owner approves: its own, never another owner's, never terms of the whole grant."""
    if any(v is not None for v in (data.access_modes, data.valid_from, data.valid_until, data.daily_quota)):
        raise InvalidInput(
            "权属部门审批只能缩小本部门的信息项、设置其脱敏规则；共享方式、有效期和调用限额由申请统一确定",
            "an owner approves or narrows its own items and sets their masking only; access modes, "
            "validity and quota belong to the whole request",
            code="narrowing_not_allowed",
        )
    items = list(data.items) if data.items is not None else list(part.items)
    others = {name: d for d in request.decisions if d is not part for name in d.items}
    foreign = [(i, name) for i, name in enumerate(items) if name in others]
    if foreign:
        raise Forbidden(
            f"{part.department.name}只能审批本部门为权属部门的信息项；"
            + "、".join(f"“{n}”由{others[n].department.name}办理" for _, n in foreign),
            f"{part.department.slug} decides its own items only; "
            + ", ".join(f"{n!r} is {others[n].department.slug}'s" for _, n in foreign),
            code="items_not_owned",
            problems=[
                Problem(f"items[{i}]", f"不是本部门的信息项：{n}", f"not your department's item: {n}")
                for i, n in foreign
            ],
        )
    unknown = [(i, name) for i, name in enumerate(items) if name not in part.items]
    if unknown:
        raise InvalidInput(
            "审批范围有误",
            "invalid approval terms",
            code="invalid_narrowing",
            problems=[
                Problem(
                    f"items[{i}]",
                    f"“{n}”不在申请的信息项中，审批只能缩小范围",
                    f"{n!r} was not requested; approval can only narrow",
                )
                for i, n in unknown
            ],
        )
    return items


def decide(
    *,
    part: OwnerDecision,
    action: RequestAction,
    data: TransitionIn,
    approved: list[str],
    user: User,
    at: datetime,
    calendar: WorkingCalendar,
) -> None:
    """Record an owner's decision on its own items (``approved``: what it approves, after
    :func:`approved_items`); its stage closes, the other owners' run on."""
    if action is RequestAction.approve:
        part.outcome, part.approved_items = OwnerOutcome.approved, list(approved)
        part.masking = {k: v.value for k, v in (data.masking or {}).items()}
    else:
        part.outcome, part.approved_items = OwnerOutcome.denied, []
    part.reason, part.decided_at, part.decided_by_id = data.reason, at, user.id
    if part.stage is not None and part.stage.state.is_open:
        clock_service.close(stage=part.stage, at=at, calendar=calendar)


def key_items(request: SharingRequest) -> set[str]:
    return {name for d in request.decisions for name, basis in d.basis.items() if basis == Basis.key}


def final_terms(
    request: SharingRequest,
    part: OwnerDecision,
    approved: list[str],
    masking: dict[str, MaskRule],
    today: date,
) -> dict[str, Any] | None:
    """The grant's terms once ``part``, the last undecided one, approves ``approved`` (with
    ``masking``): exactly the approved items; None when nothing but the key is left (denied)."""
    granted = {name for d in request.decisions if d is not part for name in d.approved_items} | set(approved)
    if not granted - key_items(request):
        return None
    items = [name for name in request.items if name in granted]
    terms = sharing_grants.narrowed_terms(request, TransitionIn(items=items), today)
    given = {k: MaskRule.of(v) for d in request.decisions if d is not part for k, v in d.masking.items()}
    given |= masking
    terms["masking"] = sharing_grants.masking_rules(
        request.resource, items, {k: v for k, v in given.items() if k in granted}
    )
    return terms


def cancel_pending(request: SharingRequest) -> None:
    """A withdrawn request: the undecided parts end undecided."""
    for part in pending(request):
        part.outcome = OwnerOutcome.cancelled


def decidable_items(request: SharingRequest, user: User | None) -> list[str] | None:
    """The items ``user``'s department still decides on a composite, or None for any other request."""
    part = part_of(request, user)
    return list(part.items) if part is not None else None
