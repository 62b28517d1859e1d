"""Working days in Asia/Shanghai: the national calendar with its 调休, plus loaded arrangements.

The national calendar is the ``holidays`` package's China calendar, which carries the State
Council's official arrangement (holidays and 调休 working weekends) for the years it knows
(2001–2026 as of holidays 0.109). For later years it knows only the statutory holidays, so a
deadline that reaches such a year is *provisional* until an administrator loads that year's
arrangement (``govdx calendar load``); loading one replaces the package's days for that year.

Counting rule (seeds/002 §六(一)3, DESIGN.md): the day of the starting event does not count, and
"within N working days" ends at the end of the Nth working day after it.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from authz.calendar.models import CalendarArrangement
from authz.calendar.schemas import FIRST_YEAR, LAST_YEAR, ArrangementFile
from catalog_schema.errors import InvalidInput, Problem
from catalog_schema.resource import exchange
from catalog_schema.user.models import User
from catalog_schema.validation import problems_from

TZ = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Deadline:
    """The due date of a stage; it ends at midnight after ``due_on``, Beijing time."""

    due_on: date
    provisional: bool

    @property
    def due_at(self) -> datetime:
        return end_of_day(self.due_on)


def local_date(moment: datetime) -> date:
    """The calendar date of ``moment`` in Asia/Shanghai."""
    return moment.astimezone(TZ).date()


def start_of_day(day: date) -> datetime:
    """00:00 of ``day`` in Asia/Shanghai, as an aware UTC datetime."""
    return datetime.combine(day, time(), TZ).astimezone(UTC)


def end_of_day(day: date) -> datetime:
    """The instant ``day`` ends in Asia/Shanghai (00:00 of the next day), as an aware UTC datetime."""
    return start_of_day(day + timedelta(days=1))


def out_of_range(day: date, what: str = "日期", what_en: str = "date") -> InvalidInput:
    return InvalidInput(
        f"{what} {day} 超出工作日历范围 {FIRST_YEAR}–{LAST_YEAR} 年",
        f"{what_en} {day} is outside the working-day calendar ({FIRST_YEAR}–{LAST_YEAR})",
        code="date_out_of_range",
    )


class WorkingCalendar:
    """Working days of one region, answered from a sorted array of day ordinals (O(log n) per question)."""

    def __init__(self, *, overrides: Mapping[date, bool] = {}, official_years: Iterable[int] = ()) -> None:
        national = holidays.China(years=range(FIRST_YEAR, LAST_YEAR + 1))
        self.official_years = frozenset(national.special_public_holidays) | frozenset(official_years)
        first, last = date(FIRST_YEAR, 1, 1), date(LAST_YEAR, 12, 31)
        self._first_ordinal, self._last_ordinal = first.toordinal(), last.toordinal()
        working: list[int] = []
        for ordinal in range(self._first_ordinal, self._last_ordinal + 1):
            day = date.fromordinal(ordinal)
            is_working = overrides.get(day)
            if is_working is None:
                is_working = national.is_working_day(day)
            if is_working:
                working.append(ordinal)
        self._working = working

    def _check(self, day: date) -> int:
        ordinal = day.toordinal()
        if not self._first_ordinal <= ordinal <= self._last_ordinal:
            raise out_of_range(day)
        return ordinal

    def is_working_day(self, day: date) -> bool:
        ordinal = self._check(day)
        i = bisect_left(self._working, ordinal)
        return i < len(self._working) and self._working[i] == ordinal

    def add_working_days(self, start: date, n: int) -> date:
        """The Nth working day after ``start`` (``start`` itself never counts); ``start`` when n is 0."""
        if n < 0:
            raise ValueError("n must not be negative")
        if n == 0:
            return start
        i = bisect_right(self._working, self._check(start)) + n - 1
        if i >= len(self._working):
            raise out_of_range(date.fromordinal(self._last_ordinal) + timedelta(days=1), "期限", "deadline")
        return date.fromordinal(self._working[i])

    def working_days_between(self, after: date, through: date) -> int:
        """How many working days fall in (after, through]; 0 when ``through`` is not later."""
        a, b = self._check(after), self._check(through)
        if b <= a:
            return 0
        return bisect_right(self._working, b) - bisect_right(self._working, a)

    def working_day_before(self, day: date, n: int = 1) -> date:
        """The Nth working day before ``day`` (``day`` itself never counts); ``day`` when n is 0."""
        if n == 0:
            return day
        i = bisect_left(self._working, self._check(day)) - n
        if i < 0:
            raise out_of_range(day)
        return date.fromordinal(self._working[i])

    def is_provisional(self, start: date, end: date) -> bool:
        """Whether any year from ``start`` to ``end`` lacks an official arrangement."""
        return any(year not in self.official_years for year in range(start.year, end.year + 1))

    def deadline(self, start: date, n: int) -> Deadline:
        """Due date of "within ``n`` working days" of an event on ``start``, and whether it is provisional."""
        due = self.add_working_days(start, n)
        return Deadline(due, self.is_provisional(start, due))


def _overrides(arrangements: Iterable[CalendarArrangement]) -> tuple[dict[date, bool], set[int]]:
    """Day overrides of loaded arrangements: national ones define their year, regional ones adjust it."""
    overrides: dict[date, bool] = {}
    official: set[int] = set()
    ordered = sorted(arrangements, key=lambda a: (a.year, a.region != ""))
    for arrangement in ordered:
        if arrangement.region == "":
            official.add(arrangement.year)
            day = date(arrangement.year, 1, 1)
            while day.year == arrangement.year:
                overrides[day] = day.weekday() < 5
                day += timedelta(days=1)
        for entry in arrangement.days:
            overrides[date.fromisoformat(entry["date"])] = bool(entry["working"])
    return overrides, official


_calendars: dict[tuple[str, tuple[Any, ...]], WorkingCalendar] = {}


def get_calendar(*, db: Session, region: str = "") -> WorkingCalendar:
    """The calendar of ``region`` with every loaded arrangement; rebuilt only when arrangements change."""
    own = select(CalendarArrangement.id).where(CalendarArrangement.region == region).limit(1)
    if region and db.scalar(own) is None:
        region = ""  # a region without arrangements of its own shares the national calendar and its cache
    version = tuple(
        db.execute(
            select(
                func.count(CalendarArrangement.id),
                func.max(CalendarArrangement.id),
                func.max(CalendarArrangement.loaded_at),
            ).where(CalendarArrangement.region.in_(("", region)))
        ).one()
    )
    key = (region, version)
    calendar = _calendars.get(key)
    if calendar is None:
        arrangements = db.scalars(
            select(CalendarArrangement).where(CalendarArrangement.region.in_(("", region)))
        ).all()
        overrides, official = _overrides(arrangements)
        calendar = WorkingCalendar(overrides=overrides, official_years=official)
        if len(_calendars) > 8:
            _calendars.clear()
        _calendars[key] = calendar
    return calendar


def national_calendar() -> WorkingCalendar:
    """The package's national calendar without loaded arrangements (for tests and the benchmark)."""
    return _national()


