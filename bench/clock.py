"""bench-clock: recompute every clock state over 100,000 open stages, and compute one deadline.

1. A fresh SQLite platform database (migrated) with 50 departments, each providing one resource,
   and N open sharing requests (default 100,000), each with one open clock stage started on one of
   the last ~20 working days, so on time, due soon, overdue and paused stages all occur. Rows go in
   with Core ``executemany``; every stage's due date and warning time come from
   ``authz.clock.service.schedule_of``, as the running platform computes them.
2. Recompute: ``recompute(all_deadlines=True)`` (every open deadline, then every state) in a
   committed transaction, against the same-run floor of a bare SELECT of the columns it reads.
   One warm-up, then the median of ``--repeat`` (default 5) runs; those runs find nothing to
   change, so one more recompute with ``now`` a working day later shows the cost when states move.
3. Deadline: ``calendar.deadline(start, n)`` for varied start days and n in {3, 10}, in batches of
   1,000 calls; the median batch gives the time per call.

Targets: recompute ≤ 2 s, deadline ≤ 50 µs. The reports over the same stages are timed for the
record. The last line is ``RESULT clock recompute_s=<s> deadline_us=<us>``.
"""

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, select
from sqlalchemy.orm import Session

from authz.calendar import service as calendar_service
from authz.calendar.service import TZ, WorkingCalendar, local_date
from authz.clock import reports
from authz.clock.models import ClockStage
from authz.clock.service import recompute, schedule_of
from authz.sharing.models import SharingRequest
from authz.types import OPEN_STATES, RequestStatus, Route, StageKind, StageState
from catalog_schema import migrate
from catalog_schema.database import make_engine
from catalog_schema.department.models import Department
from catalog_schema.resource.models import Resource
from catalog_schema.types import (
    DepartmentKind,
    ResourceClass,
    ResourceFormat,
    ResourceStatus,
    ShareMethod,
    ShareType,
    UpdateCycle,
)
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role

DEPARTMENTS = 50
SPREAD_WORKING_DAYS = 20
DUE_SOON_DAYS = 1
RECOMPUTE_TARGET_S = 2.0
DEADLINE_TARGET_US = 50.0
# What each stage kind's request is doing, and its working-day limit (the default SLA profile).
KINDS: tuple[tuple[StageKind, int, RequestStatus, RequestStatus, float], ...] = (
    (StageKind.review, 3, RequestStatus.submitted, RequestStatus.review_supplement, 0.3),
    (StageKind.provision, 3, RequestStatus.provisioning, RequestStatus.provisioning, 0.1),
    (StageKind.decision, 10, RequestStatus.pending_approval, RequestStatus.approval_supplement, 0.6),
)
PAUSED_SHARE = 0.05
BATCH = 10_000


def _bench_now(calendar: WorkingCalendar) -> datetime:
    """10:00 in Beijing on today's date, or on the last working day before it."""
    today = local_date(datetime.now(UTC))
    if not calendar.is_working_day(today):
        today = calendar.working_day_before(today)
    return datetime.combine(today, clock_time(10), TZ).astimezone(UTC)


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, clock_time(hour), TZ).astimezone(UTC)


def _base_rows(db: Session) -> tuple[list[int], list[int], int]:
    """50 departments (the first runs the platform), one resource each, one requester."""
    db.execute(
        insert(Department),
        [
            {
                "slug": "shujuju" if i == 0 else f"dept{i:02d}",
                "name": f"榕城市第{i:02d}局",
                "credit_code": f"11350100{i:09d}X",
                "region_code": "350100",
                "kind": DepartmentKind.government,
            }
            for i in range(DEPARTMENTS)
        ],
    )
    departments = list(db.scalars(select(Department.id).order_by(Department.id)))
    db.execute(
        insert(Resource),
        [
            {
                "code": f"1{i:05d}/000001",
                "resource_class": ResourceClass.basic,
                "category_item": "01",
                "category_catalog": "001",
                "classification_code": f"1{i:05d}",
                "sequence": 1,
                "name": f"测试资源{i:02d}",
                "provider_id": dept,
                "abstract": "基准测试用资源",
                "format": ResourceFormat.database,
                "share_type": ShareType.conditional,
                "share_method": ShareMethod.api,
                "update_cycle": UpdateCycle.daily,
                "status": ResourceStatus.published,
            }
            for i, dept in enumerate(departments)
        ],
    )
    resources = list(db.scalars(select(Resource.id).order_by(Resource.id)))
    db.execute(
        insert(User),
        [
            {
                "username": "bench",
                "full_name": "基准测试",
                "role": Role.dept_requester,
                "password_hash": "!",
                "department_id": departments[1],
            }
        ],
    )
    requester = db.scalar(select(User.id).where(User.username == "bench"))
    assert requester is not None
    return departments, resources, requester


