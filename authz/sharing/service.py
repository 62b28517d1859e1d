"""Sharing requests: submit, read within a user's scope, and move through the state machine.

Every change goes through :func:`act` (or :func:`submit`), which checks the transition table in
``authz.sharing.flows``, the actor's role and department, and the reason where one is needed,
before anything changes; then it records the event, moves the clock and notifies the next party.
"""

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from authz.calendar import service as calendar_service
from authz.calendar.service import WorkingCalendar, local_date
from authz.clock import service as clock_service
from authz.clock.models import ClockStage, SlaProfile
from authz.clock.settings import ClockSettings
from authz.permissions import sees_every_department
from authz.sharing import flows, notices, owners
from authz.sharing import grants as sharing_grants
from authz.sharing.flows import ClockEffect, Transition
from authz.sharing.models import Grant, OwnerDecision, RequestEvent, SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import (
    AccessMode,
    GrantStatus,
    OwnerOutcome,
    RequestAction,
    RequestStatus,
    Route,
    StageKind,
)
from catalog_schema.department import service as department_service
from catalog_schema.errors import Conflict, Forbidden, InvalidInput, NotFound, Problem
from catalog_schema.pagination import PageParams, paginate
from catalog_schema.resource import controls as resource_controls
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from catalog_schema.settings import PlatformSettings
from catalog_schema.types import ResourceStatus, ShareType
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def calendar(*, db: Session) -> WorkingCalendar:
    """The working-day calendar of the configured region, with every loaded arrangement."""
    return calendar_service.get_calendar(db=db, region=ClockSettings().calendar_region)


def not_found(request_id: int | str) -> NotFound:
    return NotFound(
        f"共享申请 {request_id} 不存在",
        f"sharing request {request_id} does not exist",
        code="request_not_found",
    )


def _visible(stmt: Select[Any], user: User) -> Select[Any]:
    """A department sees its own requests; a provider approver also those for its resources, and an
    owner's approver the composites it has a part in."""
    if sees_every_department(user):
        return stmt
    mine = SharingRequest.department_id == user.department_id
    if user.role is Role.dept_approver:
        owner = SharingRequest.id.in_(
            select(OwnerDecision.request_id).where(OwnerDecision.department_id == user.department_id)
        )
        return stmt.where(or_(mine, SharingRequest.provider_department_id == user.department_id, owner))
    if user.role in (Role.dept_requester,):
        return stmt.where(mine)
    return stmt.where(SharingRequest.id.is_(None))  # machine clients read grants, not requests


def get(*, db: Session, request_id: int, user: User | None, lock: bool = False) -> SharingRequest:
    """The request, if ``user`` (None: the system) may see it; otherwise NotFound, as if it did not exist."""
    stmt = select(SharingRequest).where(SharingRequest.id == request_id)
    if user is not None:
        stmt = _visible(stmt, user)
    if lock:
        stmt = stmt.with_for_update(of=SharingRequest)
    request = db.scalar(stmt)
    if request is None:
        raise not_found(request_id)
    return request


def list_(
    *,
    db: Session,
    user: User,
    params: PageParams,
    status: RequestStatus | None = None,
    resource_id: int | None = None,
    box: str | None = None,
) -> tuple[list[SharingRequest], int]:
    """Requests ``user`` may see, newest first; ``box`` narrows to "mine", "to_review" or "to_decide"."""
    stmt = _visible(select(SharingRequest), user).order_by(SharingRequest.id.desc())
    if status is not None:
        stmt = stmt.where(SharingRequest.status == status)
    if resource_id is not None:
        stmt = stmt.where(SharingRequest.resource_id == resource_id)
    if box == "mine":
        stmt = stmt.where(SharingRequest.department_id == user.department_id)
    elif box == "to_review":
        stmt = stmt.where(SharingRequest.status.in_((RequestStatus.submitted, RequestStatus.provisioning)))
    elif box == "to_decide":
        my_part = SharingRequest.id.in_(
            select(OwnerDecision.request_id).where(
                OwnerDecision.department_id == user.department_id,
                OwnerDecision.outcome == OwnerOutcome.pending,
            )
        )
        provider = (SharingRequest.provider_department_id == user.department_id) & (
            SharingRequest.route != Route.composite
        )
        stmt = stmt.where(SharingRequest.status == RequestStatus.pending_approval, or_(provider, my_part))
    return paginate(db, stmt, params)


