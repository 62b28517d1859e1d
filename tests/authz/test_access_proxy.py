"""The data plane forwarding to a provider's own service (接口共享): what leaves, what is logged, what fails.

The provider is a real local HTTP server (``tests.provider``) the test steers; the platform's
checks, masking, access log and quota are the real ones.
"""

import pytest
from sqlalchemy import func, select

from authz.access import export, lookup
from authz.access.exceptions import ProviderFailed, Refused, SubjectNotFound
from authz.access.models import GrantUsage
from authz.access.schemas import BatchIn, Call, LookupIn
from authz.audit.models import AccessRecord
from tests import factories
from tests.conftest import TEST_SECRET
from tests.provider import Provider

PERSON, STRANGER, OTHER = factories.id_number(11), factories.id_number(12), factories.id_number(13)
BAD_CHECK_DIGIT = PERSON[:-1] + ("0" if PERSON[-1] != "0" else "1")
ADDRESS = "福建省福州市鼓楼区东街口一号"
ANSWER = {
    "公民身份号码": PERSON,
    "姓名": "张三丰",
    "住址": ADDRESS,
    "联系电话": "13912345678",
    "内部编号": "GA-0001",  # not an item of the resource: dropped
}
CONN = "test_hcfw"


@pytest.fixture
def provider(monkeypatch):
    """公安's service, holding PERSON and OTHER; its address in GOVDX_CONN_TEST_HCFW."""
    service = Provider({PERSON: [ANSWER], OTHER: [{"姓名": "李四"}]})
    monkeypatch.setenv(f"GOVDX_CONN_{CONN.upper()}", service.url)
    yield service
    service.stop()


def _service(db, *control_params, timeout_s=0.3, retries=1):
    """A published 公安 proxy resource keyed by 公民身份号码; its code."""
    return factories.people_resource(
        db,
        name="户籍核验服务（测试）",
        format="service_api",
        delivery={
            "kind": "proxy",
            "conn_id": CONN,
            "path": "/api/people/{key}",
            "query_key": "公民身份号码",
            "timeout_s": timeout_s,
            "retries": retries,
        },
        control_params=list(control_params),
    )


@pytest.fixture
def system(db):
    api_client, _ = factories.api_client(db)
    return api_client


def _call(system, grant, request_id="proxy-1", client_ip="127.0.0.1"):
    token = factories.client_headers(system)["Authorization"].removeprefix("Bearer ")
    return Call(
        token=token, purpose=grant.request_number, operator=None, request_id=request_id, client_ip=client_ip
    )


def _lookup(session_factory, call, resource, key, items=None):
    with session_factory() as session:
        data = LookupIn(resource=resource, key=key, items=items)
        return lookup.lookup(db=session, secret=TEST_SECRET, call=call, data=data)


def _records(db, request_id="proxy-1"):
    return list(db.scalars(select(AccessRecord).where(AccessRecord.request_id == request_id)))


def _usage(db, grant):
    used = select(func.coalesce(func.sum(GrantUsage.subjects), 0)).where(GrantUsage.grant_id == grant.id)
    return db.scalar(used)


def test_a_proxy_lookup_answers_through_the_provider_with_only_granted_items_masked(
    db, session_factory, system, provider
):
    code = _service(db)
    grant = factories.grant(db, resource=code, items=["公民身份号码", "姓名", "住址"])

    served = _lookup(session_factory, _call(system, grant), code, PERSON)

    assert served.records == [
        {"公民身份号码": PERSON[:6] + "*" * 8 + PERSON[-4:], "姓名": "张三丰", "住址": "福建省福州市…"}
    ]
    assert provider.seen == [f"/api/people/{PERSON}"]


def test_a_served_proxy_lookup_is_logged_by_fingerprint_and_counted_against_the_quota(
    db, session_factory, system, provider, keyring
):
    code = _service(db)
    grant = factories.grant(db, resource=code, items=["姓名"], daily_quota=10)

    _lookup(session_factory, _call(system, grant), code, PERSON)

    (record,) = _records(db)
    assert (record.outcome, record.rows_returned, record.subject_fingerprint) == (
        "served",
        1,
        keyring.fingerprint(PERSON),
    )
    assert _usage(db, grant) == 1


