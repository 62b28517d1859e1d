"""The data plane over HTTP: what a department system is served under its grant, and every refusal.

人社's system (a real machine client with a real token) reads 公安's 人口基本信息 under a grant
made through the real workflow, from records stored as the pipelines store them. Each refusal
names its status and code, is in the access log with its reason, and changes nothing else: no
usage is counted and no record is served.
"""

import base64
import io
import json
from datetime import timedelta

import jwt
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from authz.access.models import GrantUsage
from authz.audit.models import AccessRecord
from authz.clients import service as clients_service
from catalog_schema.library.models import LibraryRecord
from tests import factories
from tests.conftest import TEST_SECRET, bearer
from tests.factories import DEPARTMENT_RESOURCE, NOT_SHARED_RESOURCE

API = "/api/v1/data"
GRANTED = ["公民身份号码", "姓名", "出生日期", "住址", "联系电话"]
# What the provider chose for two items; the others get the default (ID number, address, phone masked).
MASKING = {"姓名": "surname", "出生日期": "year_only"}


@pytest.fixture
def people(db, keyring):
    """Three people in the population library, stored by 公安; their ID numbers."""
    keys = []
    for seed in (1, 2, 3):
        values = factories.person(seed)
        factories.library_record(db, "population", [values["population.id_number"]], values, keyring=keyring)
        keys.append(values["population.id_number"])
    return keys


@pytest.fixture
def system(db):
    """人社's 社保业务系统, a registered machine client."""
    api_client, _secret = factories.api_client(db)
    return api_client


@pytest.fixture
def open_resource(db):
    """A 公安 resource over the same people that allows every mode (人口基本信息 is 逐条查询 only)."""
    return factories.people_resource(db)


@pytest.fixture
def granted(db):
    """人社's grant for 公安's 人口基本信息: five items, keyed lookup, the provider's masking."""
    return factories.grant(db, items=GRANTED, masking=MASKING)


def _headers(system, grant, **extra):
    return {**factories.client_headers(system), "X-Govdx-Purpose": grant.request_number, **extra}


def _lookup(client, headers, key, **body):
    return client.post(
        f"{API}/lookup", headers=headers, json={"resource": DEPARTMENT_RESOURCE, "key": key, **body}
    )


def _records(db, response):
    request_id = response.headers["X-Request-Id"]
    return list(
        db.scalars(
            select(AccessRecord).where(AccessRecord.request_id == request_id).order_by(AccessRecord.seq)
        )
    )


def _usage(db, grant):
    return db.scalar(
        select(func.coalesce(func.sum(GrantUsage.subjects), 0)).where(GrantUsage.grant_id == grant.id)
    )