def allowed_actions(request: SharingRequest, user: User | None) -> list[RequestAction]:
    """The actions ``user`` may take on ``request`` now."""
    return [
        action
        for action in flows.legal_actions(request.status)
        if flows.is_actor(
            flows.TRANSITIONS[(request.status, action)].actor,
            user,
            requester_department_id=request.department_id,
            provider_department_id=request.provider_department_id,
            deciding_department_ids=owners.deciding_departments(request),
        )
    ]


def _requestable(db: Session, code: str) -> Resource:
    resource = resource_service.get_by_code(db=db, code=code)
    if resource.status is not ResourceStatus.published:
        raise resource_service.not_found(code)
    if resource.share_type is ShareType.none:
        basis = resource.share_legal_basis or "（未登记）"
        raise Forbidden(
            f"信息资源《{resource.name}》为不予共享类，不能申请。依据：{basis}",
            f"resource {resource.code} is not shared (不予共享) and cannot be requested; "
            f"legal basis: {basis}",
            code="resource_not_shareable",
            extra={"legal_basis": resource.share_legal_basis},
        )
    return resource


def _unknown_items(resource: Resource, items: list[str], path: str) -> list[Problem]:
    names = {item.name for item in resource.items}
    return [
        Problem(
            f"{path}[{i}]",
            f"信息资源《{resource.name}》没有信息项“{name}”",
            f"resource {resource.code} has no item {name!r}",
        )
        for i, name in enumerate(items)
        if name not in names
    ]


def _check_modes(resource: Resource, modes: list[str], *, after: str = "", after_en: str = "") -> None:
    """Refuse access modes the resource's access_modes 管控参数 forbids, naming them and its condition."""
    try:
        allowed = resource_controls.of(resource.control_params or [])
    except resource_controls.InvalidControlParam as exc:
        raise Conflict(
            f"信息资源《{resource.name}》的{exc.message}，请平台数据管理员更正后再办理",
            f"resource {resource.code}: {exc.message_en}; the catalog administrator must correct it first",
            code="control_params_invalid",
        ) from exc
    forbidden = [(i, AccessMode.of(m)) for i, m in enumerate(modes) if not allowed.allows_mode(m)]
    if not forbidden:
        return
    labels = "、".join(f"“{m.label}”" for _, m in forbidden)
    condition = f"共享条件：{resource.share_condition}；" if resource.share_condition else ""
    raise InvalidInput(
        f"信息资源《{resource.name}》不允许{labels}；{condition}允许的访问方式：{allowed.modes_text}{after}",
        f"resource {resource.code} does not allow {', '.join(m.value for _, m in forbidden)}; "
        f"it allows {', '.join(m.value for m in allowed.modes or ())}{after_en}",
        code="access_mode_not_allowed",
        problems=[
            Problem(f"access_modes[{i}]", f"资源不允许“{m.label}”", f"the resource does not allow {m.value}")
            for i, m in forbidden
        ],
        extra={"allowed_modes": [m.value for m in allowed.modes or ()]},
    )


# What the one who acts can do about a mode the resource has come to forbid.
_MODE_ADVICE = {
    RequestAction.accept: ("；请驳回申请", "; reject the request"),
    RequestAction.approve: (
        "；请在审批时缩小访问方式，或不予同意",
        "; narrow the modes when approving, or deny",
    ),
    RequestAction.provide: ("；请驳回申请", "; reject the request"),
}


def _still_requestable(
    db: Session, request: SharingRequest, action: RequestAction, items: list[str], modes: list[str]
) -> None:
    """The catalog may have changed since submission: a retired or no-longer-shared resource, a
    removed item or a mode it now forbids cannot be accepted, approved or provided (the request
    can be rejected or denied; an approver can narrow the modes)."""
    resource = _requestable(db, request.resource.code)
    after, after_en = _MODE_ADVICE[action]
    _check_modes(resource, modes, after=after, after_en=after_en)
    problems = _unknown_items(resource, items, "items")
    if problems:
        raise InvalidInput(
            f"信息资源《{resource.name}》已变更，申请的部分信息项已不存在；请驳回或要求补正",
            f"resource {resource.code} has changed and no longer has some requested items; "
            "reject it or ask for supplementary material",
            code="resource_changed",
            problems=problems,
        )


