"""The data plane at the service layer: grants carry masking, every library is read by its key, the
purpose picks the grant, the quota counts per Beijing day, exports stream, and no record means no data.
"""

import io
from datetime import timedelta

import pyarrow.parquet as pq
import pytest
from pydantic import ValidationError
from sqlalchemy import delete, func, select
from sqlalchemy.exc import NoResultFound

from authz.access import export, lookup
from authz.access.exceptions import Refused, SubjectNotFound
from authz.access.group_commit import GroupCommitFailed
from authz.access.models import GrantUsage
from authz.access.schemas import BatchIn, Call, CertificateKey, LookupIn
from authz.access.settings import DataSettings
from authz.audit.models import AccessRecord, AuditHead
from authz.calendar.service import local_date, start_of_day
from authz.sharing import service as sharing_service
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import RequestAction
from catalog_schema.database import utcnow
from catalog_schema.department import service as department_service
from catalog_schema.errors import InvalidInput
from catalog_schema.user import service as user_service
from ingest import flows
from tests import factories, sources
from tests.conftest import TEST_SECRET
from tests.factories import DEPARTMENT_RESOURCE, DIRECT_RESOURCE

PENALTIES = "104002/000001"  # 信用 行政处罚信息（双公示）: 无条件共享, provided directly
SUBSISTENCE = "203001/000001"  # 民政 低保救助对象信息: a dataset (库表交换)
DEATHS = "101004/000001"  # 卫健 死亡人员信息: a view of 卫健's own elements
BUSINESS_LICENCE = "105001/000001"  # 市场监管 营业执照电子证照: control parameters → 市场监管 decides


@pytest.fixture
def system(db):
    api_client, _ = factories.api_client(db)
    return api_client


def _call(system, grant, request_id="svc-1", purpose=None):
    token = factories.client_headers(system)["Authorization"].removeprefix("Bearer ")
    return Call(
        token=token,
        purpose=purpose or grant.request_number,
        operator=None,
        request_id=request_id,
        client_ip="127.0.0.1",
    )


def _in_own_session(session_factory, work):
    """Run a data call as the route does: in a session of its own, which it commits itself."""
    with session_factory() as session:
        return work(session)


def _lookup(session_factory, call, resource, key, **kwargs):
    data = LookupIn(resource=resource, key=key)
    return _in_own_session(
        session_factory,
        lambda s: lookup.lookup(db=s, secret=TEST_SECRET, call=call, data=data, **kwargs),
    )


def _person(db, seed):
    values = factories.person(seed)
    factories.library_record(db, "population", [values["population.id_number"]], values)
    return values["population.id_number"]


def _usage(db, grant):
    return db.scalar(
        select(func.coalesce(func.sum(GrantUsage.subjects), 0)).where(GrantUsage.grant_id == grant.id)
    )


# -- grants carry masking --------------------------------------------------------------------------


def test_approval_without_masking_masks_highly_sensitive_items_by_default(db):
    grant = factories.grant(db, items=["公民身份号码", "姓名", "出生日期", "住址", "联系电话"])

    assert grant.masking == {
        "公民身份号码": "id_number",
        "姓名": "none",
        "出生日期": "none",
        "住址": "region",
        "联系电话": "phone",
    }


def test_provider_masking_applies_and_items_it_does_not_name_get_the_default(db):
    grant = factories.grant(db, items=["公民身份号码", "姓名"], masking={"姓名": "surname"})

    assert grant.masking == {"公民身份号码": "id_number", "姓名": "surname"}


def test_provider_may_unmask_a_highly_sensitive_item_explicitly(db):
    grant = factories.grant(db, items=["公民身份号码", "姓名"], masking={"公民身份号码": "none"})

    assert grant.masking["公民身份号码"] == "none"


def test_platform_provide_sets_masking_on_the_direct_route(db):
    grant = factories.grant(
        db, resource=DIRECT_RESOURCE, items=["统一社会信用代码", "名称"], masking={"名称": "keep_ends"}
    )

    assert grant.masking == {"统一社会信用代码": "none", "名称": "keep_ends"}


