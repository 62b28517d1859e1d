"""Batches, quarantine and discrepancy tickets through the API, with their permissions."""

from sqlalchemy import select

from catalog_schema.department.models import Department
from catalog_schema.library.models import QuarantinedRow
from catalog_schema.user import service as user_service
from catalog_schema.user.schemas import UserCreate
from ingest.settings import PipelineSettings
from tests import sources
from tests.conftest import bearer


def _approver_of(db, slug):
    """Headers of a new 提供部门审批人 of department ``slug``."""
    department = db.scalar(select(Department).where(Department.slug == slug))
    username = f"{slug}_approver"
    user_service.create(
        db=db,
        data=UserCreate(
            username=username,
            full_name=f"{department.name}审批人"[:50],
            role="dept_approver",
            department=slug,
            password="Xx-" * 4,
        ),
    )
    db.flush()
    return bearer(username, role="dept_approver", department_id=department.id)


def test_admin_lists_batches_with_counts(client, as_user, loaded):
    body = client.get("/api/v1/batches", headers=as_user("catalog_admin")).json()

    first = next(b for b in body["items"] if b["id"] == loaded[0].batch_id)
    assert (first["rows_read"], first["loaded"], first["quarantined"], first["reconciles"]) == (2, 1, 1, True)


def test_department_staff_cannot_read_batches(client, as_user, loaded):
    response = client.get("/api/v1/batches", headers=as_user("requester"))

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")


def test_unknown_batch_is_a_404(client, as_user):
    response = client.get("/api/v1/batches/999999", headers=as_user("catalog_admin"))

    assert (response.status_code, response.json()["code"]) == (404, "batch_not_found")


def test_quarantine_lists_the_row_with_its_reason_in_both_languages(client, as_user, loaded):
    body = client.get(
        "/api/v1/quarantine", headers=as_user("catalog_admin"), params={"source": "test_huji"}
    ).json()

    [row] = body["items"]
    [reason] = row["reasons"]
    assert (reason["rule"], reason["element"]) == ("ethnicity_unknown_code", "population.ethnicity")
    assert "GB/T 3304" in reason["message"] and "GB/T 3304" in reason["message_en"]
    assert row["raw"]["mz"] == "77"


def test_resubmit_with_a_correction_loads_the_row(client, as_user, loaded, monkeypatch, tmp_path, db):
    sources_file = tmp_path / "sources.yaml"
    sources_file.write_text("version: 1\nsources:\n  - " + loaded[2].model_dump_json(), encoding="utf-8")
    monkeypatch.setenv("GOVDX_SOURCES_FILE", str(sources_file))
    row = db.scalar(select(QuarantinedRow))

    response = client.post(
        "/api/v1/quarantine/resubmit",
        headers=as_user("catalog_admin"),
        json={"ids": [row.id], "corrections": {str(row.id): {"mz": "01"}}},
    )

    assert response.status_code == 200, response.json()
    assert response.json()["batches"][0]["inserted"] == 1
    again = client.post(
        "/api/v1/quarantine/resubmit", headers=as_user("catalog_admin"), json={"ids": [row.id]}
    )
    assert (again.status_code, again.json()["code"]) == (409, "quarantined_row_closed")


def test_discard_needs_a_note(client, as_user, loaded, db):
    row = db.scalar(select(QuarantinedRow))

    response = client.post(f"/api/v1/quarantine/{row.id}/discard", headers=as_user("catalog_admin"), json={})

    assert response.status_code == 422
    assert (
        client.get(f"/api/v1/quarantine/{row.id}", headers=as_user("catalog_admin")).json()["status"]
        == "open"
    )


def test_departments_named_on_a_ticket_see_it_and_others_do_not(client, as_user, loaded, db):
    outsider = _approver_of(db, "jiaoyu")

    mine = client.get("/api/v1/discrepancies", headers=as_user("approver")).json()
    theirs = client.get("/api/v1/discrepancies", headers=outsider).json()

    assert [t["element"] for t in mine["items"]] == ["population.name"]
    assert theirs["total"] == 0
    ticket_id = mine["items"][0]["id"]
    assert client.get(f"/api/v1/discrepancies/{ticket_id}", headers=outsider).status_code == 404


def test_resolving_a_ticket_records_who_and_why(client, as_user, loaded, db):
    ticket = client.get("/api/v1/discrepancies", headers=as_user("approver")).json()["items"][0]

    response = client.post(
        f"/api/v1/discrepancies/{ticket['id']}/resolve",
        headers=as_user("approver"),
        json={"status": "confirmed", "note": "人社系统录入错误，已通知更正"},
    )

    body = response.json()
    assert (body["status"], body["resolution_note"]) == ("confirmed", "人社系统录入错误，已通知更正")
    assert body["resolved_by_id"] == user_service.get_by_username(db=db, username="approver").id