def _subject(request: SharingRequest, kind: StageKind) -> str:
    return f"共享申请 {request.number}《{request.resource.name}》{kind.label}"


def _start_stage(
    db: Session,
    request: SharingRequest,
    kind: StageKind,
    at: datetime,
    cal: WorkingCalendar,
    profile: SlaProfile,
) -> ClockStage:
    if kind is StageKind.decision:
        department_id = request.provider_department_id
    else:
        department_id = department_service.get_by_ref(db=db, ref=PlatformSettings().platform_department).id
    stage = clock_service.start(
        db=db,
        kind=kind,
        department_id=department_id,
        subject=_subject(request, kind),
        at=at,
        calendar=cal,
        profile=profile,
        request_id=request.id,
    )
    request.stages.append(stage)
    return stage


def _record(
    db: Session,
    request: SharingRequest,
    *,
    action: str,
    source: RequestStatus | None,
    user: User | None,
    at: datetime,
    reason: str | None,
    details: dict[str, Any] | None = None,
) -> RequestEvent:
    event = RequestEvent(
        action=action,
        from_status=source,
        to_status=request.status,
        actor_id=user.id if user else None,
        actor_role=user.role.value if user else "system",
        actor_department_id=user.department_id if user else None,
        at=at,
        reason=reason,
        details=details or {},
    )
    request.events.append(event)
    return event


def submit(*, db: Session, data: RequestCreate, user: User, now: datetime | None = None) -> SharingRequest:
    """统一受理: file a request at the platform; the 3-working-day review clock starts."""
    at = _now(now)
    if user.role is not Role.dept_requester:
        raise Forbidden(
            "只有使用部门经办人可以提交共享申请",
            "only a department requester can submit a sharing request",
            code="permission_denied",
        )
    resource = _requestable(db, data.resource)
    _check_modes(resource, [m.value for m in data.access_modes])
    if owners.is_composite(resource):
        routes = owners.route_items(
            db=db, resource=resource, items=data.items, requester_department_id=user.department_id
        )
        owners.refuse_not_shared(resource, routes)
    problems = _unknown_items(resource, data.items, "items")
    if resource.provider_id == user.department_id:
        problems.append(
            Problem(
                "resource",
                "本部门提供的资源无需申请共享",
                "your own department provides this resource; no request is needed",
            )
        )
    today = local_date(at)
    if data.valid_until < today:
        problems.append(
            Problem(
                "valid_until",
                f"有效期截止日 {data.valid_until} 已过",
                f"valid_until {data.valid_until} is past",
            )
        )
    if problems:
        raise InvalidInput("共享申请有误", "invalid sharing request", problems=problems)
    cal = calendar(db=db)
    request = SharingRequest(
        department_id=user.department_id,
        requester_id=user.id,
        resource=resource,
        resource_version=resource.version,
        provider_department_id=resource.provider_id,
        items=list(data.items),
        purpose=data.purpose,
        legal_basis=data.legal_basis,
        business_reference=data.business_reference,
        access_modes=[m.value for m in data.access_modes],
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        expected_volume=data.expected_volume,
        status=RequestStatus.submitted,
        submitted_at=at,
        stages=[],
        events=[],
    )
    db.add(request)
    db.flush()
    request.number = f"SQ-{today.year}-{request.id:06d}"
    _record(db, request, action="submit", source=None, user=user, at=at, reason=None)
    stage = _start_stage(db, request, StageKind.review, at, cal, clock_service.active_profile(db=db))
    notices.next_party(db, request, stage, at)
    db.flush()
    return request


