"""Sharing requests in and out: submission, transition bodies, and what users read."""

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from authz.clock.models import ClockStage
from authz.sharing.models import Grant, OwnerDecision, RequestEvent, SharingRequest
from authz.types import AccessMode, MaskRule, RequestAction
from catalog_schema.department.schemas import DepartmentRef
from catalog_schema.resource.schemas import Labelled
from catalog_schema.types import LongText
from catalog_schema.validation import BilingualValueError

# Validity dates are bounded so a typing slip (0001-01-01, 9999-12-31) is caught at the door.
GrantDate = Annotated[date, Field(ge=date(2001, 1, 1), le=date(2060, 12, 31))]
ItemName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
BusinessReference = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$"),
]
MAX_VALIDITY_DAYS = 3 * 366


def _unique(values: list[Any], what: str, what_en: str) -> list[Any]:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise BilingualValueError(f"{what}“{value}”重复", f"duplicate {what_en} {value!r}")
        seen.add(value)
    return values


class RequestCreate(BaseModel):
    """A department's application for a resource (申请): what, why, how, how long, how much."""

    model_config = ConfigDict(extra="forbid")

    resource: str = Field(min_length=1, max_length=40, description="信息资源代码 / resource code")
    items: list[ItemName] = Field(min_length=1, max_length=200, description="申请的信息项 / item names")
    purpose: LongText = Field(description="用途 / purpose")
    legal_basis: LongText | None = Field(default=None, description="法律依据 / legal basis")
    business_reference: BusinessReference | None = Field(
        default=None, description="业务事项或办件编号 / business reference"
    )
    access_modes: list[AccessMode] = Field(min_length=1, max_length=4)
    valid_from: GrantDate
    valid_until: GrantDate
    expected_volume: int = Field(
        ge=1, le=10**9, description="预计日调用量 / expected calls or records per day"
    )

    @model_validator(mode="after")
    def _consistent(self) -> "RequestCreate":
        _unique(self.items, "信息项", "item")
        _unique(self.access_modes, "共享方式", "access mode")
        if self.legal_basis is None and self.business_reference is None:
            raise BilingualValueError(
                "请填写法律依据或业务事项编号（至少一项）",
                "give a legal basis or a business reference (at least one)",
                field="legal_basis",
            )
        if self.valid_until < self.valid_from:
            raise BilingualValueError(
                f"有效期截止日 {self.valid_until} 早于起始日 {self.valid_from}",
                f"valid_until {self.valid_until} is before valid_from {self.valid_from}",
                field="valid_until",
            )
        if (self.valid_until - self.valid_from).days > MAX_VALIDITY_DAYS:
            raise BilingualValueError(
                "申请有效期不能超过 3 年，到期后可再次申请",
                "the wanted validity cannot exceed 3 years; apply again when it ends",
                field="valid_until",
            )
        return self


class TransitionIn(BaseModel):
    """The body of an action on a request. ``reason`` is required where the action needs one
    (reject, deny, request_supplement, revoke); the narrowing fields apply to ``approve`` only,
    ``masking`` to ``approve`` and ``provide`` (items it does not name get the default masking)."""

    model_config = ConfigDict(extra="forbid")

    reason: LongText | None = Field(default=None, description="理由或说明 / reason or note")
    items: list[ItemName] | None = Field(default=None, min_length=1, max_length=200)
    access_modes: list[AccessMode] | None = Field(default=None, min_length=1, max_length=4)
    valid_from: GrantDate | None = None
    valid_until: GrantDate | None = None
    daily_quota: int | None = Field(default=None, ge=1, le=10**9, description="每日调用上限 / calls per day")
    masking: dict[ItemName, MaskRule] | None = Field(
        default=None, max_length=200, description="信息项 → 脱敏规则 / item name → masking rule"
    )

    @model_validator(mode="after")
    def _unique_lists(self) -> "TransitionIn":
        if self.items is not None:
            _unique(self.items, "信息项", "item")
        if self.access_modes is not None:
            _unique(self.access_modes, "共享方式", "access mode")
        return self

    @property
    def narrows(self) -> bool:
        return any(
            v is not None
            for v in (self.items, self.access_modes, self.valid_from, self.valid_until, self.daily_quota)
        )


class ResourceRef(BaseModel):
    id: int
    code: str
    name: str
    share_type: Labelled


class UserRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str


class StageRead(BaseModel):
    id: int
    kind: Labelled
    department: DepartmentRef
    working_days: int
    started_at: datetime
    due_on: date
    due_at: datetime
    provisional: bool
    pauses: list[dict[str, Any]]
    completed_at: datetime | None
    state: Labelled
    warning: str | None = Field(description="yellow / red / None")

    @classmethod
    def of(cls, s: ClockStage) -> "StageRead":
        warning = {"due_soon": "yellow", "overdue": "red"}.get(s.state.value)
        return cls(
            id=s.id,
            kind=Labelled.of(s.kind),
            department=DepartmentRef.model_validate(s.department),
            working_days=s.working_days,
            started_at=s.started_at,
            due_on=s.due_on,
            due_at=s.due_at,
            provisional=s.provisional,
            pauses=s.pauses,
            completed_at=s.completed_at,
            state=Labelled.of(s.state),
            warning=warning,
        )


