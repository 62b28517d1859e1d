"""Encryption at rest: the libraries hold blind indexes and ciphertexts, and read back in the clear.

The demo sources are loaded once per backend (in a transaction rolled back afterwards) and every
stored text of library_records, quarantined_rows and discrepancies is scanned for the people's
ID numbers, names, addresses and phone numbers as the 公安 户籍 source holds them.
"""

import json
import sqlite3
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import SEALED, CannotDecrypt, KeyringMissing, is_sealed
from catalog_schema.keys.settings import KeySettings
from catalog_schema.library import sealing, subjects
from catalog_schema.library import service as library_service
from catalog_schema.library.models import Discrepancy, IngestBatch, LibraryRecord, QuarantinedRow
from catalog_schema.types import Library
from connectors.config import load_sources
from demo import health_api
from demo import sources as demo_sources
from ingest import flows
from ingest.settings import DEMO_SOURCES_FILE
from tests import sources

_GENERATED = tempfile.TemporaryDirectory(prefix="govdx-demo-encryption-")
DEMO_DIR = Path(_GENERATED.name)
demo_sources.generate(DEMO_DIR, people=400, orgs=120, seed=11)
SCANNED = ("library_records", "quarantined_rows", "discrepancies")


def _people() -> list[tuple[str, str, str | None, str | None]]:
    """(ID number, name, address, phone) of every person in the 公安 户籍 source."""
    with sqlite3.connect(DEMO_DIR / "gongan_huji.sqlite") as conn:
        return conn.execute("SELECT sfzh, xm, zz, lxdh FROM huji").fetchall()


