"""Builders of valid input documents; a test overrides only what it is about."""

from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy.orm import Session
from stdnum.cn import uscc

from authz import security
from authz.clients import service as clients_service
from authz.clients.models import ApiClient
from authz.roles import Role
from catalog_schema.department import service as department_service
from catalog_schema.user.models import User

# What the test app signs tokens with (tests/conftest.py builds its settings from it).
TEST_SECRET = "test-secret-" + "x" * 40


def credit_code(seed: int) -> str:
    """A valid GB 32100 code for a government organ in region 350100 (organisation code + check digits)."""
    digits = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = f"{seed:08d}"
    weights = (3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(digits.index(c) * w for c, w in zip(body, weights, strict=True))
    check = 11 - total % 11
    org = body + ("X" if check == 10 else "0" if check == 11 else str(check))
    partial = "11350100" + org
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
    return security.hash_password(TEST_PASSWORD)  # Argon2 is slow on purpose: hash once per run


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
