"""Logging in, and what the API does with missing, bad, expired and forged tokens."""

import base64
import json
from datetime import timedelta

import pytest

from catalog_schema.user import service as user_service
from catalog_schema.user.schemas import UserUpdate
from demo import catalog as demo_catalog
from tests.conftest import bearer


def _login(client, username, password):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def test_demo_user_logs_in_and_reads_who_they_are(client):
    token = _login(client, "catalog_admin", demo_catalog.DEMO_PASSWORD).json()

    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})

    assert token["token_type"] == "bearer" and token["expires_in"] == 300
    assert me.json()["role"] == "catalog_admin"
    assert me.json()["department"]["slug"] == "shujuju"


@pytest.mark.parametrize("username,password", [("catalog_admin", "wrong-password"), ("nobody", "whatever1")])
def test_wrong_username_or_password_gets_the_same_401(client, username, password):
    response = _login(client, username, password)

    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "用户名或密码错误",
        "message_en": "incorrect username or password",
    }


def test_deactivated_user_cannot_log_in(client, db):
    user = user_service.get_by_username(db=db, username="requester")
    user_service.update(db=db, user=user, data=UserUpdate(is_active=False))
    db.commit()

    response = _login(client, "requester", demo_catalog.DEMO_PASSWORD)

    # The same answer as a wrong password: the response does not say the account exists.
    assert response.status_code == 401
    assert response.json() == {
        "code": "invalid_credentials",
        "message": "用户名或密码错误",
        "message_en": "incorrect username or password",
    }


def _token_header(headers):
    return headers["Authorization"].removeprefix("Bearer ")


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forged_tokens(valid):
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    tampered = _b64({**claims, "role": "platform_admin", "sub": "platform_admin"})
    return {
        "tampered": f"{header}.{tampered}.{signature}",
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "garbage": "not-a-token",
        "other_secret": _token_header(
            bearer(
                "catalog_admin",
                role="catalog_admin",
                department_id=1,
                secret="another-secret-" + "y" * 40,
            )
        ),
    }


@pytest.mark.parametrize("kind", ["tampered", "alg_none", "garbage", "other_secret", "expired", "missing"])
def test_bad_tokens_get_one_401_that_does_not_say_why(client, as_user, kind):
    valid = _token_header(as_user("catalog_admin"))
    if kind == "expired":
        token = _token_header(
            bearer("catalog_admin", role="catalog_admin", department_id=1, ttl=timedelta(seconds=-1))
        )
    elif kind == "missing":
        token = None
    else:
        token = _forged_tokens(valid)[kind]
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    response = client.get("/api/v1/resources", headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "invalid_token"
