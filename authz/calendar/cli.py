"""``govdx calendar …``: compute a deadline, load a year's arrangement, show a year's adjusted days."""

import re
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import holidays
import typer
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

from authz.calendar import service as calendar_service
from authz.calendar.models import CalendarArrangement
from authz.calendar.service import FIRST_YEAR, LAST_YEAR, WorkingCalendar
from authz.clock import service as clock_service
from authz.clock.settings import ClockSettings
from catalog_schema import migrate
from catalog_schema.cli import err, fail, out
from catalog_schema.database import get_engine, session_scope
from catalog_schema.errors import GovdxError, InvalidInput

calendar_app = typer.Typer(help="工作日历 / working-day calendar", no_args_is_help=True)

WEEKDAYS = "一二三四五六日"
RegionOption = Annotated[
    str | None,
    typer.Option(
        "--region",
        help="GB/T 2260 行政区划代码，默认 GOVDX_CALENDAR_REGION / region code, default configured",
    ),
]


def _region(region: str | None) -> str:
    if region is None:
        return ClockSettings().calendar_region
    if not re.fullmatch(r"([0-9]{6})?", region):
        fail(
            InvalidInput(
                f"行政区划代码 {region!r} 应为 6 位数字",
                f"region {region!r} must be 6 digits (GB/T 2260)",
                code="invalid_region",
            )
        )
    return region


def _parse_date(text: str) -> date:
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        fail(
            InvalidInput(
                f"日期 {text!r} 无效，应为 YYYY-MM-DD",
                f"invalid date {text!r}; expected YYYY-MM-DD",
                code="invalid_date",
            )
        )


def _migrated() -> bool | None:
    """Whether the platform database is at the newest schema; None when it cannot be reached."""
    engine = get_engine()
    database = engine.url.database
    if engine.url.get_backend_name() == "sqlite" and (not database or not Path(database).exists()):
        return False  # do not create an empty database file just to find it empty
    try:
        return migrate.current_revision(engine) == migrate.head_revision()
    except SQLAlchemyError:
        return None


def _url() -> str:
    return get_engine().url.render_as_string(hide_password=True)


def _calendar(region: str) -> tuple[WorkingCalendar, bool]:
    """The database's calendar (with loaded arrangements), or the package's own when there is none."""
    migrated = _migrated()
    if migrated:
        with session_scope(write=False) as db:
            return calendar_service.get_calendar(db=db, region=region), True
    reason = "未迁移 / not migrated" if migrated is False else "无法连接 / unreachable"
    err.print(
        f"[yellow]注意[/] 数据库 {_url()} {reason}：使用内置全国日历，不含已加载的节假日安排 / "
        "using the built-in national calendar without loaded arrangements",
        soft_wrap=True,
    )
    return calendar_service.national_calendar(), False


# Unknown options pass through as arguments, so "-1" reaches the check below instead of click.
@calendar_app.command("deadline", context_settings={"ignore_unknown_options": True})
def deadline(
    start_date: Annotated[
        str, typer.Argument(help="起算日 YYYY-MM-DD（当日不计）/ starting day, not counted")
    ],
    n: Annotated[int, typer.Argument(help="工作日数 / working days")],
    region: RegionOption = None,
) -> None:
    """Print the due date of "within N working days" of START_DATE, and " provisional" if not official."""
    start = _parse_date(start_date)
    if n < 0:
        fail(InvalidInput(f"工作日数 {n} 不能为负数", f"N ({n}) must not be negative", code="invalid_days"))
    calendar, _ = _calendar(_region(region))
    try:
        due = calendar.deadline(start, n)
    except InvalidInput as error:
        fail(error)
    typer.echo(f"{due.due_on.isoformat()}{' provisional' if due.provisional else ''}")


