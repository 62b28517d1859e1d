"""The data plane over HTTP for a provider's service (接口共享): 卫健's 出生医学证明信息 through its demo API.

The demo catalog binds 出生医学证明信息 (101003/000001) to 卫健's service ``weijian_api``; the
service is the demo's own HTTP server (``demo.health_api``), serving a vital-records file written
here; 人社's system reads it under a grant made through the real workflow.
"""

import json

import pytest
from sqlalchemy import select

from authz.audit.models import AccessRecord
from demo import health_api
from tests import factories

API = "/api/v1/data"
BIRTHS = "101003/000001"  # 卫健 出生医学证明信息: proxy to weijian_api
VITAL_RECORDS = [
    {
        "sfzh": "350102201503070013",
        "xm": "林小雨",
        "xb": "2",
        "csrq": "2015-03-07",
        "cszmbh": "P350012345",
        "swbz": "0",
        "swrq": None,
        "gxsj": "2024-01-02 10:00:00",
    },
    {
        "sfzh": "350102195001010012",
        "xm": "陈老伯",
        "xb": "1",
        "csrq": "1950-01-01",
        "cszmbh": None,
        "swbz": "1",
        "swrq": "2024-05-01",
        "gxsj": "2024-05-03 10:00:00",
    },
]


@pytest.fixture
def weijian(tmp_path, monkeypatch):
    """卫健's demo service, its address where the data plane looks for weijian_api."""
    path = tmp_path / "vital_records.json"
    path.write_text(json.dumps(VITAL_RECORDS, ensure_ascii=False), encoding="utf-8")
    server, base = health_api.serve(path)
    monkeypatch.setenv("GOVDX_CONN_WEIJIAN_API", base)
    yield server
    server.shutdown()


@pytest.fixture
def system(db):
    api_client, _secret = factories.api_client(db)
    return api_client


@pytest.fixture
def grant(db):
    return factories.grant(
        db, resource=BIRTHS, items=["出生医学证明编号", "新生儿姓名", "出生日期", "签发日期"]
    )


def _lookup(client, system, grant, key, **body):
    headers = {**factories.client_headers(system), "X-Govdx-Purpose": grant.request_number}
    return client.post(f"{API}/lookup", headers=headers, json={"resource": BIRTHS, "key": key, **body})


def _records(db, response):
    request_id = response.headers["X-Request-Id"]
    return list(db.scalars(select(AccessRecord).where(AccessRecord.request_id == request_id)))


def test_a_birth_certificate_is_answered_through_the_weijian_service(client, db, system, grant, weijian):
    response = _lookup(client, system, grant, "P350012345")

    assert response.status_code == 200, response.json()
    assert response.json()["records"] == [
        {"出生医学证明编号": "P350012345", "新生儿姓名": "林小雨", "出生日期": "2015-03-07", "签发日期": None}
    ]
    (record,) = _records(db, response)
    assert (record.outcome, record.rows_returned, record.resource_code) == ("served", 1, BIRTHS)


def test_a_certificate_weijian_never_issued_is_404_logged_not_found(client, db, system, grant, weijian):
    response = _lookup(client, system, grant, "Z999999999")

    assert response.status_code == 404 and response.json()["code"] == "subject_not_found"
    (record,) = _records(db, response)
    assert record.outcome == "not_found"


def test_a_stopped_weijian_service_gives_504_with_an_access_record(
    client, db, system, grant, weijian, keyring
):
    weijian.shutdown()

    response = _lookup(client, system, grant, "P350012345")

    assert response.status_code == 504
    body = response.json()
    assert body["code"] == "provider_unavailable" and body["request_id"] == response.headers["X-Request-Id"]
    assert body["message"].startswith("提供部门服务无响应：提供部门服务 weijian_api 无法连接")
    (record,) = _records(db, response)
    assert (record.outcome, record.reason_code, record.subject_fingerprint) == (
        "provider_failed",
        "provider_unavailable",
        keyring.fingerprint("P350012345"),
    )


def test_items_beyond_the_grant_are_403_and_weijian_is_not_asked(client, db, system, grant, weijian):
    weijian.shutdown()  # were it asked, the answer would be a 504

    response = _lookup(client, system, grant, "P350012345", items=["母亲公民身份号码"])

    assert response.status_code == 403 and response.json()["code"] == "items_beyond_grant"


def test_a_birth_certificate_export_is_refused_it_is_read_by_its_number(client, db, system, weijian):
    grant = factories.grant(db, resource=BIRTHS, items=["新生儿姓名"], access_modes=("lookup", "bulk_export"))
    headers = {**factories.client_headers(system), "X-Govdx-Purpose": grant.request_number}

    response = client.get(f"{API}/export", headers=headers, params={"resource": BIRTHS})

    assert response.status_code == 403 and response.json()["code"] == "query_key_required"
