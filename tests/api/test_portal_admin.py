"""The catalog administrator's portal pages: resource forms, the element registry, batches, the
quarantine and discrepancy tickets, signed in by cookie as a browser is."""

import re
from html import unescape

from sqlalchemy import func, select

from catalog_schema.element import service as element_service
from catalog_schema.library.models import IngestBatch, QuarantinedRow
from catalog_schema.resource.models import Resource
from catalog_schema.types import QuarantineStatus
from demo.catalog import DEMO_PASSWORD
from tests import factories

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client, username, password=DEMO_PASSWORD):
    """Sign in through the login form as a browser does; the client keeps the cookies."""
    page = client.get("/login")
    token = CSRF.search(page.text)[1]
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def csrf(client):
    """The token a form of the signed-in session carries (the cookie it must repeat)."""
    return client.cookies.get("govdx_csrf")


def post(client, url, data):
    return client.post(url, data={**data, "csrf_token": csrf(client)}, follow_redirects=False)


def text_of(response):
    return unescape(response.text)


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


def registry(db, code):
    db.expire_all()
    element = element_service.get_by_code(db=db, code=code)
    return {(s.department.slug, s.role.value) for s in element.sources}


def test_a_second_authoritative_source_is_refused_in_place_and_the_registry_is_unchanged(client, db):
    before = registry(db, "population.name")
    sign_in(client, "catalog_admin")

    response = post(
        client, "/elements/population.name/sources", {"department": "renshe", "role": "authoritative"}
    )

    assert response.status_code == 422
    refused = re.search(
        r'data-testid="register-source".*?class="form-error"[^>]*>([^<]+)<', text_of(response), re.S
    )
    assert refused and "一个数据元只能有一个权威源" in refused[1] and "已有权威源部门" in refused[1]
    assert registry(db, "population.name") == before
    assert ("gongan", "authoritative") in before


def test_registering_a_verification_source_shows_it_on_the_element_page(client, db):
    assert "fayuan" not in {slug for slug, _ in registry(db, "population.name")}
    sign_in(client, "catalog_admin")

    response = post(
        client, "/elements/population.name/sources", {"department": "fayuan", "role": "verification"}
    )
    page = client.get("/elements/population.name")

    assert response.status_code == 303
    verifiers = re.search(r'data-testid="verifiers">(.*?)</dd>', page.text, re.S)
    assert verifiers and "fayuan" in verifiers[1]


def test_elements_without_an_authoritative_source_are_flagged(client, db):
    from catalog_schema.element.models import DataElement
    from catalog_schema.types import DataType, Library, Sensitivity

    db.add(
        DataElement(
            code="population.orphan",
            name="无主测试数据元",
            library=Library.population,
            data_type=DataType.C,
            sensitivity=Sensitivity.internal,
        )
    )
    db.flush()
    sign_in(client, "catalog_admin")

    page = client.get("/elements", params={"q": "orphan"})

    assert page.status_code == 200
    assert 'data-testid="no-owner"' in page.text
    assert "population.orphan" in re.search(r'data-testid="gaps">(.*?)</section>', page.text, re.S)[1]


def test_a_requester_may_not_open_the_element_registry_or_the_batches(client):
    sign_in(client, "requester")

    assert client.get("/elements").status_code == 403
    assert client.get("/batches").status_code == 403


def test_batches_show_their_counts(client, loaded):
    sign_in(client, "catalog_admin")

    page = client.get(f"/batches/{loaded[0].batch_id}")

    counts = dict(re.findall(r"<dt>([^<]+)</dt><dd>(?:<a [^>]*>)?(\d+)", page.text))
    assert page.status_code == 200
    assert (counts["读取"], counts["隔离"], counts["入库合计"]) == ("2", "1", "1")


def test_a_batch_links_its_quality_report_through_the_portal(client, db, loaded):
    batch = db.get(IngestBatch, loaded[0].batch_id)
    batch.quality_report = "gx/index.html"
    db.flush()
    sign_in(client, "catalog_admin")

    page = client.get(f"/batches/{batch.id}")

    link = re.search(r'href="([^"]+)"[^>]*data-testid="quality-report"', page.text)
    assert link and link[1] == "/quality-docs/gx/index.html"


def test_quality_docs_are_served_to_pipeline_readers_but_not_outside_their_folder(
    client, tmp_path, monkeypatch
):
    monkeypatch.setenv("GOVDX_QUALITY_DIR", str(tmp_path / "quality"))
    (tmp_path / "quality" / "gx").mkdir(parents=True)
    (tmp_path / "quality" / "gx" / "index.html").write_text("<html>报告</html>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")
    sign_in(client, "catalog_admin")

    ok = client.get("/quality-docs/gx/index.html")
    escaped = client.get("/quality-docs/..%2Fsecret.txt")

    assert (ok.status_code, "报告" in ok.text) == (200, True)
    assert escaped.status_code == 404 and "secret" not in escaped.text.replace("secret.txt", "")


def test_discarding_a_quarantined_row_needs_a_note(client, db, loaded):
    row = db.scalar(select(QuarantinedRow))
    sign_in(client, "catalog_admin")

    response = post(client, f"/quarantine/{row.id}/discard", {"note": ""})

    assert response.status_code == 422 and 'id="note-error"' in response.text
    db.refresh(row)
    assert row.status is QuarantineStatus.open


def test_the_quarantine_lists_open_rows_with_their_reasons(client, loaded):
    sign_in(client, "catalog_admin")

    page = client.get("/quarantine")

    assert page.status_code == 200
    assert "民族代码不在 GB/T 3304 中" in text_of(page)


def test_a_department_approver_sees_only_their_departments_tickets(client, db, loaded):
    factories.user(db, "jiaoyu_approver", "dept_approver", "jiaoyu")
    sign_in(client, "approver")
    mine = client.get("/discrepancies")
    ticket = re.search(r'data-ticket="(\d+)"', mine.text)[1]
    client.cookies.clear()
    sign_in(client, "jiaoyu_approver", factories.TEST_PASSWORD)

    theirs = client.get("/discrepancies")

    assert "population.name" in mine.text
    assert "data-ticket=" not in theirs.text
    assert client.get(f"/discrepancies/{ticket}").status_code == 404


def test_resolving_a_ticket_through_the_form(client, loaded):
    sign_in(client, "approver")
    ticket = re.search(r'data-ticket="(\d+)"', client.get("/discrepancies").text)[1]

    response = post(
        client, f"/discrepancies/{ticket}/resolve", {"status": "confirmed", "note": "人社录入错误"}
    )
    page = client.get(f"/discrepancies/{ticket}")

    assert response.status_code == 303
    assert re.search(r'data-testid="ticket-status">([^<]+)<', page.text)[1] == "已确认"