def _check(
    request: SharingRequest, action: RequestAction, user: User | None, data: TransitionIn
) -> Transition:
    transition = flows.TRANSITIONS.get((request.status, action))
    if transition is None:
        legal = "、".join(a.label for a in flows.legal_actions(request.status)) or "无"
        raise Conflict(
            f"申请 {request.number} 当前为“{request.status.label}”，不能“{action.label}”；此时可做：{legal}",
            f"request {request.number} is {request.status.value}; {action.value} is not possible now "
            f"(possible: {', '.join(a.value for a in flows.legal_actions(request.status)) or 'none'})",
            code="transition_invalid",
            extra={"status": request.status.value},
        )
    if not flows.is_actor(
        transition.actor,
        user,
        requester_department_id=request.department_id,
        provider_department_id=request.provider_department_id,
        deciding_department_ids=owners.deciding_departments(request),
    ):
        raise Forbidden(
            f"“{action.label}”只能由{transition.actor.label}办理",
            f"{action.value} can only be taken by the {transition.actor.value}",
            code="transition_forbidden",
        )
    if transition.needs_reason and not data.reason:
        raise InvalidInput(
            f"“{action.label}”必须填写理由",
            f"{action.value} requires a reason",
            code="reason_required",
            problems=[Problem("reason", "必须填写理由", "a reason is required")],
        )
    if data.narrows and action is not RequestAction.approve:
        raise InvalidInput(
            "只有审批同意时可以调整信息项、有效期、共享方式和调用限额",
            "items, validity, access modes and quotas can only be narrowed when approving",
            code="narrowing_not_allowed",
        )
    if data.masking is not None and action not in (RequestAction.approve, RequestAction.provide):
        raise InvalidInput(
            "只有审批同意或平台提供时可以设置脱敏规则",
            "masking can only be set when approving or providing",
            code="masking_not_allowed",
        )
    return transition


def act(
    *,
    db: Session,
    request: SharingRequest,
    action: RequestAction,
    data: TransitionIn,
    user: User | None,
    now: datetime | None = None,
) -> SharingRequest:
    """Take ``action`` on ``request`` as ``user`` (None: the system), or raise and change nothing."""
    at = _now(now)
    transition = _check(request, action, user, data)
    if request.route is Route.composite and action in (RequestAction.approve, RequestAction.deny):
        assert user is not None  # the table names a person for both
        return _decide_part(db, request, action, data, user, at)
    details: dict[str, Any] = {}
    terms: dict[str, Any] | None = None
    if action is RequestAction.approve:
        terms = sharing_grants.narrowed_terms(request, data, local_date(at))
        terms["masking"] = sharing_grants.masking_rules(request.resource, terms["items"], data.masking)
        details = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in terms.items()}
    elif action is RequestAction.provide:
        terms = sharing_grants.narrowed_terms(request, TransitionIn(), local_date(at))
        terms["masking"] = sharing_grants.masking_rules(request.resource, terms["items"], data.masking)
        details = {"masking": terms["masking"]}
    if action in (RequestAction.accept, RequestAction.approve, RequestAction.provide):
        _still_requestable(
            db,
            request,
            action,
            terms["items"] if terms else request.items,
            terms["access_modes"] if terms else request.access_modes,
        )
    routes = _composite_routes(db, request) if action is RequestAction.accept else []
    source = request.status
    cal = calendar(db=db)
    profile = clock_service.active_profile(db=db)
    # One open stage, or while a composite waits for its owners one per undecided owner: 补正
    # pauses them all (the request waits for the requester), withdrawal ends them all.
    stages = [s for s in request.stages if s.state.is_open]
    if transition.clock is not ClockEffect.none and not stages:
        raise Conflict("申请没有进行中的办理环节", "the request has no open stage", code="stage_missing")
    for stage in stages:
        if transition.clock is ClockEffect.pause:
            clock_service.pause(
                stage=stage, at=at, reason=data.reason or "", by=user.username if user else "system"
            )
        elif transition.clock is ClockEffect.resume:
            clock_service.resume(stage=stage, at=at, calendar=cal)
        elif transition.clock is ClockEffect.complete:
            clock_service.close(stage=stage, at=at, calendar=cal)
        elif transition.clock is ClockEffect.cancel:
            clock_service.close(stage=stage, at=at, calendar=cal, cancelled=True)
    next_stages: list[ClockStage] = []
    if action is RequestAction.accept and any(r.basis.owner_decides for r in routes):
        next_stages = owners.open_parts(
            db=db, request=request, routes=routes, user=user, at=at, calendar=cal, profile=profile
        )
        details = {"route": Route.composite.value, "owners": {r.item: r.basis.value for r in routes}}
    elif action is RequestAction.accept:
        request.route = Route.department if request.resource.needs_department_approval else Route.direct
        request.status = (
            RequestStatus.pending_approval
            if request.route is Route.department
            else RequestStatus.provisioning
        )
        details = {"route": request.route.value}
        kind = StageKind.decision if request.route is Route.department else StageKind.provision
        next_stages = [_start_stage(db, request, kind, at, cal, profile)]
    else:
        assert transition.target is not None
        request.status = transition.target
    if action is RequestAction.withdraw:
        owners.cancel_pending(request)
    if terms is not None:
        db.add(sharing_grants.build(request, terms, user, at))
    if action in (RequestAction.revoke, RequestAction.expire) and request.grant is not None:
        request.grant.status = GrantStatus.revoked if action is RequestAction.revoke else GrantStatus.expired
        request.grant.ended_at = at
        request.grant.ended_by_id = user.id if user else None
        request.grant.end_reason = data.reason
    if request.status in flows.TERMINAL or request.status is RequestStatus.granted:
        request.closed_at = request.closed_at or at
    _record(
        db, request, action=action.value, source=source, user=user, at=at, reason=data.reason, details=details
    )
    notices.after(db, request, transition, next_stages, data, at)
    db.flush()
    return request


