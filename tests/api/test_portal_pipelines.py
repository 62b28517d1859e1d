"""The pipelines' pages: batches with their quality reports, the quarantine and discrepancy
tickets, signed in by cookie as a browser is."""

import re

from sqlalchemy import select

from catalog_schema.library.models import IngestBatch, QuarantinedRow
from catalog_schema.types import QuarantineStatus
from tests import factories
from tests.api.portal_forms import post, sign_in, text_of


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
