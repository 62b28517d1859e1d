"""Statements that do not wait for one another, sent to the database in one round trip.

A hot write path (the data plane's group commit) runs a handful of short statements in a
transaction that holds contended row locks from its first statement to its commit: every round
trip inside it is time every other writer waits. Where the driver can pipeline (psycopg 3 on
PostgreSQL) the steps of a round go out together and their results come back together; elsewhere
(SQLite in process, MariaDB) they run one after another through SQLAlchemy, as any statement does.

A round may end with the commit (``commit=True``): on PostgreSQL the ``COMMIT`` then rides in the
same round trip, and the session's own commit that follows finds nothing left to do (psycopg sends
no COMMIT when no transaction is open). Under a savepoint the round leaves the commit to the session.

Steps go to the driver as compiled, with their parameters as given: the values must be what the
driver binds as they are (text, numbers, dates, aware datetimes), since no type's bind processing
runs on the pipelined path.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import exc
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import Compiled


@dataclass(frozen=True)
class Step:
    """One statement of a round: ``params`` a mapping, or a list of them (executemany)."""

    statement: Executable
    params: dict[str, Any] | list[dict[str, Any]]
    returns: bool = False  # whether its rows are wanted


def run(conn: Connection, steps: Sequence[Step], *, commit: bool = False) -> list[list[Any]]:
    """Run ``steps`` in one round trip where the driver pipelines; the rows of those that return some.

    The rows come back as tuples on the pipelined path and as SQLAlchemy rows otherwise; read them
    by position. With ``commit``, the transaction is committed in the same round trip (pipelined)
    or left for the caller's commit (elsewhere).
    """
    if conn.dialect.driver == "psycopg":
        return _pipelined(conn, steps, commit=commit)
    results: list[list[Any]] = []
    for step in steps:
        if isinstance(step.params, list) and not step.params:
            results.append([])
            continue
        result = conn.execute(step.statement, step.params)
        results.append(list(result.all()) if step.returns else [])
    return results


_SQL: dict[tuple[int, str, tuple[str, ...]], tuple[Executable, str, dict[str, Any]]] = {}


def _compiled(conn: Connection, step: Step) -> tuple[str, dict[str, Any]]:
    """The statement as the driver takes it, and the values bound in it (e.g. a WHERE id = 1).

    Compiled once per statement, dialect and parameter names.
    """
    first = step.params[0] if isinstance(step.params, list) else step.params
    keys = tuple(first)
    cache_key = (id(step.statement), conn.dialect.name, keys)
    cached = _SQL.get(cache_key)
    if cached is None or cached[0] is not step.statement:
        statement = cast(Any, step.statement)
        compiled = cast(Compiled, statement.compile(dialect=conn.dialect, column_keys=list(keys)))
        bound = {name: value for name, value in compiled.params.items() if name not in keys}
        cached = _SQL[cache_key] = (step.statement, compiled.string, bound)
    return cached[1], cached[2]


def _pipelined(conn: Connection, steps: Sequence[Step], *, commit: bool) -> list[list[Any]]:
    raw = cast(Any, conn.connection.dbapi_connection)
    cursors = []
    try:
        with raw.pipeline():
            for step in steps:
                cursor = raw.cursor()
                cursors.append(cursor)
                if isinstance(step.params, list):
                    if step.params:
                        sql, bound = _compiled(conn, step)
                        rows = [{**bound, **p} for p in step.params] if bound else step.params
                        cursor.executemany(sql, rows)
                else:
                    sql, bound = _compiled(conn, step)
                    cursor.execute(sql, {**bound, **step.params})
            # Only a transaction of the connection's own: a session joined to an outer
            # transaction through a savepoint (the tests') commits that savepoint, not the whole.
            if commit and not conn.in_nested_transaction():
                raw.commit()
        return [list(c.fetchall()) if step.returns else [] for c, step in zip(cursors, steps, strict=True)]
    except conn.dialect.loaded_dbapi.Error as error:
        # As SQLAlchemy does for its own statements: the driver's error wrapped in its DBAPIError
        # kind (OperationalError, IntegrityError …), and a lost connection invalidated.
        lost = conn.dialect.is_disconnect(error, raw, None)
        if lost:
            conn.invalidate(error)
        base = conn.dialect.loaded_dbapi.Error
        raise exc.DBAPIError.instance(None, None, error, base, connection_invalidated=lost) from error
    finally:
        for cursor in cursors:
            cursor.close()
