"""SqlConnector against real SQLite files and the MariaDB and PostgreSQL test servers."""

import sqlite3
import tracemalloc
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors.base import ROW_COLUMN, SchemaDrift, SourceError, SourceUnreachable, Window
from connectors.sql import SqlConnector
from tests.connectors.conftest import PEOPLE, PEOPLE_COLUMNS, Database, batch_rows, make_spec, person

SetConn = Callable[[str, str], None]


@pytest.fixture
def people(database: Database, people_table: str, set_conn: SetConn) -> Callable[..., SqlConnector]:
    """``people(chunk_rows=..., incremental_column=..., columns=...)``: a connector on the people table."""
    set_conn("renshe_db", database.url)

    def connector(columns: dict[str, str] | None = None, **declared: Any) -> SqlConnector:
        spec = make_spec(
            {"kind": "sql", "conn_id": "renshe_db", "table": people_table, **declared},
            columns if columns is not None else PEOPLE_COLUMNS,
        )
        return SqlConnector(spec)

    return connector


def test_every_row_arrives_as_canonical_text_in_chunks(people: Callable[..., SqlConnector]) -> None:
    batches = list(people(chunk_rows=1000).read(Window()))

    assert [b.num_rows for b in batches] == [1000, 1000, 1000]
    assert batches[0].schema == pa.schema(
        [*(pa.field(c, pa.string()) for c in PEOPLE_COLUMNS), pa.field(ROW_COLUMN, pa.int64())]
    )
    rows = batch_rows(batches)
    assert [r[ROW_COLUMN] for r in rows] == list(range(1, PEOPLE + 1))
    by_id = sorted(({k: v for k, v in r.items() if k != ROW_COLUMN} for r in rows), key=lambda r: r["sfzh"])
    assert by_id == [{c: person(i)[c] for c in PEOPLE_COLUMNS} for i in range(1, PEOPLE + 1)]


def test_unmapped_source_columns_are_not_read(people: Callable[..., SqlConnector]) -> None:
    batch = next(people(columns={"xm": "population.name"}).read(Window()))

    assert batch.schema.names == ["xm", ROW_COLUMN]


def test_columns_lists_the_table_without_reading_it(people: Callable[..., SqlConnector]) -> None:
    assert people().columns() == ["id", *PEOPLE_COLUMNS, "nb_internal"]


def test_incremental_window_returns_only_newer_rows_in_order(people: Callable[..., SqlConnector]) -> None:
    connector = people(incremental_column="gxsj")

    rows = batch_rows(list(connector.read(Window(since=person(2990)["gxsj"]))))

    assert [r["sfzh"] for r in rows] == [person(i)["sfzh"] for i in range(2991, PEOPLE + 1)]
    assert [r[ROW_COLUMN] for r in rows] == list(range(1, 11))
    assert connector.stats.high_water == person(PEOPLE)["gxsj"]


def test_full_read_sets_the_high_water_of_an_unmapped_column(people: Callable[..., SqlConnector]) -> None:
    connector = people(incremental_column="id", columns={"xm": "population.name"})

    batches = list(connector.read(Window()))

    assert batches[0].schema.names == ["xm", ROW_COLUMN]
    assert connector.stats.high_water == str(PEOPLE)


def test_high_water_comes_back_as_the_next_since(people: Callable[..., SqlConnector]) -> None:
    connector = people(incremental_column="id")
    list(connector.read(Window(since="2995")))

    rows = batch_rows(list(connector.read(Window(since=connector.stats.high_water))))

    assert rows == []
    assert connector.stats.high_water is None


def test_query_is_wrapped_as_a_subquery_and_taken_literally(
    database: Database, people_table: str, set_conn: SetConn
) -> None:
    set_conn("renshe_db", database.url)
    # ' :b' would be a bind parameter to SQLAlchemy's text(), '%' a placeholder to pymysql and psycopg.
    query = f"SELECT id, xm AS name, gz FROM {people_table} WHERE id <= 150 AND xm <> ' :b' AND xm LIKE '%' ;"
    spec = make_spec(
        {"kind": "sql", "conn_id": "renshe_db", "query": query, "chunk_rows": 100},
        {"name": "population.name", "gz": "population.salary"},
    )

    batches = list(SqlConnector(spec).read(Window()))

    assert [b.num_rows for b in batches] == [100, 50]
    assert sorted(batch_rows(batches), key=lambda r: r[ROW_COLUMN])[0].keys() == {"name", "gz", ROW_COLUMN}
    assert {r["name"] for r in batch_rows(batches)} == {person(i)["xm"] for i in range(1, 151)}


def test_missing_column_is_schema_drift_naming_it(people: Callable[..., SqlConnector]) -> None:
    connector = people(columns={"xm": "population.name", "zjhm": "population.id_number"})

    with pytest.raises(SchemaDrift) as raised:
        list(connector.read(Window()))

    assert raised.value.column == "zjhm"
    assert "zjhm" in raised.value.message and "sfzh" in raised.value.message
    assert "renshe" in raised.value.message and "sources.yaml" in raised.value.message_en


