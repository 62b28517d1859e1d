"""The auditor finds a person in a bulk export over HTTP: library views and datasets, by one search.

人社's system exports 公安's view of the population library and 民政's 低保 dataset (loaded by the
real pipeline); the auditor then searches ``GET /api/v1/audit/records?subject=`` by ID number and
gets the export's records (request id, resource, client, time), as it gets a batch's per subject.
"""

import pytest

from ingest import flows
from tests import factories, sources
from tests.sources import SUBSISTENCE

API = "/api/v1/data"
# 人员 1 and 2 are in 公安's population records, 1 and 3 on 低保; 人员 3's population record is
# 民政's, outside 公安's view.
IN_VIEW, ON_SUBSISTENCE = (1, 2), (1, 3)


@pytest.fixture
def client_address():
    """人社's system calls from this machine: 低保's allowlist lets 本机（演示） 127.0.0.1 in."""
    return ("127.0.0.1", 50000)


@pytest.fixture
def people(db, keyring, session_factory, tmp_path):
    """The three people, by number: their ID numbers."""
    for n, department in ((1, "gongan"), (2, "gongan"), (3, "minzheng")):
        values = {**factories.person(n), "population.id_number": sources.id_number(n)}
        factories.library_record(
            db, "population", [sources.id_number(n)], values, department=department, keyring=keyring
        )
    rows = [sources.subsistence_row(n) for n in ON_SUBSISTENCE]
    spec = sources.subsistence(tmp_path / "dibao.csv", rows)
    assert (
        flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test").quarantined
        == 0
    )
    return {n: sources.id_number(n) for n in (1, 2, 3)}


@pytest.fixture
def system(db):
    api_client, _secret = factories.api_client(db)
    return api_client


def _export(client, db, system, resource, request_id):
    grant = factories.grant(
        db,
        resource=resource,
        items=["公民身份号码"],
        access_modes=("bulk_export",),
        business_reference=request_id,
    )
    headers = {
        **factories.client_headers(system),
        "X-Govdx-Purpose": grant.request_number,
        "X-Request-Id": request_id,
    }
    response = client.get(f"{API}/export", headers=headers, params={"resource": resource})
    assert response.status_code == 200, response.text
    return response


def _search(client, as_user, key):
    response = client.get("/api/v1/audit/records", params={"subject": key}, headers=as_user("auditor"))
    assert response.status_code == 200, response.json()
    return response.json()["items"]


def test_a_person_in_an_export_of_a_library_view_is_found_with_the_exports_request_id(
    client, db, as_user, system, people
):
    resource = factories.people_resource(db)
    _export(client, db, system, resource, "export-library")

    found = [r for r in _search(client, as_user, people[2]) if r["request_id"] == "export-library"]

    assert [(r["mode"], r["resource_code"], r["client_id"], r["outcome"]) for r in found] == [
        ("bulk_export", resource, system.client_id, "served")
    ]
    assert found[0]["at"] and found[0]["subjects"] == 2


def test_a_person_in_an_export_of_a_dataset_is_found_with_the_exports_request_id(
    client, db, as_user, system, people
):
    _export(client, db, system, SUBSISTENCE, "export-dataset")

    found = [r for r in _search(client, as_user, people[3]) if r["request_id"] == "export-dataset"]

    assert [(r["mode"], r["resource_code"], r["client_id"]) for r in found] == [
        ("bulk_export", SUBSISTENCE, system.client_id)
    ]


def test_one_search_finds_a_person_in_a_library_export_and_a_dataset_export(
    client, db, as_user, system, people
):
    _export(client, db, system, factories.people_resource(db), "export-library")
    _export(client, db, system, SUBSISTENCE, "export-dataset")

    found = {r["request_id"] for r in _search(client, as_user, people[1])}

    assert found == {"export-library", "export-dataset"}


def test_a_person_outside_the_exported_view_is_not_found_through_the_export(
    client, db, as_user, system, people
):
    _export(client, db, system, factories.people_resource(db), "export-library")  # 公安's records only

    found = {r["request_id"] for r in _search(client, as_user, people[3])}

    assert "export-library" not in found


def test_a_batch_is_traced_per_subject(client, db, as_user, system, people):
    resource = factories.people_resource(db)
    grant = factories.grant(db, resource=resource, items=["姓名"], access_modes=("batch",))
    headers = {
        **factories.client_headers(system),
        "X-Govdx-Purpose": grant.request_number,
        "X-Request-Id": "b-1",
    }
    response = client.post(
        f"{API}/batch", headers=headers, json={"resource": resource, "keys": [people[1], people[2]]}
    )
    assert response.status_code == 200, response.json()

    found = {n: [r for r in _search(client, as_user, people[n]) if r["request_id"] == "b-1"] for n in (1, 2)}

    assert {n: [(r["mode"], r["subjects"]) for r in records] for n, records in found.items()} == {
        1: [("batch", 1)],
        2: [("batch", 1)],
    }
