"""Declarative base, shared column mixins, and the engine and session factories."""

import enum
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, Enum, ForeignKey, MetaData, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    declared_attr,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from catalog_schema.settings import DatabaseSettings

# Stable constraint names on SQLite and PostgreSQL alike, so migrations can name what they drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where an aware UTC datetime is required")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def enum_column(enum_cls: type[enum.Enum]) -> Enum:
    """A portable enum column storing member values as strings (no native ENUM type)."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
    )


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DepartmentOwnedMixin:
    """A row that belongs to one department; scoping queries filter on ``department_id``."""

    @declared_attr
    def department_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)


def _configure_sqlite(engine: Engine) -> None:
    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN itself
    # (SQLAlchemy 2.0 docs, "Serializable isolation / Savepoints / Transactional DDL").
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A writer begins IMMEDIATE, taking the write lock up front: a transaction that read first
        # and wrote later would otherwise fail at once with SQLITE_BUSY_SNAPSHOT when another writer
        # got in between (busy_timeout cannot help it). Readers stay DEFERRED and never block.
        options = conn.get_execution_options()
        if options.get(STATEMENT_READS_OPTION, False):
            return  # autocommit: each SELECT reads the latest commit on its own
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION, False) else "BEGIN")


WRITE_OPTION = "govdx_write"
STATEMENT_READS_OPTION = "govdx_statement_reads"


def for_writing(session: Session) -> Session:
    """Declare that ``session``'s transaction will write (on SQLite it then begins IMMEDIATE).

    Call before the session's first statement; writers then queue for SQLite's single write
    lock instead of failing when another writer commits between their read and their write.
    """
    session.connection(execution_options={WRITE_OPTION: True})
    return session


def for_statement_reads(session: Session) -> Session:
    """Declare that ``session``'s transaction only reads, each statement on its own (SQLite: no BEGIN).

    For hot read paths that need no snapshot across their statements: a BEGIN and its ROLLBACK are
    two more calls into the database per request (on PostgreSQL two round trips; bench-api). On a
    server the connection reads in autocommit; a session joined to an outer transaction (the
    tests') keeps reading in it.
    """
    options: dict[str, Any] = {STATEMENT_READS_OPTION: True}
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name != "sqlite":
        options["isolation_level"] = "AUTOCOMMIT"
    session.connection(execution_options=options)
    return session


def make_engine(url: str, *, echo: bool = False, pool_size: int = 20, pre_ping: bool = True) -> Engine:
    """An engine for ``url``; SQLite files get their folder, foreign keys and WAL."""
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["pool_size"] = pool_size
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs.update(pool_pre_ping=pre_ping, pool_size=pool_size)
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine)
    return engine


@lru_cache(maxsize=1)
def get_engine() -> Engine:
    """The process-wide engine named by the database settings."""
    settings = DatabaseSettings()
    return make_engine(
        settings.url, echo=settings.echo, pool_size=settings.pool_size, pre_ping=settings.pre_ping
    )


@lru_cache(maxsize=1)
def get_sessionmaker() -> sessionmaker[Session]:
    """The process-wide session factory bound to :func:`get_engine`, every table known to it."""
    # A foreign-key column without a type of its own takes its referenced column's: a task that
    # imported only its own models would otherwise write NULL-typed columns (PostgreSQL refuses to
    # cast them), so every model is loaded before the first session. Found on the Celery cluster.
    import catalog_schema.models  # noqa: F401

    return sessionmaker(bind=get_engine(), expire_on_commit=False)


@contextmanager
def session_scope(*, write: bool = True) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any error."""
    session = get_sessionmaker()()
    if write:
        for_writing(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


class json_rows(FunctionElement[Any]):
    """Aggregate: the group's rows as one JSON array of arrays, in no particular order.

    One row instead of many: each row a query returns is one more step into the database (on
    SQLite, one more round trip for the GIL; bench-api). Read the result with :func:`json_value`.
    """

    name = "json_rows"
    inherit_cache = True


@compiles(json_rows, "sqlite")
def _json_rows_sqlite(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "postgresql")
def _json_rows_postgresql(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


def json_value(value: Any) -> Any:
    """A JSON result as Python: drivers that do not decode JSON (SQLite) return its text."""
    return json.loads(value) if isinstance(value, str | bytes) else value
