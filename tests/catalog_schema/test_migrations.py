"""The Alembic migrations build exactly the schema the models describe."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from catalog_schema import migrate
from catalog_schema.database import make_engine
from catalog_schema.models import Base


def test_migrated_schema_matches_the_models(engine):
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)

    assert diff == []


def test_database_is_at_the_newest_revision(engine):
    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()

    assert migrate.current_revision(engine) == head


def test_upgrade_of_an_empty_database_creates_every_table(tmp_path):
    fresh = make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")

    migrate.upgrade(fresh)

    with fresh.connect() as conn:
        tables = set(conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type='table'").scalars())
    assert set(Base.metadata.tables) <= tables
    fresh.dispose()
