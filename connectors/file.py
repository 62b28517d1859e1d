"""A file drop read in chunks: CSV, XLSX, JSON (an array of objects or JSON Lines) or Parquet.

Every format is streamed: CSV by pyarrow's block reader, XLSX by openpyxl's read-only rows,
JSON by ``JSONDecoder.raw_decode`` over a buffered text reader (one record in memory at a
time, a record capped at ``MAX_JSON_RECORD_CHARS``), Parquet by record batch.

Text files are decoded as declared (``encoding:``), else detected: a UTF-8 byte-order mark or
a first 64 KiB that is valid UTF-8 means UTF-8, anything else GB18030, the encoding Chinese
government exports most often use. A CSV record with the wrong number of fields (the last
line of a truncated file) is skipped and reported in ``stats.rejected``; its number still
counts, so ``_row`` stays the record's true position after the header. A cut inside the last
field that leaves the field count intact is invisible to the format and is not detected.

Errors can surface after batches were yielded (a bad byte deep in a file): a read that raises
is a failed read, whatever it yielded. ``Window`` does not apply: a file is read whole, and an
unchanged file is recognised by ``fingerprint()``.
"""

import codecs
import hashlib
import json
import re
import zipfile
from collections.abc import Callable, Generator, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
from openpyxl.utils.exceptions import InvalidFileException

from connectors.base import (
    ROW_COLUMN,
    ReadStats,
    RejectedRecord,
    SchemaDrift,
    SourceError,
    SourceUnreachable,
    Window,
    as_text,
    check_columns,
    text_batch,
    text_schema,
)
from connectors.config import FileSpec, SourceSpec

DETECT_BYTES = 64 * 1024
CSV_BLOCK_BYTES = 1 << 20
JSON_READ_CHARS = 64 * 1024
MAX_JSON_RECORD_CHARS = 16 * 1024 * 1024
_SUFFIX_FORMATS = {
    ".csv": "csv",
    ".txt": "csv",
    ".tsv": "csv",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
    ".json": "json",
    ".jsonl": "json",
    ".ndjson": "json",
    ".parquet": "parquet",
}
_JSON_SPACE = re.compile(r"[ \t\n\r]*")


