"""FileConnector on real CSV, XLSX, JSON and Parquet files written to a temporary sources directory."""

import json
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from connectors import open_connector
from connectors.base import ROW_COLUMN, RejectedRecord, SchemaDrift, SourceError, SourceUnreachable, Window
from connectors.file import FileConnector
from connectors.http import HttpConnector
from connectors.sql import SqlConnector
from tests.connectors.conftest import batch_rows, make_spec

COLUMNS = {"sfzh": "population.id_number", "xm": "population.name"}


def file_source(
    sources_dir: Path, path: str, columns: dict[str, str] | None = None, **declared: Any
) -> FileConnector:
    """A connector on ``path`` under ``sources_dir``."""
    return FileConnector(
        make_spec({"kind": "file", "path": path, **declared}, columns or COLUMNS), sources_dir
    )


def people_csv(count: int, *, start: int = 1) -> str:
    lines = ["sfzh,xm,dz"]
    lines += [f"1101011990{i:08d},张{i},北京市东城区{i}号" for i in range(start, start + count)]
    return "\n".join(lines) + "\n"


def read_rows(connector: FileConnector) -> list[dict[str, Any]]:
    return batch_rows(list(connector.read(Window())))


# -- CSV -----------------------------------------------------------------------------------


def test_gb18030_csv_is_detected_and_chinese_round_trips(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_bytes("sfzh,xm\n110101199001010011,欧阳䶮\n".encode("gb18030"))

    rows = read_rows(file_source(sources_dir, "renshe.csv"))

    assert rows == [{"sfzh": "110101199001010011", "xm": "欧阳䶮", ROW_COLUMN: 1}]


def test_utf8_with_bom_is_read_without_the_bom(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_bytes("\ufeffsfzh,xm\n110101199001010011,张三\n".encode())

    rows = read_rows(file_source(sources_dir, "renshe.csv"))

    assert rows == [{"sfzh": "110101199001010011", "xm": "张三", ROW_COLUMN: 1}]


def test_utf8_character_cut_by_the_detection_window_is_still_utf8(sources_dir: Path) -> None:
    # The first byte of a three-byte character is the last byte of the first 64 KiB.
    prefix = "sfzh,xm\n1,"
    text = prefix + "a" * (64 * 1024 - 1 - len(prefix)) + "张\n2,李四\n"
    (sources_dir / "renshe.csv").write_bytes(text.encode())
    assert text.encode().index("张".encode()) == 64 * 1024 - 1

    rows = read_rows(file_source(sources_dir, "renshe.csv"))

    assert rows[0]["xm"].endswith("张") and rows[1]["xm"] == "李四"


def test_declared_encoding_that_does_not_fit_is_schema_drift(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_bytes("sfzh,xm\n110101199001010011,张三\n".encode("gb18030"))
    connector = file_source(sources_dir, "renshe.csv", encoding="utf-8")

    with pytest.raises(SchemaDrift) as raised:
        read_rows(connector)

    assert raised.value.code == "source_encoding"
    assert "renshe_people" in raised.value.message and "utf-8" in raised.value.message
    assert "encoding: gb18030" in raised.value.message_en


def test_truncated_csv_keeps_complete_rows_and_rejects_the_cut_one(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_text(people_csv(10) + "110101199000000011,张1")

    connector = file_source(sources_dir, "renshe.csv")
    rows = read_rows(connector)

    assert [r[ROW_COLUMN] for r in rows] == list(range(1, 11))
    assert connector.stats.rejected == [
        RejectedRecord(
            row=11,
            raw="110101199000000011,张1",
            reason="记录字段数不符（文件可能被截断）",
            reason_en="record has 2 fields, expected 3 (truncated file?)",
        )
    ]


def test_rejected_record_deep_in_a_large_file_keeps_later_numbers_true(sources_dir: Path) -> None:
    text = people_csv(40_000).splitlines(keepends=True)
    text[30_000] = "short\n"  # record 30,000 (line 1 is the header)
    (sources_dir / "renshe.csv").write_text("".join(text))

    connector = file_source(sources_dir, "renshe.csv", chunk_rows=10_000)
    rows = read_rows(connector)

    assert [r.row for r in connector.stats.rejected] == [30_000]
    assert len(rows) == 39_999
    after = next(r for r in rows if r["sfzh"] == f"1101011990{30_001:08d}")
    assert after[ROW_COLUMN] == 30_001


def test_quoted_newline_is_one_record(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_text('sfzh,xm\n1,"张\n三"\n2,李四\n')

    rows = read_rows(file_source(sources_dir, "renshe.csv"))

    assert rows == [{"sfzh": "1", "xm": "张\n三", ROW_COLUMN: 1}, {"sfzh": "2", "xm": "李四", ROW_COLUMN: 2}]


def test_empty_csv_fields_are_none_and_numbers_stay_text(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_text('sfzh,xm\n007,\n"",王五\n')

    rows = read_rows(file_source(sources_dir, "renshe.csv"))

    assert rows == [{"sfzh": "007", "xm": None, ROW_COLUMN: 1}, {"sfzh": None, "xm": "王五", ROW_COLUMN: 2}]


def test_declared_delimiter_is_used(sources_dir: Path) -> None:
    (sources_dir / "renshe.txt").write_text("sfzh|xm\n1|张三\n")

    rows = read_rows(file_source(sources_dir, "renshe.txt", delimiter="|"))

    assert rows == [{"sfzh": "1", "xm": "张三", ROW_COLUMN: 1}]


def test_csv_missing_column_is_schema_drift_naming_it(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_text("sfzh,name\n1,张三\n")

    with pytest.raises(SchemaDrift) as raised:
        read_rows(file_source(sources_dir, "renshe.csv"))

    assert raised.value.column == "xm"
    assert "name" in raised.value.message and "renshe" in raised.value.message


def test_csv_comes_in_batches_of_chunk_rows(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_text(people_csv(2500))

    batches = list(file_source(sources_dir, "renshe.csv", chunk_rows=1000).read(Window()))

    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    assert batches[2].column(ROW_COLUMN).to_pylist() == list(range(2001, 2501))


def test_csv_columns_reads_the_header(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_text(people_csv(3))

    assert file_source(sources_dir, "renshe.csv").columns() == ["sfzh", "xm", "dz"]


# -- XLSX ----------------------------------------------------------------------------------


def write_workbook(path: Path, rows: list[list[Any]], *, sheet: str = "参保人员") -> None:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "说明"
    first.append(["本表由人社局导出"])
    data = book.create_sheet(sheet)
    for row in rows:
        data.append(row)
    book.move_sheet(sheet, offset=-1)
    book.save(path)


def test_xlsx_cells_become_canonical_text(sources_dir: Path) -> None:
    write_workbook(
        sources_dir / "renshe.xlsx",
        [
            ["sfzh", "xm", "csrq", "gxsj", "gz", "sfyx"],
            ["110101199001010011", "张三", date(1990, 1, 1), datetime(2024, 3, 1, 8, 30), 3000.5, True],
            [13800138000, "", None, datetime(2024, 3, 2), 4200, False],
            [None, None, None, None, None, None],
            ["110101199001010013", "王五", datetime(1991, 2, 3), time(9, 15), Decimal("12.50"), None],
        ],
    )
    columns = {**COLUMNS, "csrq": "population.birth_date", "gxsj": "population.updated_at"}
    columns |= {"gz": "population.salary", "sfyx": "population.insurance_status"}

    rows = read_rows(file_source(sources_dir, "renshe.xlsx", columns))

    assert rows == [
        {
            "sfzh": "110101199001010011",
            "xm": "张三",
            "csrq": "1990-01-01",
            "gxsj": "2024-03-01T08:30:00",
            "gz": "3000.5",
            "sfyx": "1",
            ROW_COLUMN: 1,
        },
        {
            "sfzh": "13800138000",
            "xm": None,
            "csrq": None,
            "gxsj": "2024-03-02",
            "gz": "4200",
            "sfyx": "0",
            ROW_COLUMN: 2,
        },
        {
            "sfzh": "110101199001010013",
            "xm": "王五",
            "csrq": "1991-02-03",
            "gxsj": "09:15:00",
            "gz": "12.5",
            "sfyx": None,
            ROW_COLUMN: 4,
        },
    ]


def test_xlsx_declared_sheet_is_read_and_chunked(sources_dir: Path) -> None:
    rows = [["xm", "sfzh"], *([f"张{i}", str(i)] for i in range(1, 251))]
    write_workbook(sources_dir / "renshe.xlsx", rows, sheet="第二季度")

    connector = file_source(sources_dir, "renshe.xlsx", sheet="第二季度", chunk_rows=100)
    batches = list(connector.read(Window()))

    assert [b.num_rows for b in batches] == [100, 100, 50]
    assert batch_rows(batches)[-1] == {"sfzh": "250", "xm": "张250", ROW_COLUMN: 250}


def test_xlsx_missing_sheet_is_schema_drift(sources_dir: Path) -> None:
    write_workbook(sources_dir / "renshe.xlsx", [["sfzh", "xm"]])

    with pytest.raises(SchemaDrift) as raised:
        read_rows(file_source(sources_dir, "renshe.xlsx", sheet="2024"))

    assert raised.value.code == "source_sheet_missing"
    assert "参保人员" in raised.value.message


def test_damaged_xlsx_is_unreadable(sources_dir: Path) -> None:
    write_workbook(sources_dir / "renshe.xlsx", [["sfzh", "xm"]])
    data = (sources_dir / "renshe.xlsx").read_bytes()
    (sources_dir / "renshe.xlsx").write_bytes(data[: len(data) // 2])

    with pytest.raises(SourceError) as raised:
        read_rows(file_source(sources_dir, "renshe.xlsx"))

    assert raised.value.code == "source_unreadable"


# -- JSON ----------------------------------------------------------------------------------


def json_people(count: int) -> list[dict[str, Any]]:
    return [
        {"sfzh": f"1101011990{i:08d}", "xm": f"张{i}", "gz": 3000.5, "bz": None} for i in range(1, count + 1)
    ]


def test_json_array_is_streamed_across_buffer_refills(sources_dir: Path) -> None:
    people = json_people(3000)
    (sources_dir / "renshe.json").write_text(json.dumps(people, ensure_ascii=False, indent=2))

    batches = list(file_source(sources_dir, "renshe.json", chunk_rows=1000).read(Window()))

    assert [b.num_rows for b in batches] == [1000, 1000, 1000]
    assert batch_rows(batches)[-1] == {"sfzh": people[-1]["sfzh"], "xm": "张3000", ROW_COLUMN: 3000}


def test_json_values_become_canonical_text(sources_dir: Path) -> None:
    (sources_dir / "renshe.json").write_text(
        '[{"sfzh": "1", "gz": 1.50, "sfyx": true, "n": 7, "bz": null, "dz": {"市": "北京"}}]'
    )
    columns = {"sfzh": "population.id_number", "gz": "population.salary", "sfyx": "population.insured"}
    columns |= {"n": "population.count", "bz": "population.note", "dz": "population.address"}

    rows = read_rows(file_source(sources_dir, "renshe.json", columns))

    assert rows == [
        {"sfzh": "1", "gz": "1.50", "sfyx": "1", "n": "7", "bz": None, "dz": '{"市":"北京"}', ROW_COLUMN: 1}
    ]


def test_json_lines_are_read_line_by_line(sources_dir: Path) -> None:
    lines = [json.dumps(p, ensure_ascii=False) for p in json_people(3)]
    (sources_dir / "renshe.jsonl").write_text(lines[0] + "\n\n" + "\n".join(lines[1:]) + "\n")

    rows = read_rows(file_source(sources_dir, "renshe.jsonl"))

    assert [(r["xm"], r[ROW_COLUMN]) for r in rows] == [("张1", 1), ("张2", 2), ("张3", 3)]


def test_truncated_json_array_names_the_line(sources_dir: Path) -> None:
    text = json.dumps(json_people(50), ensure_ascii=False, indent=1)[:-40]
    (sources_dir / "renshe.json").write_text(text)
    connector = file_source(sources_dir, "renshe.json")

    with pytest.raises(SourceError) as raised:
        read_rows(connector)

    last_line = text.count("\n") + 1
    assert raised.value.code == "source_truncated"
    assert f"line {last_line}" in raised.value.message_en and f"第 {last_line} 行" in raised.value.message


def test_truncated_json_lines_names_the_line(sources_dir: Path) -> None:
    lines = [json.dumps(p, ensure_ascii=False) for p in json_people(3)]
    (sources_dir / "renshe.jsonl").write_text("\n".join(lines)[:-5])

    with pytest.raises(SourceError) as raised:
        read_rows(file_source(sources_dir, "renshe.jsonl"))

    assert raised.value.code == "source_truncated"
    assert "第 3 行" in raised.value.message and "line 3" in raised.value.message_en


def test_json_missing_field_is_schema_drift(sources_dir: Path) -> None:
    (sources_dir / "renshe.json").write_text('[{"sfzh": "1", "name": "张三"}]')

    with pytest.raises(SchemaDrift) as raised:
        read_rows(file_source(sources_dir, "renshe.json"))

    assert raised.value.column == "xm"


# -- Parquet -------------------------------------------------------------------------------


def test_parquet_columns_are_cast_to_canonical_text(sources_dir: Path) -> None:
    table = pa.table(
        {
            "sfzh": pa.array(["1", None], pa.string()),
            "n": pa.array([7, None], pa.int32()),
            "gz": pa.array([Decimal("3000.50"), Decimal("0.00")], pa.decimal128(12, 2)),
            "csrq": pa.array([date(1990, 1, 1), None], pa.date32()),
            "gxsj": pa.array([datetime(2024, 3, 1, 8, 30), datetime(2024, 3, 2)], pa.timestamp("us")),
            "sfyx": pa.array([True, False]),
            "f": pa.array([1.0, 2.25]),
            "extra": pa.array(["x", "y"]),
        }
    )
    pq.write_table(table, sources_dir / "renshe.parquet")
    columns = {name: f"population.c_{name}" for name in table.column_names if name != "extra"}

    rows = read_rows(file_source(sources_dir, "renshe.parquet", columns))

    assert rows == [
        {
            "sfzh": "1",
            "n": "7",
            "gz": "3000.50",
            "csrq": "1990-01-01",
            "gxsj": "2024-03-01T08:30:00",
            "sfyx": "1",
            "f": "1.0",
            ROW_COLUMN: 1,
        },
        {
            "sfzh": None,
            "n": None,
            "gz": "0.00",
            "csrq": None,
            "gxsj": "2024-03-02T00:00:00",
            "sfyx": "0",
            "f": "2.25",
            ROW_COLUMN: 2,
        },
    ]


def test_parquet_comes_in_batches_of_chunk_rows(sources_dir: Path) -> None:
    table = pa.table({"sfzh": [str(i) for i in range(2500)], "xm": ["张三"] * 2500})
    pq.write_table(table, sources_dir / "renshe.parquet", row_group_size=700)

    batches = list(file_source(sources_dir, "renshe.parquet", chunk_rows=1000).read(Window()))

    assert [b.num_rows for b in batches] == [1000, 1000, 500]
    assert batches[-1].column(ROW_COLUMN).to_pylist() == list(range(2001, 2501))


# -- every format --------------------------------------------------------------------------


def test_fingerprint_is_stable_and_follows_the_content(sources_dir: Path) -> None:
    path = sources_dir / "renshe.csv"
    path.write_text(people_csv(3))
    connector = file_source(sources_dir, "renshe.csv")
    first = connector.fingerprint()

    same = connector.fingerprint()
    path.write_text(people_csv(3, start=2))
    changed = connector.fingerprint()

    assert first is not None and first.startswith("sha256:") and len(first) == 7 + 64
    assert same == first and changed != first


def test_read_records_the_fingerprint(sources_dir: Path) -> None:
    (sources_dir / "renshe.csv").write_text(people_csv(3))
    connector = file_source(sources_dir, "renshe.csv")

    read_rows(connector)

    assert connector.stats.fingerprint == connector.fingerprint()
    assert connector.stats.high_water is None


def test_missing_file_is_unreachable_and_retryable(sources_dir: Path) -> None:
    with pytest.raises(SourceUnreachable) as raised:
        read_rows(file_source(sources_dir, "drop/2024-06/renshe.csv"))

    assert raised.value.retryable
    assert "renshe.csv" in raised.value.message


def test_unknown_suffix_needs_a_declared_format(sources_dir: Path) -> None:
    (sources_dir / "renshe.dat").write_text(people_csv(1))

    with pytest.raises(SourceError) as raised:
        read_rows(file_source(sources_dir, "renshe.dat"))

    assert raised.value.code == "source_unreadable" and "format" in raised.value.message_en


@pytest.mark.parametrize(
    ("connector", "kind"),
    [
        ({"kind": "file", "path": "a.csv"}, FileConnector),
        ({"kind": "sql", "conn_id": "renshe_db", "table": "people"}, SqlConnector),
        ({"kind": "http", "conn_id": "renshe_api", "path": "/people"}, HttpConnector),
    ],
)
def test_open_connector_picks_the_class_of_the_kind(
    connector: dict[str, Any], kind: type, sources_dir: Path
) -> None:
    assert isinstance(open_connector(make_spec(connector), sources_dir=sources_dir), kind)
