"""The data plane's key check: which keys each library refuses, and with which code and message."""

import pytest
from stdnum.cn import uscc

from authz.access import lookup
from authz.access.exceptions import Refused, SubjectNotFound
from authz.access.schemas import Call, CertificateKey, LookupIn
from tests import factories
from tests.conftest import TEST_SECRET
from tests.factories import DEPARTMENT_RESOURCE, DIRECT_RESOURCE

PENALTIES = "104002/000001"  # 公共信用库: keyed by subject code, an ID number or a credit code
BUSINESS_LICENCE = "105001/000001"  # 电子证照库: keyed by type code and number
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")

ID = factories.id_number(7)  # 350102, born 1990-01-01
ID_X = "11010519491231002X"  # check character X
# 640104 reads as authority 6, type 4 when taken for a credit code: a pair in no table.
ID_NINGXIA = factories.id_number(7, region="640104")
ID_BORN_1950 = factories.id_number(5, born="19500101")  # 350102 was created decades later
CODE = factories.credit_code(44)  # 11 机构编制 / 机关, 350100
PILOT = CODE[:-1] + ("0" if CODE[-1] != "0" else "1")  # bad check character, known authority and type
UNKNOWN_TYPE = "0" + CODE[1:17] + uscc.calc_check_digit("0" + CODE[1:])  # authority 0 is in no table
UNKNOWN_TYPE_BAD_CHECK = UNKNOWN_TYPE[:-1] + ("0" if UNKNOWN_TYPE[-1] != "0" else "1")


@pytest.fixture
def system(db):
    api_client, _ = factories.api_client(db)
    return api_client


def _bad_check(key: str) -> str:
    return key[:-1] + ("1" if key[-1] != "1" else "2")


def _call(system, grant):
    token = factories.client_headers(system)["Authorization"].removeprefix("Bearer ")
    return Call(token=token, purpose=grant.request_number, operator=None, request_id="k-1", client_ip=None)


def _lookup(session_factory, call, resource, key):
    with session_factory() as session:
        return lookup.lookup(
            db=session, secret=TEST_SECRET, call=call, data=LookupIn(resource=resource, key=key)
        )


def _verdict(session_factory, call, resource, key) -> str:
    """``invalid_key`` when the key is refused, ``read`` when the library was searched for it."""
    try:
        _lookup(session_factory, call, resource, key)
    except SubjectNotFound:
        return "read"
    except Refused as refused:
        return refused.code
    return "read"


@pytest.mark.parametrize(
    ("resource", "items", "key", "verdict"),
    [
        (DEPARTMENT_RESOURCE, ["姓名"], ID, "read"),
        (DEPARTMENT_RESOURCE, ["姓名"], ID_X.lower(), "read"),
        (DEPARTMENT_RESOURCE, ["姓名"], f" {ID_X[:6]} {ID_X[6:14]}-{ID_X[14:]} ", "read"),
        (DEPARTMENT_RESOURCE, ["姓名"], ID_BORN_1950, "read"),
        (DEPARTMENT_RESOURCE, ["姓名"], _bad_check(ID), "invalid_key"),
        (DEPARTMENT_RESOURCE, ["姓名"], ID[:17], "invalid_key"),
        (DEPARTMENT_RESOURCE, ["姓名"], ID[:16] + "Y" + ID[17], "invalid_key"),
        (DEPARTMENT_RESOURCE, ["姓名"], factories.id_number(7, born="19900230"), "invalid_key"),
        (DEPARTMENT_RESOURCE, ["姓名"], factories.id_number(7, born="00000101"), "invalid_key"),
        (DEPARTMENT_RESOURCE, ["姓名"], ID.translate(FULL_WIDTH), "invalid_key"),
        (DEPARTMENT_RESOURCE, ["姓名"], CODE, "invalid_key"),
        (DIRECT_RESOURCE, ["名称"], CODE, "read"),
        (DIRECT_RESOURCE, ["名称"], CODE.lower(), "read"),
        (DIRECT_RESOURCE, ["名称"], CODE.translate(FULL_WIDTH), "read"),
        (DIRECT_RESOURCE, ["名称"], PILOT, "read"),
        (DIRECT_RESOURCE, ["名称"], UNKNOWN_TYPE, "read"),
        (DIRECT_RESOURCE, ["名称"], UNKNOWN_TYPE_BAD_CHECK, "invalid_key"),
        (DIRECT_RESOURCE, ["名称"], CODE[:8] + "I" + CODE[9:], "invalid_key"),
        # 35: authority 3 (司法行政), type 5 (仲裁委员会): read as a pilot-era code.
        (DIRECT_RESOURCE, ["名称"], ID, "read"),
        (DIRECT_RESOURCE, ["名称"], ID_NINGXIA, "invalid_key"),
        (PENALTIES, ["主体代码"], ID, "read"),
        (PENALTIES, ["主体代码"], CODE, "read"),
        (PENALTIES, ["主体代码"], PILOT, "read"),
        (PENALTIES, ["主体代码"], _bad_check(ID), "read"),
        (PENALTIES, ["主体代码"], _bad_check(ID_NINGXIA), "invalid_key"),
        (PENALTIES, ["主体代码"], UNKNOWN_TYPE_BAD_CHECK, "invalid_key"),
        (PENALTIES, ["主体代码"], "ABC", "invalid_key"),
        (BUSINESS_LICENCE, ["证照编号"], CertificateKey(type_code=CODE + "001", number="N-1"), "read"),
        (BUSINESS_LICENCE, ["证照编号"], CertificateKey(type_code=" ", number="N-1"), "invalid_key"),
        (BUSINESS_LICENCE, ["证照编号"], CertificateKey(type_code=CODE + "001", number=""), "invalid_key"),
    ],
)
def test_which_keys_each_library_refuses(db, session_factory, system, resource, items, key, verdict):
    grant = factories.grant(db, resource=resource, items=items)

    assert _verdict(session_factory, _call(system, grant), resource, key) == verdict


@pytest.mark.parametrize(
    ("resource", "items", "key", "what", "what_en"),
    [
        (
            DEPARTMENT_RESOURCE,
            ["姓名"],
            _bad_check(ID),
            "公民身份号码（GB 11643）",
            "an ID number (GB 11643)",
        ),
        (
            DIRECT_RESOURCE,
            ["名称"],
            UNKNOWN_TYPE_BAD_CHECK,
            "统一社会信用代码（GB 32100）",
            "a credit code (GB 32100)",
        ),
        (PENALTIES, ["主体代码"], "ABC", "公民身份号码或统一社会信用代码", "an ID number or a credit code"),
        (
            BUSINESS_LICENCE,
            ["证照编号"],
            "N-0001",
            '证照类型代码和证照编号 {"type_code", "number"}',
            'a certificate {"type_code", "number"}',
        ),
    ],
)
def test_a_refused_key_is_said_in_the_words_of_its_library(
    db, session_factory, system, resource, items, key, what, what_en
):
    grant = factories.grant(db, resource=resource, items=items)

    with pytest.raises(Refused) as refused:
        _lookup(session_factory, _call(system, grant), resource, key)

    assert refused.value.as_dict() == {
        "code": "invalid_key",
        "message": "主体标识格式错误",
        "message_en": "malformed subject key",
        "problems": [{"path": "key", "message": f"不是有效的{what}", "message_en": f"not {what_en}"}],
    }
