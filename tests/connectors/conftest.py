"""Fixtures: department databases on SQLite, MariaDB and PostgreSQL, source specs, a local paged API.

The MariaDB and PostgreSQL legs run against the servers named by GOVDX_TEST_MARIADB_URL and
GOVDX_TEST_POSTGRES_URL; each module gets tables of its own (uuid-suffixed), dropped at the
end. Unset, a leg is skipped, unless GOVDX_REQUIRE_SERVICES=1, which fails it instead.
"""

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyarrow as pa
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from connectors.config import SourceSpec

MARIADB_ENV = "GOVDX_TEST_MARIADB_URL"
POSTGRES_ENV = "GOVDX_TEST_POSTGRES_URL"
REQUIRE_ENV = "GOVDX_REQUIRE_SERVICES"
_EXAMPLES = {
    MARIADB_ENV: "mysql+pymysql://root@127.0.0.1:3306/test",
    POSTGRES_ENV: "postgresql+psycopg://postgres@127.0.0.1:5432/test",
}

PEOPLE = 3000
NAMES = ["张三", "李四", "王小明", "欧阳娜娜", "䶮", "赵钱孙"]
# Source column -> data element, in the order batches carry them.
PEOPLE_COLUMNS = {
    "sfzh": "population.id_number",
    "xm": "population.name",
    "csrq": "population.birth_date",
    "gxsj": "population.updated_at",
    "gz": "population.salary",
    "sfyx": "population.insurance_status",
    "备注": "population.address",
}


def make_spec(connector: dict[str, Any], columns: dict[str, str] | None = None) -> SourceSpec:
    """A 人社 (renshe) population source with ``connector`` and the people columns (or ``columns``)."""
    columns = columns if columns is not None else {"sfzh": "population.id_number", "xm": "population.name"}
    return SourceSpec.model_validate(
        {
            "name": "renshe_people",
            "title": "人社参保人员",
            "department": "renshe",
            "library": "population",
            "connector": connector,
            "columns": columns,
            "key": [next(iter(columns.values()))],
        }
    )


def person(i: int) -> dict[str, str | None]:
    """Row ``i`` of the people table as its canonical text."""
    return {
        "id": str(i),
        "sfzh": f"11010119900101{i:04d}",
        "xm": NAMES[i % len(NAMES)],
        "csrq": None if i % 7 == 0 else (date(1960, 1, 1) + timedelta(days=5 * i)).isoformat(),
        "gxsj": (datetime(2024, 1, 1, 8, 0, 0) + timedelta(minutes=i)).isoformat(),
        # Two decimals, the last non-zero, so SQLite's REAL gives the same text as NUMERIC(12,2).
        "gz": None if i % 11 == 0 else f"{3000 + i}.{i % 9 + 1}5",
        "sfyx": "1" if i % 3 else "0",
        "备注": None if i % 5 == 0 else f"户籍迁入{i}号",
    }


def batch_rows(batches: list[pa.RecordBatch]) -> list[dict[str, Any]]:
    """Every row of ``batches`` as a dict."""
    return [row for batch in batches for row in batch.to_pylist()]


@dataclass
class Database:
    kind: str
    url: str
    engine: sa.Engine


def _server_url(env: str) -> str:
    url = os.environ.get(env)
    if not url:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{REQUIRE_ENV}=1 but {env} is not set")
        pytest.skip(f"set {env} (e.g. {_EXAMPLES[env]}) to run this leg")
    return url


