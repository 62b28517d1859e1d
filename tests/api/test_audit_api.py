"""The auditor's API: search by subject and other filters, outside approval, verify, export; auditors only."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from authz.audit import checkpoint as audit_checkpoint
from authz.audit import verify as audit_verify
from authz.audit.chain import AccessEntry, append
from authz.audit.models import AccessRecord
from authz.sharing import service as sharing_service
from authz.sharing.models import Grant
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import RequestAction
from catalog_schema.department import service as department_service
from catalog_schema.keys.service import Keyring
from catalog_schema.user import service as user_service
from tests import factories

T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Asia/Shanghai
ID_NUMBER = "11010519491231002X"
OTHER_ID_NUMBER = "110105194912310037"
Headers = Callable[[str], dict[str, str]]


def _record(db: Session, *, at: datetime = T0, **overrides: object) -> int:
    values: dict[str, object] = {
        "mode": "lookup",
        "outcome": "served",
        "request_id": uuid4().hex,
        "client_id": "renshe-social-insurance",
        "department_id": department_service.get_by_ref(db=db, ref="renshe").id,
        "purpose_ref": "RS-2026-0001",
        "resource_code": factories.DIRECT_RESOURCE,
        "items": ["统一社会信用代码", "名称"],
        "subjects": 1,
        "rows_returned": 1,
    }
    values.update(overrides)
    seq = append(db=db, entry=AccessEntry(**values), at=at)  # type: ignore[arg-type]
    db.commit()
    return seq


def _records(client: TestClient, headers: dict[str, str], path: str = "/api/v1/audit/records", **params):  # type: ignore[no-untyped-def]
    response = client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.json()
    return response.json()


def _grant(db: Session) -> Grant:
    requester = user_service.get_by_username(db=db, username="requester")
    admin = user_service.get_by_username(db=db, username="catalog_admin")
    request = sharing_service.submit(db=db, data=RequestCreate(**factories.direct_request()), user=requester)
    for action in (RequestAction.accept, RequestAction.provide):
        sharing_service.act(db=db, request=request, action=action, data=TransitionIn(), user=admin)
    assert request.grant is not None
    return request.grant


# -- search ---------------------------------------------------------------------------------------


def test_search_by_id_number_finds_that_subjects_accesses_only(
    client: TestClient, as_user: Headers, log: Session, keyring: Keyring
) -> None:
    mine = keyring.fingerprint(ID_NUMBER)
    _record(log, subject_fingerprint=mine)
    _record(log, subject_fingerprint=keyring.fingerprint(OTHER_ID_NUMBER))
    _record(log, subject_fingerprint=mine, at=T0 + timedelta(minutes=1))

    page = _records(client, as_user("auditor"), subject="110105 19491231 002x")

    assert (page["total"], [r["seq"] for r in page["items"]]) == (2, [3, 1])
    assert {r["subject_fingerprint"] for r in page["items"]} == {mine}


def test_search_by_certificate_type_and_number(
    client: TestClient, as_user: Headers, log: Session, keyring: Keyring
) -> None:
    _record(log, subject_fingerprint=keyring.fingerprint("101:闽A-2026-001"))
    _record(log, subject_fingerprint=keyring.fingerprint(ID_NUMBER))

    page = _records(client, as_user("auditor"), subject=" 101 ： 闽A-2026-001 ")

    assert [r["seq"] for r in page["items"]] == [1]


def test_search_names_the_department_and_the_grants_request_number(
    client: TestClient, as_user: Headers, log: Session
) -> None:
    grant = _grant(log)
    _record(log, grant_id=grant.id, department_id=grant.department_id)

    (record,) = _records(client, as_user("auditor"))["items"]

    assert (record["department_slug"], record["department_name"]) == ("renshe", grant.department.name)
    assert (record["grant_id"], record["request_number"]) == (grant.id, grant.request_number)
    assert record["items"] == ["统一社会信用代码", "名称"]


def test_search_by_department_system_resource_and_outcome(
    client: TestClient, as_user: Headers, log: Session
) -> None:
    gongan = department_service.get_by_ref(db=log, ref="gongan").id
    _record(log)
    _record(log, department_id=gongan, client_id="gongan-sys")
    _record(log, department_id=gongan, client_id="gongan-sys", outcome="not_found")
    _record(log, department_id=gongan, client_id="gongan-sys", resource_code="OTHER")

    page = _records(
        client,
        as_user("auditor"),
        department="gongan",
        system="gongan-sys",
        resource=factories.DIRECT_RESOURCE,
        outcome="not_found",
    )

    assert [r["seq"] for r in page["items"]] == [3]


def test_search_by_department_id(client: TestClient, as_user: Headers, log: Session) -> None:
    gongan = department_service.get_by_ref(db=log, ref="gongan").id
    _record(log)
    _record(log, department_id=gongan)

    page = _records(client, as_user("auditor"), department=str(gongan))

    assert [r["seq"] for r in page["items"]] == [2]


def test_search_by_time_range_counts_a_to_date_whole(
    client: TestClient, as_user: Headers, log: Session
) -> None:
    _record(log, at=datetime(2026, 4, 30, 15, 59, tzinfo=UTC))  # 04-30 23:59 Shanghai
    _record(log, at=datetime(2026, 5, 1, 16, 0, tzinfo=UTC) - timedelta(microseconds=1))  # 05-01 23:59:59
    _record(log, at=datetime(2026, 5, 1, 16, 0, tzinfo=UTC))  # 05-02 00:00 Shanghai

    page = _records(client, as_user("auditor"), **{"from": "2026-05-01", "to": "2026-05-01"})

    assert [r["seq"] for r in page["items"]] == [2]


def test_search_pages_newest_first(client: TestClient, as_user: Headers, log: Session) -> None:
    for i in range(5):
        _record(log, at=T0 + timedelta(minutes=i))

    page = _records(client, as_user("auditor"), page=2, page_size=2)

    assert ([r["seq"] for r in page["items"]], page["total"], page["pages"]) == ([3, 2], 5, 3)


def test_outside_approval_lists_only_refusals_beyond_a_grant(
    client: TestClient, as_user: Headers, log: Session
) -> None:
    _record(log)
    _record(log, outcome="refused", reason_code="over_quota")
    _record(log, outcome="refused", reason_code="invalid_key")
    _record(log, outcome="refused", reason_code="grant_expired")
    _record(log, outcome="refused", reason_code="items_beyond_grant")
    _record(log, outcome="unauthenticated", reason_code="invalid_token")
    _record(log, outcome="refused", reason_code="purpose_unknown")

    page = _records(client, as_user("auditor"), "/api/v1/audit/outside-approval")

    assert [(r["seq"], r["reason_code"]) for r in page["items"]] == [
        (7, "purpose_unknown"),
        (5, "items_beyond_grant"),
        (4, "grant_expired"),
        (2, "over_quota"),
    ]
    assert page["items"][0]["reason_label"] == "用途依据与授权不符"


def test_outside_approval_takes_the_same_filters(client: TestClient, as_user: Headers, log: Session) -> None:
    _record(log, outcome="refused", reason_code="over_quota")
    _record(log, outcome="refused", reason_code="grant_expired")

    page = _records(client, as_user("auditor"), "/api/v1/audit/outside-approval", reason="grant_expired")

    assert [r["seq"] for r in page["items"]] == [2]


def test_unknown_department_is_404(client: TestClient, as_user: Headers, log: Session) -> None:
    response = client.get(
        "/api/v1/audit/records", params={"department": "nowhere"}, headers=as_user("auditor")
    )

    assert (response.status_code, response.json()["code"]) == (404, "department_not_found")


def test_invalid_time_is_422(client: TestClient, as_user: Headers, log: Session) -> None:
    response = client.get("/api/v1/audit/records", params={"from": "yesterday"}, headers=as_user("auditor"))

    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert "YYYY-MM-DD" in response.json()["message"]


def test_range_ending_before_it_starts_is_422(client: TestClient, as_user: Headers, log: Session) -> None:
    params = {"from": "2026-05-02", "to": "2026-05-01"}

    response = client.get("/api/v1/audit/records", params=params, headers=as_user("auditor"))

    assert (response.status_code, response.json()["code"]) == (422, "invalid_range")


# -- verify and export ----------------------------------------------------------------------------


def test_verify_reports_an_intact_log(client: TestClient, as_user: Headers, log: Session) -> None:
    for _ in range(3):
        _record(log)

    report = _records(client, as_user("auditor"), "/api/v1/audit/verify")

    assert (report["intact"], report["records_verified"], report["head_seq"], report["first_break"]) == (
        True,
        3,
        3,
        None,
    )


def test_verify_names_the_first_broken_record(client: TestClient, as_user: Headers, log: Session) -> None:
    for _ in range(3):
        _record(log)
    log.execute(update(AccessRecord).where(AccessRecord.seq == 2).values(client_id="someone-else"))
    log.commit()

    report = _records(client, as_user("auditor"), "/api/v1/audit/verify")

    assert report["intact"] is False
    assert (report["first_break"]["kind"], report["first_break"]["seq"]) == ("hash_mismatch", 2)


def test_export_streams_json_lines_that_verify_offline(
    client: TestClient, as_user: Headers, log: Session, keyring: Keyring, tmp_path: Path
) -> None:
    for i in range(4):
        _record(log, at=T0 + timedelta(minutes=i))
    audit_checkpoint.checkpoint(db=log, keyring=keyring)
    log.commit()

    response = client.get("/api/v1/audit/export", params={"from": "2026-05-01"}, headers=as_user("auditor"))
    path = tmp_path / "export.jsonl"
    path.write_bytes(response.content)
    report = audit_verify.verify_export(path=path)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    assert (report.intact, report.records, report.checkpoints_verified) == (True, 4, 1)


# -- who may read ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["records", "outside-approval", "verify", "export"])
def test_department_user_is_refused(client: TestClient, as_user: Headers, log: Session, path: str) -> None:
    response = client.get(f"/api/v1/audit/{path}", headers=as_user("requester"))

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_anonymous_request_is_401(client: TestClient, log: Session) -> None:
    response = client.get("/api/v1/audit/records")

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")
