"""The request state machine over every state × action pair, with every actor, at the service layer.

Each case brings a fresh request to a state by the legal path, then tries one action. A legal
pair succeeds only for its actor and is refused (403 transition_forbidden) for everyone else; an
illegal pair is refused (409 transition_invalid) for everyone. A refusal changes nothing.
"""

from collections.abc import Callable
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.orm import Session

from authz.sharing import flows
from authz.sharing import service as sharing_service
from authz.sharing.models import SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import GrantStatus, RequestAction, RequestStatus, StageKind, StageState
from catalog_schema.errors import Conflict, Forbidden, GovdxError
from catalog_schema.types import ResourceStatus, ShareType
from catalog_schema.user import service as user_service
from catalog_schema.user.models import User
from tests import factories

A, S = RequestAction, RequestStatus
T0 = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
LATER = datetime(2026, 11, 17, 2, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)

# Who takes each action on the legal path; "approver" is 公安's, the provider of DEPARTMENT_RESOURCE.
PATHS: dict[RequestStatus, tuple[str, list[tuple[RequestAction, str]]]] = {
    S.submitted: ("department", []),
    S.review_supplement: ("department", [(A.request_supplement, "catalog_admin")]),
    S.rejected: ("department", [(A.reject, "catalog_admin")]),
    S.provisioning: ("direct", [(A.accept, "catalog_admin")]),
    S.pending_approval: ("department", [(A.accept, "catalog_admin")]),
    S.approval_supplement: ("department", [(A.accept, "catalog_admin"), (A.request_supplement, "approver")]),
    S.denied: ("department", [(A.accept, "catalog_admin"), (A.deny, "approver")]),
    S.withdrawn: ("department", [(A.withdraw, "requester")]),
    S.granted: ("department", [(A.accept, "catalog_admin"), (A.approve, "approver")]),
    S.revoked: ("department", [(A.accept, "catalog_admin"), (A.approve, "approver"), (A.revoke, "approver")]),
    S.expired: ("department", [(A.accept, "catalog_admin"), (A.approve, "approver"), (A.expire, "system")]),
}

# Everyone who might try: demo users, plus staff of a department that is neither requester nor provider.
ACTORS = (
    "catalog_admin",
    "requester",
    "approver",
    "other_requester",
    "other_approver",
    "auditor",
    "platform_admin",
    "renshe_system",
    "system",
)
# What the issue asks, written out independently of authz.sharing.flows: who may take each legal
# action, and where it leads ("route" = provisioning or pending_approval, by the resource).
LEGAL: dict[tuple[RequestStatus, RequestAction], tuple[set[str], str]] = {
    (S.submitted, A.accept): ({"catalog_admin"}, "route"),
    (S.submitted, A.reject): ({"catalog_admin"}, "rejected"),
    (S.submitted, A.request_supplement): ({"catalog_admin"}, "review_supplement"),
    (S.submitted, A.withdraw): ({"requester"}, "withdrawn"),
    (S.review_supplement, A.supplement): ({"requester"}, "submitted"),
    (S.review_supplement, A.withdraw): ({"requester"}, "withdrawn"),
    (S.review_supplement, A.reject): ({"catalog_admin"}, "rejected"),
    (S.provisioning, A.reject): ({"catalog_admin"}, "rejected"),
    (S.approval_supplement, A.deny): ({"approver"}, "denied"),
    (S.provisioning, A.provide): ({"catalog_admin"}, "granted"),
    (S.provisioning, A.withdraw): ({"requester"}, "withdrawn"),
    (S.pending_approval, A.approve): ({"approver"}, "granted"),
    (S.pending_approval, A.deny): ({"approver"}, "denied"),
    (S.pending_approval, A.request_supplement): ({"approver"}, "approval_supplement"),
    (S.pending_approval, A.withdraw): ({"requester"}, "withdrawn"),
    (S.approval_supplement, A.supplement): ({"requester"}, "pending_approval"),
    (S.approval_supplement, A.withdraw): ({"requester"}, "withdrawn"),
    (S.granted, A.revoke): ({"approver", "catalog_admin"}, "revoked"),
    (S.granted, A.expire): ({"system"}, "expired"),
}


@pytest.fixture
def people(db: Session) -> dict[str, User | None]:
    users: dict[str, User | None] = {
        name: user_service.get_by_username(db=db, username=name)
        for name in ("catalog_admin", "requester", "approver", "auditor", "platform_admin", "renshe_system")
    }
    users["other_requester"] = factories.user(db, "mz_requester", "dept_requester", "minzheng")
    users["other_approver"] = factories.user(db, "mz_approver", "dept_approver", "minzheng")
    users["system"] = None
    db.flush()
    return users


def body(action: RequestAction) -> TransitionIn:
    return TransitionIn(reason=f"测试：{action.label}") if action is not A.approve else TransitionIn()


