"""The demo requests cover every request state and every clock state, and seeding twice adds nothing."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.clock.models import ClockStage
from authz.sharing.models import SharingRequest
from authz.types import RequestStatus, StageState
from demo import requests as demo_requests

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)  # Friday afternoon in Beijing


def test_demo_requests_are_in_every_state(db: Session) -> None:
    demo_requests.seed(db, now=NOW)
    statuses = set(db.scalars(select(SharingRequest.status)))
    assert statuses == set(RequestStatus)


@pytest.mark.parametrize(
    "now",
    [
        NOW,
        datetime(2026, 11, 23, 0, 30, tzinfo=UTC),  # Monday 08:30
        datetime(2026, 11, 21, 4, 0, tzinfo=UTC),  # a Saturday
        datetime(2026, 10, 8, 1, 0, tzinfo=UTC),  # the first working day after National Day
    ],
)
def test_demo_clock_shows_every_colour(db: Session, now: datetime) -> None:
    demo_requests.seed(db, now=now)
    states = set(db.scalars(select(ClockStage.state)))
    assert states == set(StageState)


def test_seeding_demo_requests_again_adds_nothing(db: Session) -> None:
    demo_requests.seed(db, now=NOW)
    assert demo_requests.seed(db, now=NOW) == 0


def test_renshe_holds_a_birth_certificate_grant_approved_by_weijian(db: Session) -> None:
    demo_requests.seed(db, now=NOW)

    request = db.scalars(select(SharingRequest).where(SharingRequest.business_reference == "DEMO-16")).one()

    assert request.resource.code == demo_requests.BIRTHS
    assert (request.status, request.department.slug) == (RequestStatus.granted, "renshe")
    assert request.grant is not None and request.grant.items == demo_requests.BIRTH_ITEMS
    approval = next(e for e in request.events if e.action == "approve")
    assert approval.actor_department_id == request.provider_department_id
    assert request.provider_department.slug == "weijian"


def test_renshe_holds_a_subsistence_grant_approved_by_minzheng(db: Session) -> None:
    demo_requests.seed(db, now=NOW)
    request = db.scalars(select(SharingRequest).where(SharingRequest.business_reference == "DEMO-17")).one()

    assert request.grant is not None and request.grant.items[2:4] == ["救助类别", "月保障金额"]


def test_renshe_holds_a_verify_only_grant_of_the_population_resource(db: Session) -> None:
    demo_requests.seed(db, now=NOW)
    request = db.scalars(select(SharingRequest).where(SharingRequest.business_reference == "DEMO-18")).one()

    assert request.grant is not None and request.grant.access_modes == ["verify"]


def test_renshe_holds_a_composite_grant_of_only_the_items_the_owners_approved(db: Session) -> None:
    demo_requests.seed(db, now=NOW)
    request = db.scalars(select(SharingRequest).where(SharingRequest.business_reference == "DEMO-19")).one()

    assert request.grant is not None and request.grant.items == [
        "公民身份号码",
        "姓名",
        "死亡标识",
        "参保状态",
    ]
    assert {(d.department.slug, d.outcome.value) for d in request.decisions} == {
        ("gongan", "approved"),
        ("minzheng", "denied"),
        ("weijian", "approved"),
        ("shujuju", "platform"),
    }
