"""The one interface every department source implements, and the errors a source can raise.

A connector reads a source as Arrow record batches of *raw text*: every column is
``pa.string()`` exactly as the source holds it (``None`` for SQL NULL or an empty field), plus
``_row`` (int64), the 1-based position of the record in the source (line of a file after its
header, row of a query, index across the pages of an API). Typing and validation belong to
``quality/``; a connector only moves bytes faithfully and says where each record came from.
"""

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from decimal import Decimal
from typing import Protocol

import pyarrow as pa

from catalog_schema.errors import GovdxError

ROW_COLUMN = "_row"


@dataclass(frozen=True)
class Window:
    """What part of a source to read: records whose incremental column is greater than ``since``."""

    since: str | None = None


@dataclass
class RejectedRecord:
    """A record the source format itself could not parse (a truncated line, a short row)."""

    row: int
    raw: str
    reason: str
    reason_en: str


@dataclass
class ReadStats:
    """Filled while a connector reads: where the source ended and what could not be parsed."""

    high_water: str | None = None
    fingerprint: str | None = None
    rejected: list[RejectedRecord] = field(default_factory=list)


class Connector(Protocol):
    """A department source: a database table or query, a file drop, or a paged HTTP API."""

    source: str
    stats: ReadStats

    def columns(self) -> list[str]:
        """The source's column names, without reading its records (used to check the mapping)."""
        ...

    def fingerprint(self) -> str | None:
        """A digest of the source's content when cheap to know (files), so an unchanged source is skipped."""
        ...

    def read(self, window: Window) -> Iterator[pa.RecordBatch]:
        """Stream the records of ``window`` as string-typed batches of at most ``chunk_rows`` rows."""
        ...


class SourceError(GovdxError):
    """A source cannot be read as declared; names the source, the column when there is one, and the fix."""

    status = 502
    code = "source_error"

    def __init__(
        self,
        message: str,
        message_en: str,
        *,
        source: str,
        column: str | None = None,
        code: str | None = None,
        retryable: bool = False,
    ) -> None:
        super().__init__(message, message_en, code=code, extra={"source": source, "column": column})
        self.source = source
        self.column = column
        self.retryable = retryable


class SourceUnreachable(SourceError):
    """The source did not answer (connection refused, timeout, 5xx); retrying may help."""

    code = "source_unreachable"

    def __init__(self, message: str, message_en: str, *, source: str) -> None:
        super().__init__(message, message_en, source=source, retryable=True)


class SchemaDrift(SourceError):
    """A declared column is missing from the source, or the file cannot be decoded as declared."""

    code = "source_schema_drift"


def as_text(value: object) -> str | None:
    """The canonical text of a source value: ISO 8601 dates and times, plain decimals, "1"/"0" booleans."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, date | time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, Decimal):
        # str() would give "0E-8" for a NUMERIC(18,8) zero; "f" gives the digits the database shows.
        return format(value, "f")
    if isinstance(value, timedelta):  # MySQL TIME columns arrive as timedelta
        return _duration_text(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


def _duration_text(value: timedelta) -> str:
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.days * 86_400 + value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    fraction = f".{value.microseconds:06d}" if value.microseconds else ""
    return f"{sign}{hours:02d}:{minutes:02d}:{seconds:02d}{fraction}"


def text_schema(columns: Sequence[str]) -> pa.Schema:
    """The schema of every batch a connector yields: the mapped columns as strings, then ``_row``."""
    return pa.schema([*(pa.field(name, pa.string()) for name in columns), pa.field(ROW_COLUMN, pa.int64())])


def text_batch(columns: dict[str, list[str | None]], rows: pa.Array | Sequence[int]) -> pa.RecordBatch:
    """A batch of text columns plus ``_row``."""
    arrays = [pa.array(values, pa.string()) for values in columns.values()]
    arrays.append(pa.array(rows, pa.int64()))
    return pa.RecordBatch.from_arrays(arrays, schema=text_schema(list(columns)))


def check_columns(*, source: str, department: str, declared: Sequence[str], present: Sequence[str]) -> None:
    """Raise SchemaDrift naming the first declared column the source lacks, what it has, and the fix."""
    missing = [name for name in declared if name not in set(present)]
    if not missing:
        return
    shown = ", ".join(present[:40]) + (" …" if len(present) > 40 else "") if present else "（无）"
    shown_en = ", ".join(present[:40]) + (" …" if len(present) > 40 else "") if present else "(none)"
    names = ", ".join(missing)
    raise SchemaDrift(
        f"数据源 {source} 缺少已声明的列 {names}（源中现有列：{shown}）。"
        f"请联系部门 {department} 恢复列 {names}，或更新 sources.yaml 中该数据源的列映射。",
        f"source {source} lacks the declared column(s) {names} (it has: {shown_en}); "
        f"ask department {department} to restore column {names} or update the mapping in sources.yaml",
        source=source,
        column=missing[0],
    )
