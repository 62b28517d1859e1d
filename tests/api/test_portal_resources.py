"""The catalog administrator's resource pages: registering, editing, publishing and retiring a
resource through its form, signed in by cookie as a browser is."""

import re

import pytest
from sqlalchemy import func, select

from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from tests import factories
from tests.api.portal_forms import post, sign_in, text_of


def resource_form(**overrides):
    form = {
        "name": "门户登记测试资源",
        "category.class": "basic",
        "category.item": "01",
        "category.catalog": "009",
        "provider": "gongan",
        "abstract": "通过门户表单登记的测试资源。",
        "format": "database",
        "update_cycle": "daily",
        "share.type": "unconditional",
        "share.method": "api",
        "items[0].name": "公民身份号码",
        "items[0].data_type": "C",
        "items[0].length": "18",
        "items[0].element": "population.id_number",
        "items[1].name": "",
        "items[1].data_type": "C",
        "items[2].name": "姓名",
        "items[2].data_type": "C",
        "items[2].element": "population.name",
    }
    form.update(overrides)
    return form


def count_resources(db):
    return db.scalar(select(func.count()).select_from(Resource))


def test_new_resource_form_shows_item_rows_and_the_add_row_button(client):
    sign_in(client, "catalog_admin")

    page = client.get("/catalog/new")

    assert page.status_code == 200
    assert 'name="items[0].element"' in page.text and "添加一行" in page.text


def test_admin_registers_a_resource_through_the_form(client, db):
    sign_in(client, "catalog_admin")

    response = post(client, "/catalog/new", resource_form())

    assert response.status_code == 303
    created = db.scalar(select(Resource).where(Resource.name == "门户登记测试资源"))
    assert response.headers["location"] == f"/catalog/{created.id}"
    assert (created.status.value, [i.name for i in created.items]) == ("draft", ["公民身份号码", "姓名"])


def test_an_unknown_element_is_shown_at_its_item_row_and_nothing_is_created(client, db):
    sign_in(client, "catalog_admin")
    before = count_resources(db)

    # The blank second row is dropped, so the bad third row is shown again as row 2 (items[1]).
    response = post(client, "/catalog/new", resource_form(**{"items[2].element": "population.nope"}))

    assert response.status_code == 422
    row_error = re.search(r'id="items\[1\]\.element-error"[^>]*>([^<]+)<', text_of(response))
    assert row_error and "数据元 'population.nope' 不存在" in row_error[1]
    assert count_resources(db) == before


def test_a_conditional_resource_without_its_condition_is_refused_at_the_share_fields(client, db):
    sign_in(client, "catalog_admin")
    before = count_resources(db)

    response = post(client, "/catalog/new", resource_form(**{"share.type": "conditional"}))

    assert response.status_code == 422
    assert 'id="share-error"' in response.text
    assert "有条件共享必须填写共享条件" in text_of(response)
    assert count_resources(db) == before


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(client, db):
    sign_in(client, "catalog_admin")
    before = count_resources(db)

    response = client.post("/catalog/new", data=resource_form(), follow_redirects=False)

    assert response.status_code == 403
    assert count_resources(db) == before


def test_the_edit_form_is_prefilled_and_saves_a_change(client, db):
    sign_in(client, "catalog_admin")
    post(client, "/catalog/new", resource_form())
    created = db.scalar(select(Resource).where(Resource.name == "门户登记测试资源"))

    page = client.get(f"/catalog/{created.id}/edit")
    form = dict(re.findall(r'<input[^>]* name="([^"]+)"[^>]* value="([^"]*)"', page.text))
    form.pop("open.open")  # an unchecked checkbox is not posted
    form["abstract"] = "修改后的摘要"
    form.update({"format": "database", "update_cycle": "daily", "share.type": "unconditional"})
    form.update({"share.method": "api", "items[0].data_type": "C", "items[1].data_type": "C"})
    response = post(client, f"/catalog/{created.id}/edit", form)

    assert (page.status_code, form["items[1].element"]) == (200, "population.name")
    assert response.status_code == 303
    db.refresh(created)
    assert (created.abstract, len(created.items)) == ("修改后的摘要", 2)


def test_retiring_without_a_reason_is_refused_in_place(client, db):
    sign_in(client, "catalog_admin")
    post(client, "/catalog/new", resource_form())
    created = db.scalar(select(Resource).where(Resource.name == "门户登记测试资源"))

    response = post(client, f"/catalog/{created.id}/retire", {"reason": ""})

    assert response.status_code == 422
    assert 'id="reason-error"' in response.text
    db.refresh(created)
    assert created.status.value == "draft"


def test_publishing_a_draft_from_the_edit_page(client, db):
    sign_in(client, "catalog_admin")
    post(client, "/catalog/new", resource_form())
    created = db.scalar(select(Resource).where(Resource.name == "门户登记测试资源"))

    response = post(client, f"/catalog/{created.id}/publish", {})

    assert response.status_code == 303
    db.refresh(created)
    assert created.status.value == "published"


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        (factories.DEPARTMENT_RESOURCE, "基础库视图：人口库中榕城市公安局的数据"),
        (
            "203001/000001",
            "库表交换（资源数据集）：榕城市民政局的资源数据集，按“公民身份号码”查询，每个主体可有多行",
        ),
    ],
)
def test_the_resource_page_says_how_a_grant_is_delivered_and_the_grade(client, db, code, shown):
    resource = resource_service.get_by_code(db=db, code=code)
    sign_in(client, "catalog_admin")

    page = client.get(f"/catalog/{resource.id}").text

    delivery = re.search(r'data-testid="delivery">([^<]*)<', page)
    assert delivery is not None and delivery[1].startswith(shown)
    assert 'data-testid="grade">高度敏感' in page


def test_admin_registers_a_dataset_through_the_form(client, db):
    sign_in(client, "catalog_admin")
    form = resource_form(**{"delivery.kind": "dataset", "delivery.query_key": "公民身份号码"})

    response = post(client, "/catalog/new", form)

    assert response.status_code == 303
    created = db.scalar(select(Resource).where(Resource.name == "门户登记测试资源"))
    assert created.delivery == {"kind": "dataset", "query_key": ["公民身份号码"], "record_key": []}


def test_a_view_of_another_departments_element_is_refused_beside_the_item(client, db):
    sign_in(client, "catalog_admin")
    before = count_resources(db)

    response = post(client, "/catalog/new", resource_form(provider="shichang"))

    assert response.status_code == 422
    assert "信息项“姓名”的数据元 population.name（姓名）的权威源是榕城市公安局" in text_of(response)
    assert count_resources(db) == before


def test_the_edit_form_keeps_a_certificate_views_types(client, db):
    licence = resource_service.get_by_code(db=db, code="105001/000001")
    sign_in(client, "catalog_admin")

    page = text_of(client.get(f"/catalog/{licence.id}/edit"))

    assert ">certificate.type_code: 11350100003576486C001</textarea>" in page
