"""核验 over HTTP: 一致 or 不一致 for what a system claims about a subject, with no value handed over.

人社's system checks a name against an ID number in 公安's 人口基本信息 (whose 管控参数 allow 单条查询
and 核验) under a grant of mode ``verify``; every call is in the access log with the claimed items.
"""

import pytest
from sqlalchemy import select

from authz.audit.models import AccessRecord
from tests import factories
from tests.factories import DEPARTMENT_RESOURCE

API = "/api/v1/data/verify"


@pytest.fixture
def person(db, keyring):
    values = factories.person(11)
    factories.library_record(db, "population", [values["population.id_number"]], values, keyring=keyring)
    return values


@pytest.fixture
def system(db):
    api_client, _secret = factories.api_client(db)
    return api_client


def _verify(client, system, grant, key, claims):
    headers = {**factories.client_headers(system), "X-Govdx-Purpose": grant.request_number}
    return client.post(
        API, headers=headers, json={"resource": DEPARTMENT_RESOURCE, "key": key, "claims": claims}
    )


def _record(db, response):
    (record,) = db.scalars(
        select(AccessRecord).where(AccessRecord.request_id == response.headers["X-Request-Id"])
    ).all()
    return record


def test_a_matching_name_is_verified_without_handing_over_data(client, db, system, person):
    grant = factories.grant(db, items=["公民身份号码", "姓名"], access_modes=("verify",))
    name = person["population.name"]

    response = _verify(client, system, grant, person["population.id_number"], {"姓名": f" {name} "})

    assert response.status_code == 200, response.json()
    assert response.json()["result"] == "一致" and response.json()["items"] == {"姓名": "一致"}
    assert name not in response.text
    record = _record(db, response)
    assert (record.mode, record.outcome, record.items, record.rows_returned) == (
        "verify",
        "served",
        '["姓名"]',
        0,
    )


def test_a_wrong_name_is_not_verified(client, db, system, person):
    grant = factories.grant(db, items=["公民身份号码", "姓名"], access_modes=("verify",))

    response = _verify(client, system, grant, person["population.id_number"], {"姓名": "张冒名"})

    assert response.json()["result"] == "不一致"
    assert person["population.name"] not in response.text


def test_verifying_under_a_lookup_only_grant_is_refused(client, db, system, person):
    grant = factories.grant(db, items=["公民身份号码", "姓名"], access_modes=("lookup",))

    response = _verify(client, system, grant, person["population.id_number"], {"姓名": "张三"})

    assert (response.status_code, response.json()["code"]) == (403, "mode_not_granted")
    assert _record(db, response).reason_code == "mode_not_granted"


def test_claiming_an_item_beyond_the_grant_is_refused(client, db, system, person):
    grant = factories.grant(db, items=["公民身份号码", "姓名"], access_modes=("verify",))

    response = _verify(client, system, grant, person["population.id_number"], {"住址": "鼓楼区"})

    assert (response.status_code, response.json()["code"]) == (403, "items_beyond_grant")


def test_verifying_an_unknown_subject_is_404_and_logged(client, db, system, person):
    grant = factories.grant(db, items=["公民身份号码", "姓名"], access_modes=("verify",))

    response = _verify(client, system, grant, factories.id_number(99), {"姓名": "张三"})

    assert response.status_code == 404
    assert _record(db, response).outcome == "not_found"


def test_an_enterprise_name_is_verified_against_its_credit_code(client, db, system):
    company = factories.credit_code(45)
    values = {"legal_person.credit_code": company, "legal_person.name": "榕城核验测试有限公司"}
    factories.library_record(db, "legal_person", [company], values, department="shichang")
    grant = factories.grant(
        db, resource=factories.DIRECT_RESOURCE, items=["统一社会信用代码", "名称"], access_modes=("verify",)
    )
    headers = {**factories.client_headers(system), "X-Govdx-Purpose": grant.request_number}
    body = {"resource": factories.DIRECT_RESOURCE, "key": company, "claims": {"名称": "榕城核验测试有限公司"}}

    response = client.post(API, headers=headers, json=body)

    assert response.json()["result"] == "一致"
