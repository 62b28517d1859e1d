"""Generating the demo sources: reproducible, declared in sources.yaml, written where the connectors look."""

import json
import sqlite3
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pyarrow.parquet as pq
import yaml

from connectors.config import SourceSpec, load_sources
from demo import sources
from demo.sources.city import TODAY
from demo.sources.manifest import SourceOutput
from tests.demo.generated import Demo, dump, read, table_text

CATALOG_FILE = sources.SOURCES_FILE.with_name("catalog.yaml")


def test_same_seed_writes_identical_files(tmp_path: Path) -> None:
    first = sources.generate(tmp_path / "a", people=150, orgs=60, seed=5)
    second = sources.generate(tmp_path / "b", people=150, orgs=60, seed=5)

    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert first == second
    for relative in files:
        if relative.suffix == ".sqlite":
            assert dump(tmp_path / "a" / relative) == dump(tmp_path / "b" / relative), relative
        else:
            same = (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
            assert same, relative


def test_the_xlsx_says_it_was_modified_at_the_fixed_time_not_when_saved(demo: Demo) -> None:
    out, _ = demo
    xlsx = next(out.rglob("*.xlsx"))
    core = zipfile.ZipFile(xlsx).read("docProps/core.xml").decode()
    assert ">2026-11-20T08:00:00Z</dcterms:modified>" in core


def test_another_seed_writes_other_people(tmp_path: Path) -> None:
    sources.generate(tmp_path / "a", people=150, orgs=60, seed=5)
    sources.generate(tmp_path / "b", people=150, orgs=60, seed=6)

    assert dump(tmp_path / "a" / "gongan_huji.sqlite") != dump(tmp_path / "b" / "gongan_huji.sqlite")


def test_sources_yaml_is_valid() -> None:
    names = [s.name for s in load_sources(sources.SOURCES_FILE).sources]

    assert names == [
        "gongan_huji",
        "renshe_canbao",
        "minzheng_hunyin",
        "weijian_birth_death",
        "shichang_qiye",
        "shichang_getihu",
        "bianban_shiye",
        "bianban_jiguan",
        "minzheng_shehui",
        "fayuan_shixin",
        "xinyong_xuke",
        "xinyong_chufa",
        "shichang_jingying_yichang",
        "shichang_yanzhong_shixin",
        "weijian_jiandu_jiancha",
        "shichang_zhiliang_choujian",
        "fagai_hongmingdan",
        "minzheng_dibao",
        "fayuan_shixin_mingdan",
        "zhengzhao_yingye",
        "zhengzhao_jiehun",
        "zhengzhao_jiashi",
        "zhengzhao_budongchan",
        "zhengzhao_lihun",
        "zhengzhao_xingshi",
        "zhengzhao_chusheng",
        "zhengzhao_shebaoka",
        "zhengzhao_daoyun",
    ]


def test_sources_yaml_uses_elements_of_each_sources_library_that_its_department_provides() -> None:
    catalog = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))
    elements = {e["code"]: e for e in catalog["elements"]}
    credit_codes = {d["slug"]: d["credit_code"] for d in catalog["departments"]}

    partitions = {(p["library"], p["code"]): p["authoritative"] for p in catalog["partitions"]}

    for spec in load_sources(sources.SOURCES_FILE).sources:
        if spec.library is None:
            continue
        library = spec.library.value
        # 谁发证、谁负责: a certificate type's issuer loads it; a partition's holder loads its records.
        if library == "certificate":
            holder = spec.constants["certificate.type_code"].startswith(credit_codes[spec.department])
            assert holder, spec.name
        else:
            declared = spec.registering_authority or [spec.constants.get("credit.kind")]
            holder = all(partitions.get((library, code)) == spec.department for code in declared)
        for code in spec.elements:
            element = elements[code]
            providers = {element["authoritative"], *element.get("verification", [])}
            kept = element["authoritative"] == "shujuju"  # the platform keeps a partitioned library's schema
            assert element["library"] == library, (spec.name, code)
            assert (kept and holder) or spec.department in providers, (spec.name, code)


