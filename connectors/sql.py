"""A table or query in any database SQLAlchemy reaches, streamed through a server-side cursor.

Rows are fetched ``chunk_rows`` at a time (``stream_results``: an ``SSCursor`` on pymysql, a
named cursor on psycopg; SQLite cursors step lazily anyway), so memory follows the chunk, not
the table. Columns are selected by name, quoted by SQLAlchemy; a declared ``query`` is wrapped
as a subquery and taken literally (colons in it are not bind parameters). Values are typed by
no SQLAlchemy type, so each arrives as the driver gives it and leaves as ``as_text`` renders it;
SQLite values arrive as stored.

Incremental reads bind ``since`` untyped, so the database converts the text to the column's
type (``'2024-01-02T03:04:05'`` to a DATETIME, ``'42'`` to an INTEGER) exactly as it would a
literal; that is what lets the high water, kept as text, come back as the next ``since``.
"""

import re
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.pool import NullPool

from connectors.base import (
    ReadStats,
    SourceError,
    SourceUnreachable,
    Window,
    as_text,
    check_columns,
    text_batch,
)
from connectors.config import SourceSpec, SqlSpec
from connectors.credentials import resolve_url

CONNECT_TIMEOUT_S = 10
# Colons that SQLAlchemy's text() would read as bind parameters (":name", not "::cast").
_BIND_COLON = re.compile(r"(?<![:\w\\]):(?=\w)")


