"""Reading the generated demo sources back, as the tests of the demo do."""

import csv
import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import sqlalchemy as sa
from sqlalchemy.pool import NullPool
from stdnum import numdb

from demo.sources.manifest import Fault, Manifest

Demo = tuple[Path, Manifest]


def read(out: Path, manifest: Manifest, name: str) -> list[dict[str, Any]]:
    """A source's records in the order a connector numbers them (row 1 first)."""
    output = manifest.sources[name]
    assert output.path is not None
    path = out / output.path
    match output.format:
        case "sql":
            with sqlite3.connect(path) as conn:
                conn.row_factory = sqlite3.Row
                return [dict(r) for r in conn.execute(f"SELECT * FROM {output.table} ORDER BY id")]
        case "csv":
            encoding = "gb18030" if name == "renshe_canbao" else "utf-8"
            return list(csv.DictReader(io.StringIO(path.read_bytes().decode(encoding), newline="")))
        case "xlsx":
            rows = openpyxl.load_workbook(path, read_only=True).active.iter_rows(values_only=True)
            header = next(rows)
            return [dict(zip(header, r, strict=True)) for r in rows]
        case "json" | "http":
            return json.loads(path.read_text(encoding="utf-8"))
        case "jsonl":
            return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        case "parquet":
            return pq.read_table(path).to_pylist()
    raise AssertionError(output.format)


def injected(manifest: Manifest, source: str, kind: str) -> list[Fault]:
    """The faults of one kind injected into a source: at least two, as every kind but one has."""
    found = manifest.faults_of(source, kind)
    assert len(found) >= 2
    return found


def faulty_rows(manifest: Manifest, source: str) -> set[int]:
    """The rows of a source that carry a fault."""
    return {f.row for f in manifest.faults_of(source)}


def clean_people(demo: Demo) -> dict[str, str]:
    """ID number -> name of every 公安 record that loads cleanly."""
    out, manifest = demo
    faulty = faulty_rows(manifest, "gongan_huji")
    rows = read(out, manifest, "gongan_huji")
    repeated = {r["sfzh"] for i, r in enumerate(rows, start=1) if i in faulty}
    return {r["sfzh"]: r["xm"] for r in rows if r["sfzh"] not in repeated}


def clean_firms(demo: Demo) -> dict[str, str]:
    """Credit code -> name of every 市场监管 record that loads cleanly."""
    out, manifest = demo
    faulty = faulty_rows(manifest, "shichang_qiye")
    rows = read(out, manifest, "shichang_qiye")
    repeated = {r["tyshxydm"] for i, r in enumerate(rows, start=1) if i in faulty}
    return {r["tyshxydm"]: r["qymc"] for r in rows if r["tyshxydm"] not in repeated}


def is_county(code: str) -> bool:
    """Whether GB/T 2260 (stdnum's loc.dat) knows the code as a county."""
    return any("county" in props for _, props in numdb.get("cn/loc").info(code))


def table_text(url: str, table: str) -> list[tuple[str | None, ...]]:
    """A table's rows in ``id`` order, every value as text."""
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")).all()
    finally:
        engine.dispose()
    return [tuple(None if v is None else str(v) for v in row) for row in rows]


def dump(path: Path) -> list[tuple[Any, ...]]:
    """Every row of the one table in a SQLite file, in ``id`` order."""
    with sqlite3.connect(path) as conn:
        table = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchone()[0]
        return conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