def test_sources_yaml_declares_what_the_generator_writes(demo: Demo) -> None:
    out, manifest = demo

    for spec in load_sources(sources.SOURCES_FILE).sources:
        output = manifest.sources[spec.name]
        connector = spec.connector
        if connector.kind == "file":
            assert connector.path == output.path
        elif connector.kind == "sql":
            assert connector.table == output.table and connector.incremental_column == "updated_at"
        columns = set(_columns(out, output, spec))
        assert set(spec.columns) <= columns, (spec.name, set(spec.columns) - columns)


def _columns(out: Path, output: SourceOutput, spec: SourceSpec) -> list[str]:
    assert output.path is not None
    path = out / output.path
    if output.format == "sql":
        with sqlite3.connect(path) as conn:
            return [row[1] for row in conn.execute(f"PRAGMA table_info({output.table})")]
    if output.format == "csv":
        encoding = "gb18030" if spec.name == "renshe_canbao" else "utf-8"
        return path.read_bytes().decode(encoding).splitlines()[0].split(",")
    if output.format == "xlsx":
        sheet = openpyxl.load_workbook(path, read_only=True)[spec.connector.sheet]  # type: ignore[union-attr]
        return [str(c) for c in next(sheet.iter_rows(values_only=True))]
    if output.format == "parquet":
        return pq.read_schema(path).names
    text = path.read_text(encoding="utf-8")
    record = json.loads(text.splitlines()[0]) if output.format == "jsonl" else json.loads(text)[0]
    return list(record)


def test_connection_env_points_at_the_default_files(tmp_path: Path) -> None:
    env = sources.demo_connection_env(tmp_path, "http://127.0.0.1:8765/")

    assert env == {
        "GOVDX_SOURCES_DIR": str(tmp_path.resolve()),
        "GOVDX_CONN_GONGAN_HUJI": f"sqlite:///{tmp_path.resolve() / 'gongan_huji.sqlite'}",
        "GOVDX_CONN_SHICHANG_QIYE": f"sqlite:///{tmp_path.resolve() / 'shichang_qiye.sqlite'}",
        "GOVDX_CONN_WEIJIAN_API": "http://127.0.0.1:8765",
    }


def test_generate_writes_the_sql_sources_to_the_given_server(server_url: str, tmp_path: Path) -> None:
    manifest = sources.generate(
        tmp_path,
        people=150,
        orgs=60,
        seed=2,
        household_register_url=server_url,
        enterprise_register_url=server_url,
    )

    assert manifest.sources["gongan_huji"] == SourceOutput("sql", 152, table="huji")
    assert len(table_text(server_url, "qiye_dengji")) == manifest.sources["shichang_qiye"].rows
    assert not (tmp_path / "gongan_huji.sqlite").exists()


def test_demo_dates_are_before_the_fixed_today(demo: Demo) -> None:
    out, manifest = demo

    births = [r["csrq"] for r in read(out, manifest, "gongan_huji")]

    assert date(2026, 11, 20) == TODAY and max(births) < TODAY.isoformat()


def test_dataset_sources_map_items_of_a_dataset_resource_of_their_own_department() -> None:
    catalog = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))
    departments = {d["slug"]: d for d in catalog["departments"]}
    datasets = load_sources(sources.SOURCES_FILE).sources
    resources = {r["name"]: r for r in catalog["resources"]}

    for spec in (s for s in datasets if s.resource is not None):
        (resource,) = [
            r
            for r in resources.values()
            if r.get("delivery", {}).get("kind") == "dataset"
            and r["provider"] == spec.department
            and _code(r) == spec.resource
        ]
        assert spec.department in departments
        assert set(spec.columns.values()) <= {i["name"] for i in resource["items"]}, spec.name


def _code(resource: dict) -> str:
    category = resource["category"]
    digit = {"basic": "1", "theme": "2", "department": "3"}[category["class"]]
    return f"{digit}{category['item']}{category['catalog']}{category.get('detail', '')}/000001"
