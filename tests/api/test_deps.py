"""Who owns a request's transaction, as each route declares it (``api/deps.py``)."""

from fastapi.routing import APIRoute

from api import deps


def test_only_routes_declaring_read_db_or_the_session_factory_post_without_the_write_lock(client):
    reading = {
        (method, route.path)
        for route in client.app.routes
        if isinstance(route, APIRoute) and deps.reads_only(route)
        for method in route.methods - deps.SAFE_METHODS
    }

    assert reading == {
        ("POST", "/api/v1/auth/token"),
        ("POST", "/api/v1/auth/password"),
        ("POST", "/api/v1/auth/client-token"),
        ("POST", "/api/v1/certificates/verify"),
        ("POST", "/api/v1/quarantine/resubmit"),
        ("POST", "/api/v1/data/lookup"),
        ("POST", "/api/v1/data/batch"),
        ("POST", "/api/v1/data/verify"),
        ("POST", "/login"),
    }