@calendar_app.command("load")
def load(file: Annotated[Path, typer.Argument(help="节假日安排 YAML 文件 / arrangement YAML file")]) -> None:
    """Load a year's arrangement (replacing that year's), then recompute every open deadline."""
    try:
        arrangement = calendar_service.read_arrangement(file)  # parsed before the write lock is taken
    except GovdxError as error:
        fail(error)
    if not _migrated():
        err.print(
            f"[bold red]数据库 {_url()} 未迁移或无法连接：请先运行 `govdx db upgrade`[/] / database "
            f"{_url()} is not migrated or unreachable: run `govdx db upgrade` first (GOVDX_DATABASE_URL)",
            soft_wrap=True,
        )
        raise typer.Exit(2)
    try:
        with session_scope() as db:
            _row, report = clock_service.apply_arrangement(
                db=db, arrangement=arrangement, user=None, region=ClockSettings().calendar_region
            )
    except GovdxError as error:
        fail(error)
    days = calendar_service.arrangement_days(arrangement)
    off = sum(1 for d in days if not d["working"])
    where = f"地区 region {arrangement.region}" if arrangement.region else "全国 national"
    out.print(
        f"已加载 / loaded {arrangement.year} 年（{where}）：放假 {off} 天 holiday days，"
        f"调休上班 {len(days) - off} 天 make-up working days",
        soft_wrap=True,
    )
    out.print(f"来源 / source: {arrangement.source}", soft_wrap=True, markup=False)
    out.print(
        f"未办结期限重算 / open deadlines recomputed: {report.deadlines_checked}，"
        f"变化 changed: {report.deadlines_changed}，状态变化 states changed: {report.states_changed}",
        soft_wrap=True,
    )


def _names(year: int, arrangements: list[CalendarArrangement]) -> dict[date, str]:
    """Names of the year's adjusted days: the loaded arrangements', else the package's."""
    national = holidays.China(years=year, language="zh_CN")
    names: dict[date, str] = {day: str(name) for day, name in national.items()}
    for arrangement in sorted(arrangements, key=lambda a: a.region != ""):
        names.update({date.fromisoformat(d["date"]): str(d.get("name") or "") for d in arrangement.days})
    return names


@calendar_app.command("show")
def show(
    year: Annotated[int, typer.Argument(help="年份 / year")],
    region: RegionOption = None,
) -> None:
    """List the year's days off on weekdays and working weekend days, to check the calendar."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        fail(
            InvalidInput(
                f"年份 {year} 超出工作日历范围 {FIRST_YEAR}–{LAST_YEAR} 年",
                f"year {year} is outside the working-day calendar ({FIRST_YEAR}–{LAST_YEAR})",
                code="date_out_of_range",
            )
        )
    code = _region(region)
    calendar, from_database = _calendar(code)
    loaded: list[CalendarArrangement] = []
    if from_database:
        with session_scope(write=False) as db:
            loaded = [
                a
                for a in calendar_service.list_arrangements(db=db)
                if a.year == year and a.region in ("", code)
            ]
    names = _names(year, loaded)
    table = Table(
        "日期 date",
        "星期 weekday",
        "安排 arrangement",
        "名称 name",
        title=f"{year} 年工作日历调整 / adjusted days{f'（地区 region {code}）' if code else ''}",
    )
    off = working = 0
    day = date(year, 1, 1)
    while day.year == year:
        weekend = day.weekday() >= 5
        if calendar.is_working_day(day) == weekend:
            kind = "调休上班 make-up working day" if weekend else "放假 day off"
            working, off = working + weekend, off + (not weekend)
            table.add_row(day.isoformat(), f"周{WEEKDAYS[day.weekday()]}", kind, names.get(day, ""))
        day += timedelta(days=1)
    out.print(table)
    for a in loaded:
        label = f"地区 {a.region}" if a.region else "全国"
        out.print(
            f"已加载 loaded（{label}）{a.loaded_at:%Y-%m-%d %H:%M}：{a.source}", soft_wrap=True, markup=False
        )
    if year in calendar.official_years:
        status = "正式安排 / official arrangement"
    else:
        status = "[yellow]暂定：仅法定节假日，尚无当年调休安排 / provisional: statutory holidays only[/]"
    out.print(
        f"工作日放假 {off} 天 weekdays off，周末上班 {working} 天 weekend working days；{status}",
        soft_wrap=True,
    )
