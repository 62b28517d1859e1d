"""The data-element registry's pages: sources registered and refused in place, elements without an
authoritative source, signed in by cookie as a browser is."""

import re

from catalog_schema.element import service as element_service
from tests.api.portal_forms import post, sign_in, text_of


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

    pages = [client.get("/elements"), client.get("/batches")]

    assert [(r.status_code, "代码 permission_denied" in r.text) for r in pages] == [(403, True), (403, True)]


def test_a_kept_elements_page_lists_who_answers_for_each_partition_of_its_library(client):
    sign_in(client, "catalog_admin")

    page = client.get("/elements/legal_person.name")

    partitions = re.search(r'data-testid="partitions">(.*?)</table>', page.text, re.S)
    assert partitions is not None
    assert re.findall(r'<td class="code">(\w+)</td><td>[^<]*</td><td>([^<]+)</td>', partitions[1]) == [
        ("1", "中共榕城市委机构编制委员会办公室"),
        ("5", "榕城市民政局"),
        ("9", "榕城市市场监督管理局"),
    ]