def _pending(db):
    requester = user_service.get_by_username(db=db, username="requester")
    admin = user_service.get_by_username(db=db, username="catalog_admin")
    request = sharing_service.submit(db=db, data=RequestCreate(**factories.sharing_request()), user=requester)
    sharing_service.act(db=db, request=request, action=RequestAction.accept, data=TransitionIn(), user=admin)
    return request


def test_masking_an_item_outside_the_grant_is_refused_with_its_path(db):
    request = _pending(db)
    approver = user_service.get_by_username(db=db, username="approver")
    data = TransitionIn(items=["姓名"], masking={"出生日期": "year_only"})

    with pytest.raises(InvalidInput) as refused:
        sharing_service.act(db=db, request=request, action=RequestAction.approve, data=data, user=approver)

    assert refused.value.code == "invalid_masking"
    assert [p.path for p in refused.value.problems] == ["masking.出生日期"]
    assert request.grant is None


def test_an_unknown_masking_rule_fails_validation_at_its_path():
    with pytest.raises(ValidationError) as invalid:
        TransitionIn(masking={"姓名": "scramble"})

    assert [e["loc"] for e in invalid.value.errors()] == [("masking", "姓名")]


def test_masking_can_only_be_set_when_approving_or_providing(db):
    requester = user_service.get_by_username(db=db, username="requester")
    admin = user_service.get_by_username(db=db, username="catalog_admin")
    request = sharing_service.submit(db=db, data=RequestCreate(**factories.sharing_request()), user=requester)

    with pytest.raises(InvalidInput) as refused:
        sharing_service.act(
            db=db,
            request=request,
            action=RequestAction.accept,
            data=TransitionIn(masking={"姓名": "surname"}),
            user=admin,
        )

    assert refused.value.code == "masking_not_allowed"


# -- every library by its key ----------------------------------------------------------------------


def test_credit_lookup_by_subject_code_serves_every_decision_about_the_subject(db, session_factory, system):
    company = factories.credit_code(42)
    for number in ("榕市监罚〔2026〕1号", "榕市监罚〔2026〕2号"):
        values = {
            "credit.subject_code": company,
            "credit.decision_doc_no": number,
            "credit.penalty_amount": "5000",
            "credit.kind": "02",  # 行政处罚: the view's kind
        }
        factories.library_record(db, "credit", [company, number], values, department="xinyong")
    other = factories.credit_code(43)
    factories.library_record(db, "credit", [other, "X"], {"credit.subject_code": other}, department="xinyong")
    grant = factories.grant(db, resource=PENALTIES, items=["主体代码", "决定文书号", "罚款金额"])

    served = _lookup(session_factory, _call(system, grant), PENALTIES, company.lower())

    assert sorted(r["决定文书号"] for r in served.records) == ["榕市监罚〔2026〕1号", "榕市监罚〔2026〕2号"]
    # A subject code may be an ID number: it is masked as one (the credit code's ends stay).
    assert {r["主体代码"] for r in served.records} == {company[:6] + "*" * 8 + company[-4:]}


def test_certificate_lookup_by_type_code_and_number(db, session_factory, system):
    type_code = department_service.get_by_ref(db=db, ref="shichang").credit_code + "001"  # 营业执照
    values = {"certificate.type_code": type_code, "certificate.number": "N-0001", "certificate.status": "01"}
    factories.library_record(db, "certificate", [type_code, "N-0001"], values, department="shichang")
    grant = factories.grant(db, resource=BUSINESS_LICENCE, items=["证照编号", "证照状态"])

    served = _lookup(
        session_factory,
        _call(system, grant),
        BUSINESS_LICENCE,
        CertificateKey(type_code=type_code, number="N-0001"),
    )

    assert served.records == [{"证照编号": "N-0001", "证照状态": "01"}]


