"""The credit and certificate sources: clean subjects only, unique keys, type codes of their issuers."""

import pyarrow.parquet as pq
import pytest
import yaml

from connectors.config import load_sources
from demo import sources
from demo.sources.certificates import CERTIFICATE_TYPES
from tests.demo.generated import Demo, clean_firms, clean_people, read

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
    ],
)
def test_credit_and_certificate_subjects_are_clean_people_or_enterprises(
    demo: Demo, name: str, column: str
) -> None:
    out, manifest = demo
    known = clean_people(demo) | clean_firms(demo)

    codes = [r[column] for r in read(out, manifest, name)]

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
        assert type_code[:18] in departments and type_code[18:] == "001"


def test_real_estate_certificates_are_parquet_with_dates_as_dates(demo: Demo) -> None:
    out, _ = demo

    schema = pq.read_schema(out / "zhengzhao/budongchan.parquet")

    assert str(schema.field("bfrq").type) == "date32[day]"
    assert str(schema.field("zzbh").type) == "string"
