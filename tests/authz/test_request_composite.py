"""A platform-kept composite routes a decision stage to every owner that shares its items conditionally.

The demo's 社会救助对象综合核验信息 (数据局, a population view) carries 公安's 姓名 and 住址, 民政's
婚姻状况, 卫健's 死亡标识 and 人社's 参保状态; each owner's own entry shares them 有条件. The demo
requester is 人社's, so 参保状态 is its own data and the key 公民身份号码 its own identifier: both
are the platform's to grant.
"""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.clock import scheduled
from authz.clock.models import Notification
from authz.clock.settings import ClockSettings
from authz.sharing import grants as sharing_grants
from authz.sharing import service as sharing_service
from authz.sharing.models import SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import (
    NotificationKind,
    OwnerOutcome,
    RequestAction,
    RequestStatus,
    Route,
    StageKind,
    StageState,
)
from catalog_schema.errors import Conflict, Forbidden, InvalidInput, NotFound
from catalog_schema.pagination import PageParams
from catalog_schema.resource import service as resource_service
from catalog_schema.types import ResourceStatus, ShareType
from catalog_schema.user import service as user_service
from catalog_schema.user.models import User
from tests import factories

A = RequestAction
COMPOSITE = "203002/000001"
ITEMS = ["公民身份号码", "姓名", "住址", "婚姻状况", "死亡标识", "参保状态"]
SUBMITTED = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)  # Monday 10:00 in Beijing
ACCEPTED = datetime(2026, 11, 17, 2, 0, tzinfo=UTC)  # Tuesday: 10 working days → Tuesday 12-01
DECIDED = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)
OVERDUE = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # Wednesday 12-02 09:00, the day after
NO_CHANNELS = ClockSettings(smtp_host="", notify_webhook_url="")


def _user(db: Session, username: str) -> User:
    user = user_service.get_by_username(db=db, username=username)
    assert user is not None
    return user


@pytest.fixture
def people(db: Session) -> dict[str, User]:
    names = ("requester", "catalog_admin", "approver", "minzheng_approver", "weijian_approver")
    found = {name: _user(db, name) for name in names}
    found["jiaoyu_approver"] = factories.user(db, "jy_approver", "dept_approver", "jiaoyu")
    found["renshe_approver"] = factories.user(db, "rs_approver", "dept_approver", "renshe")
    db.flush()
    return found


def _submit(db: Session, people: dict[str, User], items: list[str] = ITEMS) -> SharingRequest:
    document = factories.sharing_request(resource=COMPOSITE, items=items)
    return sharing_service.submit(
        db=db, data=RequestCreate(**document), user=people["requester"], now=SUBMITTED
    )


def _act(
    db: Session,
    people: dict[str, User],
    request: SharingRequest,
    action: RequestAction,
    who: str,
    **body: object,
) -> SharingRequest:
    at = ACCEPTED if action is A.accept else DECIDED
    data = TransitionIn(**body)  # type: ignore[arg-type]
    return sharing_service.act(db=db, request=request, action=action, data=data, user=people[who], now=at)


@pytest.fixture
def accepted(db: Session, people: dict[str, User]) -> SharingRequest:
    """人社 asked for every item; the platform has accepted the request."""
    return _act(db, people, _submit(db, people), A.accept, "catalog_admin")


def _parts(request: SharingRequest) -> dict[str, tuple[list[str], OwnerOutcome]]:
    return {d.department.slug: (d.items, d.outcome) for d in request.decisions}


def test_acceptance_starts_one_decision_stage_per_conditional_owner(accepted: SharingRequest) -> None:
    decisions = [(s.kind, s.department.slug) for s in accepted.stages if s.kind is StageKind.decision]

    assert (accepted.route, accepted.status) == (Route.composite, RequestStatus.pending_approval)
    assert decisions == [
        (StageKind.decision, "gongan"),
        (StageKind.decision, "minzheng"),
        (StageKind.decision, "weijian"),
    ]


def test_each_owner_decides_its_own_items_and_the_platform_grants_the_key_and_the_requesters_own(
    accepted: SharingRequest,
) -> None:
    assert _parts(accepted) == {
        "gongan": (["姓名", "住址"], OwnerOutcome.pending),
        "minzheng": (["婚姻状况"], OwnerOutcome.pending),
        "weijian": (["死亡标识"], OwnerOutcome.pending),
        "shujuju": (["公民身份号码", "参保状态"], OwnerOutcome.platform),
    }


def test_owner_stages_are_due_ten_working_days_after_acceptance(accepted: SharingRequest) -> None:
    owners = [s for s in accepted.stages if s.kind is StageKind.decision]

    assert {(s.working_days, s.due_on, s.state) for s in owners} == {
        (10, date(2026, 12, 1), StageState.on_time)
    }


