"""`govdx backup`: every fault a backup can meet is refused by name, and the refusal changes nothing.

Each backend gets one platform database for the module, with records appended through the real
chain and a signed checkpoint, and one backup of it; a test copies that backup before spoiling it.
Restores go to a target of the test's own (a SQLite file, or a PostgreSQL database name) unless the
test is about the platform's own database. scrypt runs at its cheapest accepted cost here
(GOVDX_BACKUP_KDF_LOG2_N=14); the drill (test_backup_drill.py) runs at the production cost.
"""

import json
import os
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import Result
from sqlalchemy import Engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from api.cli import app
from authz.audit import checkpoint as audit_checkpoint
from authz.audit.chain import AccessEntry, append_many
from authz.audit.models import AccessRecord
from authz.backup import service
from authz.backup.settings import BackupSettings
from catalog_schema import migrate
from catalog_schema.database import for_writing, get_engine, get_sessionmaker, make_engine
from catalog_schema.keys import service as keys_service
from tests.conftest import _postgres_engine, _sqlite_engine

runner = CliRunner()
PASSPHRASE = "a passphrase long enough 2026"
T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


@dataclass
class Platform:
    dialect: str
    engine: Engine
    url: str
    keyring: Path
    backup: Path
    passphrase: Path


def _append(engine: Engine, n: int) -> None:
    with Session(engine) as db:
        for_writing(db)
        entries = [
            AccessEntry(
                mode="lookup", outcome="served", request_id=uuid4().hex, client_id="renshe-1", subjects=1
            )
            for _ in range(n)
        ]
        append_many(db=db, entries=entries, at=T0 + timedelta(minutes=n))
        db.commit()


def _govdx(*args: str) -> Result:
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    return runner.invoke(app, list(args))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def platform(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """The module's platform: 7 records, a checkpoint at seq 5, and a backup of it."""
    home = tmp_path_factory.mktemp("backup-home")
    with pytest.MonkeyPatch.context() as env:
        keyring = home / "keys.json"
        env.setenv("GOVDX_HOME", str(home))
        env.setenv("GOVDX_KEYS_FILE", str(keyring))
        env.setenv("GOVDX_BACKUP_KDF_LOG2_N", "14")
        env.delenv("GOVDX_BACKUP_PASSPHRASE", raising=False)
        keys_service.create(keyring)
        engines = _sqlite_engine(home) if request.param == "sqlite" else _postgres_engine()
        engine = next(engines)
        migrate.upgrade(engine)
        _append(engine, 5)
        with Session(engine) as db:
            audit_checkpoint.checkpoint(db=db, keyring=keys_service.get_keyring())
            db.commit()
        _append(engine, 2)
        url = engine.url.render_as_string(hide_password=False)
        env.setenv("GOVDX_DATABASE_URL", url)
        passphrase = home / "passphrase"
        passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")
        backup = home / "backups" / "module"
        made = _govdx("backup", "create", str(backup), "--passphrase-file", str(passphrase))
        assert made.exit_code == 0, made.output
        yield Platform(request.param, engine, url, keyring, backup, passphrase)
        get_engine.cache_clear()
        get_sessionmaker.cache_clear()
        next(engines, None)


@dataclass
class Target:
    url: str
    keyring: Path

    @property
    def database(self) -> str:
        return str(make_url(self.url).database)


def _admin(url: str) -> Engine:
    return make_engine(make_url(url).set(database="postgres").render_as_string(hide_password=False))


def _pg_databases(url: str, like: str) -> list[str]:
    admin = _admin(url)
    try:
        with admin.connect() as conn:
            rows = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"), {"p": like})
            return sorted(r[0] for r in rows)
    finally:
        admin.dispose()


@pytest.fixture
def target(platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Target]:
    """A place to restore to that holds nothing yet: a SQLite file or a PostgreSQL database name."""
    if platform.dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'restored' / 'govdx.sqlite'}"
    else:
        name = f"{make_url(platform.url).database}_r{uuid4().hex[:6]}"
        url = make_url(platform.url).set(database=name).render_as_string(hide_password=False)
    found = Target(url, tmp_path / "restored" / "keys.json")
    monkeypatch.setenv("GOVDX_DATABASE_URL", url)
    monkeypatch.setenv("GOVDX_KEYS_FILE", str(found.keyring))
    yield found
    if platform.dialect == "postgresql":
        admin = _admin(url)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in _pg_databases(url, f"{found.database}%"):
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _untouched(platform: Platform, target: Target) -> None:
    """Nothing at the target: no database, no keyring, no staged file or database left behind."""
    assert not target.keyring.exists()
    assert not target.keyring.parent.exists() or list(target.keyring.parent.iterdir()) == []
    if platform.dialect == "sqlite":
        assert not Path(target.database).exists()
    else:
        assert _pg_databases(platform.url, f"{target.database}%") == []
        assert _pg_databases(platform.url, "%restoring%") == []


