"""Delivery bindings and grading: what a resource may carry, and how it is delivered."""

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from catalog_schema.department import service as department_service
from catalog_schema.element import service as element_service
from catalog_schema.element.schemas import ElementCreate, ElementUpdate
from catalog_schema.errors import Conflict, InvalidInput
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import ResourceCreate, ResourceRead
from catalog_schema.types import DeliveryKind, Sensitivity
from tests import factories

ADDRESS = {"name": "住址", "data_type": "C", "length": 200, "element": "population.address"}
ID = {"name": "公民身份号码", "data_type": "C", "length": 18, "element": "population.id_number"}


def _create(db, **overrides):
    return resource_service.create(db=db, data=ResourceCreate(**factories.resource(**overrides)))


def _count(db):
    return db.scalar(select(func.count()).select_from(Resource))


def test_a_department_view_carrying_another_departments_element_is_refused_naming_the_owner(db):
    before = _count(db)

    with pytest.raises(Conflict) as refused:
        _create(db, name="市场监管人员住址", provider="shichang", items=[ID, ADDRESS])

    assert refused.value.code == "element_not_owned"
    assert [(p.path, p.message) for p in refused.value.problems] == [
        ("items[1].element", "信息项“住址”的数据元 population.address（住址）的权威源是榕城市公安局")
    ]
    assert "库表交换" in refused.value.message
    assert _count(db) == before


def test_the_owners_view_of_its_own_elements_is_a_library_binding_inferred_from_the_items(db):
    created = _create(db, items=[ID, ADDRESS])

    assert created.delivery_kind is DeliveryKind.library
    assert created.delivery == {"kind": "library", "library": "population", "where": {}}


def test_the_platform_department_composes_any_departments_elements(db):
    insured = {"name": "参保状态", "data_type": "C", "length": 2, "element": "population.insurance_status"}

    created = _create(db, name="人口综合信息", provider="shujuju", items=[ID, ADDRESS, insured])

    assert created.delivery["library"] == "population"


def test_publishing_a_draft_whose_element_changed_owner_is_refused(db):
    draft = _create(db, items=[ID, ADDRESS])
    element = element_service.get_by_code(db=db, code="population.address")
    minzheng = department_service.get_by_ref(db=db, ref="minzheng")
    element_service.transfer_ownership(
        db=db, element=element, to_department=minzheng, reason="测试：住址改由民政采集"
    )

    with pytest.raises(Conflict) as refused:
        resource_service.publish(db=db, resource=draft)

    assert refused.value.code == "element_not_owned"
    assert draft.status.value == "draft"


def test_a_dataset_carries_any_element_as_the_providers_own_values(db):
    created = _create(
        db,
        name="低保对象测试",
        provider="minzheng",
        items=[ID, ADDRESS, {"name": "救助类别", "data_type": "C", "length": 2}],
        delivery={"kind": "dataset", "query_key": ["公民身份号码"]},
    )

    assert created.delivery_kind is DeliveryKind.dataset
    assert created.delivery["query_key"] == ["公民身份号码"]


def test_a_dataset_keyed_by_an_item_it_does_not_have_is_refused():
    with pytest.raises(ValidationError) as refused:
        ResourceCreate(**factories.resource(delivery={"kind": "dataset", "query_key": ["证件号码"]}))

    assert "证件号码" in str(refused.value)


def test_a_view_whose_library_cannot_be_told_from_its_items_must_name_it(db):
    with pytest.raises(InvalidInput) as refused:
        _create(db, items=[{"name": "备注", "data_type": "C", "length": 20}])

    assert refused.value.code == "delivery_library_unknown"


def test_a_certificate_view_delivers_only_types_its_provider_issues(db):
    shichang = department_service.get_by_ref(db=db, ref="shichang")
    gongan = department_service.get_by_ref(db=db, ref="gongan")
    items = [
        {"name": "证照类型代码", "data_type": "C", "length": 21, "element": "certificate.type_code"},
        {"name": "证照编号", "data_type": "C", "length": 64, "element": "certificate.number"},
        {"name": "证照状态", "data_type": "C", "length": 2, "element": "certificate.status"},
    ]
    own = {"kind": "library", "where": {"certificate.type_code": [shichang.credit_code + "009"]}}
    foreign = {"kind": "library", "where": {"certificate.type_code": [gongan.credit_code + "001"]}}
    category = {"class": "basic", "item": "05", "catalog": "009"}

    created = _create(db, name="测试执照", provider="shichang", category=category, items=items, delivery=own)
    with pytest.raises(Conflict) as refused:
        _create(db, name="冒发驾驶证", provider="shichang", category=category, items=items, delivery=foreign)

    assert created.delivery["library"] == "certificate"
    assert refused.value.code == "certificate_type_not_issued"


def test_a_resource_with_a_highly_sensitive_item_cannot_be_open_to_the_public(db):
    with pytest.raises(InvalidInput) as refused:
        _create(db, open={"open": True, "condition": "向社会公开"})

    assert refused.value.code == "open_not_allowed"
    assert refused.value.problems[0].path == "items[0].element"


def test_a_resource_that_is_not_shared_cannot_be_open_to_the_public(db):
    name = {"name": "姓名", "data_type": "C", "length": 50, "element": "population.name"}
    share = {"type": "none", "legal_basis": "《居民身份证法》", "method": "api"}

    with pytest.raises(InvalidInput) as refused:
        _create(db, items=[name], share=share, open={"open": True, "condition": "公开"})

    assert refused.value.code == "open_not_allowed"


def test_the_grade_of_a_resource_is_its_most_sensitive_items(db):
    gender = {"name": "性别", "data_type": "C", "length": 1, "element": "population.gender"}

    read = ResourceRead.of(_create(db, items=[ID, gender]))

    assert (read.grade.value, read.delivery.kind) == ("highly_sensitive", "library")


def test_an_element_holding_id_numbers_cannot_be_graded_below_highly_sensitive(db):
    with pytest.raises(InvalidInput) as refused:
        element_service.create(
            db=db,
            data=ElementCreate(
                code="population.guardian_id_number",
                name="监护人公民身份号码",
                library="population",
                data_type="C",
                length=18,
                standard="GB 11643-1999",
                sensitivity="sensitive",
                authoritative="gongan",
            ),
        )

    assert refused.value.code == "id_element_grade"


def test_regrading_the_credit_subject_code_below_highly_sensitive_is_refused(db):
    element = element_service.get_by_code(db=db, code="credit.subject_code")

    with pytest.raises(InvalidInput):
        element_service.update(db=db, element=element, data=ElementUpdate(sensitivity=Sensitivity.internal))

    assert element.sensitivity is Sensitivity.highly_sensitive