def test_each_owner_is_told_in_its_inbox(db: Session, accepted: SharingRequest) -> None:
    told = db.scalars(
        select(Notification).where(
            Notification.request_id == accepted.id, Notification.kind == NotificationKind.to_decide
        )
    ).all()

    assert sorted(n.department_id for n in told) == sorted(
        s.department_id for s in accepted.stages if s.kind is StageKind.decision
    )


def test_one_owners_decision_leaves_the_request_waiting_for_the_others(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.approve, "approver")

    states = {s.department.slug: s.state for s in accepted.stages if s.kind is StageKind.decision}
    assert (accepted.status, accepted.grant) == (RequestStatus.pending_approval, None)
    assert states == {"gongan": StageState.met, "minzheng": StageState.on_time, "weijian": StageState.on_time}


def test_the_grant_holds_only_the_items_their_owners_approved(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.approve, "approver", items=["姓名"])
    _act(db, people, accepted, A.deny, "minzheng_approver", reason="不符合最小必要原则")
    _act(db, people, accepted, A.approve, "weijian_approver")

    assert accepted.status is RequestStatus.granted
    assert accepted.grant is not None
    assert (accepted.grant.items, accepted.grant.route) == (
        ["公民身份号码", "姓名", "死亡标识", "参保状态"],
        Route.composite,
    )


def test_each_owners_decision_is_an_event_with_its_actor_and_department(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.approve, "approver", items=["姓名"])
    _act(db, people, accepted, A.deny, "minzheng_approver", reason="不符合最小必要原则")

    decided = [
        (
            e.action,
            e.actor.username if e.actor else None,
            e.details["department"],
            e.details["approved_items"],
        )
        for e in accepted.events
        if e.action in ("approve", "deny")
    ]
    assert decided == [
        ("approve", "approver", "gongan", ["姓名"]),
        ("deny", "minzheng_approver", "minzheng", []),
    ]
    assert [e.actor_department.slug for e in accepted.events[-2:] if e.actor_department] == [
        "gongan",
        "minzheng",
    ]


def test_every_owner_denying_denies_the_request_though_the_key_is_the_platforms(
    db: Session, people: dict[str, User]
) -> None:
    request = _act(
        db, people, _submit(db, people, ["公民身份号码", "姓名", "死亡标识"]), A.accept, "catalog_admin"
    )

    _act(db, people, request, A.deny, "approver", reason="无须姓名")
    _act(db, people, request, A.deny, "weijian_approver", reason="无须死亡标识")

    assert (request.status, request.grant) == (RequestStatus.denied, None)


