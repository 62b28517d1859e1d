"""更新周期 watch: a resource is fresh only from loads of the sources that feed it; the never supplied
come first; the provider is told once per lapse."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from authz.clock import supply
from authz.clock.models import Notification
from authz.types import NotificationKind
from catalog_schema.database import utcnow
from catalog_schema.department import service as department_service
from catalog_schema.library.models import IngestBatch, ResourceFreshness
from catalog_schema.resource import service as resource_service
from catalog_schema.types import BatchStatus, Library
from connectors.config import load_sources
from ingest import freshness
from ingest.settings import DEMO_SOURCES_FILE
from tests.api.portal_forms import sign_in, text_of

PEOPLE = "101001/000001"  # 公安 人口基本信息: fed by gongan_huji, 每日
DEATHS = "101004/000001"  # 卫健 死亡人员信息: fed by weijian_birth_death
LICENCES = "105001/000001"  # 营业执照电子证照: fed by the 营业执照 type's source
SUBSISTENCE = "203001/000001"  # 民政 低保 dataset: fed by minzheng_dibao


@pytest.fixture
def declared():
    return load_sources(DEMO_SOURCES_FILE).sources


def _loaded(db, source, *, ago, library=Library.population, department="gongan"):
    finished = utcnow() - ago
    db.add(
        IngestBatch(
            source=source,
            title=source,
            library=library,
            department_id=department_service.get_by_ref(db=db, ref=department).id,
            run_id="test",
            status=BatchStatus.succeeded,
            started_at=finished,
            finished_at=finished,
            rows_read=10,
            inserted=10,
        )
    )
    db.flush()


def _state(db, code):
    resource = resource_service.get_by_code(db=db, code=code)
    return db.get(ResourceFreshness, resource.id)


def test_a_resource_fed_within_its_cycle_is_fresh(db, session_factory, declared):
    _loaded(db, "gongan_huji", ago=timedelta(hours=2))

    freshness.flag_missed_update_cycles(session_factory=session_factory, declared=declared)

    state = _state(db, PEOPLE)
    assert (state.missed, state.sources) == (False, "gongan_huji")


def test_a_load_of_another_departments_source_does_not_freshen_a_view(db, session_factory, declared):
    _loaded(db, "gongan_huji", ago=timedelta(hours=2))

    freshness.flag_missed_update_cycles(session_factory=session_factory, declared=declared)

    state = _state(db, DEATHS)
    assert (state.missed, state.never_supplied, state.sources) == (True, True, "weijian_birth_death")


def test_a_certificate_view_is_fed_by_the_source_of_its_type(db, session_factory, declared):
    freshness.flag_missed_update_cycles(session_factory=session_factory, declared=declared)

    assert _state(db, LICENCES).sources == "zhengzhao_yingye"


def test_a_dataset_is_fed_by_the_sources_that_target_it(db, session_factory, declared):
    freshness.flag_missed_update_cycles(session_factory=session_factory, declared=declared)

    assert _state(db, SUBSISTENCE).sources == "minzheng_dibao"


def test_overdue_resources_list_the_never_supplied_first(client, as_user, db, session_factory, declared):
    _loaded(db, "gongan_huji", ago=timedelta(days=3))
    freshness.flag_missed_update_cycles(session_factory=session_factory, declared=declared)

    page = client.get("/api/v1/resources/overdue?page_size=100", headers=as_user("catalog_admin")).json()

    never = [i["never_supplied"] for i in page["items"]]
    people = next(i for i in page["items"] if i["resource"]["code"] == PEOPLE)
    assert never == sorted(never, reverse=True) and never[0] is True
    assert (people["never_supplied"], people["sources"]) == (False, ["gongan_huji"])
    assert people["due_at"] is not None


def test_only_the_catalog_admin_reads_the_overdue_list(client, as_user):
    response = client.get("/api/v1/resources/overdue", headers=as_user("requester"))

    assert response.status_code == 403


def test_the_provider_is_told_once_per_lapse(db, session_factory, declared):
    gongan = department_service.get_by_ref(db=db, ref="gongan")
    _loaded(db, "gongan_huji", ago=timedelta(days=3))

    first = freshness.flag_missed_update_cycles(session_factory=session_factory, declared=declared)
    supply.warn_providers(resource_ids=first["newly_missed"], session_factory=session_factory)
    second = freshness.flag_missed_update_cycles(session_factory=session_factory, declared=declared)

    people = resource_service.get_by_code(db=db, code=PEOPLE)
    told = db.scalars(
        select(Notification).where(
            Notification.kind == NotificationKind.update_missed, Notification.department_id == gongan.id
        )
    ).all()
    assert people.id in first["newly_missed"] and people.id not in second["newly_missed"]
    assert [n.title for n in told if "人口基本信息" in n.title] == [
        "信息资源《人口基本信息》（101001/000001）未按更新周期提供数据"
    ]
    assert any("已逾期" in n.body for n in told)


def test_the_overdue_page_shows_the_never_supplied(client, db, session_factory, declared):
    freshness.flag_missed_update_cycles(session_factory=session_factory, declared=declared)
    sign_in(client, "catalog_admin")

    page = text_of(client.get("/catalog/overdue?page_size=100"))

    assert "死亡人员信息" in page and "从未收到数据" in page
    assert "weijian_birth_death" in page