def test_missing_table_is_a_query_error_not_retried(database: Database, set_conn: SetConn) -> None:
    set_conn("renshe_db", database.url)
    spec = make_spec({"kind": "sql", "conn_id": "renshe_db", "table": "no_such_table_here"})

    with pytest.raises(SourceError) as raised:
        list(SqlConnector(spec).read(Window()))

    assert raised.value.code == "source_query_failed"
    assert not raised.value.retryable


def test_a_large_table_streams_in_chunks_with_bounded_memory(
    database: Database, big_table: tuple[str, int], set_conn: SetConn
) -> None:
    set_conn("renshe_db", database.url)
    table, count = big_table
    spec = make_spec(
        {"kind": "sql", "conn_id": "renshe_db", "table": table, "chunk_rows": count // 20},
        {"xm": "population.name"},
    )

    tracemalloc.start()
    sizes = [batch.num_rows for batch in SqlConnector(spec).read(Window())]
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert sizes == [count // 20] * 20
    # Fetching all 100,000 rows at once peaks near 21 MB of Python objects; a 5,000-row chunk near 2.5 MB.
    assert peak < 6_000_000, peak


def test_abandoned_stream_closes_cleanly(
    database: Database, big_table: tuple[str, int], set_conn: SetConn
) -> None:
    set_conn("renshe_db", database.url)
    spec = make_spec(
        {"kind": "sql", "conn_id": "renshe_db", "table": big_table[0], "chunk_rows": 1000},
        {"xm": "population.name"},
    )
    stream = SqlConnector(spec).read(Window())
    next(stream)

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leaked cursor or connection would warn here
        stream.close()

    # The abandoned server-side cursor is gone: the next read of the same source gets every row.
    assert sum(batch.num_rows for batch in SqlConnector(spec).read(Window())) == big_table[1]


@pytest.mark.parametrize(
    "url",
    [
        "mysql+pymysql://renshe:s3cret-pw@127.0.0.1:1/hr",
        "postgresql+psycopg://renshe:s3cret-pw@127.0.0.1:1/hr",
    ],
)
def test_unreachable_server_is_retryable_and_hides_the_password(url: str, set_conn: SetConn) -> None:
    set_conn("renshe_db", url)
    spec = make_spec({"kind": "sql", "conn_id": "renshe_db", "table": "people"})

    with pytest.raises(SourceUnreachable) as raised:
        list(SqlConnector(spec).read(Window()))

    error = raised.value
    assert error.retryable and error.code == "source_unreachable"
    assert "127.0.0.1:1" in error.message and "renshe_people" in error.message_en
    shown = error.message + error.message_en + str(error) + str(error.as_dict())
    assert "s3cret" not in shown and "***" in shown


def test_missing_sqlite_file_is_unreachable_and_not_created(tmp_path: Path, set_conn: SetConn) -> None:
    path = tmp_path / "not-delivered.sqlite"
    set_conn("renshe_db", f"sqlite:///{path}")
    spec = make_spec({"kind": "sql", "conn_id": "renshe_db", "table": "people"})

    with pytest.raises(SourceUnreachable) as raised:
        SqlConnector(spec).columns()

    assert str(path) in raised.value.message
    assert not path.exists()


def test_sqlite_path_with_spaces_and_percent_is_read(tmp_path: Path, set_conn: SetConn) -> None:
    path = tmp_path / "人社 100% 交付.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE people (xm TEXT)")
        db.execute("INSERT INTO people VALUES ('张三')")
    db.close()
    set_conn("renshe_db", f"sqlite:///{path}")
    spec = make_spec({"kind": "sql", "conn_id": "renshe_db", "table": "people"}, {"xm": "population.name"})

    rows = batch_rows(list(SqlConnector(spec).read(Window())))

    assert rows == [{"xm": "张三", ROW_COLUMN: 1}]


@pytest.mark.parametrize("database", ["postgresql"], indirect=True)
def test_postgresql_rows_come_through_a_named_cursor(
    database: Database, big_table: tuple[str, int], set_conn: SetConn
) -> None:
    set_conn("renshe_db", database.url)
    spec = make_spec(
        {"kind": "sql", "conn_id": "renshe_db", "table": big_table[0], "chunk_rows": 1000},
        {"xm": "population.name"},
    )
    stream = SqlConnector(spec).read(Window())
    next(stream)

    with database.engine.connect() as conn:
        queries = conn.exec_driver_sql(
            "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE 'FETCH%%'"
        ).scalars()
        fetching = list(queries)
    stream.close()

    assert any(q.startswith("FETCH FORWARD") for q in fetching), fetching
