"""Catalog browse and search for every user; registration and changes for the catalog admin."""

import pytest
from sqlalchemy import func, select

from catalog_schema.models import Resource
from tests import factories


def _search(client, headers, **params):
    response = client.get("/api/v1/resources", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _codes(page):
    return {item["code"] for item in page["items"]}


def test_every_logged_in_role_can_browse_the_published_catalog(client, as_user):
    for username in ("requester", "approver", "renshe_system", "auditor", "platform_admin"):
        page = _search(client, as_user(username), page_size=100)
        assert page["total"] >= 20
        assert {i["status"]["value"] for i in page["items"]} == {"published"}


def test_drafts_are_visible_to_the_catalog_admin_only(client, as_user, db):
    drafts = set(db.scalars(select(Resource.code).where(Resource.status == "draft")))

    admin = _search(client, as_user("catalog_admin"), status="draft", page_size=100)
    requester = _search(client, as_user("requester"), status="draft", page_size=100)

    assert drafts and _codes(admin) == drafts
    assert (requester["total"], requester["items"]) == (0, [])


def test_draft_is_hidden_by_id_from_department_users(client, as_user, db):
    draft = db.scalar(select(Resource).where(Resource.status == "draft"))

    response = client.get(f"/api/v1/resources/{draft.id}", headers=as_user("requester"))

    assert (response.status_code, response.json()["code"]) == (404, "resource_not_found")
    assert response.json()["message_en"] == f"resource '{draft.id}' does not exist"
    assert draft.code not in response.text


@pytest.mark.parametrize(
    "params,check",
    [
        ({"class": "theme"}, lambda i: i["resource_class"]["value"] == "theme"),
        ({"provider": "gongan"}, lambda i: i["provider"]["slug"] == "gongan"),
        ({"share_type": "conditional"}, lambda i: i["share_type"]["value"] == "conditional"),
        ({"update_cycle": "daily"}, lambda i: i["update_cycle"]["value"] == "daily"),
        ({"classification": "101"}, lambda i: i["classification_code"].startswith("101")),
        ({"q": "婚姻"}, lambda i: True),
    ],
)
def test_each_filter_narrows_the_catalog(client, as_user, params, check):
    everything = _search(client, as_user("requester"), page_size=100)

    page = _search(client, as_user("requester"), page_size=100, **params)

    assert 0 < page["total"] < everything["total"]
    assert all(check(i) for i in page["items"])


def test_text_search_matches_name_or_abstract(client, as_user):
    page = _search(client, as_user("requester"), q="婚姻", page_size=100)

    full = [
        client.get(f"/api/v1/resources/{i['id']}", headers=as_user("requester")).json() for i in page["items"]
    ]
    assert all("婚姻" in r["name"] or "婚姻" in r["abstract"] for r in full)


def test_element_filter_finds_resources_carrying_it(client, as_user):
    page = _search(client, as_user("requester"), element="population.marital_status", page_size=100)

    assert page["total"] >= 1
    for item in page["items"]:
        detail = client.get(f"/api/v1/resources/{item['id']}", headers=as_user("requester")).json()
        assert "population.marital_status" in {i["element"]["code"] for i in detail["items"] if i["element"]}


def test_pages_cover_the_catalog_without_overlap(client, as_user):
    first = _search(client, as_user("requester"), page=1, page_size=10)
    second = _search(client, as_user("requester"), page=2, page_size=10)

    assert len(first["items"]) == 10 and first["pages"] == -(-first["total"] // 10)
    assert not _codes(first) & _codes(second)


def test_page_size_above_the_limit_is_refused(client, as_user):
    response = client.get("/api/v1/resources", headers=as_user("requester"), params={"page_size": 1000})

    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "page_size"


def test_resource_detail_shows_items_elements_and_their_sources(client, as_user):
    summary = _search(client, as_user("requester"), q="人口基本信息")["items"][0]

    detail = client.get(f"/api/v1/resources/{summary['id']}", headers=as_user("requester")).json()

    id_item = next(
        i for i in detail["items"] if i["element"] and i["element"]["code"] == "population.id_number"
    )
    assert id_item["element"]["authoritative"]["slug"] == "gongan"
    assert {d["slug"] for d in id_item["element"]["verification"]} >= {"renshe"}
    assert detail["share"]["type"] and detail["category"]["class"] == "basic"


def test_resource_is_found_by_its_code(client, as_user):
    code = _search(client, as_user("requester"), page_size=1)["items"][0]["code"]

    response = client.get(f"/api/v1/resources/by-code/{code}", headers=as_user("requester"))

    assert response.json()["code"] == code


def test_catalog_admin_registers_publishes_and_changes_a_resource(client, as_user):
    admin = as_user("catalog_admin")

    created = client.post("/api/v1/resources", headers=admin, json=factories.resource())
    published = client.post(f"/api/v1/resources/{created.json()['id']}/publish", headers=admin)
    changed = client.patch(
        f"/api/v1/resources/{created.json()['id']}",
        headers=admin,
        json={"abstract": "新的摘要。", "change_note": "修订摘要"},
    )
    versions = client.get(f"/api/v1/resources/{created.json()['id']}/versions", headers=admin)

    assert created.status_code == 201 and created.json()["code"] == "101009/000001"
    assert published.json()["status"]["value"] == "published"
    assert changed.json()["version"] == 2
    assert [v["version"] for v in versions.json()] == [1]


def test_catalog_admin_retires_a_resource_with_a_reason(client, as_user):
    admin = as_user("catalog_admin")
    created = client.post("/api/v1/resources", headers=admin, json=factories.resource()).json()

    retired = client.post(
        f"/api/v1/resources/{created['id']}/retire", headers=admin, json={"reason": "资源已合并"}
    )

    assert retired.json()["status"]["value"] == "retired"
    assert retired.json()["retired_reason"] == "资源已合并"


@pytest.mark.parametrize("username", ["requester", "approver", "auditor", "platform_admin", "renshe_system"])
def test_only_the_catalog_admin_registers_resources(client, as_user, db, username):
    before = db.scalar(select(func.count()).select_from(Resource))

    response = client.post("/api/v1/resources", headers=as_user(username), json=factories.resource())

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert "平台数据管理员" in response.json()["message"]
    assert db.scalar(select(func.count()).select_from(Resource)) == before


@pytest.mark.parametrize(
    "overrides,path",
    [
        ({"share": {"type": "conditional"}}, "share"),
        ({"share": {"type": "none"}}, "share"),
        ({"category": {"class": "basic", "item": "1", "catalog": "009"}}, "category.item"),
        ({"format": "paper"}, "format"),
        ({"items": []}, "items"),
        ({"code": "12345"}, "code"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_resource_input_is_a_422_naming_the_field_and_changes_nothing(
    client, as_user, db, overrides, path
):
    before = db.scalar(select(func.count()).select_from(Resource))

    response = client.post(
        "/api/v1/resources", headers=as_user("catalog_admin"), json=factories.resource(**overrides)
    )

    body = response.json()
    assert response.status_code == 422
    assert body["code"] == "validation_error"
    assert path in [p["path"] for p in body["problems"]]
    assert body["message"] and body["message_en"]
    assert db.scalar(select(func.count()).select_from(Resource)) == before


def test_item_of_the_wrong_data_type_is_a_422(client, as_user):
    items = [{"name": "出生日期", "data_type": "C", "element": "population.birth_date"}]

    response = client.post(
        "/api/v1/resources", headers=as_user("catalog_admin"), json=factories.resource(items=items)
    )

    assert response.status_code == 422
    assert response.json()["code"] == "item_element_mismatch"
    assert response.json()["problems"][0]["path"] == "items[0].data_type"


def test_duplicate_code_is_a_409(client, as_user):
    admin = as_user("catalog_admin")
    client.post("/api/v1/resources", headers=admin, json=factories.resource(code="101009/000007"))

    response = client.post(
        "/api/v1/resources",
        headers=admin,
        json=factories.resource(name="另一个", code="101009/000007"),
    )

    assert response.status_code == 409
    assert response.json()["code"] == "resource_code_duplicate"


def test_unknown_resource_is_a_404(client, as_user):
    response = client.get("/api/v1/resources/999999", headers=as_user("requester"))

    assert response.status_code == 404
    assert response.json()["code"] == "resource_not_found"


def test_oversized_body_is_refused_before_parsing(client, as_user, settings):
    response = client.post(
        "/api/v1/resources",
        headers={**as_user("catalog_admin"), "Content-Type": "application/json"},
        content=b"[" + b" " * settings.max_body_bytes + b"]",
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_malformed_json_is_a_422(client, as_user):
    response = client.post(
        "/api/v1/resources",
        headers={**as_user("catalog_admin"), "Content-Type": "application/json"},
        content=b'{"name": ',
    )

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_patch_that_makes_a_resource_conditional_without_a_condition_is_a_422(client, as_user, db):
    admin = as_user("catalog_admin")
    created = client.post("/api/v1/resources", headers=admin, json=factories.resource()).json()

    response = client.patch(
        f"/api/v1/resources/{created['id']}", headers=admin, json={"share": {"type": "conditional"}}
    )
    after = client.get(f"/api/v1/resources/{created['id']}", headers=admin).json()

    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "share"
    assert after["share"]["type"] == "unconditional"


def test_patch_with_an_unknown_element_changes_nothing(client, as_user):
    admin = as_user("catalog_admin")
    created = client.post("/api/v1/resources", headers=admin, json=factories.resource()).json()
    client.post(f"/api/v1/resources/{created['id']}/publish", headers=admin)

    response = client.patch(
        f"/api/v1/resources/{created['id']}",
        headers=admin,
        json={
            "abstract": "不应保存",
            "items": [{"name": "甲", "data_type": "C", "element": "population.nothing"}],
        },
    )
    after = client.get(f"/api/v1/resources/{created['id']}", headers=admin).json()

    assert response.status_code == 422
    assert (after["abstract"], after["version"], len(after["items"])) == ("用于测试的人口信息资源。", 1, 2)


def test_publishing_a_retired_resource_is_a_409(client, as_user):
    admin = as_user("catalog_admin")
    created = client.post("/api/v1/resources", headers=admin, json=factories.resource()).json()
    client.post(f"/api/v1/resources/{created['id']}/retire", headers=admin, json={"reason": "测试"})

    response = client.post(f"/api/v1/resources/{created['id']}/publish", headers=admin)

    assert response.status_code == 409
    assert response.json()["code"] == "resource_not_draft"


def test_retiring_without_a_reason_is_a_422(client, as_user):
    admin = as_user("catalog_admin")
    created = client.post("/api/v1/resources", headers=admin, json=factories.resource()).json()

    response = client.post(f"/api/v1/resources/{created['id']}/retire", headers=admin, json={})

    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "reason"


def test_oversized_chunked_body_without_length_is_refused(client, as_user, settings):
    def chunks():
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b" " * 65536

    response = client.post(
        "/api/v1/resources",
        content=chunks(),
        headers={**as_user("catalog_admin"), "Content-Type": "application/json"},
    )

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"


def test_values_longer_than_allowed_are_a_422_on_every_database(client, as_user, db):
    before = db.scalar(select(func.count()).select_from(Resource))
    items = [{"name": "名" * 201, "data_type": "C"}]

    response = client.post(
        "/api/v1/resources",
        headers=as_user("catalog_admin"),
        json=factories.resource(items=items, format_detail="格" * 201),
    )

    assert response.status_code == 422
    assert {p["path"] for p in response.json()["problems"]} == {"items[0].name", "format_detail"}
    assert db.scalar(select(func.count()).select_from(Resource)) == before


def test_longest_allowed_values_are_stored_on_every_database(client, as_user):
    items = [{"name": "名" * 200, "data_type": "C"}]

    response = client.post(
        "/api/v1/resources",
        headers=as_user("catalog_admin"),
        json=factories.resource(
            name="称" * 200,
            items=items,
            format_detail="格" * 200,
            delivery={"kind": "dataset", "query_key": ["名" * 200]},
        ),
    )

    assert response.status_code == 201
    assert response.json()["items"][0]["name"] == "名" * 200


def test_control_characters_in_text_are_a_422(client, as_user):
    response = client.post(
        "/api/v1/resources", headers=as_user("catalog_admin"), json=factories.resource(name="人口\u0000信息")
    )

    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "name"
    assert "U+0000" in response.json()["problems"][0]["message"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/resources?q=%00",
        "/api/v1/resources?provider=go%00ngan",
        "/api/v1/resources?element=population.%00name",
        "/api/v1/elements/population.%00name",
        "/api/v1/departments/gong%00an",
        "/api/v1/resources/2147483648",
        "/api/v1/resources/-1",
        "/api/v1/users/99999999999999999999",
    ],
)
def test_nul_bytes_and_out_of_range_ids_in_urls_are_a_4xx(client, as_user, url):
    response = client.get(url, headers=as_user("platform_admin"))

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_percent_in_search_text_matches_literally(client, as_user):
    page = _search(client, as_user("requester"), q="%")

    assert page["total"] == 0


def test_malformed_or_unknown_code_reads_as_missing(client, as_user):
    for code in ("101001/999999", "not-a-code"):
        response = client.get(f"/api/v1/resources/by-code/{code}", headers=as_user("requester"))
        assert response.status_code == 404
        assert response.json()["message_en"] == f"resource {code!r} does not exist"


def test_a_draft_by_code_reads_exactly_like_a_missing_resource(client, as_user, db):
    draft = db.scalar(select(Resource).where(Resource.status == "draft"))

    response = client.get(f"/api/v1/resources/by-code/{draft.code}", headers=as_user("requester"))

    assert response.status_code == 404
    assert response.json()["message_en"] == f"resource {draft.code!r} does not exist"
    assert str(draft.id) not in response.text


def test_login_with_a_nul_byte_in_the_username_is_a_401(client):
    response = client.post("/api/v1/auth/token", data={"username": "cata\u0000log", "password": "x" * 10})

    assert (response.status_code, response.json()["code"]) == (401, "invalid_credentials")