def _refused(db, response, status, code, *, outcome="refused"):
    """The response is the refusal, the access log holds it, and no subject was served or counted."""
    assert response.status_code == status, response.json()
    body = response.json()
    assert body["code"] == code and body["message"] and body["message_en"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    records = _records(db, response)
    assert records, "a refusal leaves an access record"
    assert {(r.outcome, r.reason_code, r.rows_returned) for r in records} == {(outcome, code, 0)}
    return body, records


# -- served ----------------------------------------------------------------------------------------


def test_lookup_serves_exactly_the_granted_items_masked(client, system, granted, people):
    response = _lookup(client, _headers(system, granted), people[0])

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["items"] == GRANTED and body["grant"] == granted.request_number
    assert body["records"] == [
        {
            "公民身份号码": people[0][:6] + "********" + people[0][-4:],
            "姓名": "张*",
            "出生日期": "1990",
            "住址": "福建省榕城市…",
            "联系电话": "139****1234",
        }
    ]
    defaults = {"公民身份号码": "id_number", "住址": "region", "联系电话": "phone"}
    assert body["masking"] == {**MASKING, **defaults}


def test_lookup_of_some_items_serves_only_those(client, system, granted, people):
    response = _lookup(client, _headers(system, granted), people[1], items=["姓名"])

    assert response.status_code == 200
    assert response.json()["records"] == [{"姓名": "欧*"}]


def test_lookup_writes_one_record_naming_client_grant_purpose_and_subject(
    client, db, keyring, system, granted, people
):
    headers = _headers(system, granted, **{"X-Govdx-Operator": "陈经办".encode(), "X-Request-Id": "req-0001"})

    key = people[0]
    response = _lookup(client, headers, f" {key[:6]} {key[6:14]}-{key[14:]} ")

    assert response.status_code == 200 and response.headers["X-Request-Id"] == "req-0001"
    (record,) = _records(db, response)
    assert (record.outcome, record.reason_code, record.rows_returned, record.subjects) == (
        "served",
        None,
        1,
        1,
    )
    assert record.client_id == system.client_id and record.department_id == system.department_id
    assert record.grant_id == granted.id and record.purpose_ref == granted.request_number
    assert (
        record.operator == "陈经办"
        and record.mode == "lookup"
        and record.resource_code == DEPARTMENT_RESOURCE
    )
    assert json.loads(record.items) == GRANTED
    assert record.subject_fingerprint == keyring.fingerprint(people[0])
    assert people[0] not in json.dumps(
        {c: str(getattr(record, c)) for c in (col.name for col in AccessRecord.__table__.columns)}
    )


def test_request_id_is_generated_when_absent(client, system, granted, people):
    response = _lookup(client, _headers(system, granted), people[0])

    assert len(response.headers["X-Request-Id"]) == 32
    assert response.json()["request_id"] == response.headers["X-Request-Id"]


def test_business_reference_is_a_purpose_reference_too(client, system, granted, people):
    response = _lookup(client, _headers(system, granted, **{"X-Govdx-Purpose": "RS-2026-0001"}), people[0])

    assert response.status_code == 200, response.json()
    assert response.json()["grant"] == granted.request_number
    assert [r["姓名"] for r in response.json()["records"]] == ["张*"]


def test_purpose_reference_in_chinese_is_read_as_utf8(client, db, system, people):
    grant = factories.grant(db, items=["姓名"], business_reference="榕人社办〔2026〕12号")
    headers = _headers(system, grant, **{"X-Govdx-Purpose": "榕人社办〔2026〕12号".encode()})

    response = _lookup(client, headers, people[0])

    assert response.status_code == 200, response.json()
    assert _records(db, response)[0].purpose_ref == "榕人社办〔2026〕12号"


def test_lookup_of_an_unknown_subject_is_404_and_recorded_not_found(client, db, system, granted, people):
    response = _lookup(client, _headers(system, granted), factories.id_number(99))

    assert response.status_code == 404
    assert response.json()["code"] == "subject_not_found"
    (record,) = _records(db, response)
    assert (record.outcome, record.rows_returned) == ("not_found", 0)
    assert _usage(db, granted) == 1


def test_batch_answers_every_key_in_order_with_one_record_per_subject(
    client, db, system, people, open_resource
):
    grant = factories.grant(
        db, resource=open_resource, items=["姓名"], access_modes=("batch",), masking={"姓名": "surname"}
    )
    keys = [people[2], factories.id_number(98), people[0], people[0]]

    response = client.post(
        f"{API}/batch", headers=_headers(system, grant), json={"resource": open_resource, "keys": keys}
    )

    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [(r["index"], r["found"], r["records"]) for r in results] == [
        (0, True, [{"姓名": "张*"}]),
        (1, False, []),
        (2, True, [{"姓名": "张*"}]),
        (3, True, [{"姓名": "张*"}]),
    ]
    records = _records(db, response)
    assert [(r.outcome, r.rows_returned, r.mode) for r in records] == [
        ("served", 1, "batch"),
        ("not_found", 0, "batch"),
        ("served", 1, "batch"),
    ]
    assert _usage(db, grant) == 3


def test_batch_beyond_the_maximum_is_refused(client, db, system, people, open_resource):
    grant = factories.grant(db, resource=open_resource, items=["姓名"], access_modes=("batch",))
    keys = [factories.id_number(i) for i in range(101)]

    response = client.post(
        f"{API}/batch", headers=_headers(system, grant), json={"resource": open_resource, "keys": keys}
    )

    body, records = _refused(db, response, 403, "batch_too_large")
    assert body["max_batch"] == 100 and len(records) == 1 and records[0].subjects == 101
    assert _usage(db, grant) == 0


def test_export_streams_parquet_with_only_the_granted_items(client, db, system, people, open_resource):
    grant = factories.grant(
        db,
        resource=open_resource,
        items=["公民身份号码", "姓名"],
        access_modes=("bulk_export",),
        masking={"姓名": "surname"},
    )

    response = client.get(
        f"{API}/export", headers=_headers(system, grant), params={"resource": open_resource}
    )

    assert response.status_code == 200, response.content[:300]
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(response.content))
    assert table.column_names == ["公民身份号码", "姓名"]
    rows = table.to_pylist()
    assert sorted(r["公民身份号码"] for r in rows) == sorted(k[:6] + "********" + k[-4:] for k in people)
    assert {r["姓名"] for r in rows} == {"张*", "欧*"}
    opened, traced = _records(db, response)  # the export's record, then its one row group's trace
    assert (opened.outcome, opened.mode, opened.rows_returned) == ("served", "bulk_export", 3)
    assert (traced.outcome, traced.mode, traced.rows_returned, traced.subjects) == (
        "served",
        "bulk_export",
        3,
        3,
    )


