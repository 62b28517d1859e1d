"""The Alembic migrations build exactly the schema the models describe."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy.orm import sessionmaker
from typer.testing import CliRunner

from api.cli import app
from api.main import create_app
from catalog_schema import migrate
from catalog_schema.database import get_engine, get_sessionmaker, make_engine
from catalog_schema.models import Base


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)

    assert diff == []


def test_database_is_at_the_newest_revision(engine):
    assert migrate.current_revision(engine) == migrate.head_revision()


def test_upgrade_of_an_empty_database_creates_every_table(tmp_path):
    fresh = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")

    migrate.upgrade(fresh)

    with fresh.connect() as conn:
        tables = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'").scalars())
    assert set(Base.metadata.tables) <= tables
    fresh.dispose()


def test_the_api_refuses_to_start_on_an_unmigrated_database(tmp_path, settings):

    empty = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    api = create_app(settings, session_factory=sessionmaker(bind=empty))

    with pytest.raises(migrate.SchemaOutOfDate, match="govdx db upgrade"), TestClient(api):
        pass
    empty.dispose()


def test_serve_on_an_unmigrated_database_exits_2_saying_what_to_run(tmp_path, monkeypatch):

    monkeypatch.setenv("GOVDX_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite'}")
    monkeypatch.setenv("GOVDX_PROFILE", "demo")
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    try:
        result = CliRunner().invoke(app, ["serve"])
    finally:
        get_engine().dispose()
        get_engine.cache_clear()
        get_sessionmaker.cache_clear()

    assert result.exit_code == 2
    assert "govdx db upgrade" in result.output
