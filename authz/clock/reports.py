"""Feedback-clock statistics: on-time rates by department and stage, open stages by state, as rows or CSV.

Each report is one GROUP BY over ``clock_stages`` (per department and kind); the totals per
department, per kind and overall are summed from those rows, so a report costs one scan of the
stages in its date range. A row's ``scope`` says what it counts:

- ``department_kind``: one department's stages of one kind;
- ``department``: one department, every kind;
- ``kind``: one kind, every department;
- ``total``: everything in the range.
"""

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from authz.clock.models import ClockStage
from authz.clock.service import now_utc
from authz.types import OPEN_STATES, RUNNING_STATES, StageKind, StageState
from catalog_schema.department.models import Department
from catalog_schema.errors import InvalidInput, Problem

# A report covers at most about three years: enough for any annual comparison, and bounded.
MAX_RANGE_DAYS = 3 * 366

Scope = Literal["department_kind", "department", "kind", "total"]
# Sorted, so the statement (and its cache key) is the same in every process.
_OPEN = sorted(OPEN_STATES)
_RUNNING = sorted(RUNNING_STATES)
SCOPE_LABELS: dict[str, str] = {
    "department_kind": "部门·环节",
    "department": "部门合计",
    "kind": "环节合计",
    "total": "总计",
}


class ReportRow(BaseModel):
    """Who and what a row counts; ``None`` department or kind means "all of them"."""

    # (field, CSV header) in column order, and the fields that add up; subclasses extend both.
    CSV_COLUMNS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("scope_label", "统计范围 scope"),
        ("department", "部门简码 department"),
        ("department_name", "部门 department name"),
        ("kind_label", "办理环节 stage"),
    )
    COUNTS: ClassVar[tuple[str, ...]] = ()

    scope: Scope = Field(
        description="department_kind: 某部门某环节; department: 部门合计; kind: 环节合计; total: 总计"
    )
    department_id: int | None = None
    department: str | None = Field(default=None, description="部门简码 / department slug")
    department_name: str | None = None
    kind: StageKind | None = None
    kind_label: str | None = None

    @property
    def scope_label(self) -> str:
        return SCOPE_LABELS[self.scope]

    def add(self, other: "ReportRow") -> None:
        for name in self.COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def finish(self) -> None:
        """Fill in what derives from the counts."""


class OnTimeRow(ReportRow):
    """Stages due in the range: met, met late, open past due, open not yet due (cancelled ones excluded)."""

    CSV_COLUMNS = (
        *ReportRow.CSV_COLUMNS,
        ("met", "按期办结 met"),
        ("met_late", "超期办结 met late"),
        ("overdue", "超期未办结 overdue"),
        ("open_on_time", "办理中未到期 open, not yet due"),
        ("on_time_rate", "按期办结率 on-time rate"),
    )
    COUNTS = ("met", "met_late", "overdue", "open_on_time")

    met: int = 0
    met_late: int = 0
    overdue: int = 0
    open_on_time: int = 0
    on_time_rate: float | None = Field(
        default=None, description="met / (met + met_late + overdue); null when nothing is measured"
    )

    def finish(self) -> None:
        measured = self.met + self.met_late + self.overdue
        self.on_time_rate = round(self.met / measured, 4) if measured else None


class OpenStagesRow(ReportRow):
    """Open stages started in the range, by their state now."""

    CSV_COLUMNS = (
        *ReportRow.CSV_COLUMNS,
        ("on_time", "办理中 on time"),
        ("due_soon", "即将到期 due soon"),
        ("overdue", "已超期 overdue"),
        ("paused", "补正暂停 paused"),
        ("total", "合计 total"),
    )
    COUNTS = ("on_time", "due_soon", "overdue", "paused", "total")

    on_time: int = 0
    due_soon: int = 0
    overdue: int = 0
    paused: int = 0
    total: int = 0


R = TypeVar("R", bound=ReportRow)


def check_range(start: date, end: date) -> None:
    """Refuse a range that ends before it starts or spans more than about three years."""
    if start > end:
        raise InvalidInput(
            f"统计区间结束日 {end} 早于开始日 {start}",
            f"the range ends ({end}) before it starts ({start})",
            code="invalid_range",
            problems=[Problem("end", f"{end} 早于 {start}", f"{end} is before {start}")],
        )
    if (end - start).days > MAX_RANGE_DAYS:
        raise InvalidInput(
            f"统计区间 {start} 至 {end} 超过 3 年，请分段统计",
            f"the range {start} to {end} exceeds 3 years; split it",
            code="range_too_long",
            problems=[Problem("end", "统计区间不能超过 3 年", "the range cannot exceed 3 years")],
        )


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def _grouped(db: Session, counts: dict[str, ColumnElement[Any]], *where: ColumnElement[bool]) -> list[Any]:
    """One GROUP BY department and kind over the stages matching ``where``."""
    stmt = (
        select(
            ClockStage.department_id,
            Department.slug,
            Department.name,
            ClockStage.kind,
            *(c.label(name) for name, c in counts.items()),
        )
        .join(Department, Department.id == ClockStage.department_id)
        .where(*where)
        .group_by(ClockStage.department_id, Department.slug, Department.name, ClockStage.kind)
    )
    return list(db.execute(stmt))


