"""Catalog resources: codes, share-type rules, items bound to elements, versions."""

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from catalog_schema.errors import Conflict, InvalidInput
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource, ResourceVersion
from catalog_schema.resource.schemas import ResourceCreate, ResourceUpdate
from catalog_schema.types import ResourceStatus
from catalog_schema.validation import problems_from
from tests import factories


def _create(db, **overrides):
    return resource_service.create(db=db, data=ResourceCreate(**factories.resource(**overrides)))


def _resource_count(db):
    return db.scalar(select(func.count()).select_from(Resource))


def test_code_is_generated_from_the_classification_and_the_next_sequence(db):
    first = _create(db, category={"class": "theme", "item": "11", "catalog": "042"})
    second = _create(db, name="第二个测试资源", category={"class": "theme", "item": "11", "catalog": "042"})

    assert (first.code, second.code) == ("211042/000001", "211042/000002")


def test_detail_level_is_part_of_the_classification_code(db):
    created = _create(db, category={"class": "department", "item": "01", "catalog": "002", "detail": "07"})

    assert created.code == "30100207/000001"
    assert created.status is ResourceStatus.draft


def test_declared_code_is_kept_when_well_formed_and_free(db):
    created = _create(db, code="101009/000500")

    assert (created.code, created.sequence) == ("101009/000500", 500)


def test_declared_code_of_another_classification_is_refused(db):
    with pytest.raises(InvalidInput) as refused:
        _create(db, code="102001/000001")

    assert refused.value.code == "invalid_resource_code"


def test_duplicate_code_is_refused(db):
    _create(db, code="101009/000001")
    count = _resource_count(db)

    with pytest.raises(Conflict) as refused:
        _create(db, name="另一个名称", code="101009/000001")

    assert refused.value.code == "resource_code_duplicate"
    assert _resource_count(db) == count


def test_malformed_code_is_refused_by_the_schema():
    with pytest.raises(ValidationError) as refused:
        ResourceCreate(**factories.resource(code="101001-1"))

    assert problems_from(refused.value)[0].path == "code"


def test_conditional_share_requires_its_condition():
    with pytest.raises(ValidationError) as refused:
        ResourceCreate(**factories.resource(share={"type": "conditional", "method": "api"}))

    problem = problems_from(refused.value)[0]
    assert problem.path == "share"
    assert "共享条件" in problem.message


def test_not_shared_requires_its_legal_basis():
    with pytest.raises(ValidationError) as refused:
        ResourceCreate(**factories.resource(share={"type": "none", "method": "api"}))

    problem = problems_from(refused.value)[0]
    assert "依据" in problem.message and "legal basis" in problem.message_en


def test_item_binds_only_an_element_of_the_same_data_type(db):
    items = [{"name": "出生日期", "data_type": "C", "length": 8, "element": "population.birth_date"}]
    count = _resource_count(db)

    with pytest.raises(InvalidInput) as refused:
        _create(db, items=items)

    assert refused.value.code == "item_element_mismatch"
    assert refused.value.problems[0].path == "items[0].data_type"
    assert "D" in refused.value.problems[0].message
    assert _resource_count(db) == count


def test_item_with_unknown_element_is_refused(db):
    with pytest.raises(InvalidInput) as refused:
        _create(db, items=[{"name": "不存在", "data_type": "C", "element": "population.nothing"}])

    assert refused.value.problems[0].path == "items[0].element"


def test_every_bad_item_is_reported_at_once(db):
    items = [
        {"name": "甲", "data_type": "C", "element": "population.nothing"},
        {"name": "乙", "data_type": "N", "element": "population.name"},
    ]

    with pytest.raises(InvalidInput) as refused:
        _create(db, items=items)

    assert [p.path for p in refused.value.problems] == ["items[0].element", "items[1].data_type"]


def test_unknown_provider_is_refused(db):
    with pytest.raises(Exception) as refused:
        _create(db, provider="nowhere")

    assert refused.value.code == "department_not_found"


def test_change_to_a_published_resource_keeps_the_previous_version(db):
    resource = _create(db)
    resource_service.publish(db=db, resource=resource, actor_id=1)

    resource_service.update(
        db=db,
        resource=resource,
        actor_id=2,
        data=ResourceUpdate(abstract="修订后的摘要。", change_note="更新摘要"),
    )

    kept = db.scalars(select(ResourceVersion).where(ResourceVersion.resource_id == resource.id)).all()
    assert resource.version == 2
    assert [(v.version, v.superseded_by_id, v.change_note) for v in kept] == [(1, 2, "更新摘要")]
    assert kept[0].snapshot["abstract"] == "用于测试的人口信息资源。"
    assert kept[0].superseded_at is not None


