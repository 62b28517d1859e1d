"""The set-wise SQL and JSON the loader's parts share: bulk inserts, lookups by key in slices, canonical JSON.

A chunk's rows are written and looked up as sets, never row by row: at a million rows the per-row
cost of SQLAlchemy's parameter processing, or of one round trip per key, is the whole load.
"""

import functools
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

import pandas as pd
from sqlalchemy import ColumnElement, Row, Select, Table, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from catalog_schema.library.models import LibraryRecord

T = TypeVar("T")

# Keys per IN (...) lookup: below SQLite's variable limit, large enough to amortise round trips.
LOOKUP_SLICE = 5000

RECORDS = cast(Table, LibraryRecord.__table__)


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany straight to the driver, each column's bind processing done once per value kind.

    SQLAlchemy's per-row parameter processing costs more than the insert itself at a million
    rows; the values here are already plain text, numbers and one timestamp per batch.
    """
    if not rows:
        return
    columns = list(rows[0])
    dialect = conn.dialect
    processors = {}
    for name in columns:
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            # Memoised for this call: the processed columns hold a handful of distinct values
            # (the library, the batch's timestamp), so each is processed once, not once per row.
            processors[name] = functools.cache(processor)
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    target = f"{dialect.identifier_preparer.format_table(table)} ({names})"
    params = [tuple(processors[c](row[c]) if c in processors else row[c] for c in columns) for row in rows]
    if dialect.name == "postgresql":
        _copy(conn, target, params)
        return
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    values = ", ".join([placeholder] * len(columns))
    conn.exec_driver_sql(f"INSERT INTO {target} VALUES ({values})", params)


def _copy(conn: Connection, target: str, rows: list[tuple[Any, ...]]) -> None:
    """PostgreSQL's ``COPY … FROM STDIN`` through psycopg, in the connection's transaction.

    Even pipelined, psycopg's executemany sends a bind and an execute message per row and the
    server plans each: half the load's time at a million rows. COPY streams the rows as one
    statement; psycopg adapts the values by their Python type as it would bind them.
    """
    cursor = cast(Any, conn.connection.dbapi_connection).cursor()
    with cursor.copy(f"COPY {target} FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def slices(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), LOOKUP_SLICE):
        yield values[start : start + LOOKUP_SLICE]


def matching(
    conn: Connection, query: Select[Any], column: ColumnElement[Any], keys: Sequence[Any]
) -> list[Row[Any]]:
    """The rows of ``query`` whose ``column`` is one of ``keys``, each key looked up through an index.

    PostgreSQL: one statement per call, the keys bound as one array and probed one by one through
    a lateral subquery (``unnest(:keys) CROSS JOIN LATERAL (query AND column = key OFFSET 0)``).
    Inside a load's transaction the planner has no statistics for the rows it wrote (autovacuum
    sees them only after commit): it takes ``library = … AND department_id = …`` for a rare pair,
    so an ``IN`` list or a plain join scans the department's whole index prefix and filters the
    keys, once per lookup: quadratic in the load. ``OFFSET 0`` keeps the subquery from being
    flattened into a join the planner could hash, so each key is one index probe whatever the
    statistics say. Elsewhere (SQLite, MariaDB): ``IN`` lists in slices under SQLite's variable
    limit; SQLite plans an ``IN`` list as index probes from the schema alone.
    """
    if not keys:
        return []
    if conn.dialect.name == "postgresql":
        array = bindparam("keys", list(keys), type_=ARRAY(column.type))
        wanted = func.unnest(array).table_valued("key").render_derived(name="wanted")
        probe = query.where(column == wanted.c.key).offset(0).lateral()
        return list(conn.execute(select(probe).select_from(wanted).join(probe, true())).all())
    found: list[Row[Any]] = []
    for part in slices(keys):
        found.extend(conn.execute(query.where(column.in_(part))).all())
    return found


def current_records(
    conn: Connection, library: str, department_id: int, keys: Sequence[str], *columns: Any
) -> list[Row[Any]]:
    """The subject key and ``columns`` of one department's current records of these subjects."""
    r = RECORDS.c
    query = select(r.subject_key, *columns).where(
        r.library == library, r.department_id == department_id, r.valid_to.is_(None)
    )
    return matching(conn, query, r.subject_key, keys)


def canonical_json(frame: pd.DataFrame) -> list[str]:
    """One canonical JSON object per row: keys in sorted column order, nulls kept, UTF-8 text."""
    if frame.empty:
        return []
    ordered = frame[sorted(frame.columns)]
    ordered = ordered.astype(object).where(ordered.notna(), None)
    text = ordered.to_json(orient="records", lines=True, force_ascii=False)
    # Split on "\n" only: JSON escapes it inside strings, but not U+0085 or U+2028, which
    # str.splitlines() would also split on.
    return text.removesuffix("\n").split("\n")