def _composite_routes(db: Session, request: SharingRequest) -> list[owners.ItemRoute]:
    """At acceptance of a composite: who grants each item (refused if an owner no longer shares one)."""
    if not owners.is_composite(request.resource):
        return []
    routes = owners.route_items(
        db=db, resource=request.resource, items=request.items, requester_department_id=request.department_id
    )
    owners.refuse_not_shared(request.resource, routes)
    return routes


def _decide_part(
    db: Session, request: SharingRequest, action: RequestAction, data: TransitionIn, user: User, at: datetime
) -> SharingRequest:
    """An owner's decision on its items of a composite; the last one grants the approved items or denies."""
    part = owners.part_of(request, user)
    assert part is not None  # _check found the user's department among the undecided owners
    approved: list[str] = []
    if action is RequestAction.approve:
        approved = owners.approved_items(request, part, data)
        sharing_grants.masking_rules(request.resource, approved, data.masking)
        _still_requestable(db, request, action, approved, request.access_modes)
    last = owners.pending(request) == [part]
    terms = owners.final_terms(request, part, approved, data.masking or {}, local_date(at)) if last else None
    source = request.status
    owners.decide(
        part=part, action=action, data=data, approved=approved, user=user, at=at, calendar=calendar(db=db)
    )
    if last:
        request.status = RequestStatus.granted if terms is not None else RequestStatus.denied
        request.closed_at = at
    if terms is not None:
        db.add(sharing_grants.build(request, terms, user, at))
    details = {
        "department": part.department.slug,
        "items": part.items,
        "approved_items": part.approved_items,
        "outcome": part.outcome.value,
    }
    if terms is not None:
        details["granted_items"] = terms["items"]
    _record(
        db, request, action=action.value, source=source, user=user, at=at, reason=data.reason, details=details
    )
    notices.after(db, request, flows.TRANSITIONS[(source, action)], [], data, at)
    db.flush()
    return request


def expire_grants(*, db: Session, now: datetime | None = None) -> int:
    """Expire every active grant whose validity ended before today (Beijing time); returns how many."""
    at = _now(now)
    today = local_date(at)
    ids = db.scalars(
        select(Grant.request_id).where(Grant.status == GrantStatus.active, Grant.valid_until < today)
    ).all()
    expired = 0
    for request_id in ids:
        request = get(db=db, request_id=request_id, user=None, lock=True)
        # Read again under the lock: a revoke may have committed since the ids were selected.
        db.refresh(request)
        grant = request.grant
        if grant is not None:
            db.refresh(grant)
        if (
            request.status is not RequestStatus.granted
            or grant is None
            or grant.status is not GrantStatus.active
            or grant.valid_until >= today
        ):
            continue
        act(db=db, request=request, action=RequestAction.expire, data=TransitionIn(), user=None, now=at)
        expired += 1
    return expired