class FileConnector:
    """A CSV, XLSX, JSON or Parquet file under the sources directory, read as string batches."""

    def __init__(self, spec: SourceSpec, sources_dir: Path) -> None:
        if not isinstance(spec.connector, FileSpec):
            raise TypeError(f"{spec.name} is not a file source")
        self.spec = spec
        self.source = spec.name
        self.stats = ReadStats()
        self._file: FileSpec = spec.connector
        self.path = self._file.resolve(sources_dir)

    @property
    def format(self) -> str:
        """The declared format, else the one the file name suggests."""
        found = self._file.format or _SUFFIX_FORMATS.get(self.path.suffix.lower())
        if found is None:
            raise SourceError(
                f"无法从文件名 {self.path.name} 判断数据源 {self.source} 的格式，"
                "请在 sources.yaml 中声明 format: csv、xlsx、json 或 parquet。",
                f"cannot tell the format of {self.path.name} (source {self.source}) from its name; "
                "declare format: csv, xlsx, json or parquet in sources.yaml",
                source=self.source,
                code="source_unreadable",
            )
        return found

    def columns(self) -> list[str]:
        """The header of the file (first row, first record or schema), without reading the records."""
        self._require_file()
        return {
            "csv": self._csv_columns,
            "xlsx": self._xlsx_columns,
            "json": self._json_columns,
            "parquet": self._parquet_columns,
        }[self.format]()

    def fingerprint(self) -> str | None:
        """``sha256:<hex>`` of the file's bytes, read in 1 MiB blocks."""
        self._require_file()
        digest = hashlib.sha256()
        with self.path.open("rb") as stream:
            while block := stream.read(1 << 20):
                digest.update(block)
        return f"sha256:{digest.hexdigest()}"

    def read(self, window: Window) -> Generator[pa.RecordBatch, None, None]:
        """Stream the mapped columns of the whole file; ``window`` is ignored (files have no high water)."""
        self.stats = ReadStats()
        self.stats.fingerprint = self.fingerprint()
        check_columns(
            source=self.source,
            department=self.spec.department,
            declared=list(self.spec.columns),
            present=self.columns(),
        )
        reader: Callable[[], Iterator[pa.RecordBatch]] = {
            "csv": self._csv_batches,
            "xlsx": self._xlsx_batches,
            "json": self._json_batches,
            "parquet": self._parquet_batches,
        }[self.format]
        yield from _rechunk(reader(), self._file.chunk_rows)

    # -- CSV -------------------------------------------------------------------------------

    def _csv_columns(self) -> list[str]:
        with self._decoding():
            reader = self._open_csv(convert=pcsv.ConvertOptions(), on_invalid=lambda row: "skip")
        reader.close()
        return list(reader.schema.names)

    def _csv_batches(self) -> Iterator[pa.RecordBatch]:
        names = list(self.spec.columns)
        rejected: set[int] = set()

        def on_invalid(row: pcsv.InvalidRow) -> str:
            # Logical row numbers count the header as 1 (known because use_threads=False).
            record = row.number - 1
            rejected.add(record)
            self.stats.rejected.append(
                RejectedRecord(
                    row=record,
                    raw=row.text,
                    reason="记录字段数不符（文件可能被截断）",
                    reason_en=f"record has {row.actual_columns} fields, expected "
                    f"{row.expected_columns} (truncated file?)",
                )
            )
            return "skip"

        convert = pcsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            include_columns=names,
            strings_can_be_null=True,
            null_values=[""],
        )
        with self._decoding():
            reader = self._open_csv(convert=convert, on_invalid=on_invalid)
            try:
                last = 0
                for batch in reader:
                    if batch.num_rows == 0:
                        continue
                    rows, last = _record_numbers(last, batch.num_rows, rejected)
                    yield batch.append_column(ROW_COLUMN, rows)
            finally:
                reader.close()

    def _open_csv(
        self, *, convert: pcsv.ConvertOptions, on_invalid: Callable[[pcsv.InvalidRow], str]
    ) -> pcsv.CSVStreamingReader:
        encoding = self._encoding()
        return pcsv.open_csv(
            self.path,
            read_options=pcsv.ReadOptions(
                use_threads=False,
                block_size=CSV_BLOCK_BYTES,
                # pyarrow reads UTF-8 natively (and skips a BOM); other encodings go through Python's codecs.
                encoding="utf8" if encoding == "utf-8" else encoding,
            ),
            parse_options=pcsv.ParseOptions(
                delimiter=self._file.delimiter,
                newlines_in_values=True,
                invalid_row_handler=on_invalid,
            ),
            convert_options=convert,
        )

    # -- XLSX ------------------------------------------------------------------------------

    def _xlsx_columns(self) -> list[str]:
        with self._workbook() as rows:
            return _header(next(rows, ()))

    def _xlsx_batches(self) -> Iterator[pa.RecordBatch]:
        names = list(self.spec.columns)
        with self._workbook() as rows:
            header = _header(next(rows, ()))
            positions = [header.index(name) for name in names]
            width = max(positions, default=-1) + 1
            buffer = _Buffer(names)
            for number, cells in enumerate(rows, start=1):
                if all(cell is None for cell in cells):
                    continue  # formatted but empty rows are not records
                cells = (*cells, *(None,) * (width - len(cells)))
                buffer.add(number, [_cell_text(cells[i]) for i in positions])
                if len(buffer) >= self._file.chunk_rows:
                    yield buffer.flush()
            if len(buffer):
                yield buffer.flush()

    @contextmanager
    def _workbook(self) -> Iterator[Iterator[tuple[Any, ...]]]:
        """The rows of the declared sheet (or the first) of the workbook opened read-only."""
        with self._unreadable(zipfile.BadZipFile, InvalidFileException, KeyError, OSError):
            book = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        try:
            name = self._file.sheet
            if name is not None and name not in book.sheetnames:
                raise self._sheet_missing(name, book.sheetnames)
            sheet = book[name] if name is not None else book.worksheets[0]
            # Exporters often write a wrong <dimension>; without this, read-only rows would be cut to it.
            sheet.reset_dimensions()
            yield iter(sheet.iter_rows(values_only=True))
        finally:
            book.close()

    def _sheet_missing(self, name: str, sheets: list[str]) -> SchemaDrift:
        have = ", ".join(sheets)
        return SchemaDrift(
            f"数据源 {self.source} 的工作簿 {self.path.name} 没有工作表 {name}（现有：{have}）。"
            f"请联系部门 {self.spec.department} 恢复该工作表，或更新 sources.yaml 中的 sheet。",
            f"the workbook {self.path.name} of source {self.source} has no sheet {name} (it has: {have}); "
            f"ask department {self.spec.department} to restore it or update sheet in sources.yaml",
            source=self.source,
            column=None,
            code="source_sheet_missing",
        )

    # -- JSON ------------------------------------------------------------------------------

    def _json_columns(self) -> list[str]:
        first = next(self._json_records(), None)
        return list(first[1]) if first is not None else []

    def _json_batches(self) -> Iterator[pa.RecordBatch]:
        names = list(self.spec.columns)
        buffer = _Buffer(names)
        for number, record in self._json_records():
            buffer.add(number, [as_text(record.get(name)) for name in names])
            if len(buffer) >= self._file.chunk_rows:
                yield buffer.flush()
        if len(buffer):
            yield buffer.flush()

    def _json_records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        encoding = self._encoding()
        with self._decoding(), self.path.open(encoding=_text_codec(encoding), newline="") as stream:
            first = _peek(stream)
            if first == "[":
                records = _JsonArray(stream, on_error=self._truncated).records()
            elif first == "{":
                records = self._json_lines(stream)
            else:
                raise self._truncated(1, "文件不是 JSON 数组或 JSON Lines", "not a JSON array nor JSON Lines")
            for number, record in enumerate(records, start=1):
                if not isinstance(record, dict):
                    raise SourceError(
                        f"数据源 {self.source} 的 JSON 第 {number} 条记录不是对象，"
                        "请让部门提供对象数组或每行一个对象的 JSON Lines。",
                        f"record {number} of source {self.source} is not a JSON object; ask for an array "
                        "of objects or JSON Lines with one object per line",
                        source=self.source,
                        code="source_unreadable",
                    )
                yield number, record

    def _json_lines(self, stream: TextIO) -> Iterator[Any]:
        decoder = json.JSONDecoder(parse_float=Decimal)
        for line_no, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                yield decoder.decode(line)
            except json.JSONDecodeError as exc:
                raise self._truncated(line_no, exc.msg, exc.msg) from None

    def _truncated(self, line: int, detail: str, detail_en: str) -> SourceError:
        return SourceError(
            f"数据源 {self.source} 的 JSON 文件 {self.path.name} 在第 {line} 行无法解析（{detail}），"
            "文件可能被截断或损坏。请让部门重新投放完整的文件。",
            f"the JSON file {self.path.name} of source {self.source} cannot be parsed at line {line} "
            f"({detail_en}); the file may be truncated or corrupt; ask the department to deliver it again",
            source=self.source,
            code="source_truncated",
        )

    # -- Parquet ---------------------------------------------------------------------------

    def _parquet_columns(self) -> list[str]:
        with self._unreadable(pa.ArrowException):
            return list(pq.ParquetFile(self.path).schema_arrow.names)

    def _parquet_batches(self) -> Iterator[pa.RecordBatch]:
        names = list(self.spec.columns)
        with self._unreadable(pa.ArrowException):
            parquet = pq.ParquetFile(self.path)
            done = 0
            for batch in parquet.iter_batches(batch_size=self._file.chunk_rows, columns=names):
                arrays = [_arrow_text(batch.column(name)) for name in names]
                arrays.append(pa.array(range(done + 1, done + batch.num_rows + 1), pa.int64()))
                done += batch.num_rows
                yield pa.RecordBatch.from_arrays(arrays, schema=text_schema(names))

    # -- shared ----------------------------------------------------------------------------

    def _require_file(self) -> None:
        if not self.path.is_file():
            raise SourceUnreachable(
                f"数据源 {self.source} 的文件 {self.path} 不存在。部门 {self.spec.department} 可能尚未投放，"
                "请确认文件已上传到数据源目录或更正 sources.yaml 中的 path；稍后将重试。",
                f"the file {self.path} of source {self.source} does not exist; department "
                f"{self.spec.department} may not have delivered it yet: check the drop folder or the path "
                "in sources.yaml; the run will retry",
                source=self.source,
            )

    def _encoding(self) -> str:
        declared = self._file.encoding
        if declared is None:
            return _detect_encoding(self.path)
        try:
            return codecs.lookup(declared).name
        except LookupError:
            raise SchemaDrift(
                f"数据源 {self.source} 声明的编码 {declared} 不存在，"
                "请在 sources.yaml 中改为 utf-8 或 gb18030。",
                f"source {self.source} declares the unknown encoding {declared}; declare utf-8 or gb18030 "
                "in sources.yaml",
                source=self.source,
                code="source_encoding",
            ) from None

    @contextmanager
    def _decoding(self) -> Iterator[None]:
        """Map a decoding failure in the block to ``source_encoding``, other Arrow errors to unreadable."""
        try:
            yield
        except UnicodeDecodeError as exc:
            raise self._encoding_error(self._encoding(), str(exc)) from exc
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc):
                raise self._encoding_error(self._encoding(), str(exc)) from exc
            raise self._unreadable_error(str(exc)) from exc

    @contextmanager
    def _unreadable(self, *errors: type[Exception]) -> Iterator[None]:
        """Turn the given errors inside the block into ``source_unreadable``."""
        try:
            yield
        except errors as exc:
            raise self._unreadable_error(str(exc) or type(exc).__name__) from exc

    def _encoding_error(self, encoding: str, detail: str) -> SchemaDrift:
        """The file does not decode as ``encoding``: name it, say how it was chosen, and the fix."""
        how = "声明的" if self._file.encoding else "自动识别的"
        how_en = "declared" if self._file.encoding else "detected"
        other = "gb18030" if encoding == "utf-8" else "utf-8"
        return SchemaDrift(
            f"数据源 {self.source} 的文件 {self.path.name} 无法按{how}编码 {encoding} 解码（{detail}）。"
            f"请在 sources.yaml 中为该数据源声明 encoding: {other}（或文件实际使用的编码）。",
            f"the file {self.path.name} of source {self.source} does not decode as the {how_en} encoding "
            f"{encoding} ({detail}); declare encoding: {other} (or the file's actual encoding) "
            "in sources.yaml",
            source=self.source,
            code="source_encoding",
        )

    def _unreadable_error(self, detail: str) -> SourceError:
        """The file is not the format it claims to be, or is damaged."""
        return SourceError(
            f"数据源 {self.source} 的文件 {self.path.name} 不是有效的 {self.format} 文件"
            f"或已损坏（{detail}），请让部门重新投放。",
            f"the file {self.path.name} of source {self.source} is not a valid {self.format} file or is "
            f"damaged ({detail}); ask the department to deliver it again",
            source=self.source,
            code="source_unreadable",
        )