def _copy(platform: Platform, tmp_path: Path) -> Path:
    copy = tmp_path / "copy"
    shutil.copytree(platform.backup, copy)
    return copy


def _restore(platform: Platform, backup: Path, *extra: str, passphrase: Path | None = None) -> Result:
    create = ["--create"] if platform.dialect == "postgresql" else []
    args = ["backup", "restore", str(backup), "--passphrase-file", str(passphrase or platform.passphrase)]
    return _govdx(*args, *create, *extra)


def _refused(result: Result, code: str, exit_code: int = 1) -> None:
    assert result.exit_code == exit_code, result.output
    assert f"error ({code})" in result.output


# -- the backup itself ----------------------------------------------------------------------------


def test_backup_states_the_head_checkpoint_counts_and_key_ids_and_is_private(platform: Platform) -> None:
    stored = (platform.backup / "manifest.json").read_text(encoding="utf-8")
    manifest = json.loads(stored)
    ring = json.loads(platform.keyring.read_text(encoding="utf-8"))
    secrets = [ring["index_key"], ring["fingerprint_key"]]
    secrets += [k["key"] for group in ("data_keys", "signing_keys") for k in ring[group].values()]

    assert manifest["audit"]["head"]["seq"] == 7
    assert manifest["audit"]["checkpoint"]["seq"] == 5
    assert manifest["tables"]["access_records"] == 7
    assert manifest["database"]["dialect"] == platform.dialect
    assert manifest["database"]["alembic_revision"] == migrate.head_revision()
    assert (manifest["keyring"]["data_keys"], manifest["keyring"]["signing_keys"]) == (["k1"], ["s1"])
    assert not [secret for secret in secrets if secret in stored]
    assert manifest["kdf"]["n"] == 2**14
    assert {oct(p.stat().st_mode & 0o777) for p in platform.backup.iterdir()} == {"0o600"}
    assert oct(platform.backup.stat().st_mode & 0o777) == "0o700"


def test_verify_passes_an_intact_backup(platform: Platform) -> None:
    result = _govdx("backup", "verify", str(platform.backup), "--passphrase-file", str(platform.passphrase))

    assert result.exit_code == 0, result.output
    assert "backup verified" in result.stdout


def test_backup_taken_while_records_are_appended_is_consistent(platform: Platform, tmp_path: Path) -> None:
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            _append(platform.engine, 3)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        manifest = service.create(
            database_url=platform.url,
            keyring_path=platform.keyring,
            destination=tmp_path / "online",
            passphrase=PASSPHRASE,
            settings=BackupSettings(),
        )
    finally:
        stop.set()
        thread.join()
    result = _govdx(
        "backup", "verify", str(tmp_path / "online"), "--passphrase-file", str(platform.passphrase)
    )

    assert result.exit_code == 0, result.output
    assert manifest["tables"]["access_records"] == manifest["audit"]["head"]["seq"]


