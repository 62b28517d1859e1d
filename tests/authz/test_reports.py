"""Clock reports: on-time rates and open stages per department and kind, their totals, and the CSV."""

import csv
import io
from datetime import UTC, date, datetime

import pytest

from authz.calendar.service import end_of_day, start_of_day
from authz.clock import reports
from authz.clock.models import ClockStage
from authz.clock.reports import OnTimeRow, OpenStagesRow
from authz.types import StageKind, StageState
from catalog_schema.department import service as department_service
from catalog_schema.errors import InvalidInput

# Monday 16 June 2031, 10:00 in Beijing; stages sit in June 2031, where no other test puts any.
NOW = datetime(2031, 6, 16, 2, 0, tzinfo=UTC)
JUNE = (date(2031, 6, 1), date(2031, 6, 30))
K, S = StageKind, StageState


def _stage(db, slug, kind, state, due_on, *, start_on=date(2031, 6, 2), warn_on=None):
    department = department_service.get_by_ref(db=db, ref=slug)
    stage = ClockStage(
        kind=kind,
        department_id=department.id,
        subject=f"测试 {kind.label}",
        working_days=3,
        started_at=start_of_day(start_on),
        start_on=start_on,
        due_on=due_on,
        due_at=end_of_day(due_on),
        warn_at=start_of_day(warn_on or due_on),
        pauses=[],
        state=state,
        state_changed_at=start_of_day(start_on),
        completed_at=start_of_day(due_on) if not state.is_open else None,
    )
    db.add(stage)
    db.flush()
    return stage


@pytest.fixture
def stages(db):
    """公安 decisions: 3 met, 1 met late, 1 open past due, 2 open not yet due, 1 cancelled.
    数据局 reviews: 1 met, 1 met late. One more 公安 decision is due in July, outside June."""
    d = date(2031, 6, 10)
    for state in (S.met, S.met, S.met, S.met_late, S.cancelled):
        _stage(db, "gongan", K.decision, state, d)
    _stage(db, "gongan", K.decision, S.overdue, date(2031, 6, 13))
    _stage(db, "gongan", K.decision, S.on_time, date(2031, 6, 20))
    _stage(db, "gongan", K.decision, S.paused, date(2031, 6, 18))
    _stage(db, "shujuju", K.review, S.met, d)
    _stage(db, "shujuju", K.review, S.met_late, d)
    _stage(db, "gongan", K.decision, S.met_late, date(2031, 7, 1))


def _row(rows, scope, department=None, kind=None):
    [row] = [r for r in rows if r.scope == scope and r.department == department and r.kind == kind]
    return row


def test_on_time_rate_is_met_over_met_late_and_overdue(db, stages):
    rows = reports.on_time_report(db=db, start=JUNE[0], end=JUNE[1], now=NOW)

    row = _row(rows, "department_kind", "gongan", K.decision)
    assert (row.met, row.met_late, row.overdue, row.open_on_time) == (3, 1, 1, 2)
    assert row.on_time_rate == 0.6


def test_on_time_totals_per_department_per_kind_and_overall(db, stages):
    rows = reports.on_time_report(db=db, start=JUNE[0], end=JUNE[1], now=NOW)

    assert [(r.scope, r.department, r.kind) for r in rows] == [
        ("department_kind", "gongan", K.decision),
        ("department", "gongan", None),
        ("department_kind", "shujuju", K.review),
        ("department", "shujuju", None),
        ("kind", None, K.review),
        ("kind", None, K.decision),
        ("total", None, None),
    ]
    assert _row(rows, "department", "shujuju").on_time_rate == 0.5
    assert _row(rows, "kind", kind=K.review).met == 1
    total = _row(rows, "total")
    assert (total.met, total.met_late, total.overdue, total.open_on_time) == (4, 2, 1, 2)
    assert total.on_time_rate == round(4 / 7, 4)


def test_on_time_report_of_one_department(db, stages):
    gongan = department_service.get_by_ref(db=db, ref="gongan")

    rows = reports.on_time_report(db=db, start=JUNE[0], end=JUNE[1], department_id=gongan.id, now=NOW)

    assert {r.department for r in rows if r.scope == "department_kind"} == {"gongan"}
    assert _row(rows, "total").met == 3


def test_rate_is_none_when_nothing_is_measured(db):
    _stage(db, "gongan", K.decision, S.on_time, date(2031, 6, 20))

    rows = reports.on_time_report(db=db, start=JUNE[0], end=JUNE[1], now=NOW)

    assert _row(rows, "total").open_on_time == 1
    assert _row(rows, "total").on_time_rate is None


def test_an_empty_range_has_only_a_zero_total(db):
    rows = reports.on_time_report(db=db, start=date(2032, 1, 1), end=date(2032, 1, 31), now=NOW)

    assert rows == [OnTimeRow(scope="total")]


def test_open_stages_count_by_state_now_not_the_stored_state(db):
    _stage(db, "gongan", K.decision, S.on_time, date(2031, 6, 25), warn_on=date(2031, 6, 24))
    _stage(db, "gongan", K.decision, S.on_time, date(2031, 6, 16))  # the clock job has not run yet today
    _stage(db, "gongan", K.decision, S.on_time, date(2031, 6, 13))
    _stage(db, "gongan", K.decision, S.paused, date(2031, 6, 13))
    _stage(db, "gongan", K.decision, S.met, date(2031, 6, 13))  # closed
    _stage(db, "gongan", K.decision, S.on_time, date(2031, 6, 20), start_on=date(2031, 5, 29))  # before

    rows = reports.open_stages_report(db=db, start=JUNE[0], end=JUNE[1], now=NOW)

    row = _row(rows, "department_kind", "gongan", K.decision)
    assert (row.on_time, row.due_soon, row.overdue, row.paused, row.total) == (1, 1, 1, 1, 4)
    assert _row(rows, "total").total == 4


@pytest.mark.parametrize(
    ("start", "end", "code"),
    [
        (date(2031, 6, 2), date(2031, 6, 1), "invalid_range"),
        (date(2028, 1, 1), date(2031, 1, 10), "range_too_long"),
    ],
)
def test_a_backwards_or_over_three_year_range_is_refused(db, start, end, code):
    with pytest.raises(InvalidInput) as refused:
        reports.on_time_report(db=db, start=start, end=end)

    assert refused.value.code == code


def test_csv_has_a_bom_bilingual_headers_and_one_line_per_row(db, stages):
    rows = reports.on_time_report(db=db, start=JUNE[0], end=JUNE[1], now=NOW)

    text = reports.to_csv(rows)

    assert text.startswith("\ufeff")
    header, *lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert header[0] == "统计范围 scope" and "按期办结率 on-time rate" in header
    assert len(lines) == len(rows)
    assert lines[0][:4] == ["部门·环节", "gongan", rows[0].department_name, "部门审批"]
    assert lines[0][-1] == "60.00%"
    assert lines[-1][0] == "总计"


def test_csv_of_no_rows_still_has_the_headers():
    text = reports.to_csv([], row_type=OpenStagesRow)

    assert text.splitlines() == [
        "\ufeff统计范围 scope,部门简码 department,部门 department name,办理环节 stage,"
        "办理中 on time,即将到期 due soon,已超期 overdue,补正暂停 paused,合计 total"
    ]


def test_csv_cells_that_excel_would_run_as_formulas_are_quoted():
    row = OnTimeRow(scope="department", department="x", department_name='=HYPERLINK("http://evil")')

    [_, line] = list(csv.reader(io.StringIO(reports.to_csv([row]).removeprefix("\ufeff"))))

    assert line[2] == '\'=HYPERLINK("http://evil")'