def test_the_query_key_is_the_callers_own_when_the_provider_does_not_echo_it(
    db, session_factory, system, provider
):
    code = _service(db)
    grant = factories.grant(
        db, resource=code, items=["公民身份号码", "姓名"], masking={"公民身份号码": "none"}
    )

    served = _lookup(session_factory, _call(system, grant), code, OTHER)

    assert served.records == [{"公民身份号码": OTHER, "姓名": "李四"}]


def test_a_provider_404_is_a_404_logged_not_found(db, session_factory, system, provider):
    code = _service(db)
    grant = factories.grant(db, resource=code, items=["姓名"])

    with pytest.raises(SubjectNotFound):
        _lookup(session_factory, _call(system, grant), code, STRANGER)

    (record,) = _records(db)
    assert (record.outcome, record.rows_returned) == ("not_found", 0)


def test_a_stopped_provider_is_a_504_provider_unavailable_with_an_access_record(
    db, session_factory, system, provider, keyring
):
    code = _service(db)
    grant = factories.grant(db, resource=code, items=["姓名"])
    provider.stop()

    with pytest.raises(ProviderFailed) as failed:
        _lookup(session_factory, _call(system, grant), code, PERSON)

    assert (failed.value.status, failed.value.code) == (504, "provider_unavailable")
    assert "提供部门服务无响应" in failed.value.message
    (record,) = _records(db)
    assert (record.outcome, record.reason_code, record.subject_fingerprint) == (
        "provider_failed",
        "provider_unavailable",
        keyring.fingerprint(PERSON),
    )


def test_a_provider_slower_than_the_timeout_is_tried_again_then_a_504(db, session_factory, system, provider):
    code = _service(db, timeout_s=0.2, retries=2)
    grant = factories.grant(db, resource=code, items=["姓名"])
    provider.behaviour, provider.delay = "sleep", 1.0

    with pytest.raises(ProviderFailed) as failed:
        _lookup(session_factory, _call(system, grant), code, PERSON)

    assert (failed.value.status, failed.value.code, failed.value.extra) == (
        504,
        "provider_unavailable",
        {"attempts": 3},
    )
    assert len(provider.seen) == 3


def test_a_provider_answering_500_is_tried_again_then_a_502_with_a_record(
    db, session_factory, system, provider
):
    code = _service(db, retries=1)
    grant = factories.grant(db, resource=code, items=["姓名"])
    provider.behaviour = "error"

    with pytest.raises(ProviderFailed) as failed:
        _lookup(session_factory, _call(system, grant), code, PERSON)

    assert (failed.value.status, failed.value.code) == (502, "provider_error")
    assert len(provider.seen) == 2
    (record,) = _records(db)
    assert (record.outcome, record.reason_code) == ("provider_failed", "provider_error")


@pytest.mark.parametrize("behaviour", ["not_json", "malformed"])
def test_a_body_outside_the_contract_is_a_502_at_once(db, session_factory, system, provider, behaviour):
    code = _service(db, retries=2)
    grant = factories.grant(db, resource=code, items=["姓名"])
    provider.behaviour = behaviour

    with pytest.raises(ProviderFailed) as failed:
        _lookup(session_factory, _call(system, grant), code, PERSON)

    assert (failed.value.status, failed.value.code) == (502, "provider_error")
    assert len(provider.seen) == 1


def test_a_failed_forward_does_not_count_against_the_quota(db, session_factory, system, provider):
    code = _service(db, retries=0)
    grant = factories.grant(db, resource=code, items=["姓名"], daily_quota=10)
    provider.behaviour = "error"

    with pytest.raises(ProviderFailed):
        _lookup(session_factory, _call(system, grant), code, PERSON)

    assert _usage(db, grant) == 0


