"""Working days: the national calendar with 调休, the counting rule, provisional years, arrangements."""

from datetime import date

import pytest
from sqlalchemy.orm import Session

from authz.calendar import service as calendar_service
from authz.calendar.service import WorkingCalendar, national_calendar, parse_arrangement
from catalog_schema.errors import InvalidInput


def d(text: str) -> date:
    return date.fromisoformat(text)


@pytest.fixture(scope="module")
def calendar() -> WorkingCalendar:
    return national_calendar()


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # The day of the event does not count: Monday + 3 ends on Thursday.
        ("2026-11-16", 3, "2026-11-19"),
        # Just before National Day 2026 (10-01..10-07 off); Saturday 10-10 is a make-up working day.
        ("2026-09-30", 3, "2026-10-10"),
        ("2026-09-30", 10, "2026-10-20"),
        # Just before a make-up Sunday (2026-09-20).
        ("2026-09-18", 1, "2026-09-20"),
        # Spring Festival 2026: Saturday 02-14 works, 02-15..02-23 rest.
        ("2026-02-13", 3, "2026-02-25"),
        # National Day 2025 (10-01..10-08 off): Sunday 09-28 and Saturday 10-11 work.
        ("2025-09-26", 3, "2025-09-30"),
        ("2025-09-30", 3, "2025-10-11"),
        # Spring Festival 2025: Sunday 01-26 works, 01-28..02-04 rest.
        ("2025-01-24", 3, "2025-02-05"),
        # An event on a holiday: counting starts with the first working day after it.
        ("2026-10-03", 1, "2026-10-08"),
        # An event on a Saturday that is not a make-up day.
        ("2026-11-21", 1, "2026-11-23"),
    ],
)
def test_deadline_counts_working_days_after_the_event(
    calendar: WorkingCalendar, start: str, days: int, due: str
) -> None:
    assert calendar.deadline(d(start), days).due_on == d(due)


def test_make_up_saturday_is_a_working_day(calendar: WorkingCalendar) -> None:
    assert calendar.is_working_day(d("2026-10-10"))


def test_holiday_weekday_is_not_a_working_day(calendar: WorkingCalendar) -> None:
    assert not calendar.is_working_day(d("2026-10-05"))


def test_zero_working_days_is_the_start_day(calendar: WorkingCalendar) -> None:
    assert calendar.add_working_days(d("2026-10-03"), 0) == d("2026-10-03")


def test_working_days_between_excludes_the_first_day(calendar: WorkingCalendar) -> None:
    # (09-30, 10-10]: 10-08, 10-09, 10-10.
    assert calendar.working_days_between(d("2026-09-30"), d("2026-10-10")) == 3


def test_working_day_before_skips_the_holiday(calendar: WorkingCalendar) -> None:
    assert calendar.working_day_before(d("2026-10-08")) == d("2026-09-30")


def test_deadline_inside_an_arranged_year_is_firm(calendar: WorkingCalendar) -> None:
    assert not calendar.deadline(d("2026-12-01"), 3).provisional


def test_deadline_reaching_a_year_without_arrangement_is_provisional(calendar: WorkingCalendar) -> None:
    deadline = calendar.deadline(d("2026-12-28"), 10)
    assert (deadline.due_on, deadline.provisional) == (d("2027-01-12"), True)


def test_due_at_is_midnight_after_the_due_day_in_beijing(calendar: WorkingCalendar) -> None:
    assert calendar.deadline(d("2026-11-16"), 3).due_at.isoformat() == "2026-11-19T16:00:00+00:00"


def test_date_outside_the_calendar_is_refused(calendar: WorkingCalendar) -> None:
    with pytest.raises(InvalidInput) as caught:
        calendar.deadline(d("1999-12-31"), 3)
    assert caught.value.code == "date_out_of_range"


ARRANGEMENT_2027 = {
    "year": 2027,
    "source": "测试用 2027 年节假日安排",
    "holidays": [
        {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"},
        {"name": "春节", "from": "2027-02-05", "to": "2027-02-11"},
    ],
    "workdays": [{"name": "春节调休", "date": "2027-02-13"}],
}


def test_loaded_arrangement_makes_its_year_firm(db: Session) -> None:
    calendar_service.load_arrangement(db=db, arrangement=parse_arrangement(ARRANGEMENT_2027), user=None)
    deadline = calendar_service.get_calendar(db=db).deadline(d("2026-12-28"), 10)
    assert (deadline.due_on, deadline.provisional) == (d("2027-01-12"), False)


def test_loaded_arrangement_sets_holidays_and_make_up_days(db: Session) -> None:
    calendar_service.load_arrangement(db=db, arrangement=parse_arrangement(ARRANGEMENT_2027), user=None)
    calendar = calendar_service.get_calendar(db=db)
    assert (calendar.is_working_day(d("2027-02-08")), calendar.is_working_day(d("2027-02-13"))) == (
        False,
        True,
    )


def test_national_arrangement_replaces_the_packages_statutory_guess(db: Session) -> None:
    # The package guesses 2027-10-04 and 10-05 off (observed National Day); this arrangement has none.
    calendar_service.load_arrangement(db=db, arrangement=parse_arrangement(ARRANGEMENT_2027), user=None)
    assert calendar_service.get_calendar(db=db).is_working_day(d("2027-10-04"))


def test_regional_arrangement_applies_only_to_its_region(db: Session) -> None:
    regional = {
        "year": 2026,
        "region": "350100",
        "source": "榕城市 2026 年地方节日安排(测试)",
        "holidays": [{"name": "地方节日", "from": "2026-11-23"}],
    }
    calendar_service.load_arrangement(db=db, arrangement=parse_arrangement(regional), user=None)
    region = calendar_service.get_calendar(db=db, region="350100").deadline(d("2026-11-20"), 1)
    nation = calendar_service.get_calendar(db=db).deadline(d("2026-11-20"), 1)
    assert (region.due_on, nation.due_on) == (d("2026-11-24"), d("2026-11-23"))


def test_loading_the_same_year_again_replaces_it(db: Session) -> None:
    calendar_service.load_arrangement(db=db, arrangement=parse_arrangement(ARRANGEMENT_2027), user=None)
    changed = {**ARRANGEMENT_2027, "holidays": [{"name": "元旦", "from": "2027-01-01"}]}
    calendar_service.load_arrangement(db=db, arrangement=parse_arrangement(changed), user=None)
    rows = calendar_service.list_arrangements(db=db)
    assert [(r.year, len(r.days)) for r in rows] == [(2027, 2)]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"holidays": [{"name": "元旦", "from": "2026-12-31"}]}, "holidays[0]"),
        ({"workdays": [{"name": "调休", "date": "2027-02-10"}]}, "workdays[0].date"),
        (
            {"workdays": [{"name": "调休", "date": "2027-02-13"}, {"name": "重复", "date": "2027-02-13"}]},
            "workdays[1].date",
        ),
        ({"holidays": [{"name": "元旦", "from": "2027-01-03", "to": "2027-01-01"}]}, "holidays[0]"),
        ({"source": ""}, "source"),
        ({"year": "二〇二七"}, "year"),
        ({"extra": 1}, "extra"),
    ],
)
def test_malformed_arrangement_names_the_problem(change: dict[str, object], path: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_arrangement({**ARRANGEMENT_2027, **change})
    assert path in [p.path for p in caught.value.problems]
