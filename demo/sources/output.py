"""How the demo sources reach files and databases.

A source's rows (:class:`SourceTable`), the SQL table writer, and a :class:`Writer` per output
directory that writes each file format and lists what it wrote in the manifest.
"""

import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import Workbook
from sqlalchemy import BigInteger, DateTime, Engine, Index, Integer, Table, create_engine, event
from sqlalchemy.dialects import sqlite

from demo.sources.manifest import Manifest, SourceOutput

CHUNK_ROWS = 50_000
# The flag on a department table's column that the source is keyed by: indexed, never unique.
BUSINESS_KEY = "business_key"


@dataclass
class SourceTable:
    """Rows of one source, column by column, in the order a connector numbers them."""

    columns: dict[str, list[Any]]

    @property
    def rows(self) -> int:
        """How many rows there are."""
        return len(next(iter(self.columns.values())))

    def records(self) -> list[dict[str, Any]]:
        """One mapping per row, columns in order."""
        return [
            dict(zip(self.columns, values, strict=True))
            for values in zip(*self.columns.values(), strict=True)
        ]


def _engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _fast_load(dbapi_connection: Any, _record: Any) -> None:
            # A generator's load is all-or-nothing and rerun on failure: durability buys nothing.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=MEMORY")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.close()

    return engine


# SQLite stores DATETIME as text; without microseconds the stored text equals str(datetime), so a
# high-water mark read as text compares correctly with the column.
TIMESTAMP = DateTime().with_variant(
    sqlite.DATETIME(
        storage_format="%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d",
        regexp=r"(\d+)-(\d+)-(\d+) (\d+):(\d+):(\d+)",
    ),
    "sqlite",
)


# On SQLite, INTEGER PRIMARY KEY is the rowid itself: no second index to maintain.
SURROGATE_ID = BigInteger().with_variant(Integer, "sqlite")


def write_table(url: str, table: SourceTable, target: Table) -> None:
    """Replace ``target`` at ``url`` with ``table``'s rows: one transaction, chunked executemany.

    The business key and ``updated_at`` are indexed once the rows are in, as a bulk load should.
    """
    engine = _engine(url)
    try:
        names = ", ".join(table.columns)
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        insert = f"INSERT INTO {target.name} ({names}) VALUES ({', '.join([marker] * len(table.columns))})"
        columns = list(table.columns.values())
        if engine.dialect.name == "sqlite":
            columns = [[_sqlite_text(v) for v in column] for column in columns]
        with engine.begin() as conn:
            target.drop(conn, checkfirst=True)
            target.create(conn)
            # Rows go to the driver's executemany as tuples: SQLAlchemy's per-row parameter
            # processing would cost more than the database does.
            for start in range(0, table.rows, CHUNK_ROWS):
                chunk = [column[start : start + CHUNK_ROWS] for column in columns]
                conn.exec_driver_sql(insert, list(zip(*chunk, strict=True)))
            key = next(c for c in target.columns if c.info.get(BUSINESS_KEY))
            Index(f"ix_{target.name}_{key.name}", key).create(conn)
            Index(f"ix_{target.name}_updated_at", target.c.updated_at).create(conn)
    finally:
        engine.dispose()