def populate(engine: Engine, stages: int, calendar: WorkingCalendar, now: datetime) -> dict[str, int]:
    """Requests with one open stage each, started over the last working days; returns stages per state."""
    rng = random.Random(2026)
    today = local_date(now)
    start_days = [calendar.working_day_before(today, k) for k in range(SPREAD_WORKING_DAYS + 1)]
    weights = [w for *_, w in KINDS]
    states: dict[str, int] = {}
    with Session(engine) as db:
        departments, resources, requester = _base_rows(db)
        platform = departments[0]
        first_id = 1
        for offset in range(0, stages, BATCH):
            requests: list[dict[str, Any]] = []
            clocks: list[dict[str, Any]] = []
            for i in range(offset, min(offset + BATCH, stages)):
                kind, days, running_status, paused_status, _ = rng.choices(KINDS, weights)[0]
                provider = rng.randrange(DEPARTMENTS)
                start_on = rng.choice(start_days)
                started_at = _at(start_on, rng.randrange(8, 18))
                paused = rng.random() < PAUSED_SHARE and start_on < today
                pauses = []
                if paused:
                    paused_on = rng.choice([d for d in start_days if start_on < d <= today])
                    pauses = [
                        {"from": _at(paused_on, 9).isoformat(), "until": None, "reason": "补正", "by": "x"}
                    ]
                plan = schedule_of(
                    calendar,
                    start_on=start_on,
                    working_days=days,
                    pauses=pauses,
                    due_soon_days=DUE_SOON_DAYS,
                    today=today,
                )
                if paused:
                    state = StageState.paused
                elif now >= plan.due_at:
                    state = StageState.overdue
                elif now >= plan.warn_at:
                    state = StageState.due_soon
                else:
                    state = StageState.on_time
                states[state.value] = states.get(state.value, 0) + 1
                request_id = first_id + i
                requests.append(
                    {
                        "id": request_id,
                        "number": f"SQ-{start_on.year}-{request_id:06d}",
                        "requester_id": requester,
                        "resource_id": resources[provider],
                        "resource_version": 1,
                        "provider_department_id": departments[provider],
                        "department_id": departments[rng.randrange(1, DEPARTMENTS)],
                        "items": ["统一社会信用代码", "名称"],
                        "purpose": "基准测试",
                        "legal_basis": "基准测试",
                        "access_modes": ["lookup"],
                        "valid_from": start_on,
                        "valid_until": start_on + timedelta(days=365),
                        "expected_volume": 100,
                        "status": paused_status if paused else running_status,
                        "route": Route.department if kind is StageKind.decision else Route.direct,
                        "submitted_at": started_at,
                    }
                )
                clocks.append(
                    {
                        "kind": kind,
                        "request_id": request_id,
                        "department_id": departments[provider] if kind is StageKind.decision else platform,
                        "subject": f"共享申请 SQ-{start_on.year}-{request_id:06d}《测试资源》{kind.label}",
                        "working_days": days,
                        "started_at": started_at,
                        "start_on": start_on,
                        "due_on": plan.due_on,
                        "due_at": plan.due_at,
                        "warn_at": plan.warn_at,
                        "provisional": plan.provisional,
                        "pauses": pauses,
                        "paused_since": datetime.fromisoformat(pauses[0]["from"]) if paused else None,
                        "state": state,
                        "state_changed_at": started_at,
                    }
                )
            db.execute(insert(SharingRequest), requests)
            db.execute(insert(ClockStage), clocks)
        db.commit()
    return states


