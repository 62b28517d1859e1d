"""Data calls refused at the door, before they could be read, are in the access log too."""

from sqlalchemy import select

from authz.audit.models import AccessRecord

API = "/api/v1/data"


def _records(db, request_id):
    return db.execute(
        select(
            AccessRecord.mode, AccessRecord.outcome, AccessRecord.reason_code, AccessRecord.client_id
        ).where(AccessRecord.request_id == request_id)
    ).all()


def test_a_malformed_data_call_is_logged_as_refused_unread(client, db):
    response = client.post(f"{API}/batch", json={"keys": "not a list"}, headers={"X-Request-Id": "door-422"})

    assert (response.status_code, response.headers["X-Request-Id"]) == (422, "door-422")
    assert _records(db, "door-422") == [("batch", "refused", "invalid_request", None)]


def test_a_data_call_whose_body_is_too_large_is_logged_as_refused_unread(client, db):
    response = client.post(
        f"{API}/lookup",
        content=b"{" + b" " * (3 * 1024 * 1024) + b"}",
        headers={"Content-Type": "application/json", "X-Request-Id": "door-413"},
    )

    assert (response.status_code, response.headers["X-Request-Id"]) == (413, "door-413")
    assert _records(db, "door-413") == [("lookup", "refused", "body_too_large", None)]


def test_a_malformed_request_elsewhere_leaves_the_access_log_alone(client, db, as_user):
    before = db.scalar(select(AccessRecord.seq).order_by(AccessRecord.seq.desc()).limit(1))

    response = client.post("/api/v1/requests", json={}, headers=as_user("requester"))

    assert response.status_code == 422 and "X-Request-Id" not in response.headers
    assert db.scalar(select(AccessRecord.seq).order_by(AccessRecord.seq.desc()).limit(1)) == before
