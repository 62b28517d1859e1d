"""Grants: the terms a provider approves (narrowed, never widened), their masking, and reading them."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from authz.access import masking as access_masking
from authz.permissions import sees_every_department
from authz.sharing.models import Grant, OwnerDecision, SharingRequest
from authz.sharing.schemas import TransitionIn
from authz.types import GrantStatus, MaskRule, OwnerOutcome
from catalog_schema.errors import InvalidInput, NotFound, Problem
from catalog_schema.pagination import PageParams, paginate
from catalog_schema.resource.models import Resource
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role


def narrowed_terms(request: SharingRequest, data: TransitionIn, today: date) -> dict[str, Any]:
    """The grant terms after the provider narrows them; widening anything is refused."""
    problems: list[Problem] = []
    items = list(data.items) if data.items is not None else list(request.items)
    problems += [
        Problem(
            f"items[{i}]",
            f"“{name}”不在申请的信息项中，审批只能缩小范围",
            f"{name!r} was not requested; approval can only narrow",
        )
        for i, name in enumerate(items)
        if name not in request.items
    ]
    modes = (
        [m.value for m in data.access_modes] if data.access_modes is not None else list(request.access_modes)
    )
    problems += [
        Problem(f"access_modes[{i}]", f"未申请共享方式 {m}", f"access mode {m} was not requested")
        for i, m in enumerate(modes)
        if m not in request.access_modes
    ]
    valid_from = data.valid_from or request.valid_from
    valid_until = data.valid_until or request.valid_until
    if valid_from < request.valid_from:
        problems.append(
            Problem(
                "valid_from",
                f"起始日不能早于申请的 {request.valid_from}",
                f"cannot start before {request.valid_from}",
            )
        )
    if valid_until > request.valid_until:
        problems.append(
            Problem(
                "valid_until",
                f"截止日不能晚于申请的 {request.valid_until}",
                f"cannot end after {request.valid_until}",
            )
        )
    if valid_until < valid_from:
        problems.append(Problem("valid_until", "截止日早于起始日", "valid_until is before valid_from"))
    if valid_until < today:
        problems.append(
            Problem(
                "valid_until",
                f"截止日 {valid_until} 已过，授权将无法使用；申请部门可撤回后重新申请",
                f"valid_until {valid_until} is past: the grant could never be used; "
                "the requester can withdraw and apply again",
            )
        )
    if problems:
        raise InvalidInput(
            "审批范围有误", "invalid approval terms", code="invalid_narrowing", problems=problems
        )
    return {
        "items": items,
        "access_modes": modes,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "daily_quota": data.daily_quota,
    }


def masking_rules(resource: Resource, items: list[str], given: dict[str, MaskRule] | None) -> dict[str, str]:
    """The rule of every granted item: the one given, else the default (highly sensitive elements masked)."""
    given = given or {}
    problems = [
        Problem(
            f"masking.{name}",
            f"“{name}”不在授权的信息项中，不能为其设置脱敏规则",
            f"{name!r} is not a granted item; it cannot have a masking rule",
        )
        for name in given
        if name not in items
    ]
    if problems:
        raise InvalidInput("脱敏规则有误", "invalid masking rules", code="invalid_masking", problems=problems)
    elements = {item.name: item.element for item in resource.items}
    rules: dict[str, str] = {}
    for name in items:
        element = elements.get(name)
        rule = given.get(name) or access_masking.default_rule(
            element.code if element else None, element.sensitivity if element else None
        )
        rules[name] = rule.value
    return rules


def build(request: SharingRequest, terms: dict[str, Any], user: User | None, at: datetime) -> Grant:
    assert request.route is not None
    return Grant(
        request=request,
        request_number=request.number,
        department_id=request.department_id,
        resource_id=request.resource_id,
        provider_department_id=request.provider_department_id,
        route=request.route,
        purpose=request.purpose,
        legal_basis=request.legal_basis,
        status=GrantStatus.active,
        granted_at=at,
        granted_by_id=user.id if user else None,
        **terms,
    )


def list_(
    *, db: Session, user: User, params: PageParams, status: GrantStatus | None = None
) -> tuple[list[Grant], int]:
    """Grants ``user`` may see: its department's, or (approvers) those of its department's resources
    and of the composites it approved items of."""
    stmt = select(Grant).order_by(Grant.id.desc())
    if not sees_every_department(user):
        mine = Grant.department_id == user.department_id
        if user.role is Role.dept_approver:
            stmt = stmt.where(
                or_(
                    mine, Grant.provider_department_id == user.department_id, _approved_by(user.department_id)
                )
            )
        else:
            stmt = stmt.where(mine)
    if status is not None:
        stmt = stmt.where(Grant.status == status)
    return paginate(db, stmt, params)


def _approved_by(department_id: int) -> ColumnElement[bool]:
    """Grants of composites in which ``department_id`` approved some of its own items."""
    return Grant.request_id.in_(
        select(OwnerDecision.request_id).where(
            OwnerDecision.department_id == department_id, OwnerDecision.outcome == OwnerOutcome.approved
        )
    )


def get(*, db: Session, grant_id: int, user: User) -> Grant:
    """One grant within ``user``'s scope, or NotFound."""
    grant = db.get(Grant, grant_id)
    visible = grant is not None and (
        sees_every_department(user)
        or grant.department_id == user.department_id
        or (user.role is Role.dept_approver and grant.provider_department_id == user.department_id)
        or (
            user.role is Role.dept_approver
            and any(
                d.department_id == user.department_id and d.outcome is OwnerOutcome.approved
                for d in grant.request.decisions
            )
        )
    )
    if grant is None or not visible:
        raise NotFound(f"授权 {grant_id} 不存在", f"grant {grant_id} does not exist", code="grant_not_found")
    return grant
