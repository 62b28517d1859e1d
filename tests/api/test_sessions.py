"""Sessions end when they should: signing out, a new password and deactivation void every token of the
user at once, for every worker; a portal form's CSRF token is bound to its session."""

import pytest
from fastapi.testclient import TestClient

from api.settings import ApiSettings
from demo.catalog import DEMO_PASSWORD
from tests.api.portal_forms import CSRF, csrf, post, sign_in
from tests.conftest import TEST_SECRET, app_for


def _token(client, username="requester", password=DEMO_PASSWORD):
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
def other_worker(session_factory):
    """A second app on the same database, as another uvicorn worker would be."""
    settings = ApiSettings(
        profile="production", secret_key=TEST_SECRET, token_ttl_minutes=5, max_body_bytes=2048000
    )
    with TestClient(app_for(settings, session_factory)) as client:
        yield client


def test_after_logout_the_token_is_refused_by_every_worker(client, other_worker):
    first, second = _token(client), _token(client)
    assert other_worker.get("/api/v1/auth/me", headers=first).status_code == 200

    assert client.post("/api/v1/auth/logout", headers=first).status_code == 204

    for headers in (first, second):
        response = other_worker.get("/api/v1/auth/me", headers=headers)
        assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


def test_a_new_password_voids_the_tokens_issued_before_it(client, as_user):
    old = _token(client)
    me = client.get("/api/v1/auth/me", headers=old).json()

    client.patch(
        f"/api/v1/users/{me['id']}",
        headers=as_user("platform_admin"),
        json={"password": "Another-Passw0rd-2026"},
    )

    assert client.get("/api/v1/auth/me", headers=old).status_code == 401
    assert (
        client.get("/api/v1/auth/me", headers=_token(client, password="Another-Passw0rd-2026")).status_code
        == 200
    )


def test_a_replayed_session_cookie_is_signed_out_after_logout(client, session_factory):
    sign_in(client, "requester")
    stolen = client.cookies.get("govdx_session")

    assert post(client, "/logout", {}).status_code == 303

    with TestClient(client.app, cookies={"govdx_session": stolen}) as replay:
        response = replay.get("/", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_csrf_token_of_another_session_is_refused(client, settings, session_factory):
    sign_in(client, "requester")
    with TestClient(app_for(settings, session_factory)) as other:
        sign_in(other, "requester")
        others_token = csrf(other)

    response = client.post("/logout", data={"csrf_token": others_token}, follow_redirects=False)

    assert response.status_code == 403 and "csrf_failed" in response.text


def test_a_signed_in_form_refuses_the_double_submitted_cookie(client):
    sign_in(client, "requester")
    planted = client.cookies.get("govdx_csrf")

    response = client.post("/logout", data={"csrf_token": planted}, follow_redirects=False)

    assert response.status_code == 403


def test_the_sign_in_form_still_works_by_its_cookie(client):
    page = client.get("/login")

    assert CSRF.search(page.text)[1] == client.cookies.get("govdx_csrf")
