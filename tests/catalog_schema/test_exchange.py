"""Catalog files: idempotent, all-or-nothing import; YAML and DCAT export."""

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from catalog_schema.errors import InvalidInput, PayloadTooLarge
from catalog_schema.models import DataElement, Department, ElementSource, Resource, ResourceVersion
from catalog_schema.resource import exchange
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.schemas import ResourceUpdate
from demo import catalog as demo_catalog
from tests import factories


def _counts(db):
    return {
        m.__name__: db.scalar(select(func.count()).select_from(m))
        for m in (Department, DataElement, ElementSource, Resource, ResourceVersion)
    }


def _document(**sections):
    return {"version": 1, "departments": [], "elements": [], "resources": [], **sections}


def test_reimporting_the_demo_catalog_changes_nothing(db):
    before = _counts(db)

    report = exchange.import_catalog(db, exchange.read_file(demo_catalog.CATALOG_FILE))

    assert all(c["created"] == c["updated"] == 0 for c in report.counts.values())
    assert report.total("resources") >= 20
    assert _counts(db) == before


def test_exported_yaml_imports_back_unchanged(db):
    exported = exchange.parse_text(exchange.export_yaml(db))

    report = exchange.import_catalog(db, exported)

    assert {s: c["unchanged"] for s, c in report.counts.items()} == {
        s: len(exported[s]) for s in exchange.SECTIONS
    }


def test_new_entries_are_created_and_referenced_within_the_file(db):
    document = _document(
        departments=[factories.department()],
        elements=[factories.element(authoritative="shenji")],
        resources=[
            factories.resource(
                provider="shenji",
                items=[{"name": "测试项", "data_type": "C", "element": "population.test_element"}],
            )
        ],
    )

    report = exchange.import_catalog(db, document)

    assert {s: report.counts[s]["created"] for s in exchange.SECTIONS} == {
        "departments": 1,
        "elements": 1,
        "partitions": 0,
        "resources": 1,
    }


def test_a_file_with_bad_entries_changes_nothing_and_lists_every_problem(db):
    before = _counts(db)
    document = _document(
        departments=[factories.department(credit_code="11350100000770019X")],
        elements=[factories.element(), factories.element(code="population.other", data_type="Q")],
        resources=[
            factories.resource(),
            factories.resource(name="缺条件", share={"type": "conditional"}),
            factories.resource(
                name="类型不符",
                items=[{"name": "出生日期", "data_type": "C", "element": "population.birth_date"}],
            ),
        ],
    )

    with pytest.raises(InvalidInput) as refused:
        exchange.import_catalog(db, document)
    db.rollback()

    paths = [p.path for p in refused.value.problems]
    assert paths == [
        "departments[0].credit_code",
        "elements[1].data_type",
        "resources[1].share",
        "resources[2].items[0].data_type",
    ]
    assert refused.value.code == "import_failed"
    assert _counts(db) == before


def test_a_file_cannot_move_ownership_of_an_element(db):
    document = _document(
        elements=[factories.element(code="population.name", name="姓名", authoritative="renshe")]
    )

    with pytest.raises(InvalidInput) as refused:
        exchange.import_catalog(db, document)

    assert refused.value.problems[0].path == "elements[0]"
    assert "榕城市公安局" in refused.value.problems[0].message


def test_unknown_department_reference_is_located(db):
    document = _document(resources=[factories.resource(provider="nowhere")])

    with pytest.raises(InvalidInput) as refused:
        exchange.import_catalog(db, document)

    assert refused.value.problems[0].path == "resources[0]"
    assert "nowhere" in refused.value.problems[0].message


def test_missing_fields_and_unknown_keys_are_located(db):
    entry = factories.resource(colour="blue")
    del entry["abstract"]

    with pytest.raises(InvalidInput) as refused:
        exchange.import_catalog(db, _document(resources=[entry], extra_section=[]))

    assert sorted(p.path for p in refused.value.problems) == [
        "extra_section",
        "resources[0].abstract",
        "resources[0].colour",
    ]


def test_wrong_format_version_is_refused(db):
    with pytest.raises(InvalidInput) as refused:
        exchange.import_catalog(db, _document(version=2))

    assert refused.value.problems[0].path == "version"


def test_malformed_yaml_names_line_and_column():
    with pytest.raises(InvalidInput) as refused:
        exchange.parse_text("version: 1\nresources: [\n  - name: x\n", name="bad.yaml")

    assert refused.value.code == "malformed_file"
    assert "行" in refused.value.message and "line" in refused.value.message_en


