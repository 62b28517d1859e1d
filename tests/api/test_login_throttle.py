"""Failed sign-ins lock the account (and the address) for a while: through the API and the portal."""

from datetime import timedelta

from sqlalchemy import select

from catalog_schema.user.models import LoginFailure
from demo.catalog import DEMO_PASSWORD
from tests.api.portal_forms import CSRF

TOKEN = "/api/v1/auth/token"


def _attempt(client, password, username="requester"):
    return client.post(TOKEN, data={"username": username, "password": password})


def test_five_wrong_passwords_lock_the_account_and_then_the_right_one_is_refused(client):
    wrong = [_attempt(client, f"wrong-{i}").status_code for i in range(5)]

    locked = _attempt(client, DEMO_PASSWORD)

    assert wrong == [401] * 5
    body = locked.json()
    assert (locked.status_code, body["code"]) == (429, "login_locked")
    assert "已锁定" in body["message"] and "locked until" in body["message_en"] and body["retry_after"] > 800


def test_the_lock_ends_after_its_minutes_and_a_success_clears_the_count(client, db):
    for i in range(5):
        _attempt(client, f"wrong-{i}")
    for failure in db.scalars(select(LoginFailure)):
        failure.at -= timedelta(minutes=16)
    db.flush()

    assert _attempt(client, DEMO_PASSWORD).status_code == 200
    assert db.scalars(select(LoginFailure).where(LoginFailure.username == "requester")).all() == []


def test_failures_under_many_names_from_one_address_lock_the_address(client):
    for name in ("approver", "auditor", "ghost-1", "ghost-2", "ghost-3"):
        assert _attempt(client, "wrong", username=name).status_code == 401

    response = _attempt(client, DEMO_PASSWORD, username="requester")

    assert (response.status_code, response.json()["code"]) == (429, "login_locked")
    assert "此地址" in response.json()["message"]


def test_a_name_nobody_has_is_locked_like_one_that_exists(client):
    codes = [_attempt(client, "wrong", username="nobody-here").status_code for _ in range(6)]

    assert codes == [401] * 5 + [429]


def test_the_portal_shows_the_lock_on_the_sign_in_page(client):
    for i in range(5):
        _attempt(client, f"wrong-{i}")
    page = client.get("/login")

    response = client.post(
        "/login",
        data={"username": "requester", "password": DEMO_PASSWORD, "csrf_token": CSRF.search(page.text)[1]},
        follow_redirects=False,
    )

    assert response.status_code == 429 and "已锁定" in response.text
    assert "govdx_session" not in response.cookies