def test_change_to_a_draft_keeps_no_version(db):
    resource = _create(db)

    resource_service.update(db=db, resource=resource, data=ResourceUpdate(abstract="新的摘要。"))

    assert resource.version == 1
    assert resource_service.versions(db=db, resource=resource) == []


def test_items_are_replaced_as_a_whole(db):
    resource = _create(db)

    resource_service.update(
        db=db,
        resource=resource,
        data=ResourceUpdate(
            items=[
                {"name": "姓名", "data_type": "C", "element": "population.name"},
            ]
        ),
    )

    assert [i.name for i in resource.items] == ["姓名"]


def test_only_a_draft_can_be_published(db):
    resource = _create(db)
    resource_service.publish(db=db, resource=resource)

    with pytest.raises(Conflict) as refused:
        resource_service.publish(db=db, resource=resource)

    assert refused.value.code == "resource_not_draft"


def test_retired_resource_cannot_change(db):
    resource = _create(db)
    resource_service.retire(db=db, resource=resource, reason="数据已并入人口综合库")

    with pytest.raises(Conflict) as refused:
        resource_service.update(db=db, resource=resource, data=ResourceUpdate(name="新名称"))

    assert refused.value.code == "resource_retired"


def test_related_codes_must_exist(db):
    with pytest.raises(InvalidInput) as refused:
        _create(db, related=["101001/999999"])

    assert refused.value.problems[0].path == "related[0]"


def test_same_name_twice_for_one_provider_is_refused(db):
    _create(db)

    with pytest.raises(Conflict) as refused:
        _create(db, category={"class": "basic", "item": "01", "catalog": "010"})

    assert refused.value.code == "resource_name_duplicate"


def test_route_is_direct_only_for_unconditional_data_without_control_parameters(db):
    direct = _create(db)
    controlled = _create(db, name="带管控参数", control_params=[{"kind": "rate_limit", "value": "60次/分钟"}])
    conditional = _create(db, name="有条件", share={"type": "conditional", "condition": "仅限核验身份"})

    assert [
        direct.needs_department_approval,
        controlled.needs_department_approval,
        conditional.needs_department_approval,
    ] == [False, True, True]


def test_update_that_changes_nothing_keeps_no_version(db):
    resource = _create(db)
    resource_service.publish(db=db, resource=resource)

    resource_service.update(db=db, resource=resource, data=ResourceUpdate())
    resource_service.update(
        db=db, resource=resource, data=ResourceUpdate(abstract="用于测试的人口信息资源。")
    )

    assert resource.version == 1


def test_explicit_null_for_a_required_field_is_refused():
    with pytest.raises(ValidationError) as refused:
        ResourceUpdate(name=None)

    assert "name" in problems_from(refused.value)[0].message


def test_explicit_null_clears_an_optional_field(db):
    resource = _create(db, format_detail="关系型数据库表")

    resource_service.update(db=db, resource=resource, data=ResourceUpdate(format_detail=None))

    assert resource.format_detail is None


def test_relation_to_a_draft_is_refused(db):
    draft = _create(db)

    with pytest.raises(InvalidInput) as refused:
        _create(db, name="另一个", related=[draft.code])

    assert "未发布" in refused.value.problems[0].message


def test_a_full_classification_is_a_409_not_a_crash(db):
    _create(db, code="101009/999999")

    with pytest.raises(Conflict) as refused:
        _create(db, name="另一个")

    assert refused.value.code == "classification_full"


def test_a_published_resource_keeps_its_publication_date(db):
    resource = _create(db)
    resource_service.publish(db=db, resource=resource)

    with pytest.raises(InvalidInput) as refused:
        resource_service.update(db=db, resource=resource, data=ResourceUpdate(published_on=None))

    assert refused.value.code == "published_on_required"


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_absurd_publication_dates_are_refused(day):
    with pytest.raises(ValidationError) as refused:
        ResourceCreate(**factories.resource(published_on=day))

    assert problems_from(refused.value)[0].path == "published_on"