def test_yaml_that_is_not_a_mapping_is_refused():
    with pytest.raises(InvalidInput) as refused:
        exchange.parse_text("- just\n- a list\n")

    assert refused.value.code == "malformed_file"


def test_oversized_file_is_refused(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (exchange.MAX_FILE_BYTES + 1))

    with pytest.raises(PayloadTooLarge) as refused:
        exchange.read_file(big)

    assert refused.value.code == "file_too_large"


def test_a_device_is_refused_without_being_read():
    with pytest.raises(InvalidInput) as refused:
        exchange.read_file(Path("/dev/zero"))

    assert refused.value.code == "file_not_regular"


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(InvalidInput) as refused:
        exchange.read_file(tmp_path)

    assert refused.value.code == "file_not_regular"


def test_an_integer_of_five_thousand_digits_is_refused_as_malformed():
    with pytest.raises(InvalidInput) as refused:
        exchange.parse_text("version: " + "9" * 5000 + "\n")

    assert refused.value.code == "malformed_file" and "20" in refused.value.message


def test_a_64_bit_integer_still_parses():
    assert exchange.parse_text("version: -9223372036854775808\n")["version"] == -(2**63)


def test_non_utf8_file_is_refused(tmp_path):
    gbk = tmp_path / "gbk.yaml"
    gbk.write_bytes("version: 1\n# 中文目录\n".encode("gbk"))

    with pytest.raises(InvalidInput) as refused:
        exchange.read_file(gbk)

    assert refused.value.code == "file_encoding"


def test_changed_resource_in_a_file_is_updated_and_versioned(db):
    exported = exchange.parse_text(exchange.export_yaml(db))
    published = next(r for r in exported["resources"] if r["status"] == "published")
    published["abstract"] = "导入时修订的摘要。"

    report = exchange.import_catalog(db, _document(resources=[published]))

    resource = db.scalar(select(Resource).where(Resource.code == published["code"]))
    assert report.counts["resources"]["updated"] == 1
    assert resource.abstract == "导入时修订的摘要。"
    assert resource.version == 2


