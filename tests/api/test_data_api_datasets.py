"""The data plane over HTTP for datasets (库表交换): rows loaded by the real pipeline, served per grant.

民政's 低保 table is loaded into the dataset of 低保救助对象信息 and 法院's 失信被执行人 list into
that of 失信被执行人信息, by the ingest flow itself; 人社's system reads them under grants made
through the real workflow. A subject's rows are all served (one per 认定, one per case), projected
to the granted items and masked, and every subject named is in the access log.
"""

import io

import pyarrow.parquet as pq
import pytest
from sqlalchemy import select

from authz.audit.models import AccessRecord
from ingest import flows
from tests import factories, sources
from tests.sources import DISHONEST_DEBTORS, SUBSISTENCE

API = "/api/v1/data"
ON_SUBSISTENCE = ["公民身份号码", "姓名", "救助类别", "月保障金额", "认定日期"]


def _load(spec, session_factory, tmp_path):
    summary = flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test")
    assert summary.quarantined == 0
    return summary


@pytest.fixture
def client_address():
    """人社's system calls from this machine: 低保's allowlist lets 本机（演示） 127.0.0.1 in."""
    return ("127.0.0.1", 50000)


@pytest.fixture
def subsistence(session_factory, tmp_path):
    """民政's 低保 table: person 1 once (城市低保), person 2 twice (re-assessed 特困供养)."""
    rows = [
        sources.subsistence_row(1),
        sources.subsistence_row(2, rdrq="2024-09-01", jzlb="02", ybzje="980.00"),
        sources.subsistence_row(2, rdrq="2026-06-01", jzlb="03", ybzje="1800.00"),
    ]
    _load(sources.subsistence(tmp_path / "dibao.csv", rows), session_factory, tmp_path)
    return [sources.id_number(1), sources.id_number(2)]


@pytest.fixture
def system(db):
    api_client, _secret = factories.api_client(db)
    return api_client


def _headers(system, grant):
    return {**factories.client_headers(system), "X-Govdx-Purpose": grant.request_number}


def _lookup(client, headers, resource, key, **body):
    return client.post(f"{API}/lookup", headers=headers, json={"resource": resource, "key": key, **body})


def _records(db, response):
    request_id = response.headers["X-Request-Id"]
    return list(
        db.scalars(
            select(AccessRecord).where(AccessRecord.request_id == request_id).order_by(AccessRecord.seq)
        )
    )


def _masked(id_number):
    return id_number[:6] + "********" + id_number[-4:]


def test_a_subsistence_lookup_of_a_person_on_it_serves_category_and_amount_from_civil_affairs(
    client, db, system, subsistence
):
    grant = factories.grant(db, resource=SUBSISTENCE, items=ON_SUBSISTENCE)

    response = _lookup(client, _headers(system, grant), SUBSISTENCE, subsistence[0])

    assert response.status_code == 200, response.json()
    assert response.json()["records"] == [
        {
            "公民身份号码": _masked(subsistence[0]),
            "姓名": "测试1",
            "救助类别": "01",
            "月保障金额": "1520.00",
            "认定日期": "2025-03-01",
        }
    ]


def test_a_reassessed_person_gets_both_subsistence_records(client, db, system, subsistence):
    grant = factories.grant(db, resource=SUBSISTENCE, items=["救助类别", "月保障金额", "认定日期"])

    response = _lookup(client, _headers(system, grant), SUBSISTENCE, subsistence[1])

    assert response.status_code == 200, response.json()
    assert sorted(response.json()["records"], key=lambda r: r["认定日期"]) == [
        {"救助类别": "02", "月保障金额": "980.00", "认定日期": "2024-09-01"},
        {"救助类别": "03", "月保障金额": "1800.00", "认定日期": "2026-06-01"},
    ]
    (record,) = _records(db, response)
    assert (record.outcome, record.rows_returned, record.subjects) == ("served", 2, 1)


def test_a_person_not_on_subsistence_is_404_and_logged_not_found(client, db, keyring, system, subsistence):
    grant = factories.grant(db, resource=SUBSISTENCE, items=ON_SUBSISTENCE)
    stranger = sources.id_number(77)

    response = _lookup(client, _headers(system, grant), SUBSISTENCE, stranger)

    assert response.status_code == 404 and response.json()["code"] == "subject_not_found"
    (record,) = _records(db, response)
    assert (record.outcome, record.rows_returned) == ("not_found", 0)
    assert record.subject_fingerprint == keyring.fingerprint(stranger)


def test_a_served_subsistence_lookup_is_logged_by_the_persons_fingerprint(
    client, db, keyring, system, subsistence
):
    grant = factories.grant(db, resource=SUBSISTENCE, items=ON_SUBSISTENCE)
    key = subsistence[0]

    response = _lookup(client, _headers(system, grant), SUBSISTENCE, f"{key[:6]} {key[6:].lower()}")

    (record,) = _records(db, response)
    assert (record.outcome, record.resource_code, record.grant_id) == ("served", SUBSISTENCE, grant.id)
    assert record.subject_fingerprint == keyring.fingerprint(key)


