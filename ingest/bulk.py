"""The set-wise SQL and JSON the loader's parts share: bulk inserts, lookups by key in slices, canonical JSON.

A chunk's rows are written and looked up as sets, never row by row: at a million rows the per-row
cost of SQLAlchemy's parameter processing, or of one round trip per key, is the whole load.
"""

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import ColumnElement, Row, Select, Table, bindparam, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Connection

from catalog_schema.library.models import LibraryRecord

T = TypeVar("T")

# Keys per IN (...) lookup: below SQLite's variable limit, large enough to amortise round trips.
LOOKUP_SLICE = 5000

RECORDS = cast(Table, LibraryRecord.__table__)


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """:func:`insert_tuples` of rows given as dicts, all with the same keys."""
    if rows:
        columns = list(rows[0])
        insert_tuples(conn, table, columns, [tuple(row[c] for c in columns) for row in rows])


def insert_tuples(
    conn: Connection,
    table: Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    constants: dict[str, Any] | None = None,
) -> None:
    """executemany (PostgreSQL: COPY) straight to the driver, each value's bind processing done once.

    SQLAlchemy's per-row parameter processing costs more than the insert itself at a million
    rows; the values here are already plain text, numbers and one timestamp per batch.
    ``constants`` are the columns every row shares (the library, the batch, its timestamp):
    processed once and appended to each row.
    """
    if not rows:
        return
    dialect = conn.dialect

    def processor(name: str) -> Callable[[Any], Any] | None:
        return table.c[name].type.dialect_impl(dialect).bind_processor(dialect)

    varying = [(i, p) for i, p in ((i, processor(c)) for i, c in enumerate(columns)) if p is not None]
    if varying:
        # Memoised: such columns hold a handful of distinct values (an enum), each processed once.
        cached = [(i, functools.cache(p)) for i, p in varying]
        rows = [_processed(row, cached) for row in rows]
    shared = dict(constants or {})
    for name, value in shared.items():
        p = processor(name)
        shared[name] = value if p is None else p(value)
    if shared:
        tail = tuple(shared.values())
        rows = [row + tail for row in rows]
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in [*columns, *shared])
    target = f"{dialect.identifier_preparer.format_table(table)} ({names})"
    if dialect.name == "postgresql":
        _copy(conn, target, rows)
        return
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    values = ", ".join([placeholder] * (len(columns) + len(shared)))
    conn.exec_driver_sql(f"INSERT INTO {target} VALUES ({values})", rows)


def _processed(
    row: tuple[Any, ...], processed: Sequence[tuple[int, Callable[[Any], Any]]]
) -> tuple[Any, ...]:
    values = list(row)
    for i, process in processed:
        values[i] = process(values[i])
    return tuple(values)


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
    """One canonical JSON object per row: keys in sorted column order, nulls kept, UTF-8 text.

    Built column-wise in Arrow when every column holds text (the loader's frames always do):
    byte for byte what :func:`canonical_json_pandas` gives, since stored row digests are keyed
    digests of this text and a forced re-read must find unchanged rows unchanged.
    """
    if frame.empty:
        return []
    escaped = json_columns(frame)
    if escaped is None:
        return canonical_json_pandas(frame)
    return json_objects(escaped)


def json_columns(frame: pd.DataFrame) -> dict[str, pa.Array] | None:
    """Each column's values escaped as JSON string bodies (nulls kept); None unless all hold text."""
    escaped = {}
    for name in frame.columns:
        values = _escaped(frame[name]) if isinstance(name, str) else None
        if values is None:
            return None
        escaped[name] = values
    return escaped or None


def json_objects(escaped: dict[str, pa.Array]) -> list[str]:
    """The canonical JSON objects of columns from :func:`json_columns`, keys sorted."""
    # Nulls become a NUL between quotes, then "null": an escaped value never holds a raw NUL.
    pieces: list[Any] = []
    for i, name in enumerate(sorted(escaped)):
        pieces += [("{" if i == 0 else ",") + _json_string(name) + ':"', pc.fill_null(escaped[name], "\x00")]
        pieces.append('"')
    pieces.append("}")
    joined = pc.replace_substring(pc.binary_join_element_wise(*pieces, ""), '"\x00"', "null")
    return cast(list[str], joined.to_pylist())


def canonical_json_pandas(frame: pd.DataFrame) -> list[str]:
    """:func:`canonical_json` by pandas, for any column type: the reference of the Arrow path."""
    if frame.empty:
        return []
    ordered = frame[sorted(frame.columns)]
    ordered = ordered.astype(object).where(ordered.notna(), None)
    text = ordered.to_json(orient="records", lines=True, force_ascii=False)
    # Split on "\n" only: JSON escapes it inside strings, but not U+0085 or U+2028, which
    # str.splitlines() would also split on.
    return text.removesuffix("\n").split("\n")


def _json_string(value: str) -> str:
    """One string as pandas' JSON writer gives it: json.dumps, and "/" escaped too."""
    return json.dumps(value, ensure_ascii=False).replace("/", "\\/")


# Bytes that JSON escapes: control characters, the quote and the backslash; pandas also "/".
_NEEDS_ESCAPE = np.zeros(256, bool)
_NEEDS_ESCAPE[:0x20] = True
_NEEDS_ESCAPE[[ord('"'), ord("\\"), ord("/")]] = True


def _escaped(values: pd.Series) -> pa.Array | None:
    """A text column's values as JSON string bodies, nulls kept; None when it holds anything but text."""
    if not isinstance(values.dtype, pd.StringDtype) and pd.api.types.infer_dtype(values) not in (
        "string",
        "empty",
    ):
        return None
    try:
        source = values.array if isinstance(values.dtype, pd.StringDtype) else values.astype(object)
        text = pa.array(source, type=pa.string(), from_pandas=True)
    except (pa.ArrowException, UnicodeError):
        return None  # e.g. a lone surrogate: pandas' writer decides what becomes of it
    data = text.buffers()[2]
    if data is None or not _NEEDS_ESCAPE[np.frombuffer(data, np.uint8)].any():
        return text  # the usual case, checked on the raw bytes at once
    # Rare: escape just the rows that need it, as json.dumps does (and "/" as pandas does).
    marked = pc.fill_null(pc.match_substring_regex(text, '[\\x00-\\x1f"\\\\/]'), False)
    fixed = text.to_pylist()
    for p in np.flatnonzero(marked.to_numpy(zero_copy_only=False)):
        fixed[p] = _json_string(fixed[p])[1:-1]
    return pa.array(fixed, type=pa.string())
