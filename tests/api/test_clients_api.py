"""Machine clients: registration, the client-credentials token, rotation and revocation."""

import base64
import json
from datetime import timedelta

import jwt
import pytest
from sqlalchemy import select

from authz import security
from authz.clients import service as clients_service
from authz.clients.models import ApiClient
from authz.types import ClientStatus
from demo import clients as demo_clients
from tests import factories
from tests.conftest import TEST_SECRET, bearer

TOKEN_URL = "/api/v1/auth/client-token"


def _token(client, client_id, secret, grant_type="client_credentials"):
    return client.post(
        TOKEN_URL, data={"grant_type": grant_type, "client_id": client_id, "client_secret": secret}
    )


def _resolves(db, token):
    """The client the data plane would take ``token`` for: its verified claims, judged against its row."""
    db.expire_all()  # the app's requests changed rows this session may hold
    claims = security.read_client_token(token, secret=TEST_SECRET)
    if claims is None:
        return None
    identity = select(*clients_service.IDENTITY_COLUMNS).where(ApiClient.client_id == claims.client_id)
    return clients_service.identity_of(claims, db.execute(identity).first())


def test_platform_admin_registers_a_client_and_sees_its_secret_once(client, as_user, db):
    response = client.post(
        "/api/v1/clients",
        json={"department": "renshe", "name": "社保业务系统"},
        headers=as_user("platform_admin"),
    )

    assert response.status_code == 201
    body = response.json()
    assert body["department"] == "renshe" and body["client_secret"].startswith("gxs_")
    stored = db.query(ApiClient).filter_by(client_id=body["client_id"]).one()
    assert body["client_secret"] not in (stored.secret_hash, stored.client_id)
    listed = client.get("/api/v1/clients", headers=as_user("platform_admin")).json()
    assert all("client_secret" not in c for c in listed)


def test_department_staff_cannot_register_clients(client, as_user):
    response = client.post(
        "/api/v1/clients", json={"department": "renshe", "name": "x"}, headers=as_user("requester")
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_client_credentials_give_a_short_lived_client_token(client, db):
    api_client, secret = factories.api_client(db)
    db.commit()

    response = _token(client, api_client.client_id, secret)

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 600
    assert _resolves(db, body["access_token"]).client_id == api_client.client_id


def test_http_basic_client_authentication_is_accepted(client, db):
    api_client, secret = factories.api_client(db)
    db.commit()
    basic = base64.b64encode(f"{api_client.client_id}:{secret}".encode()).decode()

    response = client.post(
        TOKEN_URL, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )

    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer"
    assert _resolves(db, response.json()["access_token"]).client_id == api_client.client_id


@pytest.mark.parametrize("which", ["wrong_secret", "unknown_client", "empty_secret"])
def test_bad_client_credentials_get_one_401(client, db, which):
    api_client, secret = factories.api_client(db)
    db.commit()
    client_id, given = {
        "wrong_secret": (api_client.client_id, secret + "x"),
        "unknown_client": ("renshe-00000000", secret),
        "empty_secret": (api_client.client_id, ""),
    }[which]

    response = _token(client, client_id, given)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_client"


def test_other_grant_types_are_refused(client, db):
    api_client, secret = factories.api_client(db)
    db.commit()

    response = _token(client, api_client.client_id, secret, grant_type="password")

    assert response.status_code == 422
    assert response.json()["code"] == "unsupported_grant_type"


def test_rotation_stops_the_old_secret_and_the_old_tokens_at_once(client, as_user, db):
    api_client, secret = factories.api_client(db)
    db.commit()
    old_token = _token(client, api_client.client_id, secret).json()["access_token"]

    rotated = client.post(f"/api/v1/clients/{api_client.client_id}/rotate", headers=as_user("platform_admin"))

    assert rotated.status_code == 200
    assert _token(client, api_client.client_id, secret).status_code == 401
    assert _resolves(db, old_token) is None
    new_token = _token(client, api_client.client_id, rotated.json()["client_secret"]).json()["access_token"]
    assert _resolves(db, new_token).client_id == api_client.client_id


def test_revocation_stops_tokens_and_cannot_be_rotated_away(client, as_user, db):
    api_client, secret = factories.api_client(db)
    db.commit()
    token = _token(client, api_client.client_id, secret).json()["access_token"]

    revoked = client.post(
        f"/api/v1/clients/{api_client.client_id}/revoke",
        json={"reason": "系统下线"},
        headers=as_user("platform_admin"),
    )

    assert revoked.status_code == 200 and revoked.json()["status"] == ClientStatus.revoked
    assert _resolves(db, token) is None
    assert _token(client, api_client.client_id, secret).status_code == 401
    again = client.post(f"/api/v1/clients/{api_client.client_id}/rotate", headers=as_user("platform_admin"))
    assert again.status_code == 409 and again.json()["code"] == "client_revoked"


def test_a_client_token_is_not_a_user_token(client, db):
    api_client, _ = factories.api_client(db)
    db.commit()

    response = client.get("/api/v1/auth/me", headers=factories.client_headers(api_client))

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_a_user_token_is_not_a_client_token(db):
    user_token = bearer("renshe_system", role="dept_system", department_id=1)["Authorization"][7:]

    assert _resolves(db, user_token) is None


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("kind", ["tampered", "alg_none", "expired", "other_department"])
def test_forged_or_expired_client_tokens_resolve_to_nobody(db, kind):
    api_client, _ = factories.api_client(db)
    db.flush()
    valid = factories.client_headers(api_client)["Authorization"][7:]
    header, payload, signature = valid.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    token = {
        "tampered": f"{header}.{_b64({**claims, 'sub': 'gongan-00000000'})}.{signature}",
        "alg_none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "expired": factories.client_headers(api_client, ttl=timedelta(seconds=-1))["Authorization"][7:],
        # Validly signed, but naming another department than the client's.
        "other_department": jwt.encode(
            {**claims, "dept": claims["dept"] + 1}, TEST_SECRET, algorithm=security.ALGORITHM
        ),
    }[kind]

    assert _resolves(db, token) is None


def test_the_demo_client_authenticates_with_its_published_secret_and_seeds_once(client, db):
    added = demo_clients.seed(db)
    again = demo_clients.seed(db)
    db.commit()
    client_id, _dept, _name, secret = demo_clients.DEMO_CLIENTS[0]

    assert (added, again) == (1, 0)
    assert _token(client, client_id, secret).status_code == 200