def test_subsistence_items_beyond_the_grant_are_refused(client, db, system, subsistence):
    grant = factories.grant(db, resource=SUBSISTENCE, items=["救助类别"])

    response = _lookup(client, _headers(system, grant), SUBSISTENCE, subsistence[0], items=["月保障金额"])

    assert response.status_code == 403 and response.json()["code"] == "items_beyond_grant"
    (record,) = _records(db, response)
    assert (record.outcome, record.reason_code) == ("refused", "items_beyond_grant")


def test_a_malformed_id_number_is_an_invalid_key_for_subsistence(client, db, system, subsistence):
    grant = factories.grant(db, resource=SUBSISTENCE, items=ON_SUBSISTENCE)
    bad = subsistence[0][:-1] + ("1" if subsistence[0].endswith("0") else "0")

    response = _lookup(client, _headers(system, grant), SUBSISTENCE, bad)

    assert response.status_code == 403 and response.json()["code"] == "invalid_key"
    assert response.json()["problems"][0]["message"] == "不是有效的公民身份号码"


def test_the_providers_masking_applies_to_dataset_items(client, db, system, subsistence):
    grant = factories.grant(
        db, resource=SUBSISTENCE, items=["公民身份号码", "姓名"], masking={"姓名": "surname"}
    )

    response = _lookup(client, _headers(system, grant), SUBSISTENCE, subsistence[0])

    assert response.json()["records"] == [{"公民身份号码": _masked(subsistence[0]), "姓名": "测*"}]
    assert response.json()["masking"] == {"公民身份号码": "id_number", "姓名": "surname"}


def test_a_batch_of_subsistence_answers_each_person_with_all_their_records(client, db, system, subsistence):
    grant = factories.grant(db, resource=SUBSISTENCE, items=["救助类别"], access_modes=("batch",))
    keys = [subsistence[1], sources.id_number(77), subsistence[0]]

    response = client.post(
        f"{API}/batch", headers=_headers(system, grant), json={"resource": SUBSISTENCE, "keys": keys}
    )

    assert response.status_code == 200, response.json()
    assert [
        (r["found"], sorted(x["救助类别"] for x in r["records"])) for r in response.json()["results"]
    ] == [
        (True, ["02", "03"]),
        (False, []),
        (True, ["01"]),
    ]
    assert sorted(r.outcome for r in _records(db, response)) == ["not_found", "served", "served"]


def test_export_of_a_dataset_streams_every_current_row(client, db, system, subsistence):
    grant = factories.grant(
        db, resource=SUBSISTENCE, items=["公民身份号码", "救助类别"], access_modes=("bulk_export",)
    )

    response = client.get(f"{API}/export", headers=_headers(system, grant), params={"resource": SUBSISTENCE})

    assert response.status_code == 200, response.text
    table = pq.read_table(io.BytesIO(response.content)).to_pylist()
    assert sorted((r["公民身份号码"], r["救助类别"]) for r in table) == sorted(
        [(_masked(subsistence[0]), "01"), (_masked(subsistence[1]), "02"), (_masked(subsistence[1]), "03")]
    )
    opened, traced = _records(db, response)  # the export's record, then its one row group's trace
    assert (opened.outcome, opened.mode, opened.subjects) == ("served", "bulk_export", 2)
    assert (traced.mode, traced.subjects, traced.rows_returned) == ("bulk_export", 2, 3)


def test_a_dishonest_debtor_lookup_serves_the_courts_full_record(
    client, db, system, session_factory, tmp_path
):
    company = factories.credit_code(42)
    cases = ["（2025）闽0102执1203号", "（2026）闽01执88号"]
    rows = [sources.dishonest_debtor(company, case) for case in cases]
    rows.append(sources.dishonest_debtor(factories.credit_code(43), "（2026）闽0103执5号"))
    _load(sources.dishonest_debtors(tmp_path / "shixin.csv", rows), session_factory, tmp_path)
    items = [
        "主体代码",
        "被执行人名称",
        "失信被执行人标识",
        "执行案号",
        "执行法院",
        "失信行为情形",
        "发布日期",
    ]
    grant = factories.grant(db, resource=DISHONEST_DEBTORS, items=items, masking={"主体代码": "none"})

    response = _lookup(client, _headers(system, grant), DISHONEST_DEBTORS, company)

    assert response.status_code == 200, response.json()
    assert sorted(response.json()["records"], key=lambda r: r["执行案号"]) == [
        {
            "主体代码": company,
            "被执行人名称": "榕城测试贸易有限公司",
            "失信被执行人标识": "1",
            "执行案号": case,
            "执行法院": "榕城市鼓楼区人民法院",
            "失信行为情形": "有履行能力而拒不履行生效法律文书确定义务",
            "发布日期": "2026-05-18",
        }
        for case in sorted(cases)
    ]