def test_export_of_some_items_has_only_those_columns(client, db, system, people, open_resource):
    grant = factories.grant(
        db, resource=open_resource, items=["公民身份号码", "姓名"], access_modes=("bulk_export",)
    )

    response = client.get(
        f"{API}/export",
        headers=_headers(system, grant),
        params={"resource": open_resource, "items": ["姓名"]},
    )

    assert pq.read_table(io.BytesIO(response.content)).column_names == ["姓名"]


def test_export_without_the_bulk_export_mode_is_refused(client, db, system, granted, people):
    response = client.get(
        f"{API}/export", headers=_headers(system, granted), params={"resource": DEPARTMENT_RESOURCE}
    )

    _refused(db, response, 403, "mode_not_granted")
    assert _usage(db, granted) == 0


# -- refusals: the grant ---------------------------------------------------------------------------


def test_expired_grant_is_refused(client, db, system, granted, people):
    factories.end_grant(db, granted, "expire")

    response = _lookup(client, _headers(system, granted), people[0])

    _refused(db, response, 403, "grant_expired")
    assert _usage(db, granted) == 0


def test_grant_past_its_last_day_is_refused_before_the_sweep_expires_it(client, db, system, granted, people):
    granted.valid_until = granted.valid_from
    db.flush()

    response = _lookup(client, _headers(system, granted), people[0])

    _refused(db, response, 403, "grant_expired")


def test_grant_not_yet_valid_is_refused(client, db, system, people):
    from authz.calendar.service import local_date
    from catalog_schema.database import utcnow

    today = local_date(utcnow())
    grant = factories.grant(db, valid_from=today + timedelta(days=10), valid_until=today + timedelta(days=40))

    response = _lookup(client, _headers(system, grant), people[0])

    _refused(db, response, 403, "grant_not_yet_valid")


def test_revoked_grant_is_refused(client, db, system, granted, people):
    factories.end_grant(db, granted, "revoke")

    response = _lookup(client, _headers(system, granted), people[0])

    _, records = _refused(db, response, 403, "grant_revoked")
    assert records[0].grant_id == granted.id


def test_another_departments_grant_is_refused(client, db, granted, people):
    minzheng_system, _ = factories.api_client(db, "minzheng", "婚姻登记系统")

    response = _lookup(client, _headers(minzheng_system, granted), people[0])

    _, records = _refused(db, response, 403, "no_grant")
    assert records[0].department_id == minzheng_system.department_id and records[0].grant_id is None


def test_items_beyond_the_grant_are_refused_and_named(client, db, system, granted, people):
    response = _lookup(client, _headers(system, granted), people[0], items=["姓名", "民族", "性别"])

    body, records = _refused(db, response, 403, "items_beyond_grant")
    assert body["items"] == ["民族", "性别"]
    assert json.loads(records[0].items) == ["姓名", "民族", "性别"]


def test_access_mode_not_granted_is_refused(client, db, keyring, system, granted, people):
    response = client.post(
        f"{API}/batch",
        headers=_headers(system, granted),
        json={"resource": DEPARTMENT_RESOURCE, "keys": people},
    )

    _, records = _refused(db, response, 403, "mode_not_granted")
    # One record per subject named, so a subject search finds the attempt.
    assert [(r.mode, r.subject_fingerprint) for r in records] == [
        ("batch", keyring.fingerprint(key)) for key in people
    ]


def test_resource_not_shared_is_refused(client, db, system, granted, people):
    response = client.post(
        f"{API}/lookup",
        headers=_headers(system, granted),
        json={"resource": NOT_SHARED_RESOURCE, "key": people[0]},
    )

    _refused(db, response, 403, "resource_unavailable")


def test_missing_purpose_is_refused(client, db, system, granted, people):
    response = _lookup(client, factories.client_headers(system), people[0])

    _refused(db, response, 403, "purpose_missing")
    assert _usage(db, granted) == 0


def test_unknown_purpose_is_refused(client, db, system, granted, people):
    response = _lookup(client, _headers(system, granted, **{"X-Govdx-Purpose": "SQ-2026-999999"}), people[0])

    _, records = _refused(db, response, 403, "purpose_unknown")
    assert records[0].purpose_ref == "SQ-2026-999999"


def test_quota_serves_n_subjects_and_refuses_the_next(client, db, system, people):
    grant = factories.grant(db, daily_quota=2)
    headers = _headers(system, grant)
    assert [_lookup(client, headers, key).status_code for key in people[:2]] == [200, 200]

    response = _lookup(client, headers, people[2])

    body, _ = _refused(db, response, 403, "over_quota")
    assert (body["quota"], body["used"], body["requested"]) == (2, 2, 1)
    assert _usage(db, grant) == 2


# -- refusals: the key -----------------------------------------------------------------------------


