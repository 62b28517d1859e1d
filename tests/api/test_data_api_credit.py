"""Credit as records: a 行政处罚 view serves penalties only, each with its 决定文书号 and 处罚机关.

信用办's 双公示 files are loaded by the real pipeline into the credit library, each record with its
kind (信用信息类别); 人社's system reads them under a grant of 行政处罚信息（双公示）.
"""

import pytest
from sqlalchemy import func, select

from catalog_schema.library.models import LibraryRecord
from ingest import flows
from ingest.registry import SourceConfigError
from tests import factories, sources

PENALTIES = "104002/000001"  # 信用办 行政处罚信息（双公示）: a credit view of kind 02
SERIOUS = "208001/000001"  # 市场监管 严重违法失信名单信息: kind 05, records past their 公示期 withheld
LICENCES = "104001/000001"  # 信用办 行政许可信息（双公示）: a credit view of kind 01
COMPANY = factories.credit_code(42)


def _spec(name, path, rows, columns, kind, department="xinyong"):
    return sources.spec(
        name,
        sources.write_csv(path, rows),
        department=department,
        library="credit",
        columns=columns,
        key=["credit.subject_code", "credit.decision_doc_no"],
        constants={"credit.kind": kind},
    )


@pytest.fixture
def decisions(session_factory, tmp_path):
    """One company with a 行政许可 and two 行政处罚, each loaded by 信用办 (it holds both kinds)."""
    licence = {
        "dm": COMPANY,
        "mc": "榕城测试有限公司",
        "wsh": "榕卫许〔2021〕70号",
        "jg": "榕城市卫生健康委员会",
    }
    penalties = [
        {
            "dm": COMPANY,
            "mc": "榕城测试有限公司",
            "wsh": f"榕市监罚〔2026〕{n}号",
            "jg": "榕城市市场监督管理局",
        }
        for n in (1, 2)
    ]
    columns = {
        "dm": "credit.subject_code",
        "mc": "credit.subject_name",
        "wsh": "credit.decision_doc_no",
        "jg": "credit.deciding_authority",
    }
    for name, rows, kind in (("test_xuke", [licence], "01"), ("test_chufa", penalties, "02")):
        spec = _spec(name, tmp_path / f"{name}.csv", rows, columns, kind)
        summary = flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test")
        assert (summary.inserted, summary.quarantined) == (len(rows), 0)


@pytest.fixture
def system(db):
    api_client, _secret = factories.api_client(db)
    return api_client


def _lookup(client, system, grant, resource):
    headers = {**factories.client_headers(system), "X-Govdx-Purpose": grant.request_number}
    return client.post("/api/v1/data/lookup", headers=headers, json={"resource": resource, "key": COMPANY})


def test_a_penalty_lookup_serves_penalties_only_with_their_number_and_authority(
    client, db, system, decisions
):
    grant = factories.grant(db, resource=PENALTIES, items=["决定文书号", "处罚机关"])

    response = _lookup(client, system, grant, PENALTIES)

    assert response.status_code == 200, response.json()
    assert sorted(response.json()["records"], key=lambda r: r["决定文书号"]) == [
        {"决定文书号": "榕市监罚〔2026〕1号", "处罚机关": "榕城市市场监督管理局"},
        {"决定文书号": "榕市监罚〔2026〕2号", "处罚机关": "榕城市市场监督管理局"},
    ]


def test_a_licence_lookup_serves_the_licence_only(client, db, system, decisions):
    grant = factories.grant(db, resource=LICENCES, items=["决定文书号", "许可机关"])

    response = _lookup(client, system, grant, LICENCES)

    assert response.json()["records"] == [
        {"决定文书号": "榕卫许〔2021〕70号", "许可机关": "榕城市卫生健康委员会"}
    ]


