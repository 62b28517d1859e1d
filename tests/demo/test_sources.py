"""The demo department sources: reproducible, well-formed, and faulty exactly where the manifest says.

The MariaDB and PostgreSQL legs write 公安's table into a database of their own on the servers
named by GOVDX_TEST_MARIADB_URL and GOVDX_TEST_POSTGRES_URL, dropped afterwards. Unset, a leg
is skipped, unless GOVDX_REQUIRE_SERVICES=1, which fails it instead.
"""

import csv
import io
import json
import os
import sqlite3
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from stdnum import numdb
from stdnum.cn import ric, uscc
from typer.testing import CliRunner

from api.cli import app
from connectors.config import SourceSpec, load_sources
from demo import health_api, sources

PEOPLE, ORGS, SEED = 400, 120, 11
CATALOG_FILE = sources.SOURCES_FILE.with_name("catalog.yaml")
GB3304 = {f"{i:02d}" for i in range(1, 57)}
MARIADB_ENV = "GOVDX_TEST_MARIADB_URL"
POSTGRES_ENV = "GOVDX_TEST_POSTGRES_URL"
REQUIRE_ENV = "GOVDX_REQUIRE_SERVICES"
runner = CliRunner()

Demo = tuple[Path, sources.Manifest]
Served = tuple[str, list[dict[str, Any]]]  # the API's records URL, and the records it serves


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One generated set of sources, shared by the tests that only read it."""
    out = tmp_path_factory.mktemp("demo")
    return out, sources.generate(out, people=PEOPLE, orgs=ORGS, seed=SEED)


def _read(out: Path, manifest: sources.Manifest, name: str) -> list[dict[str, Any]]:
    """A source's records in the order a connector numbers them (row 1 first)."""
    output = manifest.sources[name]
    assert output.path is not None
    path = out / output.path
    match output.format:
        case "sql":
            with sqlite3.connect(path) as conn:
                conn.row_factory = sqlite3.Row
                return [dict(r) for r in conn.execute(f"SELECT * FROM {output.table} ORDER BY id")]
        case "csv":
            encoding = "gb18030" if name == "renshe_canbao" else "utf-8"
            return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding), newline="")))
        case "xlsx":
            rows = openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True)
            header = next(rows)
            return [dict(zip(header, r, strict=True)) for r in rows]
        case "json" | "http":
            return json.loads(path.read_text(encoding="utf-8"))
        case "jsonl":
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        case "parquet":
            return pq.read_table(path).to_pylist()
    raise AssertionError(output.format)


def _faults(manifest: sources.Manifest, source: str, kind: str) -> list[sources.Fault]:
    found = manifest.faults_of(source, kind)
    assert len(found) >= 2
    return found


def _faulty_rows(manifest: sources.Manifest, source: str) -> set[int]:
    return {f.row for f in manifest.faults_of(source)}


def _clean_people(demo: Demo) -> dict[str, str]:
    """ID number -> name of every 公安 record that loads cleanly."""
    out, manifest = demo
    faulty = _faulty_rows(manifest, "gongan_huji")
    rows = _read(out, manifest, "gongan_huji")
    repeated = {r["sfzh"] for i, r in enumerate(rows, start=1) if i in faulty}
    return {r["sfzh"]: r["xm"] for r in rows if r["sfzh"] not in repeated}


def _clean_firms(demo: Demo) -> dict[str, str]:
    out, manifest = demo
    faulty = _faulty_rows(manifest, "shichang_qiye")
    rows = _read(out, manifest, "shichang_qiye")
    repeated = {r["tyshxydm"] for i, r in enumerate(rows, start=1) if i in faulty}
    return {r["tyshxydm"]: r["qymc"] for r in rows if r["tyshxydm"] not in repeated}


def _sex_of(number: str) -> str:
    return "1" if int(number[16]) % 2 else "2"


def _is_county(code: str) -> bool:
    return any("county" in props for _, props in numdb.get("cn/loc").info(code))


# ----------------------------------------------------------------------------- reproducibility