def test_dcat_export_lists_published_resources_as_json_ld(db):
    document = json.loads(exchange.export_dcat(db))

    published = db.scalar(select(func.count()).select_from(Resource).where(Resource.status == "published"))
    datasets = document["dcat:dataset"]
    assert document["@type"] == "dcat:Catalog"
    assert document["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    assert len(datasets) == published
    first = datasets[0]
    assert first["@type"] == "dcat:Dataset"
    assert {
        "dct:identifier",
        "dct:title",
        "dct:publisher",
        "dct:accrualPeriodicity",
        "dct:accessRights",
        "dcat:distribution",
    } <= set(first)


def test_yaml_export_is_valid_yaml_with_every_section(db):
    document = yaml.safe_load(exchange.export_yaml(db))

    assert document["version"] == 1
    assert {len(document[s]) > 0 for s in exchange.SECTIONS} == {True}


def _published_entry(db):
    exported = exchange.parse_text(exchange.export_yaml(db))
    return next(r for r in exported["resources"] if r["status"] == "published" and r.get("format_detail"))


def test_a_field_removed_from_the_file_is_cleared_once_and_then_unchanged(db):
    entry = _published_entry(db)
    del entry["format_detail"]

    first = exchange.import_catalog(db, _document(resources=[entry]))
    second = exchange.import_catalog(db, _document(resources=[entry]))

    resource = db.scalar(select(Resource).where(Resource.code == entry["code"]))
    assert (first.counts["resources"]["updated"], second.counts["resources"]["unchanged"]) == (1, 1)
    assert resource.format_detail is None
    assert resource.version == 2


def test_element_sources_and_fields_follow_the_file_then_stay_unchanged(db):
    exported = exchange.parse_text(exchange.export_yaml(db))
    entry = next(e for e in exported["elements"] if len(e.get("verification", [])) >= 2 and e.get("standard"))
    entry["verification"] = entry["verification"][:1]
    del entry["standard"]

    first = exchange.import_catalog(db, _document(elements=[entry]))
    second = exchange.import_catalog(db, _document(elements=[entry]))

    element = db.scalar(select(DataElement).where(DataElement.code == entry["code"]))
    assert (first.counts["elements"]["updated"], second.counts["elements"]["unchanged"]) == (1, 1)
    assert [s.department.slug for s in element.verification_sources] == entry["verification"]
    assert element.standard is None


def test_new_published_resources_relate_to_each_other_without_extra_versions(db):
    first = factories.resource(code="101009/000001", status="published", related=["101009/000002"])
    second = factories.resource(name="第二个", code="101009/000002", status="published")

    exchange.import_catalog(db, _document(resources=[first, second]))

    rows = {r.code: r for r in db.scalars(select(Resource).where(Resource.classification_code == "101009"))}
    assert rows["101009/000001"].related_codes == ["101009/000002"]
    assert [r.version for r in rows.values()] == [1, 1]
    assert db.scalar(select(func.count()).select_from(ResourceVersion)) == 0


def test_a_changed_entry_with_new_relations_makes_one_version(db):
    entry = _published_entry(db)
    other = next(
        r
        for r in exchange.parse_text(exchange.export_yaml(db))["resources"]
        if r["status"] == "published" and r["code"] != entry["code"]
    )
    entry["abstract"] = "修订摘要。"
    entry["related"] = [other["code"]]

    exchange.import_catalog(db, _document(resources=[entry]))

    resource = db.scalar(select(Resource).where(Resource.code == entry["code"]))
    assert (resource.version, resource.related_codes) == (2, [other["code"]])


def test_the_same_key_twice_in_one_file_is_located(db):
    document = _document(
        elements=[factories.element(), factories.element()],
        resources=[
            factories.resource(code="101009/000001"),
            factories.resource(name="另一个", code="101009/000001"),
            factories.resource(name="另一个"),
        ],
    )

    with pytest.raises(InvalidInput) as refused:
        exchange.import_catalog(db, document)

    assert [p.path for p in refused.value.problems] == [
        "elements[1].code",
        "resources[1].code",
        "resources[2].name",
    ]


def test_deeply_nested_yaml_is_refused_not_crashed():
    with pytest.raises(InvalidInput) as refused:
        exchange.parse_text("[" * 20000)

    assert refused.value.code == "malformed_file"


def test_aliases_are_refused_so_an_alias_bomb_cannot_expand():
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"

    with pytest.raises(InvalidInput) as refused:
        exchange.parse_text(bomb)

    assert "alias" in refused.value.message_en


def test_a_repeated_key_is_refused_not_last_wins():
    with pytest.raises(InvalidInput) as refused:
        exchange.parse_text("version: 1\nresources: []\nresources: []\n")

    assert "duplicate key 'resources'" in refused.value.message_en
    assert "line 3" in refused.value.message_en


def _export(db):
    return exchange.parse_text(exchange.export_yaml(db))


def test_export_imports_back_after_a_related_resource_is_retired(db):
    target = db.scalar(select(Resource).where(Resource.status == "published").order_by(Resource.code.desc()))
    relating = db.scalar(select(Resource).where(Resource.status == "published", Resource.id != target.id))
    resource_service.update(db=db, resource=relating, data=ResourceUpdate(related=[target.code]))
    resource_service.retire(db=db, resource=target, reason="已合并")

    report = exchange.import_catalog(db, _export(db))

    assert sum(c["updated"] + c["created"] for c in report.counts.values()) == 0


def test_relations_do_not_depend_on_the_order_of_entries(db):
    draft = factories.resource(name="草稿资源", code="101009/000002")
    exchange.import_catalog(db, _document(resources=[draft]))
    relating = factories.resource(code="101009/000001", status="published", related=["101009/000002"])

    exchange.import_catalog(db, _document(resources=[relating, {**draft, "status": "published"}]))

    row = db.scalar(select(Resource).where(Resource.code == "101009/000001"))
    assert row.related_codes == ["101009/000002"]


def test_departments_named_by_credit_code_reimport_unchanged(db):
    gongan = db.scalar(select(Department).where(Department.slug == "gongan"))
    renshe = db.scalar(select(Department).where(Department.slug == "renshe"))
    element = factories.element(
        authoritative=gongan.credit_code, verification=[renshe.credit_code, "minzheng"]
    )
    resource = factories.resource(provider=gongan.credit_code)
    exchange.import_catalog(db, _document(elements=[element], resources=[resource]))

    element["verification"].reverse()
    again = exchange.import_catalog(db, _document(elements=[element], resources=[resource]))

    assert (again.counts["elements"]["unchanged"], again.counts["resources"]["unchanged"]) == (1, 1)


def test_owner_listed_as_its_own_verification_source_is_located(db):
    with pytest.raises(InvalidInput) as refused:
        exchange.import_catalog(db, _document(elements=[factories.element(verification=["gongan"])]))

    assert refused.value.problems[0].path == "elements[0].verification"