def test_a_certificate_view_does_not_serve_another_issuers_type(db, session_factory, system):
    driving = department_service.get_by_ref(db=db, ref="gongan").credit_code + "001"  # 驾驶证
    values = {"certificate.type_code": driving, "certificate.number": "N-0002", "certificate.status": "01"}
    factories.library_record(db, "certificate", [driving, "N-0002"], values, department="shujuju")
    grant = factories.grant(db, resource=BUSINESS_LICENCE, items=["证照编号", "证照状态"])
    key = CertificateKey(type_code=driving, number="N-0002")

    with pytest.raises(SubjectNotFound):
        _lookup(session_factory, _call(system, grant), BUSINESS_LICENCE, key)


def test_a_department_view_serves_its_providers_values_only(db, session_factory, system):
    person = _person(db, 71)  # 公安's record only
    dead = _person(db, 72)
    factories.library_record(db, "population", [dead], {"population.death_flag": "1"}, department="weijian")
    grant = factories.grant(db, resource=DEATHS, items=["公民身份号码", "死亡标识"])

    with pytest.raises(SubjectNotFound):
        _lookup(session_factory, _call(system, grant), DEATHS, person)
    served = _lookup(session_factory, _call(system, grant, request_id="svc-2"), DEATHS, dead)

    assert served.records == [{"公民身份号码": dead[:6] + "*" * 8 + dead[-4:], "死亡标识": "1"}]


def test_certificate_named_by_a_plain_string_is_an_invalid_key(db, session_factory, system):
    grant = factories.grant(db, resource=BUSINESS_LICENCE, items=["证照编号"])

    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, grant), BUSINESS_LICENCE, "N-0001")

    assert refused.value.code == "invalid_key"


def test_legal_person_lookup_by_credit_code_under_a_direct_grant(db, session_factory, system):
    company = factories.credit_code(44)
    values = {"legal_person.credit_code": company, "legal_person.name": "榕城测试有限公司"}
    factories.library_record(db, "legal_person", [company], values, department="shichang")
    grant = factories.grant(db, resource=DIRECT_RESOURCE, items=["统一社会信用代码", "名称"])

    served = _lookup(session_factory, _call(system, grant), DIRECT_RESOURCE, company)

    assert served.records == [{"统一社会信用代码": company, "名称": "榕城测试有限公司"}]


def test_id_number_whose_address_code_is_younger_than_its_holder_is_looked_up(db, session_factory, system):
    born_1950 = factories.id_number(5, born="19500101")  # 350102 (鼓楼区) was created decades later
    grant = factories.grant(db, items=["姓名"])

    with pytest.raises(SubjectNotFound):
        _lookup(session_factory, _call(system, grant), DEPARTMENT_RESOURCE, born_1950)


def test_pilot_era_credit_code_with_a_bad_check_character_is_looked_up_not_refused(
    db, session_factory, system
):
    code = factories.credit_code(45)
    pilot = code[:-1] + ("0" if code[-1] != "0" else "1")
    grant = factories.grant(db, resource=DIRECT_RESOURCE, items=["名称"])

    with pytest.raises(SubjectNotFound):
        _lookup(session_factory, _call(system, grant), DIRECT_RESOURCE, pilot)


# -- the grant a call is served under --------------------------------------------------------------


def test_purpose_picks_the_grant_it_names(db, session_factory, system):
    key = _person(db, 1)
    old = factories.grant(db, items=["姓名"], business_reference="RS-OLD")
    factories.end_grant(db, old, "revoke")
    new = factories.grant(db, items=["姓名"], business_reference="RS-NEW")

    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, old, "svc-old"), DEPARTMENT_RESOURCE, key)
    served = _lookup(session_factory, _call(system, new, "svc-new"), DEPARTMENT_RESOURCE, key)

    assert refused.value.code == "grant_revoked"
    assert served.grant == new.request_number


# -- the quota -------------------------------------------------------------------------------------