def test_short_passphrase_is_refused_and_no_backup_is_written(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVDX_BACKUP_PASSPHRASE", "too short")

    result = _govdx("backup", "create", str(tmp_path / "b"))

    _refused(result, "backup_passphrase_too_short", exit_code=2)
    assert list(tmp_path.iterdir()) == []


def test_no_passphrase_outside_a_terminal_is_refused(platform: Platform, tmp_path: Path) -> None:
    result = _govdx("backup", "create", str(tmp_path / "b"))

    _refused(result, "backup_passphrase_missing", exit_code=2)
    assert list(tmp_path.iterdir()) == []


def test_missing_pg_dump_is_refused_and_no_partial_backup_is_left(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if platform.dialect != "postgresql":
        pytest.skip("pg_dump backs up PostgreSQL only")
    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))  # the outside tool is absent

    result = _govdx(
        "backup", "create", str(tmp_path / "out" / "b"), "--passphrase-file", str(platform.passphrase)
    )

    _refused(result, "backup_tool_missing", exit_code=2)
    assert "pg_dump" in result.output
    assert list((tmp_path / "out").iterdir()) == []


def test_pg_dump_older_than_the_server_is_refused(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if platform.dialect != "postgresql":
        pytest.skip("pg_dump backs up PostgreSQL only")
    old = tmp_path / "bin" / "pg_dump"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n", encoding="utf-8")
    old.chmod(0o755)
    monkeypatch.setenv("GOVDX_BACKUP_PG_BIN", str(old.parent))  # an outside tool, as an old client

    result = _govdx(
        "backup", "create", str(tmp_path / "out" / "b"), "--passphrase-file", str(platform.passphrase)
    )

    _refused(result, "backup_tool_too_old", exit_code=2)
    assert "9" in result.output and "/usr/lib/postgresql/" in result.output
    assert list((tmp_path / "out").iterdir()) == []


# -- what verify and restore refuse ---------------------------------------------------------------


def test_tampered_manifest_is_refused(platform: Platform, target: Target, tmp_path: Path) -> None:
    copy = _copy(platform, tmp_path)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["tables"]["access_records"] -= 1
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    result = _restore(platform, copy)

    _refused(result, "backup_manifest_tampered")
    _untouched(platform, target)


def test_tampered_database_file_is_refused(platform: Platform, target: Target, tmp_path: Path) -> None:
    copy = _copy(platform, tmp_path)
    database = next(copy.glob("database.*"))
    data = bytearray(database.read_bytes())
    data[len(data) // 2] ^= 0x01
    database.write_bytes(bytes(data))

    result = _restore(platform, copy)

    _refused(result, "backup_file_tampered")
    _untouched(platform, target)


def test_wrong_passphrase_is_refused(platform: Platform, target: Target, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_text("not the passphrase, though long\n", encoding="utf-8")

    result = _restore(platform, platform.backup, passphrase=wrong)

    _refused(result, "backup_wrong_passphrase")
    _untouched(platform, target)


def test_record_edited_before_the_backup_is_refused_by_verify_and_restore(
    platform: Platform, target: Target, tmp_path: Path
) -> None:
    edit = update(AccessRecord).where(AccessRecord.seq == 3)
    with Session(platform.engine) as db:
        db.execute(edit.values(rows_returned=500))
        db.commit()
    try:
        made = service.create(
            database_url=platform.url,
            keyring_path=platform.keyring,
            destination=tmp_path / "edited",
            passphrase=PASSPHRASE,
            settings=BackupSettings(),
        )
    finally:
        with Session(platform.engine) as db:
            db.execute(edit.values(rows_returned=0))
            db.commit()
    verified = _govdx(
        "backup", "verify", str(tmp_path / "edited"), "--passphrase-file", str(platform.passphrase)
    )
    restored = _restore(platform, tmp_path / "edited")

    assert made["audit"]["head"]["seq"] >= 7  # the backup itself is made: it is evidence too
    _refused(verified, "backup_chain_broken")
    assert "seq 3" in verified.output
    _refused(restored, "backup_chain_broken")
    _untouched(platform, target)


def test_restore_over_a_non_empty_database_without_force_is_refused(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOVDX_DATABASE_URL", platform.url)
    monkeypatch.setenv("GOVDX_KEYS_FILE", str(tmp_path / "keys.json"))
    with Session(platform.engine) as db:
        before = db.scalar(select(func.count()).select_from(AccessRecord))

    result = _govdx("backup", "restore", str(platform.backup), "--passphrase-file", str(platform.passphrase))

    _refused(result, "backup_target_not_empty", exit_code=2)
    with Session(platform.engine) as db:
        assert db.scalar(select(func.count()).select_from(AccessRecord)) == before
    assert not (tmp_path / "keys.json").exists()


def test_restore_over_an_existing_keyring_without_force_is_refused(
    platform: Platform, target: Target
) -> None:
    target.keyring.parent.mkdir(parents=True)
    target.keyring.write_text("{}", encoding="utf-8")

    result = _restore(platform, platform.backup)

    _refused(result, "backup_keyring_exists", exit_code=2)
    assert target.keyring.read_text(encoding="utf-8") == "{}"


def test_restore_with_force_keeps_the_old_database_and_keyring_aside(
    platform: Platform, target: Target
) -> None:
    target.keyring.parent.mkdir(parents=True)
    target.keyring.write_text("{}", encoding="utf-8")
    if platform.dialect == "sqlite":
        old = make_engine(target.url)
    else:
        admin = _admin(target.url)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        admin.dispose()
        old = make_engine(target.url)
    with old.begin() as conn:
        conn.execute(text("CREATE TABLE before_restore (x integer)"))
    old.dispose()

    result = _restore(platform, platform.backup, "--force")

    assert result.exit_code == 0, result.output
    assert "the old ones are kept as" in result.stdout
    assert [
        p.read_text(encoding="utf-8") for p in target.keyring.parent.glob("keys.json.before-restore-*")
    ] == ["{}"]
    restored = make_engine(target.url)
    with Session(restored) as db:
        assert db.scalar(select(func.count()).select_from(AccessRecord)) == 7
    restored.dispose()
    if platform.dialect == "sqlite":
        (aside,) = Path(target.database).parent.glob("govdx.sqlite.before-restore-*")
        assert "before_restore" in {r[0] for r in _sqlite_tables(aside)}
    else:
        assert len(_pg_databases(target.url, f"{target.database}_before_restore_%")) == 1


def _sqlite_tables(path: Path) -> list[tuple[str]]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        conn.close()


def test_restore_into_an_existing_empty_postgres_database_keeps_it(
    platform: Platform, target: Target
) -> None:
    if platform.dialect != "postgresql":
        pytest.skip("an operator-made empty database is a PostgreSQL case")
    admin = _admin(target.url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{target.database}"'))
        oid = conn.execute(
            text("SELECT oid FROM pg_database WHERE datname = :n"), {"n": target.database}
        ).scalar()
    admin.dispose()

    result = _govdx("backup", "restore", str(platform.backup), "--passphrase-file", str(platform.passphrase))

    assert result.exit_code == 0, result.output
    assert _pg_databases(target.url, f"{target.database}%") == [target.database]
    admin = _admin(target.url)
    with admin.connect() as conn:
        same = conn.execute(
            text("SELECT oid FROM pg_database WHERE datname = :n"), {"n": target.database}
        ).scalar()
    admin.dispose()
    assert same == oid
    verified = _govdx("audit", "verify")
    get_engine().dispose()
    assert verified.exit_code == 0, verified.output


def test_missing_postgres_target_without_create_is_refused(platform: Platform, target: Target) -> None:
    if platform.dialect != "postgresql":
        pytest.skip("a SQLite file is created by the restore itself")

    result = _govdx("backup", "restore", str(platform.backup), "--passphrase-file", str(platform.passphrase))

    _refused(result, "backup_target_missing", exit_code=2)
    _untouched(platform, target)


def test_restored_keyring_is_the_backed_up_one(platform: Platform, target: Target) -> None:
    result = _restore(platform, platform.backup)

    assert result.exit_code == 0, result.output
    assert target.keyring.read_bytes() == platform.keyring.read_bytes()
    assert oct(os.stat(target.keyring).st_mode & 0o777) == "0o600"
