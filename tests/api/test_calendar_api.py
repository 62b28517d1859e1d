"""The calendar and SLA-profile API: deadlines, loading an arrangement (moving open deadlines), limits."""

from datetime import UTC, datetime

import pytest

from authz.sharing import service as sharing_service
from authz.sharing.schemas import RequestCreate
from catalog_schema.user import service as user_service
from tests import factories

# Wednesday 30 December 2026, 10:00 in Beijing: a 3-working-day review reaches into 2027.
LATE_DECEMBER = datetime(2026, 12, 30, 2, 0, tzinfo=UTC)


def _submit(db, now=LATE_DECEMBER):
    requester = user_service.get_by_username(db=db, username="requester")
    request = sharing_service.submit(
        db=db, data=RequestCreate(**factories.sharing_request()), user=requester, now=now
    )
    db.commit()
    return request.stages[0]


def _arrangement(**overrides):
    """A 2027 arrangement whose 元旦 runs to Monday 4 January (unlike the package's 1–3 January)."""
    doc = {
        "year": 2027,
        "source": "测试用安排 / test arrangement",
        "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-04"}],
        "workdays": [{"name": "元旦", "date": "2027-01-09"}],
    }
    doc.update(overrides)
    return doc


def test_deadline_counts_from_the_day_after_the_start(client, as_user):
    response = client.get(
        "/api/v1/calendar/deadline", params={"start": "2026-09-30", "days": 3}, headers=as_user("requester")
    )

    assert response.status_code == 200, response.text
    assert response.json() == {
        "start": "2026-09-30",
        "working_days": 3,
        "due_on": "2026-10-10",
        "due_at": "2026-10-10T16:00:00Z",
        "provisional": False,
    }


def test_deadline_in_an_unarranged_year_is_provisional(client, as_user):
    response = client.get(
        "/api/v1/calendar/deadline", params={"start": "2026-12-28", "days": 10}, headers=as_user("auditor")
    )

    assert response.json()["due_on"] == "2027-01-12"
    assert response.json()["provisional"] is True


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"start": "2060-12-28", "days": 10}, "date_out_of_range"),
        ({"start": "1999-01-04", "days": 1}, "date_out_of_range"),
        ({"start": "2026-02-30", "days": 1}, "validation_error"),
        ({"start": "2026-09-30", "days": -1}, "validation_error"),
    ],
)
def test_deadline_out_of_range_is_422(client, as_user, params, code):
    response = client.get("/api/v1/calendar/deadline", params=params, headers=as_user("requester"))

    assert response.status_code == 422
    assert response.json()["code"] == code


def test_deadline_needs_a_login(client):
    response = client.get("/api/v1/calendar/deadline", params={"start": "2026-09-30", "days": 3})

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "invalid_token"