class SqlConnector:
    """A database table or query read as string batches, optionally only rows newer than ``since``."""

    def __init__(self, spec: SourceSpec) -> None:
        if not isinstance(spec.connector, SqlSpec):
            raise TypeError(f"{spec.name} is not a SQL source")
        self.spec = spec
        self.source = spec.name
        self.stats = ReadStats()
        self._sql: SqlSpec = spec.connector

    def columns(self) -> list[str]:
        """The columns of the table or query, from a query that returns no rows."""
        with self._connection() as conn:
            return self._source_columns(conn)

    def fingerprint(self) -> str | None:
        """Databases have no cheap digest; every run reads its window."""
        return None

    def read(self, window: Window) -> Generator[pa.RecordBatch, None, None]:
        """Stream the mapped columns; only rows whose incremental column exceeds ``window.since`` if set."""
        self.stats = ReadStats()
        mapped = list(self.spec.columns)
        incremental = self._sql.incremental_column
        selected = mapped if incremental is None or incremental in mapped else [*mapped, incremental]
        with self._connection() as conn:
            check_columns(
                source=self.source,
                department=self.spec.department,
                declared=selected,
                present=self._source_columns(conn),
            )
            statement = sa.select(*(sa.column(name) for name in selected)).select_from(self._from())
            params: dict[str, Any] = {}
            if incremental is not None and window.since is not None:
                since = sa.bindparam("since", type_=sa.types.NullType())
                statement = statement.where(sa.column(incremental) > since).order_by(sa.column(incremental))
                params["since"] = window.since
            chunk = self._sql.chunk_rows
            streaming = conn.execution_options(stream_results=True, max_row_buffer=chunk)
            high_index = selected.index(incremental) if incremental is not None else None
            high: Any = None
            done = 0
            # Closing the result before the connection lets pymysql finish an abandoned stream quietly
            # (it drains the rows left; a named psycopg cursor just closes).
            with streaming.execute(statement, params) as result:
                for part in result.partitions(chunk):
                    values = list(zip(*part, strict=True))
                    if high_index is not None:
                        high = _highest(high, values[high_index])
                        self.stats.high_water = as_text(high)
                    texts = {name: _texts(values[i]) for i, name in enumerate(mapped)}
                    yield text_batch(texts, range(done + 1, done + len(part) + 1))
                    done += len(part)

    def _from(self) -> sa.FromClause:
        if self._sql.table is not None:
            schema, _, name = self._sql.table.rpartition(".")
            return sa.table(name, schema=schema or None)
        assert self._sql.query is not None
        query = _BIND_COLON.sub(r"\\:", self._sql.query.strip().rstrip(";"))
        return sa.text(query).columns().subquery("src")

    def _source_columns(self, conn: Connection) -> list[str]:
        probe = sa.select(sa.text("*")).select_from(self._from()).where(sa.false())
        return list(conn.execute(probe).keys())

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        url = self._url()
        shown = url.render_as_string(hide_password=True)
        try:
            engine = sa.create_engine(url, poolclass=NullPool, connect_args=_connect_args(url))
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise self._bad_url(type(exc).__name__) from None
        try:
            try:
                conn = engine.connect()
            except sa.exc.DBAPIError as exc:
                raise self._unreachable(shown, exc, url.password) from exc
            with conn:
                try:
                    yield conn
                except sa.exc.DBAPIError as exc:
                    if exc.connection_invalidated:
                        raise self._unreachable(shown, exc, url.password) from exc
                    raise self._query_failed(exc, url.password) from exc
        finally:
            engine.dispose()

    def _url(self) -> URL:
        raw = resolve_url(self._sql.conn_id, source=self.source)
        try:
            url = make_url(raw)
        except sa.exc.ArgumentError:
            raise self._bad_url("ArgumentError") from None
        return self._read_only_sqlite(url) if url.get_backend_name() == "sqlite" else url

    def _read_only_sqlite(self, url: URL) -> URL:
        """Open an SQLite file read-only, so a wrong path is an error instead of a new empty database."""
        database = url.database or ""
        if database in ("", ":memory:"):
            return url
        uri = url.query.get("uri") == "true"
        path = Path(unquote(database.removeprefix("file:").split("?")[0]) if uri else database)
        if not path.is_file():
            raise SourceUnreachable(
                f"数据源 {self.source} 的 SQLite 数据库文件 {path} 不存在。"
                f"请确认部门 {self.spec.department} 已投放该文件，或更正连接 {self._sql.conn_id} 的路径。",
                f"the SQLite database file {path} of source {self.source} does not exist; check that "
                f"department {self.spec.department} delivered it or fix the path of connection "
                f"{self._sql.conn_id}",
                source=self.source,
            )
        if uri:
            return url.update_query_dict({"mode": url.query.get("mode", "ro")})
        return url.set(database=f"file:{quote(str(path))}").update_query_dict({"mode": "ro", "uri": "true"})

    def _unreachable(self, shown: str, exc: sa.exc.DBAPIError, password: str | None) -> SourceUnreachable:
        reason = _reason(exc, password)
        return SourceUnreachable(
            f"无法连接数据源 {self.source} 的数据库 {shown}：{reason}。"
            f"请确认数据库服务已启动、网络可达，并检查连接 {self._sql.conn_id} 的主机和端口；稍后将重试。",
            f"cannot reach the database {shown} of source {self.source}: {reason}; check that the server "
            f"is up and reachable and the host and port of connection {self._sql.conn_id}; "
            "the run will retry",
            source=self.source,
        )

    def _query_failed(self, exc: sa.exc.DBAPIError, password: str | None) -> SourceError:
        what = f"表 {self._sql.table}" if self._sql.table else "查询"
        what_en = f"table {self._sql.table}" if self._sql.table else "query"
        reason = _reason(exc, password)
        return SourceError(
            f"数据源 {self.source} 的{what}无法读取：{reason}。请确认表和列仍然存在且账号有查询权限，"
            f"或更新 sources.yaml。",
            f"the {what_en} of source {self.source} cannot be read: {reason}; check that the table and "
            "columns exist and the account may select them, or update sources.yaml",
            source=self.source,
            code="source_query_failed",
        )

    def _bad_url(self, error: str) -> SourceError:
        return SourceError(
            f"数据源 {self.source} 的连接 {self._sql.conn_id} 不是有效的 SQLAlchemy URL（{error}），"
            "请更正环境变量。",
            f"connection {self._sql.conn_id} of source {self.source} is not a valid SQLAlchemy URL "
            f"({error}); fix the environment variable",
            source=self.source,
            code="source_credentials_invalid",
        )


def _texts(values: tuple[Any, ...]) -> list[str | None]:
    return [v if v is None or v.__class__ is str else as_text(v) for v in values]


def _highest(current: Any, values: tuple[Any, ...]) -> Any:
    """The greater of ``current`` and ``values`` natively; by text when a column mixes types (SQLite)."""
    present = [v for v in values if v is not None]
    if current is not None:
        present.append(current)
    if not present:
        return None
    try:
        return max(present)
    except TypeError:
        return max(present, key=lambda v: as_text(v) or "")


def _connect_args(url: URL) -> dict[str, Any]:
    backend = url.get_backend_name()
    if backend in ("mysql", "mariadb", "postgresql") and "connect_timeout" not in url.query:
        return {"connect_timeout": CONNECT_TIMEOUT_S}
    return {}


def _reason(exc: sa.exc.DBAPIError, password: str | None) -> str:
    """The driver's first line of complaint, without the password should a driver ever echo it."""
    lines = str(exc.orig).strip().splitlines() or [type(exc.orig).__name__]
    reason = lines[0]
    return reason.replace(password, "***") if password else reason
