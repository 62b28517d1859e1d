"""bench-ingest: the population pipeline end to end against the floor of reading and bulk-inserting.

1. Generate N people (default 1,000,000) into the 公安 户籍 source database (SQLite).
2. Floor: read the same source with the same connector and insert the same rows with no checks
   (SQLite ``executemany`` in one transaction; PostgreSQL ``COPY``), into a fresh database.
3. Pipeline: a fresh platform database (migrated, demo catalog), then the real ingest of
   ``gongan_huji``: rules, quarantine, change detection, SCD2 records, batch reconciliation,
   and encryption at rest (blind-indexed keys, sealed sensitive values, keyed row digests) under
   a throwaway keyring of the run's own.
4. Rerun: the same source again, unchanged (incremental: the watermark leaves nothing to read),
   and, for the record, a forced full re-read where every row is hash-compared and unchanged.

Each timed phase runs in a child process so its peak RSS is its own (with its own children's:
the pipeline prepares chunks in a worker process). The work folder is deleted at the end. Floor
and pipeline run ``--repeat`` times (default 3) and the medians are compared, one line per database:
``RESULT ingest db=<sqlite|postgresql> ratio=<pipeline_s/floor_s> rows_per_s=<n> peak_mb=<n>
rerun_speedup=<first_s/second_s>``. With GOVDX_BENCH_POSTGRES_URL set, the PostgreSQL pipeline and
COPY floor run too, each in a database of its own, dropped at the end. The last line is still
``RESULT ingest ratio=…`` with SQLite's figures, as before there was a PostgreSQL leg.
"""

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def _child(args: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run one phase in a fresh interpreter; its last stdout line is a JSON result."""
    done = subprocess.run(
        [sys.executable, __file__, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"phase {args[:2]} failed with exit code {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _peak_mb() -> float:
    """This process's peak RSS plus its largest child's (the ingest's preparing worker), in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return (own + resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024


# -- phases (each in its own process) -------------------------------------------------------


def phase_generate(people: int, source_url: str) -> dict[str, float]:
    from demo.sources import write_police_household_register

    started = time.perf_counter()
    rows = write_police_household_register(source_url, people=people, seed=2026)
    return {"rows": rows, "seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


def _spec():
    from connectors.config import load_sources
    from ingest.settings import DEMO_SOURCES_FILE

    return load_sources(DEMO_SOURCES_FILE).get("gongan_huji")


def phase_floor(target_url: str) -> dict[str, float]:
    """Same connector read, then the plainest bulk insert the target has."""
    import pyarrow as pa
    from sqlalchemy import create_engine, text

    from connectors import open_connector
    from connectors.base import Window

    spec = _spec()
    columns = list(spec.columns)
    engine = create_engine(target_url)
    ddl = ", ".join(f'"{c}" TEXT' for c in columns)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS floor_rows"))
        conn.execute(text(f"CREATE TABLE floor_rows ({ddl})"))
    started = time.perf_counter()
    rows = 0
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        postgres = engine.dialect.name == "postgresql"
        placeholders = ", ".join("?" for _ in columns)
        for chunk in open_connector(spec, sources_dir=Path(".")).read(Window()):
            table = pa.Table.from_batches([chunk]).select(columns)
            values = list(zip(*(table.column(c).to_pylist() for c in columns), strict=True))
            if postgres:
                with cursor.copy(f"COPY floor_rows ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in values:
                        copy.write_row(row)
            else:
                cursor.executemany(f"INSERT INTO floor_rows VALUES ({placeholders})", values)
            rows += len(values)
        raw.commit()
    finally:
        raw.close()
    return {"rows": rows, "seconds": time.perf_counter() - started, "peak_mb": _peak_mb()}


def phase_prepare(platform_url: str) -> dict[str, float]:
    from catalog_schema import migrate
    from catalog_schema.database import make_engine
    from demo import catalog as demo_catalog

    engine = make_engine(platform_url)
    migrate.upgrade(engine, "head")
    from sqlalchemy.orm import Session

    with Session(engine) as db:
        demo_catalog.seed(db)
        db.commit()
    return {"seconds": 0.0}


def phase_pipeline(platform_url: str, force: bool) -> dict[str, float]:
    from sqlalchemy.orm import sessionmaker

    from catalog_schema.database import make_engine
    from ingest import flows

    engine = make_engine(platform_url)
    started = time.perf_counter()
    summary = flows.ingest(
        _spec(),
        session_factory=sessionmaker(engine, expire_on_commit=False),
        sources_dir=Path("."),
        run_id=f"bench-{uuid.uuid4().hex[:8]}",
        force=force,
    )
    seconds = time.perf_counter() - started
    return {
        "rows": summary.rows_read,
        "loaded": summary.loaded,
        "quarantined": summary.quarantined,
        "unchanged": summary.unchanged,
        "seconds": seconds,
        "peak_mb": _peak_mb(),
    }


# -- orchestration ---------------------------------------------------------------------------


def _postgres_admin(url: str, statement: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def _fresh_postgres(url: str, created: list[str]) -> str:
    from sqlalchemy.engine import make_url

    name = f"govdx_bench_{uuid.uuid4().hex[:8]}"
    _postgres_admin(url, f'CREATE DATABASE "{name}"')
    created.append(name)
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def run_backend(
    label: str, people: int, repeat: int, source_env: dict[str, str], platform_url, floor_url
) -> dict[str, float]:
    floors, pipelines, peaks = [], [], []
    first = second = forced = None
    for attempt in range(repeat):
        floors.append(_child(["floor", floor_url(attempt)], source_env)["seconds"])
        url = platform_url(attempt)
        _child(["prepare", url], source_env)
        result = _child(["pipeline", url], source_env)
        pipelines.append(result["seconds"])
        peaks.append(result["peak_mb"])
        print(
            f"  [{label}] run {attempt + 1}: floor {floors[-1]:.1f}s pipeline {result['seconds']:.1f}s "
            f"({result['loaded']:,} loaded, {result['quarantined']:,} quarantined, "
            f"peak {result['peak_mb']:.0f} MB)",
            flush=True,
        )
        if attempt == 0:
            first = result["seconds"]
            second = _child(["pipeline", url], source_env)["seconds"]
            forced_result = _child(["pipeline", url, "--force"], source_env)
            forced = forced_result["seconds"]
            print(
                f"  [{label}] rerun unchanged (incremental): {second:.2f}s; forced full re-read "
                f"({forced_result['unchanged']:,} unchanged): {forced:.1f}s",
                flush=True,
            )
    floor_s, pipeline_s = statistics.median(floors), statistics.median(pipelines)
    return {
        "floor_s": floor_s,
        "pipeline_s": pipeline_s,
        "ratio": pipeline_s / floor_s,
        "rows_per_s": people / pipeline_s,
        "peak_mb": max(peaks),
        "rerun_speedup": first / second,
        "forced_rerun_s": forced,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("phase", nargs="?", default="all")
    parser.add_argument("url", nargs="?")
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--people", type=int, default=int(os.environ.get("GOVDX_BENCH_PEOPLE", 1_000_000)))
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("GOVDX_BENCH_REPEAT", 3)))
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="run one database's leg")
    args = parser.parse_args()
    if args.phase != "all":
        handlers = {
            "generate": lambda: phase_generate(args.people, args.url),
            "floor": lambda: phase_floor(args.url),
            "prepare": lambda: phase_prepare(args.url),
            "pipeline": lambda: phase_pipeline(args.url, args.force),
        }
        print(json.dumps(handlers[args.phase]()))
        return

    work = Path(tempfile.mkdtemp(prefix="govdx-bench-"))
    # A million people take about 3 GB of databases: deleted at the end, however the run ends.
    print(f"work folder {work} (deleted at the end)", flush=True)
    try:
        _run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(args: argparse.Namespace, work: Path) -> None:
    from catalog_schema.keys import service as keys_service

    # The run's own keyring, as throwaway as its databases; every phase inherits it.
    keys_service.create(work / "keys.json")
    os.environ["GOVDX_KEYS_FILE"] = str(work / "keys.json")
    source_url = f"sqlite:///{work / 'gongan_huji.sqlite'}"
    source_env = {"GOVDX_CONN_GONGAN_HUJI": source_url}
    generated = _child(["generate", source_url, "--people", str(args.people)], {})
    print(
        f"generated {int(generated['rows']):,} 公安 户籍 rows in {generated['seconds']:.1f}s ({work})",
        flush=True,
    )

    results = {}
    if args.only in (None, "sqlite"):
        results["sqlite"] = run_backend(
            "sqlite",
            args.people,
            args.repeat,
            source_env,
            platform_url=lambda i: f"sqlite:///{work / f'platform-{i}.sqlite'}",
            floor_url=lambda i: f"sqlite:///{work / f'floor-{i}.sqlite'}",
        )
    pg = os.environ.get("GOVDX_BENCH_POSTGRES_URL")
    if pg and args.only in (None, "postgresql"):
        created: list[str] = []
        try:
            results["postgresql"] = run_backend(
                "postgresql",
                args.people,
                args.repeat,
                source_env,
                platform_url=lambda i: _fresh_postgres(pg, created),
                floor_url=lambda i: _fresh_postgres(pg, created),
            )
        finally:
            for name in created:
                _postgres_admin(pg, f'DROP DATABASE IF EXISTS "{name}"')
    for label, r in results.items():
        print(
            f"{label}: floor {r['floor_s']:.1f}s, pipeline {r['pipeline_s']:.1f}s (median of {args.repeat}), "
            f"ratio {r['ratio']:.2f}, {r['rows_per_s']:,.0f} rows/s, peak {r['peak_mb']:.0f} MB, "
            f"rerun speedup {r['rerun_speedup']:.1f}x, forced re-read {r['forced_rerun_s']:.1f}s"
        )
    for label, r in results.items():
        print(f"RESULT ingest db={label} {_figures(r)}")
    if "sqlite" in results:
        print(f"RESULT ingest {_figures(results['sqlite'])}")


def _figures(r: dict[str, float]) -> str:
    return (
        f"ratio={r['ratio']:.2f} rows_per_s={r['rows_per_s']:.0f} peak_mb={r['peak_mb']:.0f} "
        f"rerun_speedup={r['rerun_speedup']:.1f}"
    )


if __name__ == "__main__":
    main()
