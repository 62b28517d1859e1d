"""Builders of valid input documents; a test overrides only what it is about."""

from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session
from stdnum.cn import uscc

from authz.clients import service as clients_service
from authz.clients.models import ApiClient
from catalog_schema.department import service as department_service
from catalog_schema.user import passwords
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role

# What the test app signs tokens with (tests/conftest.py builds its settings from it).
TEST_SECRET = "test-secret-" + "x" * 40


def credit_code(seed: int, prefix: str = "11") -> str:
    """A valid GB 32100 code in region 350100 (organisation code + check digits): a government organ
    by default, or of ``prefix`` (registering authority + institution type, "91" an enterprise)."""
    digits = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = f"{seed:08d}"
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(digits.index(c) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    org = body + ("X" if check == 10 else "0" if check == 11 else str(check))
    partial = f"{prefix}350100" + org
    return partial + uscc.calc_check_digit(partial)


def department(**overrides: Any) -> dict[str, Any]:
    doc = {
        "slug": "shenji",
        "name": "榕城市审计局",
        "credit_code": credit_code(77001),
        "region_code": "350100",
        "kind": "government",
        "supervisor": {
            "name": "李督办",
            "phone": "0591-87001234",
            "email": "dubian@shenji.example.cn",
        },
    }
    doc.update(overrides)
    return doc


def element(**overrides: Any) -> dict[str, Any]:
    doc = {
        "code": "population.test_element",
        "name": "测试数据元",
        "library": "population",
        "data_type": "C",
        "length": 50,
        "sensitivity": "internal",
        "authoritative": "gongan",
        "verification": [],
    }
    doc.update(overrides)
    return doc


def resource(**overrides: Any) -> dict[str, Any]:
    doc = {
        "name": "测试人口信息",
        "category": {"class": "basic", "item": "01", "catalog": "009"},
        "provider": "gongan",
        "abstract": "用于测试的人口信息资源。",
        "format": "database",
        "share": {"type": "unconditional", "method": "api"},
        "update_cycle": "daily",
        "items": [
            {
                "name": "公民身份号码",
                "data_type": "C",
                "length": 18,
                "element": "population.id_number",
            },
            {"name": "姓名", "data_type": "C", "length": 50, "element": "population.name"},
        ],
    }
    doc.update(overrides)
    return doc


# Demo resources, one per route of 统一受理、平台授权.
DIRECT_RESOURCE = "102001/000001"  # 市场监管 企业登记基本信息: 无条件共享, no control parameters
DEPARTMENT_RESOURCE = "101001/000001"  # 公安 人口基本信息: 有条件共享 → 公安 decides
NOT_SHARED_RESOURCE = "301001/000001"  # 公安 居民身份证指纹信息: 不予共享


def sharing_request(**overrides: Any) -> dict[str, Any]:
    """A request of the demo requester (人社) for 公安's 人口基本信息."""
    doc: dict[str, Any] = {
        "resource": DEPARTMENT_RESOURCE,
        "items": ["公民身份号码", "姓名", "出生日期"],
        "purpose": "养老保险待遇资格认证时核验参保人身份",
        "legal_basis": "《社会保险法》第七十三条",
        "business_reference": "RS-2026-0001",
        "access_modes": ["lookup"],
        "valid_from": "2026-10-01",
        "valid_until": "2027-09-30",
        "expected_volume": 500,
    }
    doc.update(overrides)
    return doc


def direct_request(**overrides: Any) -> dict[str, Any]:
    """A request for 市场监管's 企业登记基本信息, which the platform provides directly."""
    doc = sharing_request(resource=DIRECT_RESOURCE, items=["统一社会信用代码", "名称", "登记状态"])
    doc.update(overrides)
    return doc


TEST_PASSWORD = "test-password-1"


@lru_cache(maxsize=1)
def _password_hash() -> str:
    return passwords.hash_password(TEST_PASSWORD)  # Argon2 is slow on purpose: hash once per run


def user(db: Session, username: str, role: str, department: str) -> User:
    """Add a user of ``role`` in ``department`` (slug) whose password is TEST_PASSWORD."""
    row = User(
        username=username,
        full_name=f"测试{username}",
        role=Role(role),
        department=department_service.get_by_ref(db=db, ref=department),
        password_hash=_password_hash(),
    )
    db.add(row)
    db.flush()
    return row


def api_client(db: Session, dept_slug: str = "renshe", name: str = "社保业务系统") -> tuple[ApiClient, str]:
    """A registered machine client of ``dept_slug`` and its secret."""
    return clients_service.create(db=db, department=dept_slug, name=name, user=None)


def client_headers(client: ApiClient, *, ttl: timedelta = timedelta(minutes=5)) -> dict[str, str]:
    """An Authorization header with a client token for ``client``, signed as the test app expects."""
    token = clients_service.issue_token(client=client, secret=TEST_SECRET, ttl=ttl)
    return {"Authorization": f"Bearer {token}"}


# -- the data plane: library records stored per the storage contract, and grants ---------------
# (Imports are local so this block only appends to the file.)

ID_WEIGHTS = tuple(2 ** (17 - i) % 11 for i in range(17))


def id_number(seed: int, *, region: str = "350102", born: str = "19900101") -> str:
    """A valid GB 11643 number: region, birth date, sequence ``seed`` and its check character."""
    body = f"{region}{born}{seed:03d}"
    check = (12 - sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=True)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


def person(seed: int) -> dict[str, str]:
    """The 公安 values of a test person, by element code."""
    return {
        "population.id_number": id_number(seed),
        "population.name": "张三丰" if seed % 2 else "欧阳娜娜",
        "population.gender": "1" if seed % 2 else "2",
        "population.birth_date": "1990-01-01",
        "population.household_region": "350102",
        "population.address": "福建省榕城市鼓楼区五四路158号",
        "population.phone": "13905911234",
    }


def library_record(
    db: Session,
    library: str,
    parts: list[str],
    values: dict[str, str],
    *,
    department: str = "gongan",
    keyring: Any = None,
) -> Any:
    """A current record of one subject, written as the pipelines write it (THE STORAGE CONTRACT).

    ``parts`` are the canonical key parts in the source's key order; ``values`` map element codes
    to text. The key is stored as its blind index (sealed in ``subject_cipher``), sensitive
    elements sealed under ``~sealed`` bound to that index.
    """
    import json

    from sqlalchemy import select

    from catalog_schema.database import utcnow
    from catalog_schema.element.models import DataElement
    from catalog_schema.keys import service as keys_service
    from catalog_schema.library import subjects
    from catalog_schema.library.models import IngestBatch, LibraryRecord
    from catalog_schema.types import BatchStatus, Library, Sensitivity

    ring = keyring or keys_service.get_keyring()
    lib = Library(library)
    dept = department_service.get_by_ref(db=db, ref=department)
    sensitive = set(
        db.scalars(
            select(DataElement.code).where(
                DataElement.sensitivity.in_([Sensitivity.sensitive, Sensitivity.highly_sensitive])
            )
        )
    )
    batch = IngestBatch(
        source=f"test_{lib.value}",
        title="测试数据",
        library=lib,
        department_id=dept.id,
        run_id="test",
        status=BatchStatus.succeeded,
    )
    db.add(batch)
    db.flush()
    stored = subjects.stored_key(ring, lib, parts)
    # As the loader: the key's own elements are not among the values (only sealed as the key).
    values = {k: v for k, v in values.items() if k not in subjects.LOOKUP_KEY[lib]}
    line = json.dumps(values, ensure_ascii=False, sort_keys=True)
    record = LibraryRecord(
        library=lib,
        subject_key=stored,
        subject_cipher=subjects.subject_cipher(ring, lib, parts),
        department_id=dept.id,
        values=json.dumps(
            ring.seal(values, sensitive=sensitive, aad=stored), ensure_ascii=False, sort_keys=True
        ),
        row_hash=ring.digest(line),
        valid_from=utcnow(),
        valid_to=None,
        batch_id=batch.id,
    )
    db.add(record)
    db.flush()
    return record


def _staff(db: Session, role: str, department: str, demo_name: str) -> User:
    from catalog_schema.user import service as user_service

    demo = user_service.get_by_username(db=db, username=demo_name)
    if demo is not None and demo.department.slug == department:
        return demo
    username = f"{department}_{role}"
    return user_service.get_by_username(db=db, username=username) or user(db, username, role, department)


def grant(
    db: Session,
    *,
    consumer: str = "renshe",
    resource: str = DEPARTMENT_RESOURCE,
    items: list[str] | None = None,
    access_modes: tuple[str, ...] = ("lookup",),
    business_reference: str = "RS-2026-0001",
    valid_from: Any = None,
    valid_until: Any = None,
    daily_quota: int | None = None,
    masking: dict[str, str] | None = None,
) -> Any:
    """A grant made through the real workflow: ``consumer`` applies, the platform accepts, the provider
    approves (or the platform provides, on the direct route). Valid from yesterday for 90 days."""
    from datetime import date

    from authz.calendar.service import local_date
    from authz.sharing import service as sharing_service
    from authz.sharing.schemas import RequestCreate, TransitionIn
    from authz.types import RequestAction, Route
    from catalog_schema.database import utcnow
    from catalog_schema.user import service as user_service

    today: date = local_date(utcnow())
    document = sharing_request(
        resource=resource,
        items=items or ["公民身份号码", "姓名", "出生日期", "住址", "联系电话"],
        business_reference=business_reference,
        access_modes=list(access_modes),
        valid_from=(valid_from or today - timedelta(days=1)).isoformat(),
        valid_until=(valid_until or today + timedelta(days=90)).isoformat(),
    )
    requester = _staff(db, "dept_requester", consumer, "requester")
    admin = user_service.get_by_username(db=db, username="catalog_admin")
    request = sharing_service.submit(db=db, data=RequestCreate(**document), user=requester)
    sharing_service.act(db=db, request=request, action=RequestAction.accept, data=TransitionIn(), user=admin)
    rules: Any = masking
    if request.route is Route.department:
        approver = _staff(db, "dept_approver", request.provider_department.slug, "approver")
        terms = TransitionIn(daily_quota=daily_quota, masking=rules)
        sharing_service.act(db=db, request=request, action=RequestAction.approve, data=terms, user=approver)
    else:
        terms = TransitionIn(masking=rules)
        sharing_service.act(db=db, request=request, action=RequestAction.provide, data=terms, user=admin)
        assert request.grant is not None
        request.grant.daily_quota = daily_quota
    db.flush()
    assert request.grant is not None
    return request.grant


def end_grant(db: Session, grant: Any, action: str = "revoke") -> Any:
    """Revoke (as the platform) or expire (as the system) a grant through the workflow."""
    from authz.sharing import service as sharing_service
    from authz.sharing.schemas import TransitionIn
    from authz.types import RequestAction
    from catalog_schema.user import service as user_service

    act = RequestAction(action)
    admin = (
        user_service.get_by_username(db=db, username="catalog_admin") if act is RequestAction.revoke else None
    )
    reason = "测试：撤销授权" if act is RequestAction.revoke else None
    sharing_service.act(
        db=db, request=grant.request, action=act, data=TransitionIn(reason=reason), user=admin
    )
    db.flush()
    return grant


# -- a resource of one's own: 管控参数 of the test's choosing ------------------------------------

PEOPLE_ITEMS = [
    {"name": "公民身份号码", "data_type": "C", "length": 18, "element": "population.id_number"},
    {"name": "姓名", "data_type": "C", "length": 50, "element": "population.name"},
    {"name": "出生日期", "data_type": "D", "length": 8, "element": "population.birth_date"},
    {"name": "住址", "data_type": "C", "length": 200, "element": "population.address"},
    {"name": "联系电话", "data_type": "C", "length": 20, "element": "population.phone"},
]


def people_resource(db: Session, name: str = "人口核验信息（测试）", **overrides: Any) -> str:
    """A published 公安 resource over the population library (有条件共享, so 公安 approves); its code.

    Without ``control_params`` it allows every access mode, unlike 人口基本信息 (逐条查询 only).
    """
    from catalog_schema.resource import service as resource_service
    from catalog_schema.resource.schemas import ResourceCreate
    from catalog_schema.types import ResourceStatus

    document = resource(
        name=name,
        share={"type": "conditional", "condition": "仅限测试", "method": "api"},
        items=PEOPLE_ITEMS,
        **overrides,
    )
    created = resource_service.create(db=db, data=ResourceCreate(**document), status=ResourceStatus.published)
    return created.code
