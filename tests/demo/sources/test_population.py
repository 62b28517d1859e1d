"""The population sources (公安 户籍, 人社 参保, 民政 婚姻, 卫健): faulty exactly where the manifest says."""

import sqlite3
from pathlib import Path

import pytest
from stdnum.cn import ric

from connectors.config import load_sources
from demo import sources
from demo.sources.city import COUNTIES, TODAY
from demo.sources.manifest import fault_count
from demo.sources.people import HOMOPHONES
from demo.sources.population import INSURANCE_ACTIVE
from tests.demo.generated import Demo, clean_people, dump, faulty_rows, injected, is_county, read, table_text

GB3304 = {f"{i:02d}" for i in range(1, 57)}


def _sex_of(number: str) -> str:
    return "1" if int(number[16]) % 2 else "2"


def test_household_register_checksum_faults_have_a_wrong_check_character_only(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "gongan_huji")

    for fault in injected(manifest, "gongan_huji", "id_checksum"):
        number = rows[fault.row - 1]["sfzh"]
        assert number == fault.key
        assert not ric.is_valid(number)
        assert ric.is_valid(number[:17] + ric.calc_check_digit(number))


def test_household_register_birth_date_faults_contradict_the_id_number(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "gongan_huji")

    for fault in injected(manifest, "gongan_huji", "id_birth_date_mismatch"):
        row = rows[fault.row - 1]
        assert ric.is_valid(row["sfzh"])
        assert row["csrq"] != ric.get_birth_date(row["sfzh"]).isoformat()


def test_household_register_sex_faults_contradict_the_id_number(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "gongan_huji")

    for fault in injected(manifest, "gongan_huji", "id_sex_mismatch"):
        row = rows[fault.row - 1]
        assert ric.is_valid(row["sfzh"])
        assert row["xb"] in {"1", "2"} and row["xb"] != _sex_of(row["sfzh"])


def test_household_register_region_faults_use_no_gb2260_code(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "gongan_huji")

    for fault in injected(manifest, "gongan_huji", "region_unknown_code"):
        code = rows[fault.row - 1]["hjdqh"]
        assert len(code) == 6 and code.isdigit() and not is_county(code)


def test_household_register_ethnicity_faults_use_no_gb3304_code(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "gongan_huji")

    for fault in injected(manifest, "gongan_huji", "ethnicity_unknown_code"):
        assert rows[fault.row - 1]["mz"] not in GB3304 | {"97", "98"}


def test_household_register_duplicate_repeats_an_earlier_clean_record_with_another_address(
    demo: Demo,
) -> None:
    out, manifest = demo
    rows = read(out, manifest, "gongan_huji")
    faulty = faulty_rows(manifest, "gongan_huji")

    for fault in injected(manifest, "gongan_huji", "duplicate_key"):
        later = rows[fault.row - 1]
        first = next(i for i, r in enumerate(rows, start=1) if r["sfzh"] == later["sfzh"])
        assert first < fault.row and first not in faulty
        assert (rows[first - 1]["xm"], rows[first - 1]["zz"]) != (later["xm"], later["zz"])
        assert rows[first - 1]["xm"] == later["xm"]


def test_household_register_clean_records_pass_every_identity_check(demo: Demo) -> None:
    out, manifest = demo
    faulty = faulty_rows(manifest, "gongan_huji")
    clean = [r for i, r in enumerate(read(out, manifest, "gongan_huji"), start=1) if i not in faulty]

    assert all(ric.is_valid(r["sfzh"]) for r in clean)
    assert all(r["xb"] == _sex_of(r["sfzh"]) for r in clean)
    assert all(r["csrq"] == ric.get_birth_date(r["sfzh"]).isoformat() for r in clean)
    assert all(r["hjdqh"] in COUNTIES for r in clean)
    assert all(r["mz"] in GB3304 for r in clean)
    assert len({r["sfzh"] for r in clean}) == len(clean)


def test_household_register_has_no_unique_constraint_on_the_id_number(demo: Demo) -> None:
    out, _ = demo

    with sqlite3.connect(out / "gongan_huji.sqlite") as conn:
        unique = conn.execute(
            "SELECT info.name FROM pragma_index_list('huji') AS list, pragma_index_info(list.name) AS info "
            'WHERE list."unique"'
        ).fetchall()
        indexed = conn.execute("SELECT name FROM pragma_index_list('huji')").fetchall()

    assert unique == [] and ("ix_huji_sfzh",) in indexed


def test_household_register_updated_at_is_stored_as_its_own_text(demo: Demo) -> None:
    out, manifest = demo

    stamps = [r["updated_at"] for r in read(out, manifest, "gongan_huji")]

    assert all(len(s) == 19 and s < "2026-11-20 00:00:00" for s in stamps)


def test_write_police_household_register_without_faults_writes_only_clean_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'huji.sqlite'}"

    written = sources.write_police_household_register(url, people=200, seed=3, faults=False)

    rows = dump(tmp_path / "huji.sqlite")
    assert written == len(rows) == 200
    assert all(ric.is_valid(r[1]) and r[3] == _sex_of(r[1]) for r in rows)