def _sqlite_text(value: Any) -> Any:
    """A value as SQLAlchemy stores it in SQLite: dates and times as ISO text, decimals as text."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | Decimal):
        return str(value)
    return value


def as_text(value: Any) -> str:
    """A value as text files hold it: empty for None, ISO dates."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def csv_text(table: SourceTable, *, crlf: bool) -> str:
    """The rows as CSV with a header line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n")
    writer.writerow(table.columns)
    for values in zip(*table.columns.values(), strict=True):
        writer.writerow([as_text(v) for v in values])
    return buffer.getvalue()


_ZIP_TIME = (2026, 11, 20, 0, 0, 0)
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)")
_FIXED_MODIFIED = rb"\g<1>2026-11-20T08:00:00Z\g<2>"


class Writer:
    """Writes sources under the output directory and records each in the manifest."""

    def __init__(self, root: Path, manifest: Manifest) -> None:
        self.root = root
        self.manifest = manifest

    def path(self, relative: str) -> Path:
        """The file at ``relative`` under the output directory, its directory created."""
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _record(self, name: str, fmt: str, rows: int, relative: str) -> None:
        self.manifest.sources[name] = SourceOutput(format=fmt, rows=rows, path=relative)

    def sql(self, name: str, url: str, table: SourceTable, target: Table) -> None:
        """Write ``target`` at ``url``; a SQLite file in the output directory is listed by its path."""
        write_table(url, table, target)
        output = SourceOutput(format="sql", rows=table.rows, table=target.name)
        database = url.removeprefix("sqlite:///")
        if url.startswith("sqlite:///") and Path(database).parent == self.root:
            output.path = Path(database).name
        self.manifest.sources[name] = output

    def csv(
        self,
        name: str,
        relative: str,
        table: SourceTable,
        *,
        encoding: str = "utf-8",
        crlf: bool = False,
        truncate_last: bool = False,
    ) -> None:
        """Write a CSV file; ``truncate_last`` cuts the last record off in its second field."""
        text = csv_text(table, crlf=crlf)
        if truncate_last:
            # The transfer stopped part-way through the last record's second field.
            head, _, last = text.rstrip("\n").rpartition("\n")
            first, second, _ = last.split(",", 2)
            text = f"{head}\n{first},{second[: max(1, len(second) // 2)]}"
        self.path(relative).write_bytes(text.encode(encoding))
        self._record(name, "csv", table.rows, relative)

    def json(
        self,
        name: str,
        relative: str,
        records: list[dict[str, Any]],
        *,
        fmt: str = "json",
        indent: int | None,
    ) -> None:
        """Write a JSON array; ``fmt`` is what the manifest calls it (``http`` for the API's records)."""
        text = json.dumps(
            records, ensure_ascii=False, indent=indent, separators=None if indent else (",", ":")
        )
        self.path(relative).write_text(text + "\n", encoding="utf-8")
        self._record(name, fmt, len(records), relative)

    def jsonl(self, name: str, relative: str, records: list[dict[str, Any]]) -> None:
        """Write one JSON object per line."""
        lines = [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in records]
        self.path(relative).write_text("\n".join(lines) + "\n", encoding="utf-8")
        self._record(name, "jsonl", len(records), relative)

    def xlsx(self, name: str, relative: str, table: SourceTable, *, sheet: str) -> None:
        """Write one worksheet with a header row."""
        workbook = Workbook(write_only=True)
        workbook.properties.creator = "榕城市民政局"
        workbook.properties.created = workbook.properties.modified = datetime(2026, 11, 20, 8, 0)
        worksheet = workbook.create_sheet(sheet)
        worksheet.append(list(table.columns))
        for values in zip(*table.columns.values(), strict=True):
            worksheet.append(list(values))
        path = self.path(relative)
        workbook.save(path)
        _freeze_zip(path)
        self._record(name, "xlsx", table.rows, relative)

    def parquet(self, name: str, relative: str, table: SourceTable) -> None:
        """Write Parquet: date columns as dates, every other column as text."""
        arrays = {
            column: pa.array(
                values, type=pa.date32() if values and isinstance(values[0], date) else pa.string()
            )
            for column, values in table.columns.items()
        }
        pq.write_table(pa.table(arrays), self.path(relative), compression="snappy")
        self._record(name, "parquet", table.rows, relative)


def _freeze_zip(path: Path) -> None:
    """Rewrite a zip (XLSX) with fixed entry timestamps, so equal content gives equal bytes.

    openpyxl stamps the document's ``dcterms:modified`` with the time of saving, whatever the
    workbook's properties say; it is set back to the fixed time too.
    """
    with zipfile.ZipFile(path) as source:
        entries = [(info.filename, source.read(info)) for info in source.infolist()]
    entries = [
        (filename, _MODIFIED.sub(_FIXED_MODIFIED, data) if filename == "docProps/core.xml" else data)
        for filename, data in entries
    ]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for filename, data in entries:
            target.writestr(zipfile.ZipInfo(filename, date_time=_ZIP_TIME), data, zipfile.ZIP_DEFLATED)
