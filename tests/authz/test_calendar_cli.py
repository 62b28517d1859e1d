"""`govdx calendar`: one-line deadlines, loading an arrangement, showing a year; exit 2 on bad input."""

import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from authz.calendar.cli import calendar_app
from authz.calendar.models import CalendarArrangement
from authz.calendar.service import end_of_day, start_of_day
from authz.clock.models import ClockStage
from authz.sharing import service as sharing_service
from authz.sharing.schemas import RequestCreate
from authz.types import StageKind, StageState
from catalog_schema import migrate
from catalog_schema.database import get_engine, get_sessionmaker
from catalog_schema.department.models import Department
from catalog_schema.user import service as user_service
from demo import catalog as demo_catalog
from tests import factories

runner = CliRunner()
EXAMPLE_2027 = Path(__file__).resolve().parents[2] / "authz" / "calendar" / "examples" / "2027.yaml"


@pytest.fixture
def database(tmp_path, monkeypatch):
    """A new SQLite file named by GOVDX_DATABASE_URL, not yet created."""
    path = tmp_path / "calendar.sqlite"
    monkeypatch.setenv("GOVDX_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.delenv("GOVDX_CALENDAR_REGION", raising=False)
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()
    yield path
    get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


@pytest.fixture
def migrated(database):
    migrate.upgrade(get_engine())
    return database


def _run(*args: str):
    return runner.invoke(calendar_app, [str(a) for a in args])


def _arrangements() -> int:
    with Session(get_engine()) as s:
        return s.scalar(select(func.count()).select_from(CalendarArrangement)) or 0


def _example(**overrides) -> dict:
    doc = yaml.safe_load(EXAMPLE_2027.read_text(encoding="utf-8"))
    doc.update(overrides)
    return doc


def test_deadline_prints_the_due_date_alone(migrated):
    result = _run("deadline", "2026-09-30", "3")

    assert result.exit_code == 0, result.output
    assert result.stdout == "2026-10-10\n"


def test_deadline_reaching_an_unarranged_year_is_marked_provisional(migrated):
    result = _run("deadline", "2026-12-28", "10")

    assert result.exit_code == 0, result.output
    assert result.stdout == "2027-01-12 provisional\n"


def test_deadline_without_a_migrated_database_uses_the_national_calendar_and_says_so(database):
    result = _run("deadline", "2026-09-30", "3")

    assert result.exit_code == 0, result.output
    assert result.stdout == "2026-10-10\n"
    assert "national calendar" in result.stderr
    assert not database.exists()


def test_loading_the_2027_example_makes_deadlines_firm_and_follows_its_days(migrated):
    before = _run("deadline", "2027-02-01", "10").stdout

    loaded = _run("load", EXAMPLE_2027)

    assert loaded.exit_code == 0, loaded.output
    assert "2027" in loaded.stdout and "放假 29 天" in loaded.stdout and "调休上班 5 天" in loaded.stdout
    assert _run("deadline", "2026-12-28", "10").stdout == "2027-01-12\n"
    # The package only knows the statutory days; the example's 春节 runs to 02-13, with 02-20 worked.
    assert before == "2027-02-19 provisional\n"
    assert _run("deadline", "2027-02-01", "10").stdout == "2027-02-22\n"


def test_loading_the_same_year_again_replaces_it(migrated):
    _run("load", EXAMPLE_2027)

    again = _run("load", EXAMPLE_2027)

    assert again.exit_code == 0, again.output
    assert _arrangements() == 1


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["2026-02-30", "3"], "invalid_date"),
        (["30/09/2026", "3"], "invalid_date"),
        (["2026-09-30", "-1"], "invalid_days"),
        (["2060-12-28", "10"], "date_out_of_range"),
        (["1999-06-01", "1"], "date_out_of_range"),
        (["2026-09-30", "3", "--region", "35"], "invalid_region"),
    ],
)
def test_bad_deadline_input_exits_2_with_a_bilingual_error(migrated, args, code):
    result = _run("deadline", *args)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert "错误" in result.stderr and f"error ({code})" in result.stderr


