"""The set-wise SQL and JSON the loader's parts share: bulk inserts, lookups by key in slices, canonical JSON.

A chunk's rows are written and looked up as sets, never row by row: at a million rows the per-row
cost of SQLAlchemy's parameter processing, or of one round trip per key, is the whole load.
"""

import functools
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar, cast

import pandas as pd
from sqlalchemy import Row, Table, select
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
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    values = ", ".join([placeholder] * len(columns))
    sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) VALUES ({values})"
    params = [tuple(processors[c](row[c]) if c in processors else row[c] for c in columns) for row in rows]
    conn.exec_driver_sql(sql, params)


def slices(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), LOOKUP_SLICE):
        yield values[start : start + LOOKUP_SLICE]


def current_records(
    conn: Connection, library: str, department_id: int, keys: Sequence[str], *columns: Any
) -> list[Row[Any]]:
    """The subject key and ``columns`` of one department's current records of these subjects."""
    r = RECORDS.c
    found: list[Row[Any]] = []
    for part in slices(keys):
        found.extend(
            conn.execute(
                select(r.subject_key, *columns).where(
                    r.library == library,
                    r.department_id == department_id,
                    r.subject_key.in_(part),
                    r.valid_to.is_(None),
                )
            ).all()
        )
    return found


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