def test_same_seed_writes_identical_files(tmp_path: Path) -> None:
    first = sources.generate(tmp_path / "a", people=150, orgs=60, seed=5)
    second = sources.generate(tmp_path / "b", people=150, orgs=60, seed=5)

    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert first == second
    for relative in files:
        if relative.suffix == ".sqlite":
            assert _dump(tmp_path / "a" / relative) == _dump(tmp_path / "b" / relative), relative
        else:
            same = (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes()
            assert same, relative


def _dump(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        table = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()


def test_another_seed_writes_other_people(tmp_path: Path) -> None:
    sources.generate(tmp_path / "a", people=150, orgs=60, seed=5)
    sources.generate(tmp_path / "b", people=150, orgs=60, seed=6)

    assert _dump(tmp_path / "a" / "gongan_huji.sqlite") != _dump(tmp_path / "b" / "gongan_huji.sqlite")


def test_manifest_file_holds_the_returned_manifest(demo: Demo) -> None:
    out, manifest = demo

    assert sources.Manifest.load(out / "manifest.json") == manifest


# ----------------------------------------------------------------------------- the manifest


def test_every_fault_is_injected_at_least_twice_except_the_one_truncated_record(demo: Demo) -> None:
    _, manifest = demo

    counts = Counter(f.fault for f in manifest.faults)

    assert set(counts) == set(sources.EXPECTED)
    assert counts.pop("truncated_file") == 1
    assert min(counts.values()) >= 2


def test_each_fault_carries_its_expected_outcome(demo: Demo) -> None:
    _, manifest = demo

    assert all(f.expected == sources.EXPECTED[f.fault] for f in manifest.faults)


def test_no_record_carries_two_faults(demo: Demo) -> None:
    _, manifest = demo

    places = [(f.source, f.row) for f in manifest.faults]

    assert len(places) == len(set(places))


def test_manifest_counts_the_records_of_each_source(demo: Demo) -> None:
    out, manifest = demo

    counted = {name: len(_read(out, manifest, name)) for name in manifest.sources}

    assert counted == {name: output.rows for name, output in manifest.sources.items()}


def test_fault_counts_grow_slowly_with_size() -> None:
    assert [sources.fault_count(n) for n in (100, 5000, 1_000_000)] == [2, 6, 83]


# ----------------------------------------------------------------------------- 公安 户籍


def test_gongan_checksum_faults_have_a_wrong_check_character_only(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "gongan_huji")

    for fault in _faults(manifest, "gongan_huji", "id_checksum"):
        number = rows[fault.row - 1]["sfzh"]
        assert number == fault.key
        assert not ric.is_valid(number)
        assert ric.is_valid(number[:17] + ric.calc_check_digit(number))


def test_gongan_birth_date_faults_contradict_the_id_number(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "gongan_huji")

    for fault in _faults(manifest, "gongan_huji", "id_birth_date_mismatch"):
        row = rows[fault.row - 1]
        assert ric.is_valid(row["sfzh"])
        assert row["csrq"] != ric.get_birth_date(row["sfzh"]).isoformat()


def test_gongan_sex_faults_contradict_the_id_number(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "gongan_huji")

    for fault in _faults(manifest, "gongan_huji", "id_sex_mismatch"):
        row = rows[fault.row - 1]
        assert ric.is_valid(row["sfzh"])
        assert row["xb"] in {"1", "2"} and row["xb"] != _sex_of(row["sfzh"])


def test_gongan_region_faults_use_no_gb2260_code(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "gongan_huji")

    for fault in _faults(manifest, "gongan_huji", "region_unknown_code"):
        code = rows[fault.row - 1]["hjdqh"]
        assert len(code) == 6 and code.isdigit() and not _is_county(code)


def test_gongan_ethnicity_faults_use_no_gb3304_code(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "gongan_huji")

    for fault in _faults(manifest, "gongan_huji", "ethnicity_unknown_code"):
        assert rows[fault.row - 1]["mz"] not in GB3304 | {"97", "98"}


def test_gongan_duplicate_repeats_an_earlier_clean_record_with_another_address(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "gongan_huji")
    faulty = _faulty_rows(manifest, "gongan_huji")

    for fault in _faults(manifest, "gongan_huji", "duplicate_key"):
        later = rows[fault.row - 1]
        first = next(i for i, r in enumerate(rows, start=1) if r["sfzh"] == later["sfzh"])
        assert first < fault.row and first not in faulty
        assert (rows[first - 1]["xm"], rows[first - 1]["zz"]) != (later["xm"], later["zz"])
        assert rows[first - 1]["xm"] == later["xm"]


def test_gongan_clean_records_pass_every_identity_check(demo: Demo) -> None:
    out, manifest = demo
    faulty = _faulty_rows(manifest, "gongan_huji")
    clean = [r for i, r in enumerate(_read(out, manifest, "gongan_huji"), start=1) if i not in faulty]

    assert all(ric.is_valid(r["sfzh"]) for r in clean)
    assert all(r["xb"] == _sex_of(r["sfzh"]) for r in clean)
    assert all(r["csrq"] == ric.get_birth_date(r["sfzh"]).isoformat() for r in clean)
    assert all(r["hjdqh"] in sources.COUNTIES for r in clean)
    assert all(r["mz"] in GB3304 for r in clean)
    assert len({r["sfzh"] for r in clean}) == len(clean)


def test_gongan_has_no_unique_constraint_on_the_id_number(demo: Demo) -> None:
    out, _ = demo

    with sqlite3.connect(out / "gongan_huji.sqlite") as conn:
        unique = conn.execute(
            "SELECT info.name FROM pragma_index_list('huji') AS list, pragma_index_info(list.name) AS info "
            'WHERE list."unique"'
        ).fetchall()
        indexed = conn.execute("SELECT name FROM pragma_index_list('huji')").fetchall()

    assert unique == [] and ("ix_huji_sfzh",) in indexed


def test_gongan_updated_at_is_stored_as_its_own_text(demo: Demo) -> None:
    out, manifest = demo

    stamps = [r["updated_at"] for r in _read(out, manifest, "gongan_huji")]

    assert all(len(s) == 19 and s < "2026-11-20 00:00:00" for s in stamps)


def test_write_gongan_huji_without_faults_writes_only_clean_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'huji.sqlite'}"

    written = sources.write_gongan_huji(url, people=200, seed=3, faults=False)

    rows = _dump(tmp_path / "huji.sqlite")
    assert written == len(rows) == 200
    assert all(ric.is_valid(r[1]) and r[3] == _sex_of(r[1]) for r in rows)


# ----------------------------------------------------------------------------- 人社, 民政, 卫健


def test_renshe_drop_is_gb18030_with_windows_line_ends(demo: Demo) -> None:
    out, _ = demo
    data = (out / "renshe/canbao_20261120.csv").read_bytes()

    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("gb18030").startswith("grbh,sfzh,xm,xzlx,cbzt,cbrq,jbjg\r\n")


def test_renshe_checksum_faults_have_a_wrong_check_character(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "renshe_canbao")

    for fault in _faults(manifest, "renshe_canbao", "id_checksum"):
        number = rows[fault.row - 1]["sfzh"]
        assert number == fault.key and not ric.is_valid(number)
        assert number[:17] + ric.calc_check_digit(number) in _clean_people(demo)


def test_renshe_name_faults_swap_one_character_for_a_homophone(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "renshe_canbao")
    people = _clean_people(demo)

    for fault in _faults(manifest, "renshe_canbao", "name_mismatch"):
        row = rows[fault.row - 1]
        theirs, ours = people[row["sfzh"]], row["xm"]
        changed = [(a, b) for a, b in zip(theirs, ours, strict=True) if a != b]
        assert row["sfzh"] == fault.key
        assert len(changed) == 1 and sources.HOMOPHONES[changed[0][0]] == changed[0][1]


def test_renshe_deceased_insured_faults_are_dead_in_weijian_and_paying_in_renshe(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "renshe_canbao")
    vital = {r["sfzh"]: r for r in _read(out, manifest, "weijian_birth_death")}
    people = _clean_people(demo)

    for fault in _faults(manifest, "renshe_canbao", "deceased_insured"):
        row = rows[fault.row - 1]
        assert row["cbzt"] == sources.INSURANCE_ACTIVE
        assert vital[fault.key]["swbz"] == "1" and vital[fault.key]["swrq"]
        assert people[fault.key] == row["xm"]


def test_renshe_lists_no_other_deceased_person_as_paying(demo: Demo) -> None:
    out, manifest = demo
    faulty = _faulty_rows(manifest, "renshe_canbao")
    dead = {r["sfzh"] for r in _read(out, manifest, "weijian_birth_death") if r["swbz"] == "1"}

    paying_dead = [
        i
        for i, r in enumerate(_read(out, manifest, "renshe_canbao"), start=1)
        if r["sfzh"] in dead and r["cbzt"] == sources.INSURANCE_ACTIVE and i not in faulty
    ]

    assert paying_dead == []


def test_renshe_unknown_subjects_are_valid_id_numbers_absent_from_gongan(demo: Demo) -> None:
    out, manifest = demo
    everyone = {r["sfzh"] for r in _read(out, manifest, "gongan_huji")}

    for fault in _faults(manifest, "renshe_canbao", "unknown_subject"):
        assert ric.is_valid(fault.key) and fault.key not in everyone


@pytest.mark.parametrize("name", ["renshe_canbao", "minzheng_hunyin", "weijian_birth_death"])
def test_verification_sources_name_clean_gongan_people_as_gongan_does(demo: Demo, name: str) -> None:
    out, manifest = demo
    people = _clean_people(demo)
    faulty = _faulty_rows(manifest, name)

    rows = [r for i, r in enumerate(_read(out, manifest, name), start=1) if i not in faulty]

    assert rows and all(people.get(r["sfzh"]) == r["xm"] for r in rows)


def test_hunyin_codes_are_gb2261_2_and_dates_are_excel_dates(demo: Demo) -> None:
    out, manifest = demo

    rows = _read(out, manifest, "minzheng_hunyin")

    assert {r["hyzk"] for r in rows} <= {"10", "20", "21", "22", "23", "30", "40", "90"}
    assert all(r["djrq"].date() < sources.TODAY for r in rows)


def test_weijian_birth_certificates_cover_births_since_1996(demo: Demo) -> None:
    out, manifest = demo

    rows = _read(out, manifest, "weijian_birth_death")

    assert all((r["cszmbh"] is not None) == (r["csrq"] >= "1996-01-01") for r in rows)
    assert all(len(r["cszmbh"]) == 10 and r["cszmbh"][1:].isdigit() for r in rows if r["cszmbh"])
    assert all((r["swrq"] is not None) == (r["swbz"] == "1") for r in rows)


# ----------------------------------------------------------------------------- legal persons


def test_shichang_checksum_faults_were_registered_under_gb32100(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "shichang_qiye")

    for fault in _faults(manifest, "shichang_qiye", "uscc_checksum"):
        row = rows[fault.row - 1]
        assert row["tyshxydm"] == fault.key and not uscc.is_valid(fault.key)
        assert uscc.calc_check_digit(fault.key) != fault.key[17]
        assert row["clrq"] >= sources.USCC_EFFECTIVE.isoformat()


def test_shichang_authority_faults_are_valid_codes_of_another_registering_authority(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "shichang_qiye")

    for fault in _faults(manifest, "shichang_qiye", "uscc_authority"):
        code = rows[fault.row - 1]["tyshxydm"]
        assert uscc.is_valid(code) and code[0] != "9"


def test_shichang_pilot_faults_fail_the_checksum_but_have_a_valid_shape(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "shichang_qiye")

    for fault in _faults(manifest, "shichang_qiye", "uscc_pilot"):
        row = rows[fault.row - 1]
        code = row["tyshxydm"]
        assert not uscc.is_valid(code)
        assert code[0] == "9" and code[1] in "123" and _is_county(code[2:8])
        assert all(c in "0123456789ABCDEFGHJKLMNPQRTUWXY" for c in code)
        assert sources.gb11714_check(code[8:16]) == code[16]
        assert row["clrq"] < sources.USCC_EFFECTIVE.isoformat()


def test_shichang_duplicate_repeats_an_earlier_clean_enterprise(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "shichang_qiye")
    faulty = _faulty_rows(manifest, "shichang_qiye")

    for fault in _faults(manifest, "shichang_qiye", "duplicate_key"):
        first = next(i for i, r in enumerate(rows, start=1) if r["tyshxydm"] == fault.key)
        assert first < fault.row and first not in faulty
        assert uscc.is_valid(fault.key)


@pytest.mark.parametrize(
    ("name", "column", "prefixes"),
    [
        ("shichang_qiye", "tyshxydm", ("91",)),
        ("bianban_shiye", "tyshxydm", ("12",)),
        ("minzheng_shehui", "tyshxydm", ("51", "52", "53")),
    ],
)
def test_clean_credit_codes_are_valid_with_a_valid_organisation_code(
    demo: Demo, name: str, column: str, prefixes: tuple[str, ...]
) -> None:
    out, manifest = demo
    faulty = _faulty_rows(manifest, name)

    codes = [r[column] for i, r in enumerate(_read(out, manifest, name), start=1) if i not in faulty]

    assert all(uscc.is_valid(c) and c.startswith(prefixes) for c in codes)
    assert all(sources.gb11714_check(c[8:16]) == c[16] for c in codes)


def test_bianban_required_faults_have_an_empty_name(demo: Demo) -> None:
    out, manifest = demo
    rows = _read(out, manifest, "bianban_shiye")

    for fault in _faults(manifest, "bianban_shiye", "required_missing"):
        assert rows[fault.row - 1]["tyshxydm"] == fault.key and rows[fault.row - 1]["dwmc"] == ""


def test_shehui_file_ends_in_the_middle_of_its_last_record(demo: Demo) -> None:
    out, manifest = demo
    text = (out / "minzheng/shehui_zuzhi.csv").read_text(encoding="utf-8")
    (fault,) = manifest.faults_of("minzheng_shehui")

    last = text.split("\n")[-1]

    assert not text.endswith("\n")
    assert fault.row == manifest.sources["minzheng_shehui"].rows == len(text.split("\n")) - 1
    assert last.split(",")[0] == fault.key and len(last.split(",")) < len(text.split("\n")[0].split(","))


# ----------------------------------------------------------------------------- credit and certificates


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
    known = _clean_people(demo) | _clean_firms(demo)

    codes = [r[column] for r in _read(out, manifest, name)]

    assert codes and all(c in known for c in codes)


@pytest.mark.parametrize(
    "name", ["fayuan_shixin", "xinyong_xuke", "xinyong_chufa", *sources.CERTIFICATE_TYPES]
)
def test_credit_and_certificate_keys_are_unique(demo: Demo, name: str) -> None:
    out, manifest = demo
    spec = load_sources(sources.SOURCES_FILE).get(name)
    by_element = {element: column for column, element in spec.columns.items()}

    keys = [
        ":".join(spec.constants.get(e) or str(r[by_element[e]]) for e in spec.key)
        for r in _read(out, manifest, name)
    ]

    assert len(keys) == len(set(keys))


def test_certificate_type_codes_are_the_issuers_credit_codes_with_a_sequence() -> None:
    catalog = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))
    departments = {d["credit_code"] for d in catalog["departments"]}
    specs = load_sources(sources.SOURCES_FILE)

    for name, (type_code, _) in sources.CERTIFICATE_TYPES.items():
        assert specs.get(name).constants == {"certificate.type_code": type_code}
        assert type_code[:18] in departments and type_code[18:] == "001"