class OwnerDecisionRead(BaseModel):
    """One department's part of a composite request: its items, its stage and what it decided."""

    department: DepartmentRef
    items: list[str]
    basis: dict[str, str] = Field(description="item → why it is routed here (owners.Basis)")
    outcome: Labelled
    approved_items: list[str]
    reason: str | None
    decided_at: datetime | None
    decided_by: UserRef | None
    stage: StageRead | None

    @classmethod
    def of(cls, d: OwnerDecision) -> "OwnerDecisionRead":
        return cls(
            department=DepartmentRef.model_validate(d.department),
            items=d.items,
            basis=d.basis,
            outcome=Labelled.of(d.outcome),
            approved_items=d.approved_items,
            reason=d.reason,
            decided_at=d.decided_at,
            decided_by=UserRef.model_validate(d.decided_by) if d.decided_by else None,
            stage=StageRead.of(d.stage) if d.stage else None,
        )


class EventRead(BaseModel):
    id: int
    action: str
    action_label: str
    from_status: str | None
    to_status: str
    actor: UserRef | None
    actor_role: str
    actor_department: DepartmentRef | None
    at: datetime
    reason: str | None
    details: dict[str, Any]

    @classmethod
    def of(cls, e: RequestEvent) -> "EventRead":
        return cls(
            id=e.id,
            action=e.action,
            action_label=e.action_label,
            from_status=e.from_status.value if e.from_status else None,
            to_status=e.to_status.value,
            actor=UserRef.model_validate(e.actor) if e.actor else None,
            actor_role=e.actor_role,
            actor_department=DepartmentRef.model_validate(e.actor_department) if e.actor_department else None,
            at=e.at,
            reason=e.reason,
            details=e.details,
        )


class GrantRead(BaseModel):
    id: int
    request_id: int
    request_number: str | None
    consumer: DepartmentRef
    resource: ResourceRef
    route: Labelled
    items: list[str]
    access_modes: list[str]
    purpose: str
    legal_basis: str | None
    valid_from: date
    valid_until: date
    daily_quota: int | None
    masking: dict[str, str]
    status: Labelled
    granted_at: datetime
    ended_at: datetime | None
    end_reason: str | None

    @classmethod
    def of(cls, g: Grant) -> "GrantRead":
        return cls(
            id=g.id,
            request_id=g.request_id,
            request_number=g.request_number,
            consumer=DepartmentRef.model_validate(g.department),
            resource=_resource_ref(g.resource),
            route=Labelled.of(g.route),
            items=g.items,
            access_modes=g.access_modes,
            purpose=g.purpose,
            legal_basis=g.legal_basis,
            valid_from=g.valid_from,
            valid_until=g.valid_until,
            daily_quota=g.daily_quota,
            masking=g.masking,
            status=Labelled.of(g.status),
            granted_at=g.granted_at,
            ended_at=g.ended_at,
            end_reason=g.end_reason,
        )


def _resource_ref(r: Any) -> ResourceRef:
    return ResourceRef(id=r.id, code=r.code, name=r.name, share_type=Labelled.of(r.share_type))


class RequestSummary(BaseModel):
    id: int
    number: str | None
    department: DepartmentRef
    provider: DepartmentRef
    resource: ResourceRef
    status: Labelled
    route: Labelled | None
    submitted_at: datetime
    closed_at: datetime | None
    current_stage: StageRead | None
    allowed_actions: list[str] = Field(description="actions the current user may take now")

    @classmethod
    def of(cls, r: SharingRequest, allowed: list[RequestAction]) -> "RequestSummary":
        open_stages = [s for s in r.stages if s.state.is_open]
        return cls(
            id=r.id,
            number=r.number,
            department=DepartmentRef.model_validate(r.department),
            provider=DepartmentRef.model_validate(r.provider_department),
            resource=_resource_ref(r.resource),
            status=Labelled.of(r.status),
            route=Labelled.of(r.route) if r.route else None,
            submitted_at=r.submitted_at,
            closed_at=r.closed_at,
            current_stage=StageRead.of(open_stages[-1]) if open_stages else None,
            allowed_actions=[a.value for a in allowed],
        )


class RequestRead(RequestSummary):
    requester: UserRef
    resource_version: int
    items: list[str]
    purpose: str
    legal_basis: str | None
    business_reference: str | None
    access_modes: list[str]
    valid_from: date
    valid_until: date
    expected_volume: int
    stages: list[StageRead]
    decisions: list[OwnerDecisionRead] = Field(
        description="a composite's parts: each owner that decides, and the platform's (empty otherwise)"
    )
    events: list[EventRead]
    grant: GrantRead | None

    @classmethod
    def of(cls, r: SharingRequest, allowed: list[RequestAction]) -> "RequestRead":
        return cls(
            **RequestSummary.of(r, allowed).model_dump(),
            requester=UserRef.model_validate(r.requester),
            resource_version=r.resource_version,
            items=r.items,
            purpose=r.purpose,
            legal_basis=r.legal_basis,
            business_reference=r.business_reference,
            access_modes=r.access_modes,
            valid_from=r.valid_from,
            valid_until=r.valid_until,
            expected_volume=r.expected_volume,
            stages=[StageRead.of(s) for s in r.stages],
            decisions=[OwnerDecisionRead.of(d) for d in r.decisions],
            events=[EventRead.of(e) for e in r.events],
            grant=GrantRead.of(r.grant) if r.grant else None,
        )