@pytest.fixture(scope="module")
def stored_text(engine: Engine) -> dict[str, str]:
    """Every demo source loaded; each scanned table's rows as stored, one text per table, rolled back."""
    server, base_url = health_api.serve(DEMO_DIR / "weijian" / "vital_records.json")
    texts = {}
    with pytest.MonkeyPatch.context() as patch, engine.connect() as conn:
        for name, value in demo_sources.demo_connection_env(DEMO_DIR, base_url).items():
            patch.setenv(name, value)
        outer = conn.begin()
        factory = sessionmaker(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
        try:
            for spec in load_sources(DEMO_SOURCES_FILE).sources:
                flows.ingest(spec, session_factory=factory, sources_dir=DEMO_DIR, run_id="test")
            queries = {table: f"SELECT * FROM {table}" for table in SCANNED}
            queries["population"] = "SELECT * FROM library_records WHERE library = 'population'"
            for name, query in queries.items():
                rows = conn.execute(text(query)).all()
                texts[name] = "\n".join("\t".join(str(v) for v in row) for row in rows)
        finally:
            server.shutdown()
            outer.rollback()
    return texts


def _found(texts: dict[str, str], values: list[str | None], tables: tuple[str, ...] = SCANNED) -> list[str]:
    return [v for v in values if v and any(v in texts[t] for t in tables)]


def test_demo_load_stores_no_id_number_in_the_clear(stored_text: dict[str, str]) -> None:
    assert len(stored_text["library_records"]) > 0
    assert _found(stored_text, [p[0] for p in _people()]) == []


def test_demo_load_stores_no_address_or_phone_in_the_clear(stored_text: dict[str, str]) -> None:
    people = _people()

    assert _found(stored_text, [p[2] for p in people] + [p[3] for p in people]) == []


def test_demo_load_stores_no_personal_name_in_the_clear(stored_text: dict[str, str]) -> None:
    # 法人库's legal representatives and 信用库's subject names are graded public in the catalog
    # (published under the enterprise-information disclosure rules), so names are looked for
    # where personal data lives: the population library, quarantine and tickets.
    found = _found(
        stored_text, [p[1] for p in _people()], ("population", "quarantined_rows", "discrepancies")
    )

    assert found == []


# -- small hand-made sources ---------------------------------------------------------------------


def _load(session_factory, tmp_path, rows, **kwargs):
    spec = sources.household_register(tmp_path / "huji.csv", rows)
    return flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test", **kwargs)


def _record(db: Session, keyring, id_number: str) -> LibraryRecord:
    stored = subjects.stored_key(keyring, Library.population, [id_number])
    return db.scalars(select(LibraryRecord).where(LibraryRecord.subject_key == stored)).one()


def test_subject_key_is_stored_as_its_blind_index_and_sealed(session_factory, db, tmp_path, keyring):
    _load(session_factory, tmp_path, [sources.person(1)])

    record = db.scalars(select(LibraryRecord)).one()

    assert record.subject_key == keyring.subject_index("population", [sources.id_number(1)])
    assert keyring.decrypt(
        record.subject_cipher, aad=subjects.cipher_aad(record.subject_key)
    ) == sources.id_number(1)


def test_sensitive_values_are_sealed_and_the_others_stay_readable(session_factory, db, tmp_path, keyring):
    _load(session_factory, tmp_path, [sources.person(1)])

    stored = json.loads(_record(db, keyring, sources.id_number(1)).values)

    # 性别 is graded internal; 姓名, 民族, 出生日期 and 户籍地 sensitive (catalog.yaml).
    assert sorted(stored) == ["population.gender", SEALED]
    assert is_sealed(stored[SEALED]) and "测试1" not in stored[SEALED]


def test_sealed_values_open_with_the_stored_key(session_factory, db, tmp_path, keyring):
    _load(session_factory, tmp_path, [sources.person(1)])
    record = _record(db, keyring, sources.id_number(1))

    values = keyring.unseal(json.loads(record.values), aad=record.subject_key)

    assert (values["population.name"], values["population.birth_date"]) == ("测试1", sources.birth_date(1))


def test_subject_is_found_by_its_id_number_as_typed(session_factory, db, tmp_path, keyring):
    _load(session_factory, tmp_path, [sources.person(1)])
    typed = " " + sources.id_number(1)[:6] + " " + sources.id_number(1)[6:].lower() + " "

    record = library_service.subject_on(
        db=db, keyring=keyring, library=Library.population, subject_key=typed, on=None
    )

    assert record.subject_key == sources.id_number(1)
    assert {v.element: v.value for v in record.values}["population.name"] == "测试1"


def test_subject_is_found_through_the_api_by_its_id_number(client, as_user, session_factory, tmp_path):
    _load(session_factory, tmp_path, [sources.person(1)])

    response = client.get(
        "/api/v1/libraries/population/subjects",
        headers=as_user("catalog_admin"),
        params={"key": sources.id_number(1)},
    )

    body = response.json()
    assert (response.status_code, body["subject_key"]) == (200, sources.id_number(1))
    assert {v["element"]: v["value"] for v in body["values"]}["population.birth_date"] == sources.birth_date(
        1
    )


def test_values_copied_to_another_subjects_row_fail_to_open(session_factory, db, tmp_path, keyring):
    _load(session_factory, tmp_path, [sources.person(1), sources.person(2)])
    first, second = _record(db, keyring, sources.id_number(1)), _record(db, keyring, sources.id_number(2))
    second.values = first.values
    db.flush()

    with pytest.raises(CannotDecrypt) as raised:
        library_service.subject_on(
            db=db, keyring=keyring, library=Library.population, subject_key=sources.id_number(2), on=None
        )

    assert raised.value.code == "ciphertext_invalid"


def test_sealed_values_passed_off_as_a_sealed_key_fail_to_open(session_factory, db, tmp_path, keyring):
    _load(session_factory, tmp_path, [sources.person(1)])
    record = _record(db, keyring, sources.id_number(1))
    sealed_values = json.loads(record.values)["~sealed"]  # address, phone… bound to the same stored key

    with pytest.raises(CannotDecrypt) as raised:
        sealing.open_subject(keyring, record.subject_key, sealed_values)

    assert raised.value.code == "ciphertext_invalid"


def test_copied_ciphertext_is_a_500_naming_it_through_the_api(
    client, as_user, session_factory, db, tmp_path, keyring
):
    _load(session_factory, tmp_path, [sources.person(1), sources.person(2)])
    first, second = _record(db, keyring, sources.id_number(1)), _record(db, keyring, sources.id_number(2))
    second.values = first.values
    db.flush()

    response = client.get(
        "/api/v1/libraries/population/subjects",
        headers=as_user("catalog_admin"),
        params={"key": sources.id_number(2)},
    )

    assert (response.status_code, response.json()["code"]) == (500, "ciphertext_invalid")
    assert "测试" not in response.text


def test_a_forced_reload_rewrites_no_stored_text(session_factory, db, tmp_path):
    rows = [sources.person(i) for i in range(5)] + [sources.person(9, mz="77")]
    _load(session_factory, tmp_path, rows)
    before = {table: db.execute(text(f"SELECT * FROM {table} ORDER BY id")).all() for table in SCANNED}

    again = _load(session_factory, tmp_path, rows, force=True)

    after = {table: db.execute(text(f"SELECT * FROM {table} ORDER BY id")).all() for table in SCANNED}
    assert (again.unchanged, again.inserted, again.updated, again.quarantined) == (5, 0, 0, 1)
    assert after == before


def test_quarantined_raw_row_is_sealed_to_its_source(session_factory, db, tmp_path, keyring):
    _load(session_factory, tmp_path, [sources.person(1, mz="77")])

    row = db.scalars(select(QuarantinedRow)).one()

    assert is_sealed(row.raw) and sources.id_number(1) not in row.raw
    assert json.loads(keyring.decrypt(row.raw, aad="quarantine:test_huji"))["mz"] == "77"


def test_quarantine_api_answers_the_key_and_raw_row_in_the_clear(client, as_user, session_factory, tmp_path):
    _load(session_factory, tmp_path, [sources.person(1, mz="77")])

    [row] = client.get("/api/v1/quarantine", headers=as_user("catalog_admin")).json()["items"]

    assert (row["subject_key"], row["raw"]["sfzh"], row["raw"]["xm"]) == (
        sources.id_number(1),
        sources.id_number(1),
        "测试1",
    )


def test_ticket_values_of_a_sensitive_element_are_sealed(session_factory, db, tmp_path):
    _load(session_factory, tmp_path, [sources.person(1)])
    canbao = sources.social_insurance(
        tmp_path / "canbao.csv", [{"sfzh": sources.id_number(1), "xm": "侧试1", "cbzt": "1"}]
    )

    flows.ingest(canbao, session_factory=session_factory, sources_dir=tmp_path, run_id="test")

    ticket = db.scalars(select(Discrepancy)).one()
    assert is_sealed(ticket.authoritative_value) and is_sealed(ticket.other_value)
    assert is_sealed(ticket.subject_cipher) and ticket.subject_key != sources.id_number(1)


def test_tickets_are_found_by_the_plaintext_subject_key(client, as_user, session_factory, tmp_path):
    _load(session_factory, tmp_path, [sources.person(1), sources.person(2)])
    canbao = sources.social_insurance(
        tmp_path / "canbao.csv",
        [
            {"sfzh": sources.id_number(1), "xm": "侧试1", "cbzt": "1"},
            {"sfzh": sources.id_number(2), "xm": "侧试2", "cbzt": "1"},
        ],
    )
    flows.ingest(canbao, session_factory=session_factory, sources_dir=tmp_path, run_id="test")

    body = client.get(
        "/api/v1/discrepancies",
        headers=as_user("catalog_admin"),
        params={"subject_key": sources.id_number(2)},
    ).json()

    assert [(t["subject_key"], t["authoritative_value"], t["other_value"]) for t in body["items"]] == [
        (sources.id_number(2), "测试2", "侧试2")
    ]


def test_load_without_a_keyring_in_production_fails_before_recording_a_batch(
    session_factory, db, tmp_path, monkeypatch
):
    monkeypatch.setenv("GOVDX_KEYS_FILE", str(tmp_path / "absent" / "keys.json"))
    monkeypatch.setenv("GOVDX_PROFILE", "production")
    batches = db.scalar(select(func.count()).select_from(IngestBatch))

    with pytest.raises(KeyringMissing) as raised:
        _load(session_factory, tmp_path, [sources.person(1)])

    assert raised.value.code == "keyring_missing" and "govdx keys init" in raised.value.message
    assert db.scalar(select(func.count()).select_from(IngestBatch)) == batches
    assert not (tmp_path / "absent" / "keys.json").exists()


def test_missing_keyring_in_production_is_a_clear_error(tmp_path):
    settings = KeySettings(file=tmp_path / "keys.json", profile="production")

    with pytest.raises(KeyringMissing) as raised:
        keys_service.get_keyring(settings)

    assert (raised.value.code, raised.value.status) == ("keyring_missing", 500)
    assert str(tmp_path / "keys.json") in raised.value.message_en


def test_a_missing_keyring_is_never_created_on_the_fly_even_in_the_demo(tmp_path):
    settings = KeySettings(file=tmp_path / "keys.json", profile="demo")

    with pytest.raises(KeyringMissing):
        keys_service.get_keyring(settings)

    assert not (tmp_path / "keys.json").exists()