def test_sql_meta_characters_in_the_key_are_just_an_invalid_key(client, db, system, granted, people):
    before = db.scalar(select(func.count()).select_from(LibraryRecord))

    response = _lookup(client, _headers(system, granted), "' OR 1=1 --")

    body, _ = _refused(db, response, 403, "invalid_key")
    assert body["problems"][0]["path"] == "key"
    assert db.scalar(select(func.count()).select_from(LibraryRecord)) == before
    assert _usage(db, granted) == 0


def test_oversized_key_is_refused(client, db, system, granted, people):
    response = _lookup(client, _headers(system, granted), "1" * 10_240)

    body, records = _refused(db, response, 403, "invalid_key")
    assert "64" in body["problems"][0]["message"]
    assert records[0].subject_fingerprint is None


def test_key_with_control_characters_is_refused(client, db, system, granted, people):
    response = _lookup(client, _headers(system, granted), people[0][:10] + "\x00" + people[0][10:])

    _refused(db, response, 403, "invalid_key")


def test_one_bad_key_refuses_the_whole_batch(client, db, system, people, open_resource):
    grant = factories.grant(db, resource=open_resource, items=["姓名"], access_modes=("batch",))

    response = client.post(
        f"{API}/batch",
        headers=_headers(system, grant),
        json={"resource": open_resource, "keys": [people[0], "110105194912310021"]},
    )

    body, _ = _refused(db, response, 403, "invalid_key")
    assert [p["path"] for p in body["problems"]] == ["keys[1]"]
    assert _usage(db, grant) == 0


# -- refusals: the caller --------------------------------------------------------------------------


def _unauthenticated(db, response):
    body, records = _refused(db, response, 401, "invalid_token", outcome="unauthenticated")
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert records[0].client_id is None and records[0].grant_id is None
    return body


def test_no_token_is_unauthenticated(client, db, granted, people):
    response = _lookup(client, {"X-Govdx-Purpose": granted.request_number}, people[0])

    _unauthenticated(db, response)


def test_tampered_token_is_unauthenticated(client, db, system, granted, people):
    head, payload, signature = (
        factories.client_headers(system)["Authorization"].removeprefix("Bearer ").split(".")
    )
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["dept"] = claims["dept"] + 1
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    headers = {
        "Authorization": f"Bearer {head}.{forged}.{signature}",
        "X-Govdx-Purpose": granted.request_number,
    }

    _unauthenticated(db, _lookup(client, headers, people[0]))


def test_expired_token_is_unauthenticated(client, db, system, granted, people):
    headers = {
        **factories.client_headers(system, ttl=timedelta(seconds=-5)),
        "X-Govdx-Purpose": granted.request_number,
    }

    _unauthenticated(db, _lookup(client, headers, people[0]))


def test_alg_none_token_is_unauthenticated(client, db, system, granted, people):
    valid = factories.client_headers(system)["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(valid, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none")
    headers = {"Authorization": f"Bearer {unsigned}", "X-Govdx-Purpose": granted.request_number}

    _unauthenticated(db, _lookup(client, headers, people[0]))


def test_user_token_is_unauthenticated_on_the_data_plane(client, db, granted, people):
    headers = {
        **bearer("renshe_system", role="dept_system", department_id=granted.department_id),
        "X-Govdx-Purpose": granted.request_number,
    }

    _unauthenticated(db, _lookup(client, headers, people[0]))


def test_revoked_client_is_unauthenticated(client, db, system, granted, people):
    headers = _headers(system, granted)
    clients_service.revoke(db=db, client=system, reason="测试：系统下线")

    _unauthenticated(db, _lookup(client, headers, people[0]))


def test_token_signed_with_another_secret_is_unauthenticated(client, db, system, granted, people):
    token = clients_service.issue_token(
        client=system, secret=TEST_SECRET + "-other", ttl=timedelta(minutes=5)
    )
    headers = {"Authorization": f"Bearer {token}", "X-Govdx-Purpose": granted.request_number}

    _unauthenticated(db, _lookup(client, headers, people[0]))


# -- grants carry masking --------------------------------------------------------------------------


def test_approval_with_an_unknown_masking_rule_is_422_with_its_path(client, as_user, db):
    submitted = client.post(
        "/api/v1/requests", headers=as_user("requester"), json=factories.sharing_request()
    )
    request_id = submitted.json()["id"]
    client.post(f"/api/v1/requests/{request_id}/accept", headers=as_user("catalog_admin"))

    response = client.post(
        f"/api/v1/requests/{request_id}/approve",
        headers=as_user("approver"),
        json={"masking": {"姓名": "scramble"}},
    )

    assert response.status_code == 422
    assert [p["path"] for p in response.json()["problems"]] == ["masking.姓名"]
