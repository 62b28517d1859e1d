"""bench-api: the guarded keyed lookup against a bare key lookup, one uvicorn worker, 1,000,000 people.

1. A fresh SQLite platform database (migrated, demo catalog and users) holding N population records
   (default 1,000,000) of 公安, written exactly as the pipelines store them: blind-indexed subject
   key, sealed key, sensitive elements sealed with AES-GCM (catalog_schema.keys). Rows go in with
   Core ``executemany``, not through the pipeline (bench-ingest times that).
2. A grant through the real workflow: 人社 requests 公安's 人口基本信息 (four items), the platform
   accepts, 公安 approves; its default masking applies. A machine client of 人社 gets a token.
   The resource keeps its 管控参数, but its rate limit (600次/分钟 in the demo, which would refuse
   most of a run) is raised to 100000000次/分钟: every guarded call is still counted in its rate
   window, in the write transaction, and none is refused.
3. One uvicorn worker (``GOVDX_BENCH_BASELINE=true`` mounts the baseline route) and, in this
   process, an asyncio load generator on loopback with keep-alive connections at a fixed
   concurrency. A short warm-up of each, then ``--seconds`` (default 30) of random keys for each
   phase, in ``--rounds`` (default 3) slices that alternate, so a drift of the machine's speed over
   the run weighs on both alike:
   - baseline ``POST /api/v1/bench/lookup``: the same blind-index lookup, nothing else;
   - guarded ``POST /api/v1/data/lookup``: token, grant, purpose, items, quota, fetch, unseal,
     project, mask, access record (hash-chained, committed), answer.
4. audit_lost = guarded answers received − access records written during the guarded phases.
5. The dataset phase, in the same alternating slices: ``POST /api/v1/data/lookup`` of 民政's
   低保救助对象信息 (203001/000001, 库表交换), whose dataset holds one 认定 row for each of the
   first ``--dataset-rows`` people (default: all of them), written as the dataset pipeline stores
   them, under a grant of its own (人社 asks, 民政 approves). Its ratio is to the same baseline.

PostgreSQL: with ``GOVDX_BENCH_POSTGRES_URL`` (a server URL) the same run follows on PostgreSQL
(``--only postgresql`` runs it alone): a database of its own, created and dropped, the same people
and grants, then for each of ``--workers`` (default 1,2,4) ``uvicorn --workers N`` with
``GOVDX_DATABASE_POOL_SIZE=--pg-pool-size`` (default 12: 4 × (12 + 10) = 88 < max_connections 100)
and the same library phases (the dataset phase only with ``--pg-dataset``); one line per N:
``RESULT api db=postgresql workers=<N> throughput_ratio=<r> p99_ratio=<r> rps=<rps> audit_lost=<n>``.

Targets: guarded throughput ≥ 70% of the baseline's; guarded p99 ≤ 2× the baseline's p99; no
access record lost. The last lines are
``RESULT api throughput_ratio=<r> p99_ratio=<r> rps=<guarded rps> audit_lost=<n>`` and
``RESULT api-dataset throughput_ratio=<r> p99_ratio=<r> rps=<dataset rps>``.
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platform_data import (
    RESOURCE,
    SUBSISTENCE,
    grant_and_client,
    id_number,
    load_people,
    load_subsistence,
    raise_rate_limit,
    subsistence_grant,
)
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from authz.audit.models import AccessRecord
from catalog_schema import migrate
from catalog_schema.database import make_engine
from catalog_schema.keys import service as keys_service
from demo import catalog as demo_catalog

BASELINE = "/api/v1/bench/lookup"
GUARDED = "/api/v1/data/lookup"


# -- the load generator ---------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    answered: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def rps(self) -> float:
        return self.answered / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _connection(
    port: int,
    path: str,
    headers: str,
    keys: list[str],
    deadline: float,
    out: list[float],
    errs: list[int],
    resource: str,
) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answered = 0
    rnd = random.Random()
    try:
        while time.perf_counter() < deadline:
            body = json.dumps({"resource": resource, "key": rnd.choice(keys)}).encode()
            request = (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n{headers}\r\n"
            ).encode() + body
            sent = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await reader.readexactly(length)
            if status == 200:  # only data served counts; anything else is an error of the run
                out.append(time.perf_counter() - sent)
                answered += 1
            else:
                errs.append(status)
    finally:
        writer.close()
    return answered


async def _phase(
    port: int,
    path: str,
    headers: str,
    keys: list[str],
    seconds: float,
    concurrency: int,
    resource: str = RESOURCE,
) -> Phase:
    latencies: list[float] = []
    errors: list[int] = []
    started = time.perf_counter()
    deadline = started + seconds
    counts = await asyncio.gather(
        *(
            _connection(port, path, headers, keys, deadline, latencies, errors, resource)
            for _ in range(concurrency)
        )
    )
    elapsed = time.perf_counter() - started
    if errors:
        print(f"  {path}: {len(errors)} non-200 answers, e.g. {sorted(set(errors))[:5]}", flush=True)
    return Phase(path, sum(counts), len(errors), elapsed, latencies)


def _merge(phases: list[Phase]) -> Phase:
    return Phase(
        phases[0].name,
        sum(p.answered for p in phases),
        sum(p.errors for p in phases),
        sum(p.seconds for p in phases),
        [latency for p in phases for latency in p.latencies],
    )


def _post_form(url: str, fields: dict[str, str]) -> dict[str, Any]:
    data = urllib.parse.urlencode(fields).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data), timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def _wait_ready(port: int, server: subprocess.Popen[bytes]) -> None:
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("uvicorn did not start")


def _count_records(engine: Any) -> int:
    with Session(engine) as db:
        return db.scalar(select(func.count()).select_from(AccessRecord)) or 0


def _postgres_admin(url: str, statement: str) -> None:
    admin = create_engine(url)
    try:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(statement))
    finally:
        admin.dispose()


@dataclass
class Prepared:
    client_id: str
    secret: str
    purpose: str
    dataset_purpose: str
    dataset_rows: int
    load_seconds: float


def prepare(url: str, rows: int, dataset_rows: int) -> Prepared:
    """Migrate ``url``, seed the demo catalog, write the people (and 低保 rows), grants, a client."""
    os.environ["GOVDX_DATABASE_URL"] = url
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        with Session(engine) as db:
            demo_catalog.seed(db)
            load_seconds = load_people(db, rows)
            if dataset_rows:
                load_seconds += load_subsistence(db, dataset_rows)
            raise_rate_limit(db)
            client_id, secret, purpose = grant_and_client(db)
            dataset_purpose = subsistence_grant(db)
            db.commit()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))  # fresh statistics, as after any bulk load
    finally:
        engine.dispose()
    print(f"  loaded in {load_seconds:.1f} s", flush=True)
    return Prepared(client_id, secret, purpose, dataset_purpose, dataset_rows, load_seconds)


@dataclass
class Measured:
    baseline: Phase
    guarded: Phase
    dataset: Phase | None
    warm: Phase
    written: int
    lost: int


def measure(
    url: str, prepared: Prepared, args: argparse.Namespace, rows: int, workers: int, env_extra: dict[str, str]
) -> Measured:
    """Serve ``url`` with ``workers`` uvicorn workers and drive baseline and guarded in alternating slices."""
    sample = [id_number(random.randrange(rows)) for _ in range(10_000)]
    dataset_sample = (
        [id_number(random.randrange(prepared.dataset_rows)) for _ in range(10_000)]
        if prepared.dataset_rows
        else []
    )
    env = {**os.environ, "GOVDX_DATABASE_URL": url, "GOVDX_BENCH_BASELINE": "true", **env_extra}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:create_app",
            "--factory",
            "--workers",
            str(workers),
            "--port",
            str(args.port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    counter = make_engine(url, pool_size=1)
    try:
        _wait_ready(args.port, server)
        base_url = f"http://127.0.0.1:{args.port}/api/v1"
        token = _post_form(
            f"{base_url}/auth/client-token",
            {
                "grant_type": "client_credentials",
                "client_id": prepared.client_id,
                "client_secret": prepared.secret,
            },
        )["access_token"]

        guarded_headers = f"Authorization: Bearer {token}\r\nX-Govdx-Purpose: {prepared.purpose}\r\n"
        dataset_headers = f"Authorization: Bearer {token}\r\nX-Govdx-Purpose: {prepared.dataset_purpose}\r\n"
        before = _count_records(counter)
        warm_seconds = min(3.0, args.seconds / 5)
        asyncio.run(_phase(args.port, BASELINE, "", sample, warm_seconds, args.concurrency))
        warm = asyncio.run(
            _phase(args.port, GUARDED, guarded_headers, sample, warm_seconds, args.concurrency)
        )
        # The phases alternate in slices, so a drift of the machine's speed over the run (page
        # cache, WAL growth, neighbours) weighs on all alike; each gets --seconds in all. The
        # library phases run as before; the dataset phase follows them in each round.
        slices: dict[str, list[Phase]] = {BASELINE: [], GUARDED: [], SUBSISTENCE: []}
        for _ in range(args.rounds):
            for path, headers in ((BASELINE, ""), (GUARDED, guarded_headers)):
                phase = _phase(args.port, path, headers, sample, args.seconds / args.rounds, args.concurrency)
                slices[path].append(asyncio.run(phase))
            if not prepared.dataset_rows:
                continue
            written_so_far = _count_records(counter)
            dataset_phase = _phase(
                args.port,
                GUARDED,
                dataset_headers,
                dataset_sample,
                args.seconds / args.rounds,
                args.concurrency,
                SUBSISTENCE,
            )
            slices[SUBSISTENCE].append(asyncio.run(dataset_phase))
            before += _count_records(counter) - written_so_far  # audit_lost counts the library
        written = _count_records(counter) - before
    finally:
        server.terminate()
        server.wait(timeout=60)
        counter.dispose()
    baseline, guarded = _merge(slices[BASELINE]), _merge(slices[GUARDED])
    dataset = _merge(slices[SUBSISTENCE]) if slices[SUBSISTENCE] else None
    lost = max(0, warm.answered + guarded.answered - written)
    return Measured(baseline, guarded, dataset, warm, written, lost)


def report(measured: Measured, args: argparse.Namespace, label: str) -> bool:
    """The table and the RESULT lines of one run; False if any call was not answered with 200."""
    baseline, guarded, dataset, warm = measured.baseline, measured.guarded, measured.dataset, measured.warm
    print()
    print(f"{'':<10}{'rps':>10}{'p50 ms':>10}{'p99 ms':>10}{'answers':>10}{'non-200':>10}")
    phases = [("baseline", baseline), ("guarded", guarded)] + ([("dataset", dataset)] if dataset else [])
    for name, phase in phases:
        print(
            f"{name:<10}{phase.rps:>10.0f}{phase.pct(0.5):>10.2f}{phase.pct(0.99):>10.2f}"
            f"{phase.answered:>10}{phase.errors:>10}"
        )
    throughput_ratio = guarded.rps / baseline.rps
    p99_ratio = guarded.pct(0.99) / baseline.pct(0.99)
    print(
        f"concurrency {args.concurrency}, {args.seconds:.0f} s per phase in {args.rounds} alternating "
        f"slices; access records written {measured.written:,} for {warm.answered + guarded.answered:,} "
        "guarded answers"
    )
    print(
        f"targets: throughput ≥ 0.70 of baseline ({throughput_ratio:.2f}), "
        f"p99 ≤ 2× ({p99_ratio:.2f}), lost 0 ({measured.lost})"
    )
    if baseline.errors or guarded.errors or warm.errors or (dataset and dataset.errors):
        print(
            f"bench-api{label}: some calls were not answered with 200 (see above); the figures are not valid"
        )
        return False
    print(
        f"RESULT api{label} throughput_ratio={throughput_ratio:.2f} p99_ratio={p99_ratio:.2f} "
        f"rps={guarded.rps:.0f} audit_lost={measured.lost}",
        flush=True,
    )
    if dataset:
        print(
            f"RESULT api-dataset{label} throughput_ratio={dataset.rps / baseline.rps:.2f} "
            f"p99_ratio={dataset.pct(0.99) / baseline.pct(0.99):.2f} rps={dataset.rps:.0f}",
            flush=True,
        )
    return True


def run_sqlite(args: argparse.Namespace, folder: Path) -> bool:
    url = f"sqlite:///{folder / 'bench.sqlite'}"
    print(f"bench-api: {args.rows:,} population records, SQLite at {folder}", flush=True)
    prepared = prepare(url, args.rows, min(args.rows, args.dataset_rows or args.rows))
    return report(measure(url, prepared, args, args.rows, 1, {}), args, "")


def run_postgres(args: argparse.Namespace, server_url: str) -> bool:
    """The same people in a database of its own on the PostgreSQL server, then 1, 2, 4 workers."""
    rows = args.pg_rows or args.rows
    name = f"govdx_bench_api_{uuid.uuid4().hex[:8]}"
    _postgres_admin(server_url, f'CREATE DATABASE "{name}"')
    url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
    ok = True
    try:
        print(
            f"bench-api: {rows:,} population records, PostgreSQL database {name}; "
            f"GOVDX_DATABASE_POOL_SIZE={args.pg_pool_size} per worker process",
            flush=True,
        )
        prepared = prepare(url, rows, min(rows, args.dataset_rows or rows) if args.pg_dataset else 0)
        for workers in args.workers:
            print(f"\nbench-api: PostgreSQL, {workers} worker(s)", flush=True)
            measured = measure(
                url, prepared, args, rows, workers, {"GOVDX_DATABASE_POOL_SIZE": str(args.pg_pool_size)}
            )
            ok = report(measured, args, f" db=postgresql workers={workers}") and ok
    finally:
        _postgres_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("GOVDX_BENCH_ROWS", 1_000_000)))
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3, help="slices each phase's seconds alternate in")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--dataset-rows", type=int, default=None, help="低保 rows (default: --rows)")
    parser.add_argument(
        "--only", choices=["sqlite", "postgresql"], default=None, help="run one database's part only"
    )
    parser.add_argument("--pg-rows", type=int, default=None, help="people on PostgreSQL (default: --rows)")
    parser.add_argument(
        "--workers",
        type=lambda s: [int(n) for n in s.split(",")],
        default=[1, 2, 4],
        help="API worker counts on PostgreSQL (default 1,2,4)",
    )
    parser.add_argument(
        "--pg-pool-size",
        type=int,
        default=12,
        help="GOVDX_DATABASE_POOL_SIZE of each worker on PostgreSQL (4 × (12 + 10 overflow) = 88 < 100)",
    )
    parser.add_argument("--pg-dataset", action="store_true", help="also the 低保 dataset phase on PostgreSQL")
    args = parser.parse_args()
    postgres_url = os.environ.get("GOVDX_BENCH_POSTGRES_URL")
    if args.only == "postgresql" and not postgres_url:
        raise SystemExit("--only postgresql needs GOVDX_BENCH_POSTGRES_URL (a server URL)")

    folder = Path(tempfile.mkdtemp(prefix="govdx-bench-api-"))
    os.environ.update(GOVDX_KEYS_FILE=str(folder / "keys.json"), GOVDX_PROFILE="demo")
    keys_service.create(folder / "keys.json")
    ok = True
    try:
        if args.only != "postgresql":
            ok = run_sqlite(args, folder) and ok
        if postgres_url and args.only != "sqlite":
            ok = run_postgres(args, postgres_url) and ok
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
