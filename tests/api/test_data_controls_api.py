"""管控参数 at the interface over HTTP: each refusal's status, code and message, and its access record.

人社's system calls a 公安 resource of the test's own (factories.people_resource) whose 管控参数 the
test chooses; the test client calls from the address ``testclient``, which is no IP address.
"""

from datetime import datetime

import pytest
from sqlalchemy import func, select

from authz.access.models import GrantUsage, RateWindow
from authz.audit.models import AccessRecord
from authz.calendar.service import TZ
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.schemas import ResourceUpdate
from tests import factories

API = "/api/v1/data"


@pytest.fixture
def people(db, keyring):
    """Two people in the population library, stored by 公安; their ID numbers."""
    keys = []
    for seed in (1, 2):
        values = factories.person(seed)
        factories.library_record(db, "population", [values["population.id_number"]], values, keyring=keyring)
        keys.append(values["population.id_number"])
    return keys


@pytest.fixture
def system(db):
    api_client, _secret = factories.api_client(db)
    return api_client


def _granted(db, *control_params, modes=("lookup",)):
    code = factories.people_resource(db, control_params=list(control_params))
    return code, factories.grant(db, resource=code, items=["姓名"], access_modes=modes)


def _headers(system, grant):
    return {**factories.client_headers(system), "X-Govdx-Purpose": grant.request_number}


def _lookup(client, system, grant, key):
    return client.post(
        f"{API}/lookup", headers=_headers(system, grant), json={"resource": grant.resource.code, "key": key}
    )


def _refused(db, response, status, code):
    """The response is the refusal, and the access log holds it with its reason."""
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["code"] == code and body["message"] and body["message_en"]
    records = db.scalars(
        select(AccessRecord).where(AccessRecord.request_id == response.headers["X-Request-Id"])
    ).all()
    assert records, "a refusal leaves an access record"
    assert {(r.outcome, r.reason_code, r.rows_returned) for r in records} == {("refused", code, 0)}
    assert all(r.reason == body["message"] for r in records)
    return body


def _usage(db, grant):
    return db.scalar(
        select(func.coalesce(func.sum(GrantUsage.calls), 0)).where(GrantUsage.grant_id == grant.id)
    )


def test_a_mode_the_resource_has_since_forbidden_is_refused_under_an_older_grant(client, db, system, people):
    code, grant = _granted(db, modes=("lookup", "batch"))
    resource = resource_service.get_by_code(db=db, code=code)
    lookup_only = [{"kind": "access_modes", "value": "单条查询"}]
    resource_service.update(db=db, resource=resource, data=ResourceUpdate(control_params=lookup_only))

    response = client.post(
        f"{API}/batch", headers=_headers(system, grant), json={"resource": code, "keys": people}
    )

    body = _refused(db, response, 403, "mode_not_allowed")
    assert "资源不允许此访问方式" in body["message"] and "不允许“批量查询”，只允许单条查询" in body["message"]
    assert body["allowed_modes"] == ["lookup"]
    assert _lookup(client, system, grant, people[0]).status_code == 200


def test_bulk_export_of_a_resource_read_by_its_query_key_is_refused(client, db, system, people):
    code, grant = _granted(
        db, {"kind": "mandatory_query_key", "value": "公民身份号码"}, modes=("bulk_export",)
    )

    response = client.get(f"{API}/export", headers=_headers(system, grant), params={"resource": code})

    body = _refused(db, response, 403, "query_key_required")
    assert "须以“公民身份号码”逐条查询" in body["message"] and body["query_key"] == ["公民身份号码"]
    assert _usage(db, grant) == 0


def _window_away_from_now() -> str:
    """A one-hour daily window that does not hold the present moment (Beijing time)."""
    hour = datetime.now(TZ).hour
    return "每日 13:00-14:00" if hour < 12 or hour > 14 else "每日 01:00-02:00"


def test_a_call_outside_the_time_window_is_refused_saying_the_window(client, db, system, people):
    window = _window_away_from_now()
    _, grant = _granted(db, {"kind": "time_window", "value": window})

    response = _lookup(client, system, grant, people[0])

    body = _refused(db, response, 403, "outside_time_window")
    assert f"调用时段为 {window}（北京时间）" in body["message"] and window in body["message_en"]
    assert body["time_windows"] == [window]
    assert _usage(db, grant) == 0


def test_a_call_from_outside_the_allowlist_is_refused_naming_the_address(client, db, system, people):
    _, grant = _granted(db, {"kind": "ip_allowlist", "value": "政务外网 10.35.0.0/16"})

    response = _lookup(client, system, grant, people[0])

    body = _refused(db, response, 403, "address_not_allowed")
    assert "来源地址 testclient 不在" in body["message"] and "政务外网 10.35.0.0/16" in body["message"]


def test_calls_past_the_rate_limit_are_429_with_retry_after(client, db, system, people):
    code, grant = _granted(db, {"kind": "rate_limit", "value": "2次/小时"})

    served = [_lookup(client, system, grant, key).status_code for key in people]
    response = _lookup(client, system, grant, people[0])

    assert served == [200, 200]
    body = _refused(db, response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 3600 and body["retry_after"] == retry_after
    assert body["rate_limit"] == "2次/小时" and f"请 {retry_after} 秒后重试" in body["message"]
    assert _usage(db, grant) == 2
    resource = resource_service.get_by_code(db=db, code=code)
    assert db.scalar(select(RateWindow.calls).where(RateWindow.resource_id == resource.id)) == 2


def test_the_rate_limit_is_per_client(client, db, system, people):
    _, grant = _granted(db, {"kind": "rate_limit", "value": "1次/小时"})
    other, _ = factories.api_client(db, name="社保稽核系统")

    first = _lookup(client, system, grant, people[0])
    second = _lookup(client, other, grant, people[0])

    assert (first.status_code, second.status_code) == (200, 200)