def _with_totals(leaves: list[R], row_type: type[R]) -> list[R]:
    """Leaf rows by department, each followed by the department total; per-kind totals; the grand total."""
    kinds = list(StageKind)
    leaves = sorted(leaves, key=lambda r: (r.department or "", kinds.index(r.kind) if r.kind else 0))
    by_kind = {kind: row_type(scope="kind", kind=kind, kind_label=kind.label) for kind in kinds}
    total = row_type(scope="total")
    rows: list[R] = []
    department: R | None = None
    for leaf in leaves:
        if department is None or department.department_id != leaf.department_id:
            if department is not None:
                rows.append(department)
            department = row_type(
                scope="department",
                department_id=leaf.department_id,
                department=leaf.department,
                department_name=leaf.department_name,
            )
        rows.append(leaf)
        assert leaf.kind is not None
        for aggregate in (department, by_kind[leaf.kind], total):
            aggregate.add(leaf)
    if department is not None:
        rows.append(department)
    rows += [row for kind, row in by_kind.items() if any(leaf.kind is kind for leaf in leaves)]
    rows.append(total)
    for row in rows:
        row.finish()
    return rows


def _leaf(row: Any) -> dict[str, Any]:
    """What names a report's leaf row: its department and stage kind."""
    return {
        "scope": "department_kind",
        "department_id": row.department_id,
        "department": row.slug,
        "department_name": row.name,
        "kind": row.kind,
        "kind_label": row.kind.label,
    }


def on_time_report(
    *,
    db: Session,
    start: date,
    end: date,
    department_id: int | None = None,
    now: datetime | None = None,
) -> list[OnTimeRow]:
    """按期办结率 of stages due from ``start`` to ``end``, per department and kind, with totals."""
    check_range(start, end)
    now = now or now_utc()
    is_open = ClockStage.state.in_(_OPEN)
    where: list[ColumnElement[bool]] = [
        ClockStage.due_on.between(start, end),
        ClockStage.state != StageState.cancelled,
    ]
    if department_id is not None:
        where.append(ClockStage.department_id == department_id)
    found = _grouped(
        db,
        {
            "met": _count(ClockStage.state == StageState.met),
            "met_late": _count(ClockStage.state == StageState.met_late),
            # Open past due, paused ones included: a pause moves due_at, so a stage past it is late.
            "overdue": _count(is_open & (ClockStage.due_at <= now)),
            "open_on_time": _count(is_open & (ClockStage.due_at > now)),
        },
        *where,
    )
    leaves = [
        OnTimeRow(
            **_leaf(r),
            met=int(r.met),
            met_late=int(r.met_late),
            overdue=int(r.overdue),
            open_on_time=int(r.open_on_time),
        )
        for r in found
    ]
    return _with_totals(leaves, OnTimeRow)


def open_stages_report(
    *,
    db: Session,
    start: date,
    end: date,
    department_id: int | None = None,
    now: datetime | None = None,
) -> list[OpenStagesRow]:
    """Open stages started from ``start`` to ``end`` by their state at ``now``, per department and kind."""
    check_range(start, end)
    now = now or now_utc()
    running = ClockStage.state.in_(_RUNNING)
    state_now = ClockStage.running_state_at(now)  # the same rule the clock's recompute applies
    where: list[ColumnElement[bool]] = [ClockStage.start_on.between(start, end), ClockStage.state.in_(_OPEN)]
    if department_id is not None:
        where.append(ClockStage.department_id == department_id)
    found = _grouped(
        db,
        {
            "on_time": _count(running & (state_now == StageState.on_time.value)),
            "due_soon": _count(running & (state_now == StageState.due_soon.value)),
            "overdue": _count(running & (state_now == StageState.overdue.value)),
            "paused": _count(ClockStage.state == StageState.paused),
            "total": func.count(),
        },
        *where,
    )
    leaves = [
        OpenStagesRow(
            **_leaf(r),
            on_time=int(r.on_time),
            due_soon=int(r.due_soon),
            overdue=int(r.overdue),
            paused=int(r.paused),
            total=int(r.total),
        )
        for r in found
    ]
    return _with_totals(leaves, OpenStagesRow)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2%}"
    text = str(value)
    # A cell starting with = + - @ is a formula to Excel (CSV injection, OWASP); quote it as text.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(rows: Sequence[ReportRow], *, row_type: type[ReportRow] | None = None) -> str:
    """The rows as CSV with 中文 + English headers, starting with a UTF-8 BOM so Excel reads it as UTF-8."""
    columns = (row_type or (type(rows[0]) if rows else OnTimeRow)).CSV_COLUMNS
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header for _name, header in columns)
    for row in rows:
        writer.writerow(_cell(getattr(row, name)) for name, _header in columns)
    return buffer.getvalue()