@pytest.mark.parametrize(
    ("document", "path"),
    [
        ("year: 2027\nholidays: [\n", None),
        (_example(holiday=[]), "holiday"),
        (_example(year="next"), "year"),
        (_example(holidays=[{"name": "元旦", "from": "2026-12-31", "to": "2027-01-02"}]), "holidays[0]"),
        (_example(workdays=[{"name": "春节", "date": "2027-02-03"}]), "workdays[0].date"),
        (
            _example(
                workdays=[{"name": "春节", "date": "2027-01-31"}, {"name": "春节", "date": "2027-01-31"}]
            ),
            "workdays[1].date",
        ),
        (_example(workdays=[{"name": "春节", "date": "2027-02-06"}]), "workdays[0].date"),
    ],
    ids=[
        "not_yaml",
        "unknown_field",
        "bad_year",
        "outside_year",
        "weekday_makeup",
        "duplicate",
        "makeup_on_holiday",
    ],
)
def test_a_malformed_arrangement_exits_2_with_its_problem_path_and_stores_nothing(
    migrated, tmp_path, document, path
):
    file = tmp_path / "bad.yaml"
    file.write_text(document if isinstance(document, str) else yaml.safe_dump(document, allow_unicode=True))

    result = _run("load", file)

    assert result.exit_code == 2
    assert "错误" in result.stderr
    if path is None:
        assert "not valid YAML" in result.stderr
    else:
        assert path in result.stderr, result.stderr
    assert _arrangements() == 0


def test_load_of_a_missing_file_exits_2(migrated, tmp_path):
    result = _run("load", tmp_path / "2027.yaml")

    assert result.exit_code == 2
    assert "file_unreadable" in result.stderr
    assert _arrangements() == 0


def test_load_without_a_migrated_database_exits_2_and_creates_nothing(database):
    result = _run("load", EXAMPLE_2027)

    assert result.exit_code == 2
    assert "govdx db upgrade" in result.stderr
    assert not database.exists()


def test_show_lists_days_off_on_weekdays_and_working_weekends(migrated):
    result = _run("show", "2026")

    assert result.exit_code == 0, result.output
    assert "2026-10-07" in result.stdout  # 国庆 on a Wednesday
    assert "2026-10-10" in result.stdout  # a Saturday worked
    assert "2026-10-08" not in result.stdout  # an ordinary Thursday
    assert "正式安排" in result.stdout


def test_show_of_an_unarranged_year_says_it_is_provisional_until_loaded(migrated):
    before = _run("show", "2027")
    _run("load", EXAMPLE_2027)

    after = _run("show", "2027")

    assert "暂定" in before.stdout and "2027-02-20" not in before.stdout
    assert "2027-02-20" in after.stdout and "正式安排" in after.stdout


def test_show_of_a_year_out_of_range_exits_2(migrated):
    result = _run("show", "2099")

    assert result.exit_code == 2
    assert "date_out_of_range" in result.stderr


def test_load_recomputes_open_deadlines_and_says_how_many_changed(migrated):
    with Session(get_engine()) as db:
        demo_catalog.seed(db)
        requester = user_service.get_by_username(db=db, username="requester")
        request = sharing_service.submit(
            db=db,
            data=RequestCreate(**factories.sharing_request()),
            user=requester,
            now=datetime(2026, 12, 30, 2, 0, tzinfo=UTC),
        )
        stage_id = request.stages[0].id
        db.commit()

    result = _run("load", EXAMPLE_2027)

    assert result.exit_code == 0, result.output
    assert "recomputed: 1" in result.stdout and "changed: 1" in result.stdout
    with Session(get_engine()) as db:
        stage = db.get(ClockStage, stage_id)
        assert (stage.due_on, stage.provisional) == (date(2027, 1, 5), False)


RECOMPUTE_ALONE = """
import sys
from datetime import UTC, datetime
from sqlalchemy.orm import Session
from authz.calendar.service import national_calendar
from authz.clock import service
from catalog_schema.database import make_engine

with Session(make_engine(sys.argv[1])) as db:
    report = service.recompute(
        db=db, now=datetime(2026, 11, 16, 2, tzinfo=UTC), calendar=national_calendar(),
        all_deadlines=True,
    )
    db.commit()
print(report.deadlines_changed)
"""


def test_recompute_works_in_a_process_that_imports_only_the_clock_service(migrated):
    with Session(get_engine()) as db:
        db.add(
            Department(
                slug="test", name="测试局", credit_code="X" * 18, region_code="350100", kind="government"
            )
        )
        db.flush()
        wrong = date(2026, 11, 30)  # the stored deadline is stale, so recompute must UPDATE it
        db.add(
            ClockStage(
                kind=StageKind.review,
                department_id=db.scalar(select(Department.id)),
                subject="测试",
                working_days=3,
                started_at=datetime(2026, 11, 16, 2, tzinfo=UTC),
                start_on=date(2026, 11, 16),
                due_on=wrong,
                due_at=end_of_day(wrong),
                warn_at=start_of_day(wrong),
                pauses=[],
                state=StageState.on_time,
                state_changed_at=datetime(2026, 11, 16, 2, tzinfo=UTC),
            )
        )
        db.commit()

    done = subprocess.run(
        [sys.executable, "-c", RECOMPUTE_ALONE, get_engine().url.render_as_string(hide_password=False)],
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1"
