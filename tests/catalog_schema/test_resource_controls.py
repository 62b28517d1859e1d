"""A resource's 管控参数 are refused at the door when they do not parse or do not fit the resource."""

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from catalog_schema.errors import InvalidInput
from catalog_schema.resource import controls, exchange
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import ResourceCreate, ResourceRead, ResourceUpdate
from catalog_schema.validation import problems_from
from demo import catalog as demo_catalog
from tests import factories


def _create(db, **overrides):
    return resource_service.create(db=db, data=ResourceCreate(**factories.resource(**overrides)))


def _count(db):
    return db.scalar(select(func.count()).select_from(Resource))


def test_a_rate_limit_that_does_not_parse_is_refused_naming_the_parameter_and_its_form():
    with pytest.raises(ValidationError) as refused:
        ResourceCreate(**factories.resource(control_params=[{"kind": "rate_limit", "value": "每分钟六百次"}]))

    (problem,) = problems_from(refused.value)
    assert problem.path == "control_params[0].value"
    assert problem.message.startswith("管控参数“调用频率限制”（rate_limit）的取值“每分钟六百次”")
    assert "600次/分钟" in problem.message and "600次/分钟" in problem.message_en


def test_a_query_key_that_is_not_an_item_is_refused_at_registration(db):
    before = _count(db)

    with pytest.raises(InvalidInput) as refused:
        _create(db, control_params=[{"kind": "mandatory_query_key", "value": "身份证号"}])

    assert refused.value.code == "invalid_control_params"
    assert [p.path for p in refused.value.problems] == ["control_params[0].value"]
    assert "不是本资源的信息项" in refused.value.problems[0].message
    assert _count(db) == before


def test_a_second_rate_limit_is_refused(db):
    with pytest.raises(InvalidInput) as refused:
        _create(
            db,
            control_params=[
                {"kind": "rate_limit", "value": "600次/分钟"},
                {"kind": "rate_limit", "value": "10次/秒"},
            ],
        )

    assert [p.path for p in refused.value.problems] == ["control_params[1].value"]


def test_an_update_that_removes_the_query_key_item_is_refused(db):
    resource = _create(db, control_params=[{"kind": "mandatory_query_key", "value": "公民身份号码"}])
    items = [{"name": "姓名", "data_type": "C", "length": 50, "element": "population.name"}]

    with pytest.raises(InvalidInput) as refused:
        resource_service.update(db=db, resource=resource, data=ResourceUpdate(items=items))

    assert refused.value.code == "invalid_control_params"
    assert [i.name for i in resource.items] == ["公民身份号码", "姓名"]


def test_an_update_with_a_bad_time_window_is_refused_by_the_schema():
    with pytest.raises(ValidationError) as refused:
        ResourceUpdate(control_params=[{"kind": "time_window", "value": "每日 22:00-07:00"}])

    assert "结束时刻应晚于开始时刻" in problems_from(refused.value)[0].message


def test_an_update_with_valid_parameters_is_kept_as_written(db):
    resource = _create(db)
    params = [{"kind": "access_modes", "value": "单条查询、批量查询"}]

    resource_service.update(db=db, resource=resource, data=ResourceUpdate(control_params=params))

    assert resource.control_params == params


def test_an_import_with_a_bad_allowlist_changes_nothing_and_names_the_entry(db):
    before = _count(db)
    entry = factories.resource(control_params=[{"kind": "ip_allowlist", "value": "政务外网 10.35.0.0/33"}])

    with pytest.raises(InvalidInput) as refused:
        exchange.import_catalog(db, {"version": 1, "departments": [], "elements": [], "resources": [entry]})
    db.rollback()

    assert [p.path for p in refused.value.problems] == ["resources[0].control_params[0].value"]
    assert _count(db) == before


def test_every_control_parameter_of_the_demo_catalog_parses_and_names_its_items():
    document = exchange.read_file(demo_catalog.CATALOG_FILE)

    problems = [
        (entry["name"], i)
        for entry in document["resources"]
        for i, _ in controls.check(entry.get("control_params", []), items=[x["name"] for x in entry["items"]])
    ]
    assert problems == []


def test_a_stored_value_from_before_the_grammar_is_shown_not_refused(db):
    resource = _create(db)
    resource.control_params = [{"kind": "rate_limit", "value": "每分钟六百次"}]

    read = ResourceRead.of(resource)

    assert [p.value for p in read.control_params] == ["每分钟六百次"]


def test_a_bad_control_parameter_is_a_422_over_the_api(client, as_user):
    document = factories.resource(control_params=[{"kind": "access_modes", "value": "逐条查询"}])

    response = client.post("/api/v1/resources", headers=as_user("catalog_admin"), json=document)

    body = response.json()
    assert response.status_code == 422
    assert [p["path"] for p in body["problems"]] == ["control_params[0].value"]
    assert "逐条查询" in body["problems"][0]["message"] and body["problems"][0]["message_en"]
