"""The element registry through the API: sources, the 409 for a second owner, transfers."""

from tests import factories


def test_second_authoritative_source_is_a_409_naming_element_owner_and_remedy(client, as_user):
    response = client.post(
        "/api/v1/elements/population.name/sources",
        headers=as_user("catalog_admin"),
        json={"department": "shichang", "role": "authoritative"},
    )

    body = response.json()
    assert response.status_code == 409
    assert body["code"] == "second_authoritative_source"
    assert body["element"] == "population.name" and body["current_owner"] == "gongan"
    assert "榕城市公安局" in body["message"] and "校核源" in body["message"]
    assert "verification source" in body["message_en"] and "transfer" in body["message_en"]


def test_refused_registration_leaves_the_sources_as_they_were(client, as_user):
    before = client.get("/api/v1/elements/population.name", headers=as_user("requester")).json()

    client.post(
        "/api/v1/elements/population.name/sources",
        headers=as_user("catalog_admin"),
        json={"department": "shichang", "role": "authoritative"},
    )

    assert client.get("/api/v1/elements/population.name", headers=as_user("requester")).json() == before


def test_other_provider_registers_as_verification_source(client, as_user):
    response = client.post(
        "/api/v1/elements/population.name/sources",
        headers=as_user("catalog_admin"),
        json={"department": "shichang", "role": "verification"},
    )

    assert response.status_code == 201
    assert "shichang" in {d["slug"] for d in response.json()["verification"]}


def test_transfer_is_recorded_and_listed(client, as_user):
    admin = as_user("catalog_admin")

    moved = client.post(
        "/api/v1/elements/population.name/transfer",
        headers=admin,
        json={"to_department": "renshe", "reason": "职责调整"},
    )
    element = client.get("/api/v1/elements/population.name", headers=admin).json()
    history = client.get("/api/v1/elements/population.name/transfers", headers=admin).json()

    assert moved.status_code == 201
    assert element["authoritative"]["slug"] == "renshe"
    assert [(t["from_department"]["slug"], t["to_department"]["slug"]) for t in history] == [
        ("gongan", "renshe")
    ]


def test_transfer_without_reason_is_a_422(client, as_user):
    response = client.post(
        "/api/v1/elements/population.name/transfer",
        headers=as_user("catalog_admin"),
        json={"to_department": "renshe"},
    )

    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "reason"


def test_department_user_cannot_change_the_registry(client, as_user):
    response = client.post(
        "/api/v1/elements/population.name/sources",
        headers=as_user("approver"),
        json={"department": "gongan", "role": "verification"},
    )

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert response.json()["message_en"] == (
        "not allowed to manage data elements and their sources: requires role catalog_admin"
    )
    element = client.get("/api/v1/elements/population.name", headers=as_user("requester")).json()
    assert "gongan" not in {d["slug"] for d in element["verification"]}


def test_elements_filter_by_library_and_department(client, as_user):
    page = client.get(
        "/api/v1/elements",
        headers=as_user("requester"),
        params={"library": "population", "department": "weijian", "role": "authoritative"},
    ).json()

    assert page["total"] >= 1
    assert all(
        e["library"] == "population" and e["authoritative"]["slug"] == "weijian" for e in page["items"]
    )


def test_catalog_admin_registers_an_element(client, as_user):
    response = client.post(
        "/api/v1/elements",
        headers=as_user("catalog_admin"),
        json=factories.element(verification=["renshe"]),
    )

    assert response.status_code == 201
    assert response.json()["authoritative"]["slug"] == "gongan"


def test_bad_element_code_and_data_type_are_named(client, as_user):
    response = client.post(
        "/api/v1/elements",
        headers=as_user("catalog_admin"),
        json=factories.element(code="Bad Code", data_type="X"),
    )

    assert response.status_code == 422
    assert {p["path"] for p in response.json()["problems"]} == {"code", "data_type"}


def test_unknown_element_is_a_404(client, as_user):
    response = client.get("/api/v1/elements/population.nothing", headers=as_user("requester"))

    assert response.status_code == 404
    assert response.json()["code"] == "element_not_found"


def test_catalog_admin_updates_an_element_description(client, as_user):
    response = client.patch(
        "/api/v1/elements/population.name",
        headers=as_user("catalog_admin"),
        json={"description": "以户籍登记为准的姓名", "sensitivity": "highly_sensitive"},
    )

    assert response.status_code == 200
    assert response.json()["sensitivity"] == "highly_sensitive"


def test_withdrawing_a_verification_source_through_the_api(client, as_user):
    response = client.delete(
        "/api/v1/elements/population.name/sources/renshe", headers=as_user("catalog_admin")
    )

    assert response.status_code == 200
    assert "renshe" not in {d["slug"] for d in response.json()["verification"]}


def test_role_filter_without_a_department_is_a_422(client, as_user):
    response = client.get("/api/v1/elements", headers=as_user("requester"), params={"role": "authoritative"})

    assert response.status_code == 422
    assert response.json()["code"] == "role_needs_department"


def test_the_partitions_of_a_library_list_each_with_its_department(client, as_user):
    response = client.get("/api/v1/elements/partitions?library=legal_person", headers=as_user("requester"))

    assert response.status_code == 200
    assert [(p["code"], p["department"]["slug"]) for p in response.json()] == [
        ("1", "bianban"),
        ("5", "minzheng"),
        ("9", "shichang"),
    ]