def test_an_unset_provider_address_is_a_502_naming_the_variable(
    db, session_factory, system, provider, monkeypatch
):
    code = _service(db)
    grant = factories.grant(db, resource=code, items=["姓名"])
    monkeypatch.delenv("GOVDX_CONN_TEST_HCFW")

    with pytest.raises(ProviderFailed) as failed:
        _lookup(session_factory, _call(system, grant), code, PERSON)

    assert (failed.value.status, failed.value.code) == (502, "provider_error")
    assert "GOVDX_CONN_TEST_HCFW" in failed.value.message
    (record,) = _records(db)
    assert record.outcome == "provider_failed"


def test_items_beyond_the_grant_are_refused_before_anything_is_forwarded(
    db, session_factory, system, provider
):
    code = _service(db)
    grant = factories.grant(db, resource=code, items=["姓名"])

    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, grant), code, PERSON, items=["姓名", "联系电话"])

    assert refused.value.code == "items_beyond_grant"
    assert provider.seen == []


def test_a_malformed_key_is_refused_before_anything_is_forwarded(db, session_factory, system, provider):
    code = _service(db)
    grant = factories.grant(db, resource=code, items=["姓名"])

    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, grant), code, BAD_CHECK_DIGIT)

    assert refused.value.code == "invalid_key"
    assert provider.seen == []


def test_an_address_outside_the_allowlist_is_refused_before_anything_is_forwarded(
    db, session_factory, system, provider
):
    code = _service(db, {"kind": "ip_allowlist", "value": "政务外网 10.35.0.0/16"})
    grant = factories.grant(db, resource=code, items=["姓名"])

    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, grant, client_ip="192.168.1.9"), code, PERSON)

    assert refused.value.code == "address_not_allowed"
    assert provider.seen == []


def test_a_batch_forwards_once_per_distinct_key_and_answers_in_order(db, session_factory, system, provider):
    code = _service(db)
    grant = factories.grant(db, resource=code, items=["姓名"], access_modes=("lookup", "batch"))

    with session_factory() as session:
        answer = lookup.batch(
            db=session,
            secret=TEST_SECRET,
            call=_call(system, grant),
            data=BatchIn(resource=code, keys=[PERSON, STRANGER, PERSON, OTHER]),
        )

    assert [(r.found, r.records) for r in answer.results] == [
        (True, [{"姓名": "张三丰"}]),
        (False, []),
        (True, [{"姓名": "张三丰"}]),
        (True, [{"姓名": "李四"}]),
    ]
    assert sorted(provider.seen) == sorted(f"/api/people/{k}" for k in (PERSON, STRANGER, OTHER))
    assert sorted(r.outcome for r in _records(db)) == ["not_found", "served", "served"]


def test_a_batch_with_a_failing_forward_serves_nothing_and_logs_every_subject(
    db, session_factory, system, provider
):
    code = _service(db, retries=0)
    grant = factories.grant(db, resource=code, items=["姓名"], access_modes=("lookup", "batch"))
    provider.behaviour = "error"

    with session_factory() as session, pytest.raises(ProviderFailed):
        lookup.batch(
            db=session,
            secret=TEST_SECRET,
            call=_call(system, grant),
            data=BatchIn(resource=code, keys=[PERSON, OTHER]),
        )

    assert [r.outcome for r in _records(db)] == ["provider_failed", "provider_failed"]


def test_bulk_export_of_a_provider_service_is_refused(db, session_factory, system, provider):
    code = _service(db)
    grant = factories.grant(db, resource=code, items=["姓名"], access_modes=("lookup", "bulk_export"))

    with session_factory() as session, pytest.raises(Refused) as refused:
        export.open_export(
            db=session, secret=TEST_SECRET, call=_call(system, grant), resource=code, items=None
        )

    assert refused.value.code == "query_key_required"
    assert "接口共享" in refused.value.message and "不能批量导出" in refused.value.message
    (record,) = _records(db)
    assert record.outcome == "refused"
    assert provider.seen == []
