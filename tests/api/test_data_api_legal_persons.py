"""The 法人库: one record per 统一社会信用代码, each loaded by the department that registered it.

市场监管 loads an enterprise, 编办 an organ (机关), 民政 a social organisation, each through the real
pipeline; the platform's 法人基础信息 serves each with the common elements and its type's own.
"""

import pytest

from ingest import flows
from ingest.registry import SourceConfigError
from tests import factories, sources

COMPOSITE = "102004/000001"  # 数据管理局 法人基础信息: every registering authority's records
INSTITUTIONS = "102002/000001"  # 编办 事业单位法人登记信息: 编办's own records
ENTERPRISE = factories.credit_code(7, prefix="91")
ORGAN = factories.credit_code(8, prefix="11")
SOCIETY = factories.credit_code(9, prefix="51")
ITEMS = ["名称", "企业类型", "经营（业务）范围", "机关类别", "社会组织类型"]


def _register(tmp_path, session_factory, department, authority, row, columns):
    spec = sources.spec(
        f"test_{department}",
        sources.write_csv(tmp_path / f"{department}.csv", [row]),
        department=department,
        library="legal_person",
        columns={"dm": "legal_person.credit_code", "mc": "legal_person.name", **columns},
        key=["legal_person.credit_code"],
        registering_authority=[authority],
    )
    return flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test")


@pytest.fixture
def registered(session_factory, tmp_path):
    loads = [
        (
            "shichang",
            "9",
            {"dm": ENTERPRISE, "mc": "榕城测试科技有限公司", "lx": "1130", "fw": "软件开发"},
            {"lx": "legal_person.type", "fw": "legal_person.business_scope"},
        ),
        (
            "bianban",
            "1",
            {"dm": ORGAN, "mc": "榕城市测试局", "lb": "行政机关", "fw": "主管测试工作"},
            {"lb": "legal_person.organ_kind", "fw": "legal_person.business_scope"},
        ),
        (
            "minzheng",
            "5",
            {"dm": SOCIETY, "mc": "榕城市测试协会", "lx": "1"},
            {"lx": "legal_person.social_org_type"},
        ),
    ]
    for department, authority, row, columns in loads:
        summary = _register(tmp_path, session_factory, department, authority, row, columns)
        assert (summary.inserted, summary.quarantined) == (1, 0), department


@pytest.fixture
def system(db):
    api_client, _secret = factories.api_client(db)
    return api_client


def _lookup(client, system, grant, resource, key):
    headers = {**factories.client_headers(system), "X-Govdx-Purpose": grant.request_number}
    return client.post("/api/v1/data/lookup", headers=headers, json={"resource": resource, "key": key})


def test_each_legal_person_is_one_record_with_its_types_own_elements(client, db, system, registered):
    grant = factories.grant(db, resource=COMPOSITE, items=ITEMS)

    records = {
        key: _lookup(client, system, grant, COMPOSITE, key).json()["records"]
        for key in (ENTERPRISE, ORGAN, SOCIETY)
    }

    assert records == {
        ENTERPRISE: [
            {
                "名称": "榕城测试科技有限公司",
                "企业类型": "1130",
                "经营（业务）范围": "软件开发",
                "机关类别": None,
                "社会组织类型": None,
            }
        ],
        ORGAN: [
            {
                "名称": "榕城市测试局",
                "企业类型": None,
                "经营（业务）范围": "主管测试工作",
                "机关类别": "行政机关",
                "社会组织类型": None,
            }
        ],
        SOCIETY: [
            {
                "名称": "榕城市测试协会",
                "企业类型": None,
                "经营（业务）范围": None,
                "机关类别": None,
                "社会组织类型": "1",
            }
        ],
    }


def test_a_registering_authoritys_view_holds_only_the_legal_persons_it_registered(
    client, db, system, registered
):
    grant = factories.grant(db, resource=INSTITUTIONS, items=["名称", "机关类别"])

    organ = _lookup(client, system, grant, INSTITUTIONS, ORGAN)
    enterprise = _lookup(client, system, grant, INSTITUTIONS, ENTERPRISE)

    assert organ.json()["records"] == [{"名称": "榕城市测试局", "机关类别": "行政机关"}]
    assert enterprise.status_code == 404


def test_a_department_loading_another_authoritys_legal_persons_is_refused(session_factory, tmp_path):
    row = {"dm": ENTERPRISE, "mc": "榕城测试科技有限公司"}

    with pytest.raises(SourceConfigError, match="not the authoritative source"):
        _register(tmp_path, session_factory, "bianban", "9", row, {})


def test_a_legal_persons_source_that_declares_no_registering_authority_is_refused(session_factory, tmp_path):
    spec = sources.spec(
        "test_undeclared",
        sources.write_csv(tmp_path / "undeclared.csv", [{"dm": ENTERPRISE, "mc": "榕城测试科技有限公司"}]),
        department="shichang",
        library="legal_person",
        columns={"dm": "legal_person.credit_code", "mc": "legal_person.name"},
        key=["legal_person.credit_code"],
    )

    with pytest.raises(
        SourceConfigError, match="declare the partition of its records with registering_authority"
    ):
        flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test")
