"""The request state machine: each legal (state, action) pair, who may take it, what it does to the clock.

This table is the one place that says which transition is legal; the service refuses every
pair that is not in it (409) and every actor the pair does not name (403).
"""

import enum
from dataclasses import dataclass

from authz.types import RequestAction, RequestStatus, StageKind
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role


class Actor(enum.StrEnum):
    """Who takes an action, relative to the request."""

    platform = "platform"  # the platform's catalog administrator (规范性审查, 平台提供)
    requester = "requester"  # a requester of the requesting department
    provider = "provider"  # an approver of the department that provides the resource
    provider_or_platform = "provider_or_platform"
    system = "system"  # the clock DAG; no person

    @property
    def label(self) -> str:
        return _ACTOR_LABELS[self]


_ACTOR_LABELS = {
    Actor.platform: "平台数据管理员",
    Actor.requester: "申请部门经办人",
    Actor.provider: "提供部门审批人",
    Actor.provider_or_platform: "提供部门审批人或平台数据管理员",
    Actor.system: "系统（到期自动处理）",
}


class ClockEffect(enum.StrEnum):
    """What a transition does to the running stage."""

    none = "none"
    pause = "pause"
    resume = "resume"
    complete = "complete"  # complete the running stage (and start the next one, if ``starts``)
    cancel = "cancel"


@dataclass(frozen=True)
class Transition:
    source: RequestStatus
    action: RequestAction
    target: RequestStatus | None  # None: accept, whose target depends on the route
    actor: Actor
    needs_reason: bool
    clock: ClockEffect
    starts: StageKind | None = None


S, A = RequestStatus, RequestAction
_OPEN_BEFORE_DECISION = (
    S.submitted,
    S.review_supplement,
    S.provisioning,
    S.pending_approval,
    S.approval_supplement,
)

TRANSITIONS: dict[tuple[RequestStatus, RequestAction], Transition] = {
    (t.source, t.action): t
    for t in (
        Transition(S.submitted, A.accept, None, Actor.platform, False, ClockEffect.complete),
        Transition(S.submitted, A.reject, S.rejected, Actor.platform, True, ClockEffect.complete),
        Transition(
            S.submitted, A.request_supplement, S.review_supplement, Actor.platform, True, ClockEffect.pause
        ),
        Transition(
            S.review_supplement, A.supplement, S.submitted, Actor.requester, False, ClockEffect.resume
        ),
        # The requester never answered 补正, or the platform cannot provide: the request ends.
        Transition(S.review_supplement, A.reject, S.rejected, Actor.platform, True, ClockEffect.complete),
        Transition(S.provisioning, A.provide, S.granted, Actor.platform, False, ClockEffect.complete),
        Transition(S.provisioning, A.reject, S.rejected, Actor.platform, True, ClockEffect.complete),
        Transition(S.pending_approval, A.approve, S.granted, Actor.provider, False, ClockEffect.complete),
        Transition(S.pending_approval, A.deny, S.denied, Actor.provider, True, ClockEffect.complete),
        Transition(
            S.pending_approval,
            A.request_supplement,
            S.approval_supplement,
            Actor.provider,
            True,
            ClockEffect.pause,
        ),
        Transition(
            S.approval_supplement,
            A.supplement,
            S.pending_approval,
            Actor.requester,
            False,
            ClockEffect.resume,
        ),
        Transition(S.approval_supplement, A.deny, S.denied, Actor.provider, True, ClockEffect.complete),
        *(
            Transition(state, A.withdraw, S.withdrawn, Actor.requester, False, ClockEffect.cancel)
            for state in _OPEN_BEFORE_DECISION
        ),
        Transition(S.granted, A.revoke, S.revoked, Actor.provider_or_platform, True, ClockEffect.none),
        Transition(S.granted, A.expire, S.expired, Actor.system, False, ClockEffect.none),
    )
}

TERMINAL = frozenset(
    {S.rejected, S.denied, S.withdrawn, S.revoked, S.expired}
)  # granted is not terminal: the grant can still be revoked or expire


def legal_actions(status: RequestStatus) -> list[RequestAction]:
    """The actions the machine allows from ``status``, in a stable order."""
    return [a for a in RequestAction if (status, a) in TRANSITIONS]


def is_actor(
    actor: Actor,
    user: User | None,
    *,
    requester_department_id: int,
    provider_department_id: int,
    deciding_department_ids: frozenset[int] | None = None,
) -> bool:
    """Whether ``user`` (None for the system) is ``actor`` for a request of these two departments.

    While a composite waits for its owners, ``deciding_department_ids`` names them: their approvers
    act for the provider (each on its own items, ``authz.sharing.owners``).
    """
    if actor is Actor.system or user is None:
        return actor is Actor.system and user is None
    if not user.is_active:
        return False
    platform = user.role is Role.catalog_admin
    deciders = (
        deciding_department_ids
        if deciding_department_ids is not None
        else frozenset({provider_department_id})
    )
    provider = user.role is Role.dept_approver and user.department_id in deciders
    return {
        Actor.platform: platform,
        Actor.requester: user.role is Role.dept_requester and user.department_id == requester_department_id,
        Actor.provider: provider,
        Actor.provider_or_platform: provider or platform,
    }[actor]
