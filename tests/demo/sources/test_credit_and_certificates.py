"""The credit and certificate sources: clean subjects only, unique keys, type codes of their issuers."""

import pyarrow.parquet as pq
import pytest
import yaml

from connectors.config import load_sources
from demo import sources
from demo.sources.certificates import CERTIFICATE_TYPES
from tests.demo.generated import Demo, clean_firms, clean_people, faulty_rows, read

CATALOG_FILE = sources.SOURCES_FILE.with_name("catalog.yaml")


@pytest.mark.parametrize(
    ("name", "column"),
    [
        ("fayuan_shixin", "bzxrzjhm"),
        ("xinyong_xuke", "xk_xdr_dm"),
        ("xinyong_chufa", "cf_xdr_dm"),
        ("zhengzhao_yingye", "czztdm"),
        ("zhengzhao_jiehun", "czztdm"),
        ("zhengzhao_jiashi", "czztdm"),
        ("zhengzhao_budongchan", "czztdm"),
        ("zhengzhao_lihun", "czztdm"),
        ("zhengzhao_xingshi", "czztdm"),
        ("zhengzhao_chusheng", "czztdm"),
        ("zhengzhao_shebaoka", "czztdm"),
        ("zhengzhao_daoyun", "czztdm"),
    ],
)
def test_credit_and_certificate_subjects_are_clean_people_or_enterprises(
    demo: Demo, name: str, column: str
) -> None:
    out, manifest = demo
    known = clean_people(demo) | clean_firms(demo)
    faulty = faulty_rows(manifest, name)

    codes = [r[column] for i, r in enumerate(read(out, manifest, name), start=1) if i not in faulty]

    assert codes and all(c in known for c in codes)


@pytest.mark.parametrize("name", ["fayuan_shixin", "xinyong_xuke", "xinyong_chufa", *CERTIFICATE_TYPES])
def test_credit_and_certificate_keys_are_unique(demo: Demo, name: str) -> None:
    out, manifest = demo
    spec = load_sources(sources.SOURCES_FILE).get(name)
    by_element = {element: column for column, element in spec.columns.items()}

    keys = [
        ":".join(spec.constants.get(e) or str(r[by_element[e]]) for e in spec.key)
        for r in read(out, manifest, name)
    ]

    assert len(keys) == len(set(keys))


def test_certificate_type_codes_are_the_issuers_credit_codes_with_a_sequence() -> None:
    catalog = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))
    departments = {d["credit_code"] for d in catalog["departments"]}
    specs = load_sources(sources.SOURCES_FILE)

    for name, (type_code, _) in CERTIFICATE_TYPES.items():
        assert specs.get(name).constants == {"certificate.type_code": type_code}
        assert type_code[:18] in departments and len(type_code) == 21 and type_code[18:].isdigit()
    assert len({type_code for type_code, _ in CERTIFICATE_TYPES.values()}) == len(CERTIFICATE_TYPES)


def test_the_demo_has_at_least_eight_certificate_types_of_six_issuers() -> None:
    specs = [
        s
        for s in load_sources(sources.SOURCES_FILE).sources
        if s.library and s.library.value == "certificate"
    ]

    assert len(specs) == len(CERTIFICATE_TYPES) >= 8
    assert len({s.department for s in specs}) >= 6


def test_real_estate_certificates_are_parquet_with_dates_as_dates(demo: Demo) -> None:
    out, _ = demo

    schema = pq.read_schema(out / "zhengzhao/budongchan.parquet")

    assert str(schema.field("bfrq").type) == "date32[day]"
    assert str(schema.field("zzbh").type) == "string"


def test_divorce_certificates_are_held_by_those_minzheng_registers_as_divorced(demo: Demo) -> None:
    out, manifest = demo
    register = read(out, manifest, "minzheng_hunyin")

    held = {(r["czztdm"], r["zzzt"]) for r in read(out, manifest, "zhengzhao_lihun")}

    assert {code for code, status in held if status == "01"} == {
        r["sfzh"] for r in register if r["hyzk"] == "40"
    }
    assert {code for code, status in held if status == "02"} <= {
        r["sfzh"] for r in register if r["hyzk"] == "23"
    }


def test_birth_certificates_carry_the_numbers_weijian_records_for_each_child(demo: Demo) -> None:
    out, manifest = demo
    faulty = faulty_rows(manifest, "zhengzhao_chusheng")
    recorded = {r["cszmbh"]: r["sfzh"] for r in read(out, manifest, "weijian_birth_death") if r["cszmbh"]}

    issued = read(out, manifest, "zhengzhao_chusheng")

    assert {r["zzbh"] for r in issued} == set(recorded)
    assert all(recorded[r["zzbh"]] == r["czztdm"] for i, r in enumerate(issued, start=1) if i not in faulty)


def test_social_security_cards_are_for_the_people_renshe_insures(demo: Demo) -> None:
    out, manifest = demo
    faulty = faulty_rows(manifest, "renshe_canbao")
    insured = [r for i, r in enumerate(read(out, manifest, "renshe_canbao"), start=1) if i not in faulty]

    cards = read(out, manifest, "zhengzhao_shebaoka")

    assert sorted(r["czztdm"] for r in cards) == sorted(r["sfzh"] for r in insured)