@pytest.fixture
def request_in(db: Session, people: dict[str, User | None]) -> Callable[[RequestStatus], SharingRequest]:
    def bring(status: RequestStatus) -> SharingRequest:
        route, path = PATHS[status]
        doc = factories.direct_request() if route == "direct" else factories.sharing_request()
        requester = people["requester"]
        assert requester is not None
        request = sharing_service.submit(db=db, data=RequestCreate(**doc), user=requester, now=T0)
        for action, who in path:
            sharing_service.act(
                db=db, request=request, action=action, data=body(action), user=people[who], now=LATER
            )
        assert request.status is status
        return request

    return bring


def snapshot(request: SharingRequest) -> tuple[object, ...]:
    return (
        request.status,
        len(request.events),
        [(s.kind, s.state, len(s.pauses)) for s in request.stages],
        request.grant.status if request.grant else None,
    )


CASES = [(state, action) for state in RequestStatus for action in RequestAction]


@pytest.mark.parametrize(("state", "action"), CASES, ids=[f"{s.value}-{a.value}" for s, a in CASES])
def test_every_state_and_action(
    db: Session,
    people: dict[str, User | None],
    request_in: Callable[[RequestStatus], SharingRequest],
    state: RequestStatus,
    action: RequestAction,
) -> None:
    outcomes: dict[str, str] = {}
    request = request_in(state)
    before = snapshot(request)
    for who in ACTORS:
        savepoint = db.begin_nested()
        try:
            sharing_service.act(
                db=db, request=request, action=action, data=body(action), user=people[who], now=NOW
            )
        except GovdxError as error:
            assert snapshot(request) == before, who
            outcomes[who] = error.code
        else:
            outcomes[who] = request.status.value
        savepoint.rollback()
        db.expire_all()
        assert snapshot(request) == before, who
    if (state, action) not in LEGAL:
        assert outcomes == {who: "transition_invalid" for who in ACTORS}
    else:
        allowed, target = LEGAL[(state, action)]
        if target == "route":
            target = "provisioning" if PATHS[state][0] == "direct" else "pending_approval"
        assert outcomes == {who: target if who in allowed else "transition_forbidden" for who in ACTORS}


def test_the_machine_has_exactly_the_legal_pairs() -> None:
    assert set(flows.TRANSITIONS) == set(LEGAL)


def test_refusals_are_the_documented_errors(
    db: Session, people: dict[str, User | None], request_in: Callable[[RequestStatus], SharingRequest]
) -> None:
    request = request_in(S.submitted)
    with pytest.raises(Conflict):
        sharing_service.act(
            db=db, request=request, action=A.approve, data=TransitionIn(), user=people["approver"]
        )
    with pytest.raises(Forbidden):
        sharing_service.act(
            db=db, request=request, action=A.accept, data=TransitionIn(), user=people["requester"]
        )


@pytest.mark.parametrize("action", [A.reject, A.request_supplement])
def test_review_actions_need_a_reason(
    db: Session,
    people: dict[str, User | None],
    request_in: Callable[[RequestStatus], SharingRequest],
    action: RequestAction,
) -> None:
    request = request_in(S.submitted)
    with pytest.raises(GovdxError) as caught:
        sharing_service.act(
            db=db, request=request, action=action, data=TransitionIn(), user=people["catalog_admin"]
        )
    assert (caught.value.code, request.status, len(request.events)) == ("reason_required", S.submitted, 1)


@pytest.mark.parametrize("action", [A.deny, A.request_supplement])
def test_provider_actions_need_a_reason(
    db: Session,
    people: dict[str, User | None],
    request_in: Callable[[RequestStatus], SharingRequest],
    action: RequestAction,
) -> None:
    request = request_in(S.pending_approval)
    with pytest.raises(GovdxError) as caught:
        sharing_service.act(
            db=db, request=request, action=action, data=TransitionIn(), user=people["approver"]
        )
    assert (caught.value.code, request.status) == ("reason_required", S.pending_approval)


def test_revoke_needs_a_reason(
    db: Session, people: dict[str, User | None], request_in: Callable[[RequestStatus], SharingRequest]
) -> None:
    request = request_in(S.granted)
    with pytest.raises(GovdxError) as caught:
        sharing_service.act(
            db=db, request=request, action=A.revoke, data=TransitionIn(), user=people["approver"]
        )
    assert (caught.value.code, request.grant and request.grant.status) == (
        "reason_required",
        GrantStatus.active,
    )


def test_every_transition_records_who_when_and_why(
    people: dict[str, User | None], request_in: Callable[[RequestStatus], SharingRequest]
) -> None:
    request = request_in(S.revoked)
    assert [(e.action, e.actor.username if e.actor else None, e.at, e.reason) for e in request.events] == [
        ("submit", "requester", T0, None),
        ("accept", "catalog_admin", LATER, "测试：受理"),
        ("approve", "approver", LATER, None),
        ("revoke", "approver", LATER, "测试：撤销授权"),
    ]


def test_accepting_an_unconditional_resource_routes_it_to_the_platform(
    request_in: Callable[[RequestStatus], SharingRequest],
) -> None:
    request = request_in(S.provisioning)
    assert [(s.kind, s.department.slug) for s in request.stages] == [
        (StageKind.review, "shujuju"),
        (StageKind.provision, "shujuju"),
    ]


