"""POST /api/v1/certificates/verify: a verdict for any signed-in user allowed to verify, never holder data."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from catalog_schema.keys.service import Keyring
from catalog_schema.user.models import User
from tests.catalog_schema.test_certificates import (
    NUMBER,
    SHICHANG_TYPE,
    TYPE,
    licence,
    register_issuer,
    store,
)
from tests.conftest import bearer

URL = "/api/v1/certificates/verify"


@pytest.fixture
def signed(db: Session, keyring: Keyring) -> dict[str, str | None]:
    """A valid 营业执照 of 市场监管 in the library."""
    values = register_issuer(db, "shichang", "shichang-api").sign(
        licence(**{"certificate.expiry_date": None})
    )
    store(db, keyring, values)
    db.commit()
    return values


def _body(values: dict[str, str | None]) -> dict[str, str | None]:
    return {"type_code": values[TYPE], "number": values[NUMBER]}


def test_valid_certificate_gets_its_verdict_issuer_and_key(
    client: TestClient, as_user, signed: dict[str, str | None]
) -> None:
    response = client.post(URL, json=_body(signed), headers=as_user("requester"))

    assert response.status_code == 200
    body = response.json()
    assert (body["verdict"], body["verdict_label"], body["key_id"]) == ("valid", "有效", "shichang-api")
    assert body["issuer"] == {
        "department": "shichang",
        "department_name": "榕城市市场监督管理局",
        "credit_code": "11350100003576486C",
    }
    assert body["checked_at"] and body["type_code"] == SHICHANG_TYPE


def test_answer_holds_no_holder_code_name_or_number(
    client: TestClient, as_user, signed: dict[str, str | None]
) -> None:
    response = client.post(URL, json=_body(signed), headers=as_user("requester"))

    text = response.text
    assert response.status_code == 200
    assert all(
        str(signed[k]) not in text for k in (NUMBER, "certificate.holder_code", "certificate.holder_name")
    )


def test_unknown_certificate_is_a_not_found_verdict_not_a_404(client: TestClient, as_user) -> None:
    response = client.post(
        URL, json={"type_code": SHICHANG_TYPE, "number": "91350100MA00000000"}, headers=as_user("requester")
    )

    assert response.status_code == 200
    assert (response.json()["verdict"], response.json()["issuer"]["department"]) == ("not_found", "shichang")


def test_certificate_signed_with_another_departments_key_is_tampered(
    client: TestClient, as_user, db: Session, keyring: Keyring
) -> None:
    values = register_issuer(db, "gongan", "gongan-api").sign(licence())
    store(db, keyring, values)
    db.commit()

    response = client.post(URL, json=_body(values), headers=as_user("requester"))

    assert response.status_code == 200
    assert (response.json()["verdict"], response.json()["reason"]) == ("tampered", "wrong_issuer")


def test_type_code_and_number_are_trimmed_and_the_type_code_upper_cased(
    client: TestClient, as_user, signed: dict[str, str | None]
) -> None:
    body = {"type_code": f"  {str(signed[TYPE]).lower()} ", "number": f" {signed[NUMBER]}  "}

    response = client.post(URL, json=body, headers=as_user("requester"))

    assert response.json()["verdict"] == "valid"


@pytest.mark.parametrize(
    "username", ["catalog_admin", "requester", "approver", "renshe_system", "auditor", "platform_admin"]
)
def test_every_demo_role_may_verify(
    client: TestClient, as_user, signed: dict[str, str | None], username: str
) -> None:
    response = client.post(URL, json=_body(signed), headers=as_user(username))

    assert response.status_code == 200 and response.json()["verdict"] == "valid"


def test_anonymous_request_is_refused_with_401(client: TestClient, signed: dict[str, str | None]) -> None:
    response = client.post(URL, json=_body(signed))

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


def test_token_of_an_unknown_signer_is_refused_with_401(
    client: TestClient, signed: dict[str, str | None]
) -> None:
    headers = bearer("requester", role="dept_requester", department_id=1, secret="another-secret-" + "y" * 40)

    response = client.post(URL, json=_body(signed), headers=headers)

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


def test_deactivated_user_is_refused_with_401(
    client: TestClient, as_user, db: Session, signed: dict[str, str | None]
) -> None:
    headers = as_user("requester")
    db.execute(update(User).where(User.username == "requester").values(is_active=False))
    db.commit()

    response = client.post(URL, json=_body(signed), headers=headers)

    assert (response.status_code, response.json()["code"]) == (401, "invalid_token")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type_code": "C001", "number": "1"}, "type_code"),
        ({"type_code": SHICHANG_TYPE + "1", "number": "1"}, "type_code"),
        ({"type_code": SHICHANG_TYPE, "number": "9" * 65}, "number"),
        ({"type_code": SHICHANG_TYPE, "number": "   "}, "number"),
        ({"type_code": SHICHANG_TYPE, "number": "A\x00B"}, "number"),
        ({"type_code": SHICHANG_TYPE}, "number"),
        ({"type_code": SHICHANG_TYPE, "number": "1", "holder": "x"}, "holder"),
        ({"type_code": SHICHANG_TYPE, "number": 12345}, "number"),
    ],
    ids=[
        "short-type",
        "long-type",
        "long-number",
        "blank-number",
        "control-char",
        "no-number",
        "extra",
        "not-text",
    ],
)
def test_malformed_input_is_refused_with_422(client: TestClient, as_user, body: dict, field: str) -> None:
    response = client.post(URL, json=body, headers=as_user("requester"))

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert [p["path"] for p in response.json()["problems"]] == [field]


def test_sql_meta_characters_are_only_a_number_that_is_not_found(client: TestClient, as_user) -> None:
    body = {"type_code": SHICHANG_TYPE, "number": "1' OR '1'='1; DROP TABLE library_records; --"}

    response = client.post(URL, json=body, headers=as_user("requester"))

    assert (response.status_code, response.json()["verdict"]) == (200, "not_found")


def test_number_in_the_query_string_is_not_accepted(client: TestClient, as_user) -> None:
    response = client.post(f"{URL}?type_code={SHICHANG_TYPE}&number=1", headers=as_user("requester"))

    # The query string is ignored: what is missing is the JSON body itself.
    assert (response.status_code, response.json()["code"]) == (422, "validation_error")
    assert [(p["path"], p["message_en"]) for p in response.json()["problems"]] == [
        ("(root)", "Field required")
    ]


def test_get_is_not_allowed(client: TestClient, as_user) -> None:
    response = client.get(URL, headers=as_user("requester"))

    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["code"] == "http_405"