def test_an_owner_cannot_approve_another_owners_item(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    with pytest.raises(Forbidden) as refused:
        _act(db, people, accepted, A.approve, "approver", items=["姓名", "婚姻状况"])

    assert refused.value.code == "items_not_owned"
    assert _parts(accepted)["gongan"][1] is OwnerOutcome.pending


def test_an_owner_cannot_narrow_the_terms_of_the_whole_grant(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    with pytest.raises(InvalidInput) as refused:
        _act(db, people, accepted, A.approve, "approver", daily_quota=10)

    assert refused.value.code == "narrowing_not_allowed"


def test_an_owner_that_has_decided_cannot_decide_again(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.approve, "approver")

    with pytest.raises(Forbidden) as refused:
        _act(db, people, accepted, A.deny, "approver", reason="改变主意")

    assert refused.value.code == "transition_forbidden"


def test_a_non_owner_approver_can_neither_see_nor_decide(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    outsider = people["jiaoyu_approver"]

    with pytest.raises(NotFound):
        sharing_service.get(db=db, request_id=accepted.id, user=outsider)
    with pytest.raises(Forbidden):
        _act(db, people, accepted, A.approve, "jiaoyu_approver")
    assert sharing_service.allowed_actions(accepted, outsider) == []


def test_the_requesting_departments_approver_does_not_decide_its_own_item(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    assert sharing_service.allowed_actions(accepted, people["renshe_approver"]) == []


def test_each_owner_finds_the_request_to_decide_until_it_has_decided(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.approve, "approver")

    def boxed(who: str) -> bool:
        found, _ = sharing_service.list_(db=db, user=people[who], params=PageParams(), box="to_decide")
        return accepted.id in {r.id for r in found}

    assert (boxed("approver"), boxed("minzheng_approver"), boxed("weijian_approver")) == (False, True, True)


def test_overdue_owner_stages_are_escalated_to_each_owner(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.approve, "approver")

    scheduled.recompute_and_warn(db=db, now=OVERDUE, settings=NO_CHANNELS)

    db.refresh(accepted)
    states = {s.department.slug: s.state for s in accepted.stages if s.kind is StageKind.decision}
    escalated = db.scalars(
        select(Notification.department_id).where(
            Notification.request_id == accepted.id, Notification.kind == NotificationKind.escalation
        )
    ).all()
    assert states == {"gongan": StageState.met, "minzheng": StageState.overdue, "weijian": StageState.overdue}
    assert sorted(escalated) == sorted(
        s.department_id for s in accepted.stages if s.state is StageState.overdue
    )


def test_an_owners_supplement_request_pauses_every_owner_stage_until_the_answer(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.request_supplement, "minzheng_approver", reason="请补充授权委托书")
    paused = {s.state for s in accepted.stages if s.kind is StageKind.decision}
    _act(db, people, accepted, A.supplement, "requester")

    assert paused == {StageState.paused}
    assert accepted.status is RequestStatus.pending_approval
    assert {s.state for s in accepted.stages if s.kind is StageKind.decision} == {StageState.on_time}


def test_withdrawal_ends_every_owner_stage(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.withdraw, "requester")

    assert {s.state for s in accepted.stages if s.kind is StageKind.decision} == {StageState.cancelled}
    assert {d.outcome for d in accepted.decisions if d.department.slug != "shujuju"} == {
        OwnerOutcome.cancelled
    }


def _entry(db: Session, code: str):  # type: ignore[no-untyped-def]
    return resource_service.get_by_code(db=db, code=code)


def test_an_item_its_owner_does_not_share_cannot_be_requested(db: Session, people: dict[str, User]) -> None:
    marriages = _entry(db, "101002/000001")  # 民政 婚姻登记信息
    marriages.share_type, marriages.share_legal_basis = ShareType.none, "《婚姻登记条例》（测试）"
    db.flush()

    with pytest.raises(Forbidden) as refused:
        _submit(db, people)

    assert refused.value.code == "item_not_shareable"
    assert "《婚姻登记条例》（测试）" in refused.value.message


def test_an_item_its_owner_shares_unconditionally_is_granted_by_the_platform(
    db: Session, people: dict[str, User]
) -> None:
    deaths = _entry(db, "101004/000001")  # 卫健 死亡人员信息, no 管控参数
    deaths.share_type, deaths.share_condition = ShareType.unconditional, None
    db.flush()

    request = _act(db, people, _submit(db, people), A.accept, "catalog_admin")

    assert "weijian" not in _parts(request)
    assert "死亡标识" in _parts(request)["shujuju"][0]


def test_an_owner_that_publishes_no_entry_for_its_element_decides(
    db: Session, people: dict[str, User]
) -> None:
    _entry(db, "101002/000001").status = ResourceStatus.retired  # 民政's only entry with 婚姻状况
    db.flush()

    request = _act(db, people, _submit(db, people), A.accept, "catalog_admin")

    minzheng = next(d for d in request.decisions if d.department.slug == "minzheng")
    assert (minzheng.items, minzheng.basis) == (["婚姻状况"], {"婚姻状况": "no_entry"})


def test_a_composite_no_owner_has_to_decide_takes_the_platforms_own_route(
    db: Session, people: dict[str, User]
) -> None:
    request = _act(db, people, _submit(db, people, ["公民身份号码", "参保状态"]), A.accept, "catalog_admin")

    assert (request.route, request.provider_department.slug, request.decisions) == (
        Route.department,
        "shujuju",
        [],
    )


def test_a_decided_part_is_not_decided_again_by_a_stale_read(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.approve, "approver")
    _act(db, people, accepted, A.approve, "minzheng_approver")
    _act(db, people, accepted, A.approve, "weijian_approver")

    with pytest.raises(Conflict):
        _act(db, people, accepted, A.approve, "weijian_approver")


def test_an_owner_that_approved_items_sees_the_grant_and_one_that_denied_does_not(
    db: Session, people: dict[str, User], accepted: SharingRequest
) -> None:
    _act(db, people, accepted, A.approve, "approver", items=["姓名"])
    _act(db, people, accepted, A.deny, "minzheng_approver", reason="不符合最小必要原则")
    _act(db, people, accepted, A.approve, "weijian_approver")

    def sees(who: str) -> bool:
        found, _ = sharing_grants.list_(db=db, user=people[who], params=PageParams())
        return accepted.grant is not None and accepted.grant.id in {g.id for g in found}

    assert (sees("approver"), sees("weijian_approver"), sees("minzheng_approver")) == (True, True, False)
