"""Failed sign-ins lock the account (and the address) for a while: through the API and the portal."""

from datetime import timedelta

from sqlalchemy import select

from catalog_schema.user.models import LoginFailure, User
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


# -- password policy and age ---------------------------------------------------------------------


def test_a_user_with_a_weak_password_is_not_created(client, as_user):
    response = client.post(
        "/api/v1/users",
        headers=as_user("platform_admin"),
        json={
            "username": "weakling",
            "full_name": "某人",
            "role": "dept_requester",
            "department": "renshe",
            "password": "password123",
        },
    )

    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "password"


def test_an_expired_password_must_be_changed_before_signing_in(client, db, monkeypatch):
    from catalog_schema.user import password_policy

    monkeypatch.setenv("GOVDX_PASSWORD_MAX_AGE_DAYS", "90")
    password_policy.policy.cache_clear()
    try:
        user = db.scalar(select(User).where(User.username == "requester"))
        user.password_changed_at -= timedelta(days=91)
        db.flush()

        expired = _attempt(client, DEMO_PASSWORD)
        changed = client.post(
            "/api/v1/auth/password",
            json={
                "username": "requester",
                "current_password": DEMO_PASSWORD,
                "new_password": "Fresh-Passw0rd-26",
            },
        )
        again = _attempt(client, "Fresh-Passw0rd-26")
    finally:
        password_policy.policy.cache_clear()

    assert (expired.status_code, expired.json()["code"]) == (403, "password_expired")
    assert changed.status_code == 200 and again.status_code == 200


def test_a_new_password_like_the_old_one_is_refused(client):
    response = client.post(
        "/api/v1/auth/password",
        json={"username": "requester", "current_password": DEMO_PASSWORD, "new_password": DEMO_PASSWORD},
    )

    assert (response.status_code, response.json()["problems"][0]["path"]) == (422, "new_password")


def test_changing_a_password_needs_the_current_one_and_counts_failures(client):
    codes = [
        client.post(
            "/api/v1/auth/password",
            json={"username": "requester", "current_password": "guess", "new_password": "Fresh-Passw0rd-26"},
        ).status_code
        for _ in range(6)
    ]

    assert codes == [401] * 5 + [429]
