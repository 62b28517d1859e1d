"""Alembic, configured in code so the installed package migrates without an alembic.ini."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the database at ``url``, with dated revision files."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.set_main_option("file_template", "%%(year)d_%%(month).2d_%%(day).2d_%%(rev)s_%%(slug)s")
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database behind ``engine`` to ``revision``."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or None before the first migration."""
    with engine.connect() as connection:
        return revision_of(connection)


def revision_of(connection: Connection) -> str | None:
    """The revision of the database behind ``connection``, or None before the first migration."""
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()


def head_revision() -> str | None:
    """The newest revision the installed code knows."""
    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


class SchemaOutOfDate(RuntimeError):
    """The database is not at the revision this code needs."""


def ensure_current(connection: Connection) -> None:
    """Raise SchemaOutOfDate, saying what to run, unless the database is at the newest revision."""
    current, head = revision_of(connection), head_revision()
    if current != head:
        url = connection.engine.url.render_as_string(hide_password=True)
        raise SchemaOutOfDate(
            f"数据库 {url} 的版本为 {current or '(未初始化)'}，需要 {head}：请先运行 `govdx db upgrade`"
            f" / database {url} is at {current or 'no revision'}, this code needs {head}: "
            "run `govdx db upgrade` first (GOVDX_DATABASE_URL names the database)"
        )
