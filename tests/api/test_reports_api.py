"""Clock reports through the API: JSON and CSV, who may read them, and bad ranges."""

from datetime import date

import pytest

from authz.calendar.service import end_of_day, start_of_day
from authz.clock.models import ClockStage
from authz.types import StageKind, StageState
from catalog_schema.department import service as department_service

# Stages in June 2020: long past, so open ones are overdue whatever day the tests run.
JUNE_2020 = {"start": "2020-06-01", "end": "2020-06-30"}


def _stage(db, slug, kind, state, due_on, start_on=date(2020, 6, 1)):
    stage = ClockStage(
        kind=kind,
        department_id=department_service.get_by_ref(db=db, ref=slug).id,
        subject="测试",
        working_days=3,
        started_at=start_of_day(start_on),
        start_on=start_on,
        due_on=due_on,
        due_at=end_of_day(due_on),
        warn_at=start_of_day(due_on),
        pauses=[],
        state=state,
        state_changed_at=start_of_day(start_on),
        completed_at=None if state.is_open else start_of_day(due_on),
    )
    db.add(stage)
    db.commit()


@pytest.fixture
def stages(db):
    """数据局 reviews: met, met, met late, still open (so overdue); 公安 decision: met."""
    for state in (StageState.met, StageState.met, StageState.met_late, StageState.overdue):
        _stage(db, "shujuju", StageKind.review, state, date(2020, 6, 5))
    _stage(db, "gongan", StageKind.decision, StageState.met, date(2020, 6, 8))


def _total(rows):
    [total] = [r for r in rows if r["scope"] == "total"]
    return total


@pytest.mark.parametrize("username", ["auditor", "catalog_admin", "platform_admin"])
def test_on_time_report_as_json(client, as_user, stages, username):
    response = client.get("/api/v1/reports/on-time", params=JUNE_2020, headers=as_user(username))

    assert response.status_code == 200, response.text
    rows = response.json()
    [shujuju] = [r for r in rows if r["scope"] == "department_kind" and r["department"] == "shujuju"]
    assert (shujuju["met"], shujuju["met_late"], shujuju["overdue"], shujuju["on_time_rate"]) == (
        2,
        1,
        1,
        0.5,
    )
    assert shujuju["kind"] == "review" and shujuju["kind_label"] == "规范性审查"
    assert _total(rows)["on_time_rate"] == 0.6


def test_on_time_report_of_one_department(client, as_user, stages):
    response = client.get(
        "/api/v1/reports/on-time", params={**JUNE_2020, "department": "gongan"}, headers=as_user("auditor")
    )

    assert response.status_code == 200
    assert _total(response.json())["met"] == 1


def test_an_unknown_department_is_404(client, as_user):
    response = client.get(
        "/api/v1/reports/on-time", params={**JUNE_2020, "department": "nosuch"}, headers=as_user("auditor")
    )

    assert response.status_code == 404
    assert response.json()["code"] == "department_not_found"


def test_on_time_report_as_csv_download(client, as_user, stages):
    response = client.get(
        "/api/v1/reports/on-time", params={**JUNE_2020, "format": "csv"}, headers=as_user("auditor")
    )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert (
        response.headers["content-disposition"] == 'attachment; filename="on-time_2020-06-01_2020-06-30.csv"'
    )
    assert response.content.startswith(b"\xef\xbb\xbf")
    lines = response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("统计范围 scope,")
    assert lines[-1].startswith("总计,") and lines[-1].endswith(",60.00%")


def test_open_stages_report_as_json_and_csv(client, as_user, stages):
    as_json = client.get("/api/v1/reports/open-stages", params=JUNE_2020, headers=as_user("auditor"))
    as_csv = client.get(
        "/api/v1/reports/open-stages", params={**JUNE_2020, "format": "csv"}, headers=as_user("auditor")
    )

    assert as_json.status_code == 200
    assert (_total(as_json.json())["overdue"], _total(as_json.json())["total"]) == (1, 1)
    assert as_csv.status_code == 200
    assert "open-stages_2020-06-01_2020-06-30.csv" in as_csv.headers["content-disposition"]
    assert "已超期 overdue" in as_csv.content.decode("utf-8-sig").splitlines()[0]


@pytest.mark.parametrize("username", ["requester", "approver", "renshe_system"])
@pytest.mark.parametrize("path", ["/api/v1/reports/on-time", "/api/v1/reports/open-stages"])
def test_department_staff_cannot_read_reports(client, as_user, username, path):
    response = client.get(path, params=JUNE_2020, headers=as_user(username))

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert response.json()["message_en"] == (
        "not allowed to read feedback-clock reports: requires role auditor, catalog_admin, platform_admin"
    )


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start": "2020-06-30", "end": "2020-06-01"}, "invalid_range"),
        ({"start": "2020-01-01", "end": "2023-06-30"}, "range_too_long"),
        ({"start": "2020-06-01"}, "validation_error"),
        ({"start": "2020-06-01", "end": "2020-06-31"}, "validation_error"),
        ({**JUNE_2020, "format": "xlsx"}, "validation_error"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/reports/on-time", "/api/v1/reports/open-stages"])
def test_a_bad_range_is_422(client, as_user, path, params, code):
    response = client.get(path, params=params, headers=as_user("auditor"))

    assert response.status_code == 422
    assert response.json()["code"] == code