def test_accepting_a_conditional_resource_routes_it_to_the_provider(
    request_in: Callable[[RequestStatus], SharingRequest],
) -> None:
    request = request_in(S.pending_approval)
    assert [(s.kind, s.department.slug, s.due_on) for s in request.stages] == [
        (StageKind.review, "shujuju", date(2026, 11, 19)),
        (StageKind.decision, "gongan", date(2026, 12, 1)),
    ]


def test_withdrawal_cancels_the_running_stage(
    request_in: Callable[[RequestStatus], SharingRequest],
) -> None:
    request = request_in(S.withdrawn)
    assert [s.state for s in request.stages] == [StageState.cancelled]


def test_withdrawal_during_supplement_closes_the_pause(
    db: Session, people: dict[str, User | None], request_in: Callable[[RequestStatus], SharingRequest]
) -> None:
    request = request_in(S.approval_supplement)
    sharing_service.act(
        db=db, request=request, action=A.withdraw, data=TransitionIn(), user=people["requester"], now=NOW
    )
    stage = request.stages[-1]
    assert (stage.state, stage.pauses[-1]["until"], stage.paused_since) == (
        StageState.cancelled,
        NOW.isoformat(),
        None,
    )


def test_approval_narrows_the_grant(
    db: Session, people: dict[str, User | None], request_in: Callable[[RequestStatus], SharingRequest]
) -> None:
    request = request_in(S.pending_approval)
    terms = TransitionIn(items=["公民身份号码", "姓名"], valid_until=date(2027, 3, 31), daily_quota=200)
    sharing_service.act(
        db=db, request=request, action=A.approve, data=terms, user=people["approver"], now=NOW
    )
    grant = request.grant
    assert grant is not None
    assert (grant.items, grant.valid_until, grant.daily_quota) == (
        ["公民身份号码", "姓名"],
        date(2027, 3, 31),
        200,
    )


@pytest.mark.parametrize(
    "terms",
    [
        TransitionIn(items=["公民身份号码", "住址"]),
        TransitionIn(valid_until=date(2028, 1, 1)),
        TransitionIn(valid_from=date(2026, 1, 1)),
        TransitionIn(access_modes=["bulk_export"]),
    ],
    ids=["item-not-requested", "longer", "earlier", "mode-not-requested"],
)
def test_approval_cannot_widen_the_request(
    db: Session,
    people: dict[str, User | None],
    request_in: Callable[[RequestStatus], SharingRequest],
    terms: TransitionIn,
) -> None:
    request = request_in(S.pending_approval)
    with pytest.raises(GovdxError) as caught:
        sharing_service.act(
            db=db, request=request, action=A.approve, data=terms, user=people["approver"], now=NOW
        )
    assert (caught.value.code, request.status, request.grant) == (
        "invalid_narrowing",
        S.pending_approval,
        None,
    )


def test_expire_grants_ends_grants_past_their_validity(
    db: Session, request_in: Callable[[RequestStatus], SharingRequest]
) -> None:
    request = request_in(S.granted)
    expired = sharing_service.expire_grants(db=db, now=datetime(2027, 10, 1, 2, 0, tzinfo=UTC))
    assert (expired, request.status, request.grant and request.grant.status) == (
        1,
        S.expired,
        GrantStatus.expired,
    )


def test_providing_after_the_wanted_validity_ended_is_refused(
    db: Session, people: dict[str, User | None], request_in: Callable[[RequestStatus], SharingRequest]
) -> None:
    request = request_in(S.provisioning)
    late = datetime(2027, 10, 8, 2, 0, tzinfo=UTC)  # the request wanted data until 2027-09-30
    with pytest.raises(GovdxError) as caught:
        sharing_service.act(
            db=db,
            request=request,
            action=A.provide,
            data=TransitionIn(),
            user=people["catalog_admin"],
            now=late,
        )
    assert (caught.value.code, request.status, request.grant) == ("invalid_narrowing", S.provisioning, None)


def test_a_resource_no_longer_shared_cannot_be_approved(
    db: Session, people: dict[str, User | None], request_in: Callable[[RequestStatus], SharingRequest]
) -> None:
    request = request_in(S.pending_approval)
    request.resource.share_type = ShareType.none
    request.resource.share_legal_basis = "《测试法》第一条"
    with pytest.raises(GovdxError) as caught:
        sharing_service.act(
            db=db, request=request, action=A.approve, data=TransitionIn(), user=people["approver"], now=NOW
        )
    assert (caught.value.code, request.status, request.grant) == (
        "resource_not_shareable",
        S.pending_approval,
        None,
    )


def test_a_retired_resource_cannot_be_provided(
    db: Session, people: dict[str, User | None], request_in: Callable[[RequestStatus], SharingRequest]
) -> None:
    request = request_in(S.provisioning)
    request.resource.status = ResourceStatus.retired
    with pytest.raises(GovdxError) as caught:
        sharing_service.act(
            db=db,
            request=request,
            action=A.provide,
            data=TransitionIn(),
            user=people["catalog_admin"],
            now=NOW,
        )
    assert (caught.value.code, request.status) == ("resource_not_found", S.provisioning)