def test_budongchan_is_parquet_with_dates_as_dates(demo: Demo) -> None:
    out, _ = demo

    schema = pq.read_schema(out / "zhengzhao/budongchan.parquet")

    assert str(schema.field("bfrq").type) == "date32[day]"
    assert str(schema.field("zzbh").type) == "string"


# ----------------------------------------------------------------------------- sources.yaml


def test_sources_yaml_is_valid() -> None:
    names = [s.name for s in load_sources(sources.SOURCES_FILE).sources]

    assert len(names) == 14


def test_sources_yaml_uses_elements_of_each_sources_library_that_its_department_provides() -> None:
    catalog = yaml.safe_load(CATALOG_FILE.read_text(encoding="utf-8"))
    elements = {e["code"]: e for e in catalog["elements"]}

    for spec in load_sources(sources.SOURCES_FILE).sources:
        for code in spec.elements:
            element = elements[code]
            providers = {element["authoritative"], *element.get("verification", [])}
            assert element["library"] == spec.library.value, (spec.name, code)
            assert spec.department in providers, (spec.name, code)


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


def _columns(out: Path, output: sources.SourceOutput, spec: SourceSpec) -> list[str]:
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


# ----------------------------------------------------------------------------- broken variants


def test_missing_column_variant_is_the_canbao_drop_without_names(demo: Demo) -> None:
    out, manifest = demo
    canbao = (out / "renshe/canbao_20261120.csv").read_bytes().decode("gb18030")

    broken = (out / manifest.broken["renshe_missing_column"]["path"]).read_bytes().decode("gb18030")

    assert broken.splitlines()[0] == "grbh,sfzh,xzlx,cbzt,cbrq,jbjg"
    assert len(broken.splitlines()) == len(canbao.splitlines())