class _JsonArray:
    """The elements of a top-level JSON array, decoded one at a time from a text stream."""

    def __init__(self, stream: TextIO, *, on_error: Callable[[int, str, str], SourceError]) -> None:
        self.stream = stream
        self.on_error = on_error
        self.decoder = json.JSONDecoder(parse_float=Decimal)
        self.buffer = ""
        self.pos = 0
        self.eof = False
        self.lines_before = 0  # newlines in the text already dropped from the buffer

    def records(self) -> Iterator[Any]:
        """Yield each element; raise ``on_error(line, ...)`` where the text stops being valid JSON."""
        self._skip_space()
        self.pos += 1  # the "[" the caller peeked
        self._skip_space()
        if self._char() == "]":
            self.pos += 1
        else:
            while True:
                yield self._element()
                self._skip_space()
                char = self._char()
                self.pos += 1
                if char == "]":
                    break
                if char != ",":
                    raise self._error("缺少逗号或右方括号", "expected ',' or ']'")
                self._skip_space()
        self._skip_space()
        if self._char() != "":
            raise self._error("数组之后还有内容", "unexpected data after the array")

    def _element(self) -> Any:
        while True:
            if self._char() == "":
                raise self._error("文件在记录处结束", "the file ends where a record should be")
            try:
                value, end = self.decoder.raw_decode(self.buffer, self.pos)
            except json.JSONDecodeError as exc:
                # Likely an element cut by the buffer's end: read on, unless the file or the cap ended.
                if self.eof or len(self.buffer) - self.pos > MAX_JSON_RECORD_CHARS:
                    raise self._error(exc.msg, exc.msg, at=exc.pos) from None
                self._fill(more=len(self.buffer) - self.pos)
                continue
            self.pos = end
            return value

    def _char(self) -> str:
        """The character at the current position ("" at the end of the file)."""
        if self.pos >= len(self.buffer) and not self.eof:
            self._fill()
        return self.buffer[self.pos] if self.pos < len(self.buffer) else ""

    def _skip_space(self) -> None:
        while True:
            match = _JSON_SPACE.match(self.buffer, self.pos)
            assert match is not None
            self.pos = match.end()
            if self.pos < len(self.buffer) or self.eof:
                return
            self._fill()

    def _fill(self, more: int = 0) -> None:
        dropped = self.buffer[: self.pos]
        self.lines_before += dropped.count("\n")
        chunk = self.stream.read(max(JSON_READ_CHARS, more))
        self.eof = chunk == ""
        self.buffer = self.buffer[self.pos :] + chunk
        self.pos = 0

    def _error(self, detail: str, detail_en: str, *, at: int | None = None) -> SourceError:
        at = self.pos if at is None else at
        line = self.lines_before + self.buffer.count("\n", 0, at) + 1
        return self.on_error(line, detail, detail_en)


