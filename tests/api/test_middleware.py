"""The request's edges: whose X-Forwarded-For is believed, and the security headers of every answer.

The data calls go through the whole app (the address ends up in the access record); the hop walk
is shown on a bare ASGI app that answers with the address it sees, under the same middleware.
"""

import ipaddress

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send

from api.middleware import ClientAddress
from api.settings import ApiSettings
from authz.audit.models import AccessRecord
from tests import factories
from tests.conftest import TEST_SECRET, app_for

API = "/api/v1/data"
BALANCER = ("10.0.0.2", 40000)


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"client": scope["client"][0], "scheme": scope["scheme"]})(scope, receive, send)


def _seen(peer: str, forwarded: str, proto: str | None = None) -> dict[str, str]:
    app = ClientAddress(_echo, trusted=[ipaddress.ip_network("10.0.0.0/8")])
    headers = {"X-Forwarded-For": forwarded, **({"X-Forwarded-Proto": proto} if proto else {})}
    return TestClient(app, client=(peer, 1234)).get("/", headers=headers).json()


def test_x_forwarded_for_from_an_untrusted_peer_is_ignored() -> None:
    assert _seen("198.51.100.9", "10.1.1.1", "https") == {"client": "198.51.100.9", "scheme": "http"}


def test_behind_trusted_proxies_the_client_is_the_nearest_untrusted_hop() -> None:
    # 10.0.0.7 is a second trusted proxy; 192.0.2.1 was written by the client itself.
    seen = _seen("10.0.0.2", "192.0.2.1, 203.0.113.7, 10.0.0.7", "https")
    assert seen == {"client": "203.0.113.7", "scheme": "https"}


def test_an_unreadable_hop_ends_the_walk_at_the_last_readable_one() -> None:
    assert _seen("10.0.0.2", "203.0.113.7, not-an-address, 10.0.0.7")["client"] == "10.0.0.7"


def test_a_trusted_proxies_setting_that_does_not_parse_stops_start_up() -> None:
    with pytest.raises(ValueError, match="GOVDX_TRUSTED_PROXIES"):
        ApiSettings(profile="demo", trusted_proxies="10.0.0.0/8, balancer.local")


# -- through the whole app: the access record's address ------------------------------------------


@pytest.fixture
def behind_balancer(session_factory):
    settings = ApiSettings(
        profile="production", secret_key=TEST_SECRET, token_ttl_minutes=5, trusted_proxies="10.0.0.0/24"
    )

    def client_from(peer):
        return TestClient(app_for(settings, session_factory), client=peer)

    return client_from


@pytest.fixture
def person(db, keyring):
    values = factories.person(1)
    factories.library_record(db, "population", [values["population.id_number"]], values, keyring=keyring)
    return values["population.id_number"]


def _client_ip(db, behind_balancer, peer, forwarded, person):
    api_client, _secret = factories.api_client(db)
    grant = factories.grant(db, resource=factories.people_resource(db), items=["姓名"])
    headers = {
        **factories.client_headers(api_client),
        "X-Govdx-Purpose": grant.request_number,
        "X-Forwarded-For": forwarded,
    }
    with behind_balancer(peer) as client:
        response = client.post(
            f"{API}/lookup", headers=headers, json={"resource": grant.resource.code, "key": person}
        )
    assert response.status_code == 200, response.json()
    return db.scalar(
        select(AccessRecord.client_ip).where(AccessRecord.request_id == response.headers["X-Request-Id"])
    )


def test_the_access_record_holds_the_address_the_balancer_forwarded(db, behind_balancer, person):
    assert _client_ip(db, behind_balancer, BALANCER, "203.0.113.7", person) == "203.0.113.7"


def test_the_access_record_holds_the_peer_when_a_caller_forges_x_forwarded_for(db, behind_balancer, person):
    assert _client_ip(db, behind_balancer, ("198.51.100.9", 5000), "10.0.0.3", person) == "198.51.100.9"


# -- security headers ---------------------------------------------------------------------------


def test_a_portal_page_forbids_framing_sniffing_referrers_and_caching(client) -> None:
    response = client.get("/login")

    csp = response.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_an_api_error_carries_the_headers_too(client) -> None:
    response = client.post(f"{API}/lookup", json={"resource": "420000/000001", "key": "x"})

    assert response.status_code == 401
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client) -> None:
    response = client.get("/static/portal.css")

    assert response.status_code == 200 and "no-store" not in response.headers.get("Cache-Control", "")


def test_over_https_the_answer_asks_for_https_from_now_on(settings, session_factory) -> None:
    with TestClient(app_for(settings, session_factory), base_url="https://testserver") as client:
        response = client.get("/login")

    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