def test_wrong_encoding_variant_is_gb18030_bytes_that_utf8_cannot_decode(demo: Demo) -> None:
    out, manifest = demo

    data = (out / manifest.broken["renshe_wrong_encoding"]["path"]).read_bytes()

    assert data == (out / "renshe/canbao_20261120.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode(manifest.broken["renshe_wrong_encoding"]["declare_encoding"])


def test_broken_variants_are_not_declared_sources() -> None:
    paths = {getattr(s.connector, "path", "") for s in load_sources(sources.SOURCES_FILE).sources}

    assert not [p for p in paths if p.startswith("broken/")]


# ----------------------------------------------------------------------------- 卫健 API


@pytest.fixture
def weijian(demo: Demo) -> Iterator[Served]:
    out, _ = demo
    records_path = out / sources.WEIJIAN_RECORDS
    server, base = health_api.serve(records_path)
    yield base + health_api.RECORDS_PATH, health_api.load_records(records_path)
    server.shutdown()


def test_weijian_api_serves_the_records_page_by_page(weijian: Served) -> None:
    url, records = weijian
    size = 40

    pages = [
        httpx.get(url, params={"page": p, "size": size}).json() for p in range(1, len(records) // size + 2)
    ]

    assert [r for page in pages for r in page["data"]] == records
    assert {page["total"] for page in pages} == {len(records)}
    assert [page["page"] for page in pages] == list(range(1, len(pages) + 1))


def test_weijian_api_answers_an_empty_page_past_the_end(weijian: Served) -> None:
    url, records = weijian

    body = httpx.get(url, params={"page": len(records) + 1, "size": 1}).json()

    assert body == {"data": [], "page": len(records) + 1, "size": 1, "total": len(records)}


def test_weijian_api_keeps_records_updated_after_since(weijian: Served) -> None:
    url, records = weijian
    since = sorted(r["gxsj"] for r in records)[len(records) // 2]

    body = httpx.get(url, params={"page": 1, "size": 10_000, "since": since}).json()

    assert body["data"] == [r for r in records if r["gxsj"] > since]


@pytest.mark.parametrize("query", [{"page": "0"}, {"size": "-1"}, {"page": "x"}])
def test_weijian_api_refuses_bad_paging(weijian: Served, query: dict[str, str]) -> None:
    url, _ = weijian

    response = httpx.get(url, params=query)

    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_weijian_api_answers_404_for_other_paths(weijian: Served) -> None:
    url, _ = weijian

    assert httpx.get(url.replace("vital-records", "other")).status_code == 404


def test_weijian_api_stops_on_shutdown(demo: Demo) -> None:
    out, _ = demo
    server, base = health_api.serve(out / sources.WEIJIAN_RECORDS)

    server.shutdown()

    with pytest.raises(httpx.ConnectError):
        httpx.get(base + health_api.RECORDS_PATH)


# ----------------------------------------------------------------------------- MariaDB and PostgreSQL


@pytest.fixture(params=["mariadb", "postgresql"])
def server_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the MariaDB or PostgreSQL test server, dropped afterwards."""
    env = MARIADB_ENV if request.param == "mariadb" else POSTGRES_ENV
    url = os.environ.get(env)
    if not url:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {env} is not set")
        pytest.skip(f"{request.param} leg skipped: set {env} to run it")
    quote = "`" if request.param == "mariadb" else '"'
    name = f"govdx_src_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f"CREATE DATABASE {quote}{name}{quote}"))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(f"{request.param} at {env}={url} is unreachable: {exc.orig}", pytrace=False)
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        force = " WITH (FORCE)" if request.param == "postgresql" else ""
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {quote}{name}{quote}{force}"))
        admin.dispose()


def _table_text(url: str, table: str) -> list[tuple[str | None, ...]]:
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")).all()
    finally:
        engine.dispose()
    return [tuple(None if v is None else str(v) for v in row) for row in rows]


def test_gongan_huji_on_a_server_holds_the_same_records_as_on_sqlite(server_url: str, tmp_path: Path) -> None:
    local = f"sqlite:///{tmp_path / 'huji.sqlite'}"
    sources.write_gongan_huji(local, people=300, seed=4)

    written = sources.write_gongan_huji(server_url, people=300, seed=4)

    assert written == 300 + sources.fault_count(300)
    assert _table_text(server_url, "huji") == _table_text(local, "huji")


def test_gongan_huji_replaces_an_existing_table(server_url: str) -> None:
    sources.write_gongan_huji(server_url, people=300, seed=4)

    sources.write_gongan_huji(server_url, people=150, seed=4)

    assert len(_table_text(server_url, "huji")) == 152


def test_generate_writes_the_sql_sources_to_the_given_server(server_url: str, tmp_path: Path) -> None:
    manifest = sources.generate(
        tmp_path, people=150, orgs=60, seed=2, gongan_url=server_url, shichang_url=server_url
    )

    assert manifest.sources["gongan_huji"] == sources.SourceOutput("sql", 152, table="huji")
    assert len(_table_text(server_url, "qiye_dengji")) == manifest.sources["shichang_qiye"].rows
    assert not (tmp_path / "gongan_huji.sqlite").exists()


# ----------------------------------------------------------------------------- command line


def test_demo_sources_command_writes_the_sources_and_lists_their_faults(tmp_path: Path) -> None:
    out = tmp_path / "sources"

    result = runner.invoke(app, ["demo", "sources", "--people", "150", "--orgs", "60", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert sources.Manifest.load(out / "manifest.json").people == 150
    assert "gongan_huji" in result.output and "uscc_pilot ×2" in result.output


def test_demo_sources_command_refuses_too_small_a_city(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "sources", "--people", "10", "--out", str(tmp_path)])

    assert result.exit_code == 2
    assert "人口数至少为 100" in result.output and "invalid_input" in result.output
    assert not (tmp_path / "manifest.json").exists()


def test_demo_sources_command_refuses_an_output_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("", encoding="utf-8")

    result = runner.invoke(app, ["demo", "sources", "--people", "150", "--orgs", "60", "--out", str(target)])

    assert result.exit_code == 2 and "不是目录" in result.output


def test_demo_dates_are_before_the_fixed_today(demo: Demo) -> None:
    out, manifest = demo

    births = [r["csrq"] for r in _read(out, manifest, "gongan_huji")]

    assert date(2026, 11, 20) == sources.TODAY and max(births) < sources.TODAY.isoformat()
