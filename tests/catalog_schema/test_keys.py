"""``govdx keys``: creating the keyring, counting ciphertexts per key, rotating and re-encrypting."""

import json
import stat

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.cli import app
from catalog_schema import migrate
from catalog_schema.database import get_engine, get_sessionmaker, make_engine
from catalog_schema.keys import rotation
from catalog_schema.keys import service as keys_service
from catalog_schema.library import service as library_service
from catalog_schema.library.models import Discrepancy, LibraryRecord, QuarantinedRow
from catalog_schema.library.schemas import DiscrepancyRead, QuarantinedRowRead
from catalog_schema.types import Library
from demo import catalog as demo_catalog
from ingest import flows
from tests import sources

runner = CliRunner()
PEOPLE = 12
# 公安's people and 人社's three; each record seals its values and its key.
RECORDS = PEOPLE + 3
# Records; quarantined rows (raw, and the key when there is one); tickets (the key, and both names
# of a mismatch or the unknown ID number).
CIPHERTEXTS = RECORDS * 2 + (2 + 1) + (2 * 3 + 2)


class Interrupted(Exception):
    """Stands in for a process stopped between two batches."""


@pytest.fixture
def keyring_path(tmp_path, monkeypatch):
    """A keyring of this test's own (rotation rewrites it), used by the loads and the reads too."""
    path = tmp_path / "keys" / "keys.json"
    keys_service.create(path)
    monkeypatch.setenv("GOVDX_KEYS_FILE", str(path))
    return path


def _load(session_factory, folder):
    """公安 loads PEOPLE people, a bad row and one without a key; 人社 disagrees on two names and
    lists someone 公安 does not know (three tickets)."""
    bad = [sources.person(99, mz="77"), sources.person(98, sfzh="")]
    huji = sources.household_register(folder / "huji.csv", [sources.person(i) for i in range(PEOPLE)] + bad)
    canbao = sources.social_insurance(
        folder / "canbao.csv",
        [{"sfzh": sources.id_number(i), "xm": f"侧试{i}", "cbzt": "1"} for i in (1, 2)]
        + [{"sfzh": sources.id_number(50), "xm": "无此人", "cbzt": "1"}],
    )
    run = {"session_factory": session_factory, "sources_dir": folder, "run_id": "test"}
    return flows.ingest(huji, **run), flows.ingest(canbao, **run), huji


@pytest.fixture
def loaded(keyring_path, session_factory, tmp_path):
    return _load(session_factory, tmp_path)


def _everything(db: Session) -> dict[str, object]:
    """What the readers see: every subject, quarantined row and ticket, in the clear."""
    keyring = keys_service.get_keyring()
    db.expire_all()
    return {
        "subjects": [
            library_service.subject_on(
                db=db, keyring=keyring, library=Library.population, subject_key=sources.id_number(i), on=None
            ).model_dump()
            for i in range(PEOPLE)
        ],
        "quarantine": [
            QuarantinedRowRead.of(r, keyring=keyring).model_dump()
            for r in db.scalars(select(QuarantinedRow).order_by(QuarantinedRow.id))
        ],
        "tickets": [
            DiscrepancyRead.of(t, keyring=keyring).model_dump()
            for t in db.scalars(select(Discrepancy).order_by(Discrepancy.id))
        ],
    }


def _counts(db: Session) -> dict[str, int]:
    return rotation.count_ciphertexts(db=db, key_ids=sorted(keys_service.get_keyring().data_keys))


def test_every_sealed_value_is_counted_under_the_first_key(loaded, db):
    assert _counts(db) == {"k1": CIPHERTEXTS}


def test_rotation_leaves_no_ciphertext_under_the_old_key(loaded, db, session_factory, keyring_path):
    before = _counts(db)["k1"]

    summary = rotation.rotate(session_factory=session_factory, keyring_path=keyring_path, batch_rows=5)

    assert (summary.added, summary.active) == ("k2", "k2")
    assert _counts(db) == {"k1": 0, "k2": before}


def test_rotation_retires_the_old_key(loaded, session_factory, keyring_path):
    summary = rotation.rotate(session_factory=session_factory, keyring_path=keyring_path, batch_rows=5)

    assert summary.retired == ["k1"] and summary.remaining == {}
    assert "k1" in keys_service.load(keyring_path).retired


def test_rotation_reports_the_rows_it_rewrote_per_table(loaded, session_factory, keyring_path):
    summary = rotation.rotate(session_factory=session_factory, keyring_path=keyring_path, batch_rows=5)

    assert summary.rewritten == {"library_records": RECORDS, "quarantined_rows": 2, "discrepancies": 3}


def test_values_read_back_identical_after_rotation(loaded, db, session_factory, keyring_path):
    before = _everything(db)

    rotation.rotate(session_factory=session_factory, keyring_path=keyring_path, batch_rows=5)

    assert _everything(db) == before


def test_rotation_keeps_stored_keys_and_row_hashes(loaded, db, session_factory, keyring_path, tmp_path):
    before = db.execute(
        select(LibraryRecord.id, LibraryRecord.subject_key, LibraryRecord.row_hash).order_by(LibraryRecord.id)
    ).all()
    rotation.rotate(session_factory=session_factory, keyring_path=keyring_path, batch_rows=5)

    again = flows.ingest(
        loaded[2], session_factory=session_factory, sources_dir=tmp_path, run_id="t", force=True
    )

    assert (again.unchanged, again.inserted, again.updated) == (PEOPLE, 0, 0)
    assert (
        db.execute(
            select(LibraryRecord.id, LibraryRecord.subject_key, LibraryRecord.row_hash).order_by(
                LibraryRecord.id
            )
        ).all()
        == before
    )