@pytest.fixture(scope="module", params=["sqlite", "mariadb", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    """A department database: an SQLite file, or the MariaDB or PostgreSQL test server."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'renshe.sqlite'}"
    else:
        url = _server_url(MARIADB_ENV if request.param == "mariadb" else POSTGRES_ENV)
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        pytest.fail(f"{request.param} at {url} is unreachable: {exc.orig}", pytrace=False)
    yield Database(request.param, url, engine)
    engine.dispose()


@pytest.fixture(scope="module")
def people_table(database: Database) -> Iterator[str]:
    """PEOPLE rows with NULLs, dates, decimals, Chinese text and column name, and an unmapped column."""
    name = f"people_{uuid.uuid4().hex[:10]}"
    metadata = sa.MetaData()
    table = sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("sfzh", sa.String(18), nullable=False),
        sa.Column("xm", sa.String(50), nullable=False),
        sa.Column("csrq", sa.Date),
        sa.Column("gxsj", sa.DateTime, nullable=False),
        sa.Column("gz", sa.Numeric(12, 2)),
        sa.Column("sfyx", sa.Boolean, nullable=False),
        sa.Column("备注", sa.String(100)),
        sa.Column("nb_internal", sa.String(20)),
        mysql_charset="utf8mb4",
    )
    metadata.create_all(database.engine)
    # Untyped columns: the canonical strings go to the driver as they are (no SQLite date processor).
    plain = sa.table(name, *(sa.column(c.name) for c in table.columns))
    rows = [{**person(i), "id": i, "sfyx": bool(i % 3), "nb_internal": "内部"} for i in range(1, PEOPLE + 1)]
    with database.engine.begin() as conn:
        conn.execute(sa.insert(plain), rows)
    yield name
    metadata.drop_all(database.engine)


_SERIES = {
    "sqlite": "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) "
    "INSERT INTO {t} (id, xm) SELECT i, '姓名' || i FROM s",
    "mariadb": "INSERT INTO {t} (id, xm) SELECT seq, CONCAT('姓名', seq) FROM seq_1_to_{n}",
    "postgresql": "INSERT INTO {t} (id, xm) SELECT i, '姓名' || i FROM generate_series(1, {n}) AS i",
}


@pytest.fixture(scope="module")
def big_table(database: Database) -> Iterator[tuple[str, int]]:
    """A table of 100,000 rows made by the server itself (name, row count)."""
    count = 100_000
    name = f"big_{uuid.uuid4().hex[:10]}"
    metadata = sa.MetaData()
    sa.Table(
        name,
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("xm", sa.String(50)),
        mysql_charset="utf8mb4",
    )
    metadata.create_all(database.engine)
    with database.engine.begin() as conn:
        conn.execute(sa.text(_SERIES[database.kind].format(t=name, n=count)))
    yield name, count
    metadata.drop_all(database.engine)


# -- a paged JSON API ----------------------------------------------------------------------


@dataclass
class Api:
    """A local paged API; ``requests`` logs every path and query it was asked."""

    base: str
    records: list[dict[str, Any]]
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    failures_left: int = 0

    def asked(self, path: str) -> list[dict[str, str]]:
        """The queries of the requests made to ``path``."""
        return [query for asked_path, query in self.requests if asked_path == path]


def api_record(i: int) -> dict[str, Any]:
    return {
        "sfzh": f"11010119900101{i:04d}",
        "xm": NAMES[i % len(NAMES)],
        "gz": 3000 + i + 0.25,
        "sfyx": i % 2 == 0,
        "gxsj": (datetime(2024, 1, 1) + timedelta(minutes=i)).isoformat(),
        "bz": None,
    }


@pytest.fixture
def api() -> Iterator[Api]:
    """Serves /people (paged; ``since`` filters gxsj), /flaky (503s first), /slow, /missing, /html, /rows."""
    state = Api(base="", records=[api_record(i) for i in range(1, 251)])
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            with lock:
                state.requests.append((parts.path, query))
                state.authorizations.append(self.headers.get("Authorization"))
            route = parts.path.removeprefix("/api")
            if route == "/flaky":
                with lock:
                    failing = state.failures_left > 0
                    state.failures_left -= 1
                if failing:
                    return self._send(503, b'{"error": "busy"}')
            if route == "/slow":
                time.sleep(0.5)
            if route == "/missing":
                return self._send(404, b'{"error": "not found"}')
            if route == "/html":
                return self._send(200, b"<html>login</html>", "text/html")
            records = state.records
            if "since" in query:
                records = [r for r in records if r["gxsj"] > query["since"]]
            page, size = int(query.get("page", "1")), int(query.get("size", "100"))
            body = {"code": 0, "data": records[(page - 1) * size : page * size]}
            if route == "/rows":
                body = {"rows": body["data"]}
            self._send(200, json.dumps(body, ensure_ascii=False).encode())

        def _send(self, status: int, body: bytes, kind: str = "application/json; charset=utf-8") -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}/api"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def set_conn(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """``set_conn("renshe_db", url)`` makes the connection resolvable through GOVDX_CONN_RENSHE_DB."""

    def set_url(conn_id: str, url: str) -> None:
        monkeypatch.delenv(f"AIRFLOW_CONN_{conn_id.upper()}", raising=False)
        monkeypatch.setenv(f"GOVDX_CONN_{conn_id.upper()}", url)

    return set_url


@pytest.fixture
def sources_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "sources"
    folder.mkdir()
    return folder
