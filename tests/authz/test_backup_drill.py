"""The backup drill (等保三级): load, call, back up, destroy, restore, verify, go on; SQLite and PostgreSQL.

Each backend gets a platform database of its own and a keyring of its own under a GOVDX_HOME of its
own. 公安's people are stored as the pipelines store them, 人社 gets a grant through the real
workflow, and 人社's system calls the real data plane through the API (served and refused calls, each
an access record); a checkpoint is signed. ``govdx backup create`` backs it up; the database and the
keyring are destroyed; ``govdx backup restore`` brings them back; ``govdx audit verify`` passes on the
same head, every table holds as many rows as before, and calls made afterwards chain on, verified.
"""

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from api.cli import app
from api.settings import ApiSettings
from authz.audit import chain as audit_chain
from authz.audit import checkpoint as audit_checkpoint
from authz.clients.models import ApiClient
from catalog_schema import migrate
from catalog_schema.database import Base, get_engine, get_sessionmaker, make_engine
from catalog_schema.keys import service as keys_service
from demo import catalog as demo_catalog
from tests import factories
from tests.conftest import TEST_SECRET, _postgres_engine, _sqlite_engine, app_for

runner = CliRunner()
PASSPHRASE = "榕城市数据局 backup drill 2026"
PEOPLE = (1, 2, 3)


@dataclass
class Platform:
    """The drill's platform: its database URL, keyring file, and what 人社's system calls with."""

    dialect: str
    url: str
    keyring: Path
    home: Path
    purpose: str
    client_id: int


@pytest.fixture(params=["sqlite", "postgresql"])
def platform(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Platform]:
    """A migrated, seeded platform with people and 人社's grant, named by GOVDX_* for the commands."""
    home = tmp_path / "home"
    keyring = home / "keys.json"
    monkeypatch.setenv("GOVDX_HOME", str(home))
    monkeypatch.setenv("GOVDX_KEYS_FILE", str(keyring))
    monkeypatch.delenv("GOVDX_BACKUP_PASSPHRASE", raising=False)
    keys_service.create(keyring)
    engines = _sqlite_engine(home) if request.param == "sqlite" else _postgres_engine()
    engine = next(engines)
    migrate.upgrade(engine)
    with Session(engine) as db:
        demo_catalog.seed(db)
        for seed in PEOPLE:
            values = factories.person(seed)
            factories.library_record(
                db, "population", [values["population.id_number"]], values, keyring=keys_service.get_keyring()
            )
        grant = factories.grant(db, items=["公民身份号码", "姓名"])
        system, _secret = factories.api_client(db)
        purpose, client_id = grant.request_number, system.id
        db.commit()
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    monkeypatch.setenv("GOVDX_DATABASE_URL", url)
    yield Platform(request.param, url, keyring, home, purpose, client_id)
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    next(engines, None)


def _govdx(*args: str) -> Result:
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    result = runner.invoke(app, list(args))
    get_engine().dispose()
    return result


def _calls(platform: Platform, *, served: int) -> None:
    """``served`` lookups of the granted items and one refused (an item beyond the grant), over the API."""
    engine = make_engine(platform.url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    api = app_for(ApiSettings(profile="production", secret_key=TEST_SECRET), factory)
    try:
        with Session(engine) as db:
            system = db.get(ApiClient, platform.client_id)
            assert system is not None
            headers = {**factories.client_headers(system), "X-Govdx-Purpose": platform.purpose}
        with TestClient(api) as client:
            for i in range(served):
                key = factories.person(PEOPLE[i % len(PEOPLE)])["population.id_number"]
                body = {"resource": factories.DEPARTMENT_RESOURCE, "key": key}
                assert client.post("/api/v1/data/lookup", headers=headers, json=body).status_code == 200
            beyond = {**body, "items": ["住址"]}
            assert client.post("/api/v1/data/lookup", headers=headers, json=beyond).status_code == 403
    finally:
        api.state.sessionmaker = None
        engine.dispose()


def _state(url: str) -> tuple[tuple[int, str], dict[str, int]]:
    """The audit head and every table's row count."""
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            present = set(inspect(db.connection()).get_table_names())
            counts = {
                t.name: db.scalar(select(func.count()).select_from(t)) or 0
                for t in Base.metadata.sorted_tables
                if t.name in present
            }
            seq, digest = audit_chain.head(db=db)
    finally:
        engine.dispose()
    return (seq, digest), counts


def _checkpoint(url: str) -> None:
    engine = make_engine(url)
    try:
        with Session(engine) as db:
            assert audit_checkpoint.checkpoint(db=db, keyring=keys_service.get_keyring()) is not None
            db.commit()
    finally:
        engine.dispose()


def _destroy(platform: Platform) -> None:
    """The disaster: the database and the keyring are gone."""
    if platform.dialect == "sqlite":
        database = Path(str(make_url(platform.url).database))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{database}{suffix}").unlink(missing_ok=True)
    else:
        url = make_url(platform.url)
        admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE "{url.database}" WITH (FORCE)'))
        admin.dispose()
    platform.keyring.unlink()


def test_backup_destroy_restore_then_the_chain_verifies_and_continues(
    platform: Platform, tmp_path: Path
) -> None:
    _calls(platform, served=4)
    _checkpoint(platform.url)
    _calls(platform, served=2)
    head, counts = _state(platform.url)
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(PASSPHRASE + "\n", encoding="utf-8")
    backup = tmp_path / "offsite" / "drill"

    created = _govdx("backup", "create", str(backup), "--passphrase-file", str(passphrase))
    assert created.exit_code == 0, created.output
    _destroy(platform)
    extra = ["--create"] if platform.dialect == "postgresql" else []
    restored = _govdx("backup", "restore", str(backup), "--passphrase-file", str(passphrase), *extra)
    assert restored.exit_code == 0, restored.output
    verified = _govdx("audit", "verify")

    assert verified.exit_code == 0, verified.output
    assert head[0] == 8 and counts["access_records"] == 8 and counts["audit_checkpoints"] == 1
    assert _state(platform.url) == (head, counts)
    assert oct(os.stat(platform.keyring).st_mode & 0o777) == "0o600"
    _calls(platform, served=3)
    again = _govdx("audit", "verify")
    assert again.exit_code == 0, again.output
    assert "12 条记录已核验 records verified" in again.stdout
    assert _state(platform.url)[0][0] == head[0] + 4
