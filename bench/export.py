"""bench-export: a bulk export traced per person against the same export untraced, in one run.

1. A fresh SQLite platform database (migrated, demo catalog and users) holding N population records
   (default 200,000) of 公安, written as the pipelines store them (``bench/access.py``'s loader).
2. 人口基本信息 loses its 管控参数 (逐条查询 only, 600次/分钟), so it may be exported; 人社 gets a
   grant for four items with ``bulk_export`` through the real workflow, and a machine client.
3. In this process, ``--repeats`` (default 3) pairs of exports, the order within each pair
   alternating: ``open_export`` (authorise, count, log) and every byte of ``export_chunks``, once
   with the per-person trace (each row group's subjects fingerprinted, listed and chained before it
   is handed over) and once with ``traced=False`` (the same stream, no trace: the floor).

The target: the trace costs at most 10% of the export's time. The last line is
``RESULT api-export subjects_per_s=<traced, median> trace_overhead=<median traced / median floor - 1,
as a percent>``.
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

from platform_data import RESOURCE, grant_and_client, load_people
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from authz.access import export
from authz.access.schemas import Call
from authz.audit.models import AccessSubject
from authz.clients import service as clients_service
from authz.clients.models import ApiClient
from catalog_schema import migrate
from catalog_schema.database import make_engine
from catalog_schema.keys import service as keys_service
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.schemas import ResourceUpdate
from demo import catalog as demo_catalog

SECRET = "bench-export-secret-" + "x" * 32


def allow_export(db: Session) -> None:
    """人口基本信息 without its 管控参数, so a grant may include 批量导出."""
    resource = resource_service.get_by_code(db=db, code=RESOURCE)
    resource_service.update(
        db=db, resource=resource, data=ResourceUpdate.model_validate({"control_params": []})
    )


def run_export(factory: sessionmaker[Session], call: Call, *, traced: bool) -> tuple[float, int, int]:
    """One export, opened and streamed to the end; (seconds, rows promised, bytes)."""
    started = time.perf_counter()
    with factory() as db:
        plan = export.open_export(db=db, secret=SECRET, call=call, resource=RESOURCE, items=None)
    size = 0
    with factory() as stream, factory() as log_db:
        for chunk in export.export_chunks(db=stream, log_db=log_db, plan=plan, traced=traced):
            size += len(chunk)
    return time.perf_counter() - started, plan.rows, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("GOVDX_BENCH_EXPORT_ROWS", 200_000)))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="govdx-bench-export-"))
    url = f"sqlite:///{folder / 'bench.sqlite'}"
    os.environ.update(GOVDX_DATABASE_URL=url, GOVDX_KEYS_FILE=str(folder / "keys.json"), GOVDX_PROFILE="demo")
    keys_service.create(folder / "keys.json")
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        print(f"bench-export: {args.rows:,} population records, SQLite at {folder}", flush=True)
        with Session(engine) as db:
            demo_catalog.seed(db)
            load_seconds = load_people(db, args.rows)
            allow_export(db)
            client_id, _secret, purpose = grant_and_client(db, access_modes=("bulk_export",))
            client = db.scalars(select(ApiClient).where(ApiClient.client_id == client_id)).one()
            token = clients_service.issue_token(client=client, secret=SECRET, ttl=timedelta(hours=1))
            db.commit()
        print(f"  loaded in {load_seconds:.1f} s", flush=True)
        factory = sessionmaker(engine, expire_on_commit=False)

        times: dict[bool, list[float]] = {True: [], False: []}
        for repeat in range(args.repeats):
            for traced in (True, False) if repeat % 2 == 0 else (False, True):
                call = Call(
                    token=token,
                    purpose=purpose,
                    operator=None,
                    request_id=uuid.uuid4().hex,
                    client_ip="127.0.0.1",
                )
                seconds, rows, size = run_export(factory, call, traced=traced)
                times[traced].append(seconds)
                name = "traced" if traced else "floor"
                print(f"  {name:<7} {rows:>9,} subjects {size / 1e6:>7.1f} MB {seconds:>7.2f} s", flush=True)
        with factory() as db:
            # Each stored row packs its bucket's trace ids, eight bytes each.
            listed = (db.scalar(select(func.sum(func.length(AccessSubject.ids)))) or 0) // 8
        engine.dispose()
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    traced_s, floor_s = statistics.median(times[True]), statistics.median(times[False])
    overhead = traced_s / floor_s - 1
    print()
    print(f"medians of {args.repeats}: traced {traced_s:.2f} s, floor {floor_s:.2f} s")
    print(f"subjects traced: {listed:,} for {args.repeats} traced exports of {args.rows:,}")
    print(f"target: trace overhead ≤ 10% ({overhead * 100:.1f}%)")
    if listed != args.repeats * args.rows:
        print("bench-export: the traces do not list every subject exported; the figures are not valid")
        raise SystemExit(1)
    print(f"RESULT api-export subjects_per_s={args.rows / traced_s:.0f} trace_overhead={overhead * 100:.1f}%")


if __name__ == "__main__":
    main()
