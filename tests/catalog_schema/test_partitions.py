"""一数一源 by record: the 法人库 and 公共信用库 partitions, each with one authoritative department."""

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from catalog_schema.element import service as element_service
from catalog_schema.element.models import RecordPartition
from catalog_schema.element.schemas import PartitionCreate
from catalog_schema.errors import Conflict
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.schemas import ResourceCreate
from catalog_schema.types import Library
from tests import factories

CODE = {"name": "统一社会信用代码", "data_type": "C", "length": 18, "element": "legal_person.credit_code"}
NAME = {"name": "名称", "data_type": "C", "length": 200, "element": "legal_person.name"}
SPONSOR = {"name": "举办单位", "data_type": "C", "length": 200, "element": "legal_person.sponsor"}


def _holder(db, library, code):
    partition = db.scalar(
        select(RecordPartition).where(RecordPartition.library == library, RecordPartition.code == code)
    )
    return partition.department.slug


def test_the_demo_catalog_gives_each_registering_authority_and_credit_kind_one_department(db):
    held = {(p.library.value, p.code): p.department.slug for p in element_service.list_partitions(db=db)}

    assert {code: slug for (library, code), slug in held.items() if library == "legal_person"} == {
        "1": "bianban",
        "5": "minzheng",
        "9": "shichang",
    }
    assert sorted(code for library, code in held if library == "credit") == [f"0{k}" for k in range(1, 9)]


def test_a_second_department_for_a_partition_is_refused_naming_the_holder(db):
    data = PartitionCreate(library=Library.legal_person, code="9", name="企业", authoritative="minzheng")

    with pytest.raises(Conflict) as refused:
        element_service.register_partition(db=db, data=data)

    assert refused.value.code == "partition_held"
    assert "榕城市市场监督管理局" in refused.value.message
    assert _holder(db, Library.legal_person, "9") == "shichang"


@pytest.mark.parametrize(
    ("library", "code"),
    [("legal_person", "Z"), ("legal_person", "91"), ("credit", "09"), ("credit", "1"), ("population", "1")],
)
def test_a_partition_code_outside_its_librarys_table_is_refused(library, code):
    with pytest.raises(ValidationError):
        PartitionCreate(library=library, code=code, name="测试", authoritative="shichang")


def test_renaming_a_partition_keeps_its_holder(db):
    data = PartitionCreate(library=Library.credit, code="06", name="监督检查", authoritative="weijian")

    partition, changed = element_service.register_partition(db=db, data=data)

    assert (changed, partition.name, partition.department.slug) == (True, "监督检查", "weijian")


def test_a_partition_holders_view_carries_the_elements_the_platform_keeps(db):
    created = resource_service.create(
        db=db,
        data=ResourceCreate(
            **factories.resource(name="事业单位名录测试", provider="bianban", items=[CODE, NAME, SPONSOR])
        ),
    )

    assert created.delivery["library"] == "legal_person"


def test_a_view_of_kept_elements_by_a_department_holding_no_partition_is_refused(db):
    with pytest.raises(Conflict) as refused:
        resource_service.create(
            db=db,
            data=ResourceCreate(
                **factories.resource(name="法人名录测试", provider="renshe", items=[CODE, NAME])
            ),
        )

    assert refused.value.code == "element_not_owned"
    assert [p.path for p in refused.value.problems] == ["items[1].element"]