def test_social_insurance_drop_is_gb18030_with_windows_line_ends(demo: Demo) -> None:
    out, _ = demo
    data = (out / "renshe/canbao_20261120.csv").read_bytes()

    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert data.decode("gb18030").startswith("grbh,sfzh,xm,xzlx,cbzt,cbrq,jbjg\r\n")


def test_social_insurance_checksum_faults_have_a_wrong_check_character(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "renshe_canbao")

    for fault in injected(manifest, "renshe_canbao", "id_checksum"):
        number = rows[fault.row - 1]["sfzh"]
        assert number == fault.key and not ric.is_valid(number)
        assert number[:17] + ric.calc_check_digit(number) in clean_people(demo)


def test_social_insurance_name_faults_swap_one_character_for_a_homophone(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "renshe_canbao")
    people = clean_people(demo)

    for fault in injected(manifest, "renshe_canbao", "name_mismatch"):
        row = rows[fault.row - 1]
        theirs, ours = people[row["sfzh"]], row["xm"]
        changed = [(a, b) for a, b in zip(theirs, ours, strict=True) if a != b]
        assert row["sfzh"] == fault.key
        assert len(changed) == 1 and HOMOPHONES[changed[0][0]] == changed[0][1]


def test_social_insurance_deceased_insured_faults_are_dead_in_vital_records_and_paying(demo: Demo) -> None:
    out, manifest = demo
    rows = read(out, manifest, "renshe_canbao")
    vital = {r["sfzh"]: r for r in read(out, manifest, "weijian_birth_death")}
    people = clean_people(demo)

    for fault in injected(manifest, "renshe_canbao", "deceased_insured"):
        row = rows[fault.row - 1]
        assert row["cbzt"] == INSURANCE_ACTIVE
        assert vital[fault.key]["swbz"] == "1" and vital[fault.key]["swrq"]
        assert people[fault.key] == row["xm"]


def test_social_insurance_lists_no_other_deceased_person_as_paying(demo: Demo) -> None:
    out, manifest = demo
    faulty = faulty_rows(manifest, "renshe_canbao")
    dead = {r["sfzh"] for r in read(out, manifest, "weijian_birth_death") if r["swbz"] == "1"}

    paying_dead = [
        i
        for i, r in enumerate(read(out, manifest, "renshe_canbao"), start=1)
        if r["sfzh"] in dead and r["cbzt"] == INSURANCE_ACTIVE and i not in faulty
    ]

    assert paying_dead == []


def test_social_insurance_unknown_subjects_are_valid_id_numbers_absent_from_the_register(demo: Demo) -> None:
    out, manifest = demo
    everyone = {r["sfzh"] for r in read(out, manifest, "gongan_huji")}

    for fault in injected(manifest, "renshe_canbao", "unknown_subject"):
        assert ric.is_valid(fault.key) and fault.key not in everyone


@pytest.mark.parametrize("name", ["renshe_canbao", "minzheng_hunyin", "weijian_birth_death"])
def test_verification_sources_name_clean_registered_people_as_the_register_does(
    demo: Demo, name: str
) -> None:
    out, manifest = demo
    people = clean_people(demo)
    faulty = faulty_rows(manifest, name)

    rows = [r for i, r in enumerate(read(out, manifest, name), start=1) if i not in faulty]

    assert rows and all(people.get(r["sfzh"]) == r["xm"] for r in rows)


def test_marriage_codes_are_gb2261_2_and_dates_are_excel_dates(demo: Demo) -> None:
    out, manifest = demo

    rows = read(out, manifest, "minzheng_hunyin")

    assert {r["hyzk"] for r in rows} <= {"10", "20", "21", "22", "23", "30", "40", "90"}
    assert all(r["djrq"].date() < TODAY for r in rows)


def test_vital_records_birth_certificates_cover_births_since_1996(demo: Demo) -> None:
    out, manifest = demo

    rows = read(out, manifest, "weijian_birth_death")

    assert all((r["cszmbh"] is not None) == (r["csrq"] >= "1996-01-01") for r in rows)
    assert all(len(r["cszmbh"]) == 10 and r["cszmbh"][1:].isdigit() for r in rows if r["cszmbh"])
    assert all((r["swrq"] is not None) == (r["swbz"] == "1") for r in rows)


def test_missing_column_variant_is_the_social_insurance_drop_without_names(demo: Demo) -> None:
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


def test_household_register_on_a_server_holds_the_same_records_as_on_sqlite(
    server_url: str, tmp_path: Path
) -> None:
    local = f"sqlite:///{tmp_path / 'huji.sqlite'}"
    sources.write_police_household_register(local, people=300, seed=4)

    written = sources.write_police_household_register(server_url, people=300, seed=4)

    assert written == 300 + fault_count(300)
    assert table_text(server_url, "huji") == table_text(local, "huji")


def test_household_register_replaces_an_existing_table(server_url: str) -> None:
    sources.write_police_household_register(server_url, people=150, seed=4)
    written_alone = table_text(server_url, "huji")
    sources.write_police_household_register(server_url, people=300, seed=4)

    sources.write_police_household_register(server_url, people=150, seed=4)

    assert (len(written_alone), table_text(server_url, "huji")) == (152, written_alone)