def test_quota_is_counted_per_beijing_day(db, session_factory, system):
    keys = [_person(db, 1), _person(db, 2)]
    grant = factories.grant(db, items=["姓名"], daily_quota=1)
    midnight = start_of_day(local_date(utcnow()) + timedelta(days=1))

    before = _lookup(
        session_factory,
        _call(system, grant, "d1"),
        DEPARTMENT_RESOURCE,
        keys[0],
        now=midnight - timedelta(minutes=1),
    )
    after = _lookup(
        session_factory,
        _call(system, grant, "d2"),
        DEPARTMENT_RESOURCE,
        keys[1],
        now=midnight + timedelta(minutes=1),
    )

    assert before.records and after.records
    days = db.execute(
        select(GrantUsage.day, GrantUsage.subjects).where(GrantUsage.grant_id == grant.id)
    ).all()
    assert sorted(days) == [(local_date(midnight) - timedelta(days=1), 1), (local_date(midnight), 1)]


def test_a_batch_over_quota_serves_nothing_and_counts_nothing(db, session_factory, system):
    keys = [_person(db, 1), _person(db, 2), _person(db, 3)]
    batchable = factories.people_resource(db)  # 人口基本信息 is 逐条查询 only
    grant = factories.grant(db, resource=batchable, items=["姓名"], access_modes=("batch",), daily_quota=2)
    data = BatchIn(resource=batchable, keys=keys)

    with pytest.raises(Refused) as refused:
        _in_own_session(
            session_factory,
            lambda s: lookup.batch(db=s, secret=TEST_SECRET, call=_call(system, grant), data=data),
        )

    assert refused.value.code == "over_quota"
    assert _usage(db, grant) == 0
    outcomes = db.scalars(select(AccessRecord.outcome).where(AccessRecord.request_id == "svc-1")).all()
    assert outcomes == ["refused"] * 3


# -- no record, no data ----------------------------------------------------------------------------


def test_when_the_access_log_cannot_be_written_nothing_is_served_or_counted(db, session_factory, system):
    key = _person(db, 1)
    grant = factories.grant(db, items=["姓名"])
    db.execute(delete(AuditHead))
    db.flush()

    with pytest.raises(GroupCommitFailed) as failed:
        _lookup(session_factory, _call(system, grant), DEPARTMENT_RESOURCE, key)

    assert isinstance(failed.value.__cause__, NoResultFound)

    assert _usage(db, grant) == 0
    assert db.scalar(select(func.count()).select_from(AccessRecord)) == 0


# -- export ----------------------------------------------------------------------------------------


def test_export_streams_one_row_group_per_export_rows_subjects(db, session_factory, system):
    keys = [_person(db, seed) for seed in (1, 2, 3)]
    exportable = factories.people_resource(db)  # 人口基本信息 forbids 批量导出
    grant = factories.grant(db, resource=exportable, items=["公民身份号码"], access_modes=("bulk_export",))
    plan = _in_own_session(
        session_factory,
        lambda s: export.open_export(
            db=s, secret=TEST_SECRET, call=_call(system, grant), resource=exportable, items=None
        ),
    )

    with session_factory() as stream, session_factory() as log_db:
        chunks = list(
            export.export_chunks(db=stream, log_db=log_db, plan=plan, settings=DataSettings(export_rows=1))
        )

    parquet = pq.ParquetFile(io.BytesIO(b"".join(chunks)))
    assert len(chunks) == 4 and parquet.metadata.num_row_groups == 3
    assert sorted(parquet.read().column("公民身份号码").to_pylist()) == sorted(
        k[:6] + "********" + k[-4:] for k in keys
    )


def test_a_dataset_resource_is_read_from_its_providers_rows(db, session_factory, system, tmp_path):
    flows.ingest(
        sources.subsistence(tmp_path / "dibao.csv", [sources.subsistence_row(1)]),
        session_factory=session_factory,
        sources_dir=tmp_path,
        run_id="test",
    )
    grant = factories.grant(db, consumer="renshe", resource=SUBSISTENCE, items=["公民身份号码", "救助类别"])

    served = _lookup(session_factory, _call(system, grant), SUBSISTENCE, sources.id_number(1))

    key = sources.id_number(1)
    assert served.records == [{"公民身份号码": key[:6] + "*" * 8 + key[-4:], "救助类别": "01"}]