def test_a_source_of_a_kind_without_a_registered_department_is_refused(db, session_factory, tmp_path):
    row = {"dm": COMPANY, "mc": "榕城测试有限公司", "wsh": "榕X〔2026〕1号"}
    columns = {"dm": "credit.subject_code", "mc": "credit.subject_name", "wsh": "credit.decision_doc_no"}
    spec = _spec("test_unknown_kind", tmp_path / "unknown.csv", [row], columns, "99")

    with pytest.raises(SourceConfigError, match=r"partition\(s\) 99 of the credit library"):
        flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test")

    assert db.scalar(select(func.count()).select_from(LibraryRecord)) == 0


def test_a_source_of_a_kind_another_department_decides_writes_nothing(db, session_factory, tmp_path):
    row = {"dm": COMPANY, "mc": "榕城测试有限公司", "wsh": "（2026）闽01执1号"}
    columns = {"dm": "credit.subject_code", "mc": "credit.subject_name", "wsh": "credit.decision_doc_no"}
    spec = _spec("test_courts_kind", tmp_path / "courts.csv", [row], columns, "03")  # 法院's 失信被执行人

    with pytest.raises(SourceConfigError, match="not the authoritative source"):
        flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test")

    assert db.scalar(select(func.count()).select_from(LibraryRecord)) == 0


COLUMNS = {
    "dm": "credit.subject_code",
    "mc": "credit.subject_name",
    "wsh": "credit.decision_doc_no",
    "jzrq": "credit.publicity_end_date",
}


def _load(tmp_path, session_factory, name, department, kind, rows):
    spec = _spec(name, tmp_path / f"{name}.csv", rows, COLUMNS, kind, department)
    summary = flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test")
    assert (summary.inserted, summary.quarantined) == (len(rows), 0)


def _decision(number, ends):
    return {"dm": COMPANY, "mc": "榕城测试有限公司", "wsh": number, "jzrq": ends}


def test_a_penalty_is_served_with_its_publicity_status(client, db, system, session_factory, tmp_path):
    rows = [_decision("榕市监罚〔2020〕1号", "2021-06-30"), _decision("榕市监罚〔2026〕9号", "2029-06-30")]
    _load(tmp_path, session_factory, "test_chufa_gs", "xinyong", "02", rows)
    grant = factories.grant(db, resource=PENALTIES, items=["决定文书号", "公示状态"])

    response = _lookup(client, system, grant, PENALTIES)

    assert sorted(response.json()["records"], key=lambda r: r["决定文书号"]) == [
        {"决定文书号": "榕市监罚〔2020〕1号", "公示状态": "公示期满"},
        {"决定文书号": "榕市监罚〔2026〕9号", "公示状态": "公示中"},
    ]


def test_a_listing_past_its_publicity_is_withheld_where_the_resource_says_so(
    client, db, system, session_factory, tmp_path
):
    rows = [_decision("榕市监严〔2021〕3号", "2024-03-31"), _decision("榕市监严〔2025〕8号", "2028-05-31")]
    _load(tmp_path, session_factory, "test_yanzhong", "shichang", "05", rows)
    grant = factories.grant(db, resource=SERIOUS, items=["列入决定书文号", "公示状态"])

    response = _lookup(client, system, grant, SERIOUS)

    assert response.json()["records"] == [{"列入决定书文号": "榕市监严〔2025〕8号", "公示状态": "公示中"}]


@pytest.mark.parametrize(
    ("department", "kind", "resource", "item"),
    [
        ("shichang", "04", "104004/000001", "列入决定书文号"),  # 经营异常名录
        ("weijian", "06", "104005/000001", "检查文书号"),  # 监督检查
        ("shichang", "07", "104006/000001", "抽查报告编号"),  # 质量抽检
        ("fagai", "08", "104007/000001", "认定文件号"),  # 守信红名单
    ],
)
def test_each_kind_is_loaded_by_its_deciding_department_and_served_by_its_view(
    client, db, system, session_factory, tmp_path, department, kind, resource, item
):
    _load(
        tmp_path,
        session_factory,
        f"test_kind_{kind}",
        department,
        kind,
        [_decision(f"榕测〔2026〕{kind}号", "")],
    )
    grant = factories.grant(db, resource=resource, items=[item])

    response = _lookup(client, system, grant, resource)

    assert response.json()["records"] == [{item: f"榕测〔2026〕{kind}号"}]