@lru_cache(maxsize=1)
def _national() -> WorkingCalendar:
    return WorkingCalendar()


def parse_arrangement(document: dict[str, Any]) -> ArrangementFile:
    """Validate an arrangement document; every problem is reported with its path."""
    try:
        arrangement = ArrangementFile.model_validate(document)
    except ValidationError as exc:
        raise InvalidInput(
            "节假日安排文件有误", "invalid calendar arrangement", problems=problems_from(exc)
        ) from exc
    problems: list[Problem] = []
    seen: dict[date, str] = {}

    def claim(day: date, path: str) -> None:
        if day.year != arrangement.year:
            problems.append(
                Problem(path, f"日期 {day} 不在 {arrangement.year} 年", f"{day} is not in {arrangement.year}")
            )
        elif day in seen:
            problems.append(
                Problem(path, f"日期 {day} 与 {seen[day]} 重复", f"{day} is already listed at {seen[day]}")
            )
        seen[day] = path

    for i, span in enumerate(arrangement.holidays):
        day, end = span.start, span.end or span.start
        if (end - day).days > 31:
            problems.append(
                Problem(f"holidays[{i}]", "一次放假不应超过 31 天", "one holiday cannot exceed 31 days")
            )
            continue
        while day <= end:
            claim(day, f"holidays[{i}]")
            day += timedelta(days=1)
    for i, workday in enumerate(arrangement.workdays):
        claim(workday.date, f"workdays[{i}].date")
        if arrangement.region == "" and workday.date.weekday() < 5:
            problems.append(
                Problem(
                    f"workdays[{i}].date",
                    f"{workday.date} 本就是工作日(周一至周五)，调休上班日应为周末",
                    f"{workday.date} is a weekday already; a make-up working day falls on a weekend",
                )
            )
    if problems:
        raise InvalidInput("节假日安排文件有误", "invalid calendar arrangement", problems=problems)
    return arrangement


def arrangement_days(arrangement: ArrangementFile) -> list[dict[str, Any]]:
    """The days an arrangement sets, sorted: holidays as not working, make-up days as working."""
    days: list[dict[str, Any]] = []
    for span in arrangement.holidays:
        day, end = span.start, span.end or span.start
        while day <= end:
            days.append({"date": day.isoformat(), "working": False, "name": span.name})
            day += timedelta(days=1)
    days += [{"date": w.date.isoformat(), "working": True, "name": w.name} for w in arrangement.workdays]
    return sorted(days, key=lambda d: d["date"])


def read_arrangement(path: Path) -> ArrangementFile:
    """Read and validate an arrangement file (YAML or JSON)."""
    return parse_arrangement(exchange.read_file(path, keys="year, region, source, holidays, workdays"))


def load_arrangement(*, db: Session, arrangement: ArrangementFile, user: User | None) -> CalendarArrangement:
    """Store an arrangement, replacing the one loaded before for the same year and region."""
    row = db.scalar(
        select(CalendarArrangement).where(
            CalendarArrangement.year == arrangement.year, CalendarArrangement.region == arrangement.region
        )
    )
    if row is None:
        row = CalendarArrangement(year=arrangement.year, region=arrangement.region)
        db.add(row)
    row.source = arrangement.source
    row.days = arrangement_days(arrangement)
    row.loaded_at = datetime.now(UTC)
    row.loaded_by_id = user.id if user else None
    db.flush()
    return row


def list_arrangements(*, db: Session) -> list[CalendarArrangement]:
    """Every loaded arrangement, newest year first."""
    return list(
        db.scalars(
            select(CalendarArrangement).order_by(CalendarArrangement.year.desc(), CalendarArrangement.region)
        )
    )