def test_a_dismissed_ticket_cannot_be_reopened_as_confirmed(client, as_user, loaded):
    ticket = client.get("/api/v1/discrepancies", headers=as_user("catalog_admin")).json()["items"][0]
    url = f"/api/v1/discrepancies/{ticket['id']}/resolve"
    client.post(
        url, headers=as_user("catalog_admin"), json={"status": "dismissed", "note": "同音字，实为同一人"}
    )

    response = client.post(
        url, headers=as_user("catalog_admin"), json={"status": "confirmed", "note": "再议"}
    )

    assert (response.status_code, response.json()["code"]) == (409, "discrepancy_transition_invalid")


def test_auditor_reads_tickets_but_cannot_resolve(client, as_user, loaded):
    ticket = client.get("/api/v1/discrepancies", headers=as_user("auditor")).json()["items"][0]

    response = client.post(
        f"/api/v1/discrepancies/{ticket['id']}/resolve",
        headers=as_user("auditor"),
        json={"status": "confirmed", "note": "x"},
    )

    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert response.json()["message_en"] == (
        "not allowed to resolve discrepancy tickets: requires role catalog_admin, dept_approver"
    )
    after = client.get(f"/api/v1/discrepancies/{ticket['id']}", headers=as_user("auditor")).json()
    assert (after["status"], after["resolved_by_id"]) == ("open", None)


def test_admin_reads_a_subject_merged_across_departments(client, as_user, loaded):
    response = client.get(
        "/api/v1/libraries/population/subjects",
        headers=as_user("catalog_admin"),
        params={"key": sources.id_number(1)},
    )

    values = {v["element"]: (v["value"], v["department"]) for v in response.json()["values"]}
    assert values["population.name"] == ("测试1", "gongan")
    assert values["population.insurance_status"] == ("1", "renshe")


def test_unknown_subject_is_a_404(client, as_user, loaded):
    response = client.get(
        "/api/v1/libraries/population/subjects", headers=as_user("catalog_admin"), params={"key": "nobody"}
    )

    assert (response.status_code, response.json()["code"]) == (404, "subject_not_found")


def test_settings_default_to_the_demo_sources_file():
    assert PipelineSettings().sources_file.name == "sources.yaml"


def test_quality_docs_need_permission_and_stay_in_their_folder(client, as_user, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVDX_QUALITY_DIR", str(tmp_path / "quality"))
    (tmp_path / "quality" / "gx").mkdir(parents=True)
    (tmp_path / "quality" / "gx" / "index.html").write_text("<html>报告</html>", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("secret", encoding="utf-8")

    ok = client.get("/api/v1/quality-docs/gx/index.html", headers=as_user("catalog_admin"))
    denied = client.get("/api/v1/quality-docs/gx/index.html", headers=as_user("requester"))
    escaped = client.get("/api/v1/quality-docs/..%2Fsecret.txt", headers=as_user("catalog_admin"))

    assert (ok.status_code, "报告" in ok.text) == (200, True)
    assert (denied.status_code, denied.json()["code"]) == (403, "permission_denied")
    assert (escaped.status_code, escaped.json()["code"]) == (404, "report_not_found")


def test_verifying_department_cannot_resolve_the_owners_ticket(client, as_user, loaded, db):
    headers = _approver_of(db, "renshe")
    ticket = client.get("/api/v1/discrepancies", headers=headers).json()["items"][0]

    response = client.post(
        f"/api/v1/discrepancies/{ticket['id']}/resolve",
        headers=headers,
        json={"status": "dismissed", "note": "我方无误"},
    )

    assert (response.status_code, response.json()["code"]) == (403, "not_ticket_owner")


def test_a_quality_docs_path_with_a_nul_byte_is_not_found(client, as_user, tmp_path, monkeypatch):
    monkeypatch.setenv("GOVDX_QUALITY_DIR", str(tmp_path / "quality"))

    response = client.get("/api/v1/quality-docs/gx/index%00.html", headers=as_user("catalog_admin"))

    assert (response.status_code, response.json()["code"]) == (404, "report_not_found")


def test_a_batch_filter_beyond_64_bits_is_refused_as_input(client, as_user):
    response = client.get(f"/api/v1/quarantine?batch_id={2**64}", headers=as_user("catalog_admin"))

    assert response.status_code == 422


def test_a_resubmission_naming_an_id_beyond_64_bits_is_refused_as_input(client, as_user):
    response = client.post(
        "/api/v1/quarantine/resubmit", headers=as_user("catalog_admin"), json={"ids": [2**64]}
    )

    assert response.status_code == 422