class _Buffer:
    """Rows collected column-wise until a batch is full."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.columns: list[list[str | None]] = [[] for _ in names]
        self.rows: list[int] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, row: int, values: list[str | None]) -> None:
        self.rows.append(row)
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)

    def flush(self) -> pa.RecordBatch:
        batch = text_batch(dict(zip(self.names, self.columns, strict=True)), self.rows)
        self.columns = [[] for _ in self.names]
        self.rows = []
        return batch


def _detect_encoding(path: Path) -> str:
    """utf-8 for a BOM or a valid UTF-8 first 64 KiB, else gb18030."""
    with path.open("rb") as stream:
        head = stream.read(DETECT_BYTES)
        at_end = stream.read(1) == b""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    try:
        # final=False tolerates a character cut at the 64 KiB boundary.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=at_end)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _text_codec(encoding: str) -> str:
    return "utf-8-sig" if encoding == "utf-8" else encoding


def _peek(stream: TextIO) -> str:
    """The first non-space character of a JSON file, leaving the stream where it was."""
    start = stream.tell()
    while (char := stream.read(1)) and char in " \t\r\n":
        pass
    stream.seek(start)
    return char


def _header(cells: Iterable[Any]) -> list[str]:
    return [as_text(cell) or "" for cell in cells]


def _cell_text(value: Any) -> str | None:
    """Excel holds dates as datetimes; a midnight one is a date."""
    if isinstance(value, datetime) and value.time() == datetime.min.time() and value.tzinfo is None:
        return value.date().isoformat()
    text = as_text(value)
    return text if text != "" else None


def _arrow_text(array: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A Parquet column as canonical text: Arrow's casts where they match ``as_text``, else Python."""
    kind = array.type
    if pa.types.is_string(kind):
        return array
    if pa.types.is_large_string(kind) or pa.types.is_integer(kind) or pa.types.is_decimal(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_date(kind):
        return pc.cast(array, pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(array, "1", "0")
    return pa.array([as_text(value) for value in array.to_pylist()], pa.string())


def _record_numbers(last: int, count: int, rejected: set[int]) -> tuple[pa.Array, int]:
    """The record numbers of ``count`` parsed records after record ``last``, skipping rejected ones."""
    if not any(last < number <= last + count + len(rejected) for number in rejected):
        return pa.array(range(last + 1, last + count + 1), pa.int64()), last + count
    numbers: list[int] = []
    number = last
    while len(numbers) < count:
        number += 1
        if number not in rejected:
            numbers.append(number)
    rejected.difference_update({n for n in rejected if n <= number})
    return pa.array(numbers, pa.int64()), number


def _rechunk(batches: Iterable[pa.RecordBatch], size: int) -> Iterator[pa.RecordBatch]:
    """Batches of exactly ``size`` rows (the last one shorter), whatever sizes came in."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        pending.append(batch)
        count += batch.num_rows
        while count >= size:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, size).combine_chunks().to_batches()[0]
            pending = table.slice(size).to_batches()
            count -= size
    if count:
        yield pa.Table.from_batches(pending).combine_chunks().to_batches()[0]
