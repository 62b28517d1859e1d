"""The Alembic migrations build exactly the schema the models describe."""

import json

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


def test_resources_of_an_earlier_release_become_views_of_the_library_they_were_read_from(tmp_path):
    older = make_engine(f"sqlite:///{tmp_path / 'older.sqlite'}")
    migrate.upgrade(older, "0004")
    with older.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO departments (id, slug, name, credit_code, region_code, kind, created_at, "
            "updated_at) VALUES (1, 'gongan', '公安局', '11350100003571132M', '350100', 'government', "
            "'2026-01-01', '2026-01-01')"
        )
        for element_id, code, library, grade in (
            (1, "population.id_number", "population", "highly_sensitive"),
            (2, "credit.subject_code", "credit", "internal"),
        ):
            conn.exec_driver_sql(
                "INSERT INTO data_elements (id, code, name, library, data_type, sensitivity, created_at, "
                f"updated_at) VALUES ({element_id}, '{code}', '{code}', '{library}', 'C', '{grade}', "
                "'2026-01-01', '2026-01-01')"
            )
        conn.exec_driver_sql(
            "INSERT INTO resources (id, code, resource_class, category_item, category_catalog, "
            "category_detail, classification_code, sequence, name, provider_id, abstract, format, "
            "share_type, share_method, open_to_public, update_cycle, related_codes, control_params, "
            "status, version, created_at, updated_at) VALUES (1, '101009/000001', 'basic', '01', '009', "
            "'', '101009', 1, '人口', 1, '摘要', 'database', 'unconditional', 'api', 0, 'daily', '[]', "
            "'[]', 'published', 1, '2026-01-01', '2026-01-01')"
        )
        conn.exec_driver_sql(
            "INSERT INTO resource_items (id, resource_id, position, name, data_type, element_id) "
            "VALUES (1, 1, 0, '公民身份号码', 'C', 1)"
        )

    migrate.upgrade(older)

    with older.connect() as conn:
        kind, delivery = conn.exec_driver_sql("SELECT delivery_kind, delivery FROM resources").one()
        grade = conn.exec_driver_sql("SELECT sensitivity FROM data_elements WHERE id = 2").scalar()
    assert (kind, json.loads(delivery), grade) == (
        "library",
        {"kind": "library", "library": "population", "where": {}},
        "highly_sensitive",
    )
    older.dispose()
