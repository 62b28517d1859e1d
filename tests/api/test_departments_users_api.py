"""Departments (credit codes checked) and users (the platform admin's)."""

import pytest
from sqlalchemy import func, select

from authz import security
from catalog_schema.models import Department, User
from tests import factories


def _count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_catalog_admin_registers_a_department(client, as_user):
    response = client.post(
        "/api/v1/departments", headers=as_user("catalog_admin"), json=factories.department()
    )

    assert response.status_code == 201
    assert response.json()["kind_label"] == "政府部门"


@pytest.mark.parametrize(
    "overrides,path",
    [
        ({"credit_code": "11350100000770019X"}, "credit_code"),  # wrong check digit
        ({"credit_code": "1135010000077001"}, "credit_code"),  # too short
        ({"region_code": "35010"}, "region_code"),
        ({"kind": "ministry"}, "kind"),
        ({"slug": "Bad Slug"}, "slug"),
        ({"supervisor": {"email": "not-an-email"}}, "supervisor.email"),
    ],
)
def test_bad_department_input_is_a_422_and_changes_nothing(client, as_user, db, overrides, path):
    before = _count(db, Department)

    response = client.post(
        "/api/v1/departments",
        headers=as_user("catalog_admin"),
        json=factories.department(**overrides),
    )

    assert response.status_code == 422
    assert [p["path"] for p in response.json()["problems"]] == [path]
    assert _count(db, Department) == before


def test_invalid_credit_code_message_names_the_standard(client, as_user):
    response = client.post(
        "/api/v1/departments",
        headers=as_user("catalog_admin"),
        json=factories.department(credit_code="11350100000770019X"),
    )

    assert "GB 32100" in response.json()["problems"][0]["message"]


def test_duplicate_credit_code_is_a_409(client, as_user):
    existing = client.get("/api/v1/departments/gongan", headers=as_user("requester")).json()

    response = client.post(
        "/api/v1/departments",
        headers=as_user("catalog_admin"),
        json=factories.department(credit_code=existing["credit_code"]),
    )

    assert response.status_code == 409
    assert response.json()["code"] == "department_duplicate"


def test_department_is_found_by_credit_code(client, as_user):
    gongan = client.get("/api/v1/departments/gongan", headers=as_user("requester")).json()

    response = client.get(f"/api/v1/departments/{gongan['credit_code']}", headers=as_user("requester"))

    assert response.json()["slug"] == "gongan"


def test_platform_admin_adds_a_user_who_can_then_log_in(client, as_user):
    created = client.post(
        "/api/v1/users",
        headers=as_user("platform_admin"),
        json={
            "username": "new_requester",
            "full_name": "新经办",
            "role": "dept_requester",
            "department": "minzheng",
            "password": "a-long-passw0rd",
        },
    )

    login = client.post(
        "/api/v1/auth/token", data={"username": "new_requester", "password": "a-long-passw0rd"}
    )

    assert created.status_code == 201 and "password_hash" not in created.json()
    user = created.json()
    assert (user["username"], user["role"], user["department"]["slug"], user["is_active"]) == (
        "new_requester",
        "dept_requester",
        "minzheng",
        True,
    )
    assert login.status_code == 200
    claims = security.read_token(login.json()["access_token"], secret=factories.TEST_SECRET)
    assert (claims.username, claims.role, claims.department_id) == (
        "new_requester",
        "dept_requester",
        user["department"]["id"],
    )


@pytest.mark.parametrize("username", ["catalog_admin", "requester", "auditor"])
def test_only_the_platform_admin_manages_users(client, as_user, db, username):
    before = _count(db, User)

    response = client.post(
        "/api/v1/users",
        headers=as_user(username),
        json={
            "username": "sneaky",
            "full_name": "X",
            "role": "platform_admin",
            "department": "shujuju",
            "password": "a-long-passw0rd",
        },
    )

    assert response.status_code == 403
    assert _count(db, User) == before


@pytest.mark.parametrize(
    "overrides,path",
    [
        ({"password": "short"}, "password"),
        ({"role": "superuser"}, "role"),
        ({"username": "X"}, "username"),
    ],
)
def test_bad_user_input_is_a_422(client, as_user, overrides, path):
    body = {
        "username": "valid_name",
        "full_name": "某人",
        "role": "auditor",
        "department": "shujuju",
        "password": "a-long-passw0rd",
        **overrides,
    }

    response = client.post("/api/v1/users", headers=as_user("platform_admin"), json=body)

    assert response.status_code == 422
    assert [p["path"] for p in response.json()["problems"]] == [path]


def test_user_in_unknown_department_is_a_404(client, as_user):
    response = client.post(
        "/api/v1/users",
        headers=as_user("platform_admin"),
        json={
            "username": "valid_name",
            "full_name": "某人",
            "role": "auditor",
            "department": "nowhere",
            "password": "a-long-passw0rd",
        },
    )

    assert response.status_code == 404
    assert response.json()["code"] == "department_not_found"


def test_users_are_listed_in_pages(client, as_user):
    page = client.get("/api/v1/users", headers=as_user("platform_admin"), params={"page_size": 2}).json()

    # The eight demo users, by username.
    assert [u["username"] for u in page["items"]] == ["approver", "auditor"]
    assert (page["total"], page["pages"]) == (8, 4)


def test_department_supervisor_contact_is_updated(client, as_user):
    response = client.patch(
        "/api/v1/departments/gongan",
        headers=as_user("catalog_admin"),
        json={"supervisor": {"name": "新督办", "phone": "0591-87000000"}},
    )

    assert response.json()["supervisor"]["name"] == "新督办"


def test_department_update_to_another_departments_name_is_a_409(client, as_user):
    response = client.patch(
        "/api/v1/departments/gongan", headers=as_user("catalog_admin"), json={"name": "榕城市民政局"}
    )

    assert (response.status_code, response.json()["code"]) == (409, "department_duplicate")
    assert response.json()["message_en"] == "name '榕城市民政局' is already used by department 'minzheng'"
    after = client.get("/api/v1/departments/gongan", headers=as_user("catalog_admin")).json()
    assert after["name"] == "榕城市公安局"


def test_deactivated_user_is_refused_with_a_token_issued_before(client, as_user, db):
    requester = as_user("requester")
    target = next(
        u
        for u in client.get(
            "/api/v1/users", headers=as_user("platform_admin"), params={"page_size": 100}
        ).json()["items"]
        if u["username"] == "requester"
    )

    client.patch(
        f"/api/v1/users/{target['id']}", headers=as_user("platform_admin"), json={"is_active": False}
    )

    response = client.get("/api/v1/resources", headers=requester)

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_token"


def test_supervisor_parts_not_given_are_kept(client, as_user):
    before = client.get("/api/v1/departments/gongan", headers=as_user("requester")).json()["supervisor"]

    after = client.patch(
        "/api/v1/departments/gongan",
        headers=as_user("catalog_admin"),
        json={"supervisor": {"email": "new@gongan.example.cn"}},
    ).json()["supervisor"]

    assert after == {**before, "email": "new@gongan.example.cn"}


@pytest.mark.parametrize(
    "url,body,path",
    [
        ("/api/v1/departments/gongan", {"name": None}, "name"),
        ("/api/v1/elements/population.name", {"name": None}, "name"),
    ],
)
def test_null_for_a_required_field_is_a_422_naming_it(client, as_user, url, body, path):
    response = client.patch(url, headers=as_user("catalog_admin"), json=body)

    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == path


def test_null_for_a_user_field_is_a_422(client, as_user):
    response = client.patch("/api/v1/users/1", headers=as_user("platform_admin"), json={"role": None})

    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "role"