def test_reencrypting_after_a_rotation_rewrites_nothing(loaded, db, session_factory, keyring_path):
    rotation.rotate(session_factory=session_factory, keyring_path=keyring_path, batch_rows=5)
    stored = db.execute(
        select(LibraryRecord.values, LibraryRecord.subject_cipher).order_by(LibraryRecord.id)
    ).all()

    rewritten = rotation.reencrypt(
        session_factory=session_factory, keyring=keys_service.load(keyring_path), batch_rows=5
    )

    assert rewritten == {"library_records": 0, "quarantined_rows": 0, "discrepancies": 0}
    db.expire_all()
    assert (
        db.execute(
            select(LibraryRecord.values, LibraryRecord.subject_cipher).order_by(LibraryRecord.id)
        ).all()
        == stored
    )


def test_interrupted_rotation_resumes_under_the_same_new_key(loaded, db, session_factory, keyring_path):
    def stop_after_the_first_batch(step: rotation.RotationProgress) -> None:
        raise Interrupted(step.table)

    with pytest.raises(Interrupted):
        rotation.rotate(
            session_factory=session_factory,
            keyring_path=keyring_path,
            batch_rows=5,
            progress=stop_after_the_first_batch,
        )
    halfway = _counts(db)

    resumed = rotation.rotate(session_factory=session_factory, keyring_path=keyring_path, batch_rows=5)

    assert halfway["k1"] > 0 and halfway["k2"] == 2 * 5  # the first batch: 5 records, values and key
    assert (resumed.added, resumed.active) == (None, "k2")
    assert resumed.rewritten["library_records"] == RECORDS - 5
    assert _counts(db) == {"k1": 0, "k2": halfway["k1"] + halfway["k2"]}


def test_a_key_a_late_writer_still_used_is_not_retired(loaded, db, session_factory, keyring_path):
    first = keys_service.load(keyring_path)  # what a loader started before the rotation holds

    def late_write(step: rotation.RotationProgress) -> None:
        if step.table == "discrepancies":
            with session_factory() as other:
                record = other.scalars(select(LibraryRecord).order_by(LibraryRecord.id)).first()
                assert record is not None
                record.subject_cipher = first.encrypt("late", aad=record.subject_key)
                other.commit()

    summary = rotation.rotate(
        session_factory=session_factory, keyring_path=keyring_path, batch_rows=5, progress=late_write
    )

    assert (summary.retired, summary.remaining) == ([], {"k1": 1})
    assert "k1" not in keys_service.load(keyring_path).retired


def test_a_second_rotation_moves_everything_to_a_third_key(loaded, db, session_factory, keyring_path):
    rotation.rotate(session_factory=session_factory, keyring_path=keyring_path, batch_rows=5)
    total = _counts(db)["k2"]

    summary = rotation.rotate(session_factory=session_factory, keyring_path=keyring_path, batch_rows=5)

    assert (summary.added, summary.retired) == ("k3", ["k2"])
    assert _counts(db) == {"k1": 0, "k2": 0, "k3": total}


# -- the command line --------------------------------------------------------------------------


@pytest.fixture
def cli_database(tmp_path, monkeypatch, keyring_path):
    """A fresh SQLite platform database with the demo catalog and the loads above, for the CLI."""
    url = f"sqlite:///{tmp_path / 'platform.sqlite'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as db:
        demo_catalog.seed(db)
        db.commit()
    monkeypatch.setenv("GOVDX_DATABASE_URL", url)
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    _load(get_sessionmaker(), tmp_path)
    yield engine
    get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    engine.dispose()


def test_keys_init_creates_a_keyring_only_its_owner_can_read(tmp_path, monkeypatch):
    path = tmp_path / "new" / "keys.json"
    monkeypatch.setenv("GOVDX_KEYS_FILE", str(path))

    result = runner.invoke(app, ["keys", "init"])

    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert keys_service.load(path).active == "k1"


def test_keys_init_refuses_to_overwrite_an_existing_keyring(keyring_path):
    before = keyring_path.read_bytes()

    result = runner.invoke(app, ["keys", "init"])

    assert result.exit_code == 2
    assert "keyring_exists" in result.output
    assert keyring_path.read_bytes() == before


def test_keys_show_counts_ciphertexts_per_key_and_prints_no_key_material(cli_database, keyring_path):
    document = json.loads(keyring_path.read_text(encoding="utf-8"))

    result = runner.invoke(app, ["keys", "show"])

    assert result.exit_code == 0, result.output
    assert "k1" in result.output and "active" in result.output
    assert f" {CIPHERTEXTS} " in result.output
    secrets = [document["data_keys"]["k1"]["key"], document["index_key"], document["fingerprint_key"]]
    secrets.append(document["signing_keys"]["s1"]["key"])
    assert not any(secret[:12] in result.output for secret in secrets)


def test_keys_rotate_prints_the_rows_it_re_encrypted(cli_database, keyring_path):
    result = runner.invoke(app, ["keys", "rotate"])

    assert result.exit_code == 0, result.output
    assert "k2" in result.output and "retired" in result.output
    assert any("library_records" in line and f" {RECORDS} " in line for line in result.output.splitlines())


def test_keys_show_after_rotate_counts_nothing_under_the_first_key(cli_database, keyring_path):
    runner.invoke(app, ["keys", "rotate"])

    result = runner.invoke(app, ["keys", "show"])

    [k1] = [line for line in result.output.splitlines() if "k1" in line]
    assert "retired" in k1 and k1.rstrip(" │").endswith(" 0")


def test_keys_show_without_a_keyring_exits_2_naming_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("GOVDX_KEYS_FILE", str(tmp_path / "absent.json"))

    result = runner.invoke(app, ["keys", "show"])

    assert result.exit_code == 2
    assert "keyring_missing" in result.output and "govdx keys init" in result.output