def test_loading_an_arrangement_makes_a_provisional_deadline_firm_and_recomputes_it(client, db, as_user):
    stage = _submit(db)
    before = (stage.due_on.isoformat(), stage.provisional)

    response = client.post(
        "/api/v1/calendar/arrangements", json=_arrangement(), headers=as_user("platform_admin")
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["arrangement"]["year"] == 2027 and body["arrangement"]["region"] == ""
    assert body["recompute"]["deadlines_changed"] >= 1
    db.expire_all()
    # 12-31, then 01-04 is off under the arrangement: 01-05, 01-06.
    assert before == ("2027-01-05", True)
    assert (stage.due_on.isoformat(), stage.provisional) == ("2027-01-06", False)


def test_loaded_arrangements_are_listed(client, as_user):
    client.post("/api/v1/calendar/arrangements", json=_arrangement(), headers=as_user("platform_admin"))

    response = client.get("/api/v1/calendar/arrangements", headers=as_user("requester"))

    assert response.status_code == 200
    [loaded] = response.json()
    assert loaded["year"] == 2027
    assert {"date": "2027-01-09", "working": True, "name": "元旦"} in loaded["days"]


@pytest.mark.parametrize("username", ["catalog_admin", "requester", "auditor"])
def test_only_the_platform_admin_loads_an_arrangement(client, as_user, username):
    response = client.post("/api/v1/calendar/arrangements", json=_arrangement(), headers=as_user(username))

    assert response.status_code == 403
    assert client.get("/api/v1/calendar/arrangements", headers=as_user(username)).json() == []


@pytest.mark.parametrize(
    ("overrides", "paths"),
    [
        ({"holidays": [{"name": "元旦", "from": "2026-12-31", "to": "2027-01-01"}]}, ["holidays[0]"]),
        ({"workdays": [{"name": "元旦", "date": "2027-01-05"}]}, ["workdays[0].date"]),
        (
            {
                "holidays": [{"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}],
                "workdays": [{"name": "元旦", "date": "2027-01-02"}, {"name": "x", "date": "2028-01-08"}],
            },
            ["workdays[0].date", "workdays[1].date"],
        ),
        ({"holiday": []}, ["holiday"]),
        ({"year": 1999}, ["year"]),
    ],
    ids=["outside_year", "weekday_makeup", "duplicate_and_outside", "unknown_field", "bad_year"],
)
def test_a_bad_arrangement_is_422_with_every_problem_and_changes_nothing(client, as_user, overrides, paths):
    response = client.post(
        "/api/v1/calendar/arrangements", json=_arrangement(**overrides), headers=as_user("platform_admin")
    )

    assert response.status_code == 422
    assert [p["path"] for p in response.json()["problems"]] == paths
    assert client.get("/api/v1/calendar/arrangements", headers=as_user("platform_admin")).json() == []


def test_an_arrangement_body_that_is_not_an_object_is_422(client, as_user):
    response = client.post("/api/v1/calendar/arrangements", json=[2027], headers=as_user("platform_admin"))

    assert response.status_code == 422
    assert response.json()["problems"] == [
        {"path": "(root)", "message": "应为对象(键值对)", "message_en": "Input should be a valid dictionary"}
    ]
    assert client.get("/api/v1/calendar/arrangements", headers=as_user("platform_admin")).json() == []


def test_sla_profile_defaults_to_3_3_10(client, as_user):
    response = client.get("/api/v1/sla-profile", headers=as_user("requester"))

    assert response.status_code == 200
    body = response.json()
    assert (body["review_days"], body["provision_days"], body["decision_days"]) == (3, 3, 10)
    assert body["due_soon_days"] == 1


def test_a_new_request_after_a_profile_change_uses_the_new_limit(client, db, as_user):
    changed = client.put("/api/v1/sla-profile", json={"review_days": 5}, headers=as_user("platform_admin"))

    stage = _submit(db, now=datetime(2026, 11, 16, 2, 0, tzinfo=UTC))  # Monday

    assert changed.status_code == 200, changed.text
    assert changed.json()["review_days"] == 5 and changed.json()["decision_days"] == 10
    assert client.get("/api/v1/sla-profile", headers=as_user("auditor")).json()["review_days"] == 5
    assert stage.working_days == 5
    assert stage.due_on.isoformat() == "2026-11-23"


def test_only_the_platform_admin_changes_the_profile(client, as_user):
    response = client.put("/api/v1/sla-profile", json={"review_days": 5}, headers=as_user("catalog_admin"))

    assert response.status_code == 403
    assert client.get("/api/v1/sla-profile", headers=as_user("auditor")).json()["review_days"] == 3


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"review_days": 0}, ("review_days", "数值过小")),
        ({"review_days": 61}, ("review_days", "数值过大")),
        ({"reviewdays": 5}, ("reviewdays", "不允许的字段，请检查拼写")),
    ],
)
def test_an_out_of_range_limit_is_422_and_changes_nothing(client, as_user, body, problem):
    response = client.put("/api/v1/sla-profile", json=body, headers=as_user("platform_admin"))

    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert [(p["path"], p["message"]) for p in response.json()["problems"]] == [problem]
    assert client.get("/api/v1/sla-profile", headers=as_user("auditor")).json()["review_days"] == 3