def _timed(action: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def recompute_once(engine: Engine, now: datetime, calendar: WorkingCalendar) -> tuple[float, Any]:
    """One full recompute in a committed transaction: seconds and its report."""

    def run() -> Any:
        with Session(engine) as db:
            report = recompute(db=db, now=now, calendar=calendar, all_deadlines=True)
            db.commit()
            return report

    return _timed(run)


def floor_once(engine: Engine) -> tuple[float, Any]:
    """The columns recompute reads, of every open stage, and nothing else."""

    def run() -> int:
        with Session(engine) as db:
            rows = db.execute(
                select(
                    ClockStage.id,
                    ClockStage.start_on,
                    ClockStage.working_days,
                    ClockStage.pauses,
                    ClockStage.due_on,
                    ClockStage.warn_at,
                    ClockStage.provisional,
                ).where(ClockStage.state.in_(sorted(OPEN_STATES)))
            ).all()
            return len(rows)

    return _timed(run)


def report_s(engine: Engine, report: Callable[..., Any], window: dict[str, Any], repeat: int) -> float:
    """Median seconds of one report over the stages in ``window``."""

    def run() -> Any:
        with Session(engine) as db:
            return report(db=db, **window)

    return statistics.median(_timed(run)[0] for _ in range(repeat))


def deadline_us(calendar: WorkingCalendar, calls: int, batch: int = 1000) -> float:
    """Median over batches of the time per ``calendar.deadline`` call, in microseconds."""
    rng = random.Random(7)
    first, last = date(2024, 1, 1).toordinal(), date(2026, 12, 31).toordinal()
    per_call: list[float] = []
    for _ in range(max(1, calls // batch)):
        args = [(date.fromordinal(rng.randint(first, last)), rng.choice((3, 10))) for _ in range(batch)]
        deadline = calendar.deadline
        started = time.perf_counter()
        for start, n in args:
            deadline(start, n)
        per_call.append((time.perf_counter() - started) / batch * 1e6)
    return statistics.median(per_call)


def _verdict(value: float, target: float) -> str:
    return "PASS" if value <= target else "FAIL"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stages", type=int, default=int(os.environ.get("GOVDX_BENCH_STAGES", 100_000)))
    parser.add_argument("--repeat", type=int, default=int(os.environ.get("GOVDX_BENCH_REPEAT", 5)))
    parser.add_argument("--deadline-calls", type=int, default=200_000)
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="govdx-bench-clock-"))
    engine = make_engine(f"sqlite:///{work / 'platform.sqlite'}")
    migrate.upgrade(engine)
    with Session(engine) as db:
        calendar = calendar_service.get_calendar(db=db)
    now = _bench_now(calendar)
    seconds, states = _timed(lambda: populate(engine, args.stages, calendar, now))
    shown = ", ".join(f"{state} {count:,}" for state, count in sorted(states.items()))
    kept = f" to {work}" if args.keep else ""
    print(f"{args.stages:,} open stages in {DEPARTMENTS} depts ({shown}), written in {seconds:.1f}s{kept}")
    print(f"now = {now.astimezone(TZ):%Y-%m-%d %H:%M} Beijing", flush=True)

    recompute_once(engine, now, calendar)  # warm-up: caches, and brings every state up to date
    floor_once(engine)
    recomputes: list[float] = []
    floors: list[float] = []
    for attempt in range(args.repeat):
        recompute_s, report = recompute_once(engine, now, calendar)
        floor_s, rows = floor_once(engine)
        recomputes.append(recompute_s)
        floors.append(floor_s)
        print(
            f"  run {attempt + 1}: recompute {recompute_s:.3f}s ({report.deadlines_checked:,} checked, "
            f"{report.deadlines_changed} deadlines and {report.states_changed} states changed); "
            f"floor {floor_s:.3f}s ({rows:,} rows)",
            flush=True,
        )
    recompute_s, floor_s = statistics.median(recomputes), statistics.median(floors)

    today = local_date(now)
    window = {"start": today - timedelta(days=60), "end": today + timedelta(days=60), "now": now}
    on_time_s = report_s(engine, reports.on_time_report, window, args.repeat)
    open_stages_s = report_s(engine, reports.open_stages_report, window, args.repeat)

    next_day = _at(calendar.add_working_days(local_date(now), 1), 10)
    moved_s, moved = recompute_once(engine, next_day, calendar)

    per_call_us = deadline_us(calendar, args.deadline_calls)

    print(
        f"recompute every clock state: {recompute_s:.3f}s (median of {args.repeat}); "
        f"floor (bare SELECT of the open stages) {floor_s:.3f}s; ratio {recompute_s / floor_s:.1f}x"
    )
    print(
        f"recompute one working day later ({next_day.astimezone(TZ):%Y-%m-%d}): {moved_s:.3f}s, "
        f"{moved.states_changed:,} states and {moved.deadlines_changed:,} deadlines changed"
    )
    print(
        f"reports over the same stages (median of {args.repeat}): on-time {on_time_s * 1000:.0f} ms, "
        f"open stages {open_stages_s * 1000:.0f} ms"
    )
    print(
        f"one deadline: {per_call_us:.2f} µs per call "
        f"(median of batches of 1,000; {args.deadline_calls:,} calls)"
    )
    print(
        f"targets: recompute ≤ {RECOMPUTE_TARGET_S:g} s {_verdict(recompute_s, RECOMPUTE_TARGET_S)}; "
        f"deadline ≤ {DEADLINE_TARGET_US:g} µs {_verdict(per_call_us, DEADLINE_TARGET_US)}"
    )
    engine.dispose()
    if not args.keep:
        shutil.rmtree(work)
    print(f"RESULT clock recompute_s={recompute_s:.3f} deadline_us={per_call_us:.1f}")


if __name__ == "__main__":
    main()
