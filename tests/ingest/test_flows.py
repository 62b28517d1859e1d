"""The ingest flow on small hand-made sources: SCD2 versions, change detection, one source per element."""

import json
import subprocess
import sys
from datetime import date, timedelta

import pytest
from sqlalchemy import event, func, select

from catalog_schema.database import utcnow
from catalog_schema.keys import service as keys_service
from catalog_schema.library import sealing, subjects
from catalog_schema.library import service as library_service
from catalog_schema.library.models import Discrepancy, IngestBatch, LibraryRecord, QuarantinedRow
from catalog_schema.types import BatchStatus, DiscrepancyStatus, Library
from connectors.base import SchemaDrift
from ingest import batch, bulk, flows
from ingest.registry import SourceConfigError
from tests import sources


def ingest(spec, session_factory, tmp_path, **kwargs):
    return flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test", **kwargs)


def stored(key):
    return subjects.stored_key(keys_service.get_keyring(), Library.population, [key])


def records(db, key):
    return db.scalars(
        select(LibraryRecord).where(LibraryRecord.subject_key == stored(key)).order_by(LibraryRecord.id)
    ).all()


def values(record):
    """A record's values, unsealed."""
    return keys_service.get_keyring().unseal(json.loads(record.values), aad=record.subject_key)


def test_new_rows_are_inserted_and_the_batch_reconciles(session_factory, db, tmp_path):
    spec = sources.household_register(tmp_path / "huji.csv", [sources.person(i) for i in range(5)])

    summary = ingest(spec, session_factory, tmp_path)

    batch = db.get(IngestBatch, summary.batch_id)
    assert (summary.inserted, summary.quarantined, batch.status, batch.reconciles) == (
        5,
        0,
        BatchStatus.succeeded,
        True,
    )


def test_unchanged_file_is_skipped_by_its_fingerprint(session_factory, tmp_path):
    spec = sources.household_register(tmp_path / "huji.csv", [sources.person(i) for i in range(3)])
    ingest(spec, session_factory, tmp_path)

    again = ingest(spec, session_factory, tmp_path)

    assert again.status is BatchStatus.skipped


def test_forced_reread_of_unchanged_rows_writes_nothing(session_factory, db, tmp_path):
    spec = sources.household_register(tmp_path / "huji.csv", [sources.person(i) for i in range(3)])
    ingest(spec, session_factory, tmp_path)

    again = ingest(spec, session_factory, tmp_path, force=True)

    assert (again.unchanged, again.inserted, again.updated) == (3, 0, 0)
    assert db.scalar(select(func.count()).select_from(LibraryRecord)) == 3


def test_changed_row_closes_the_old_version_and_opens_a_new_one(session_factory, db, tmp_path):
    path = tmp_path / "huji.csv"
    ingest(sources.household_register(path, [sources.person(1)]), session_factory, tmp_path)

    summary = ingest(
        sources.household_register(path, [sources.person(1, xm="改名")]), session_factory, tmp_path
    )

    versions = records(db, sources.id_number(1))
    assert summary.updated == 1
    assert [values(v)["population.name"] for v in versions] == ["测试1", "改名"]
    assert versions[0].valid_to == versions[1].valid_from and versions[1].valid_to is None


def test_value_on_a_past_date_is_the_version_valid_then(session_factory, db, tmp_path):
    path = tmp_path / "huji.csv"
    ingest(sources.household_register(path, [sources.person(1)]), session_factory, tmp_path)
    first = records(db, sources.id_number(1))[0]
    first.valid_from = utcnow() - timedelta(days=30)
    db.commit()
    ingest(sources.household_register(path, [sources.person(1, xm="改名")]), session_factory, tmp_path)
    db.expire_all()

    then = library_service.subject_on(
        db=db,
        keyring=keys_service.get_keyring(),
        library=Library.population,
        subject_key=sources.id_number(1),
        on=date.today() - timedelta(days=10),
    )

    assert {v.element: v.value for v in then.values}["population.name"] == "测试1"


def test_only_elements_the_department_owns_are_written(session_factory, db, tmp_path):
    ingest(sources.household_register(tmp_path / "huji.csv", [sources.person(1)]), session_factory, tmp_path)

    canbao = [{"sfzh": sources.id_number(1), "xm": "测试1", "cbzt": "1"}]
    ingest(sources.social_insurance(tmp_path / "canbao.csv", canbao), session_factory, tmp_path)

    written = sorted(sorted(values(r)) for r in records(db, sources.id_number(1)))
    assert ["population.insurance_status"] in written
    assert all("population.name" not in w for w in written if "population.insurance_status" in w)


def test_a_verification_value_that_differs_opens_one_ticket(session_factory, db, tmp_path, keyring):
    ingest(sources.household_register(tmp_path / "huji.csv", [sources.person(1)]), session_factory, tmp_path)
    canbao = sources.social_insurance(
        tmp_path / "canbao.csv", [{"sfzh": sources.id_number(1), "xm": "侧试1", "cbzt": "1"}]
    )

    ingest(canbao, session_factory, tmp_path)
    ingest(canbao, session_factory, tmp_path, force=True)

    tickets = db.scalars(select(Discrepancy)).all()
    assert [
        (
            t.element.code,
            sealing.open_ticket_value(
                keyring, t.authoritative_value, subject_key=t.subject_key, element=t.element.code
            ),
            sealing.open_ticket_value(
                keyring, t.other_value, subject_key=t.subject_key, element=t.element.code
            ),
            t.authoritative_department.slug,
            t.other_department.slug,
        )
        for t in tickets
    ] == [("population.name", "测试1", "侧试1", "gongan", "renshe")]


def test_a_subject_unknown_to_the_authoritative_source_opens_a_ticket(session_factory, db, tmp_path, keyring):
    ingest(sources.household_register(tmp_path / "huji.csv", [sources.person(1)]), session_factory, tmp_path)

    ingest(
        sources.social_insurance(
            tmp_path / "canbao.csv", [{"sfzh": sources.id_number(2), "xm": "无此人", "cbzt": "1"}]
        ),
        session_factory,
        tmp_path,
    )

    ticket = db.scalar(select(Discrepancy))
    assert (ticket.kind.value, sealing.open_subject(keyring, ticket.subject_key, ticket.subject_cipher)) == (
        "missing_in_authoritative",
        sources.id_number(2),
    )


def test_duplicate_key_loads_the_first_row_and_quarantines_the_later(session_factory, db, tmp_path):
    rows = [sources.person(1), sources.person(2), sources.person(1, xm="重复")]

    summary = ingest(
        sources.household_register(tmp_path / "huji.csv", rows, chunk_rows=100), session_factory, tmp_path
    )

    quarantined = db.scalar(select(QuarantinedRow))
    assert (summary.inserted, summary.quarantined, quarantined.source_row) == (2, 1, 3)
    assert values(records(db, sources.id_number(1))[0])["population.name"] == "测试1"


def test_duplicate_key_across_chunks_is_caught(session_factory, db, tmp_path):
    rows = [sources.person(i) for i in range(150)] + [sources.person(3, xm="重复")]

    summary = ingest(
        sources.household_register(tmp_path / "huji.csv", rows, chunk_rows=100), session_factory, tmp_path
    )

    assert (summary.inserted, summary.quarantined) == (150, 1)


def test_duplicate_key_across_chunks_of_an_unchanged_row_is_caught(session_factory, db, tmp_path):
    path = tmp_path / "huji.csv"
    ingest(
        sources.household_register(path, [sources.person(i) for i in range(150)]), session_factory, tmp_path
    )
    rows = [sources.person(i) for i in range(150)] + [sources.person(3, xm="重复")]

    summary = ingest(sources.household_register(path, rows, chunk_rows=100), session_factory, tmp_path)

    assert (summary.unchanged, summary.inserted, summary.updated, summary.quarantined) == (150, 0, 0, 1)
    assert values(records(db, sources.id_number(3))[-1])["population.name"] == "测试3"


def test_missing_column_fails_the_batch_naming_the_column_and_loads_nothing(session_factory, db, tmp_path):
    path = sources.write_csv(
        tmp_path / "huji.csv", [sources.person(1)], columns=["sfzh", "xm", "xb", "mz", "csrq"]
    )
    spec = sources.spec("test_huji", path, department="gongan", columns=sources.HOUSEHOLD_REGISTER_COLUMNS)

    with pytest.raises(SchemaDrift) as raised:
        ingest(spec, session_factory, tmp_path)

    batch = db.scalar(select(IngestBatch).order_by(IngestBatch.id.desc()))
    assert raised.value.column == "hjdz" and "hjdz" in raised.value.message
    assert (batch.status, batch.error_code) == (BatchStatus.failed, "source_schema_drift")
    assert db.scalar(select(func.count()).select_from(LibraryRecord)) == 0


def test_source_of_a_department_owning_nothing_is_refused(session_factory, tmp_path):
    path = sources.write_csv(tmp_path / "x.csv", [{"sfzh": sources.id_number(1), "xm": "甲"}])
    spec = sources.spec(
        "test_jiaoyu",
        path,
        department="jiaoyu",
        columns={"sfzh": "population.id_number", "xm": "population.name"},
    )

    with pytest.raises(SourceConfigError, match="authoritative"):
        ingest(spec, session_factory, tmp_path)


def test_resubmitted_correction_loads_and_closes_the_quarantined_row(session_factory, db, tmp_path):
    spec = sources.household_register(tmp_path / "huji.csv", [sources.person(1, mz="77")])
    ingest(spec, session_factory, tmp_path)
    row = db.scalar(select(QuarantinedRow))

    summary = flows.resubmit_rows(
        spec,
        [row],
        {row.id: {"mz": "01"}},
        session_factory=session_factory,
        run_id="test",
        accept_review=False,
    )

    db.refresh(row)
    assert (summary.inserted, row.status.value, row.resubmitted_batch_id) == (
        1,
        "resubmitted",
        summary.batch_id,
    )


def test_batch_that_does_not_reconcile_is_refused(session_factory, db):
    summary = batch.BatchSummary(batch_id=1, source="x", rows_read=3, inserted=1, quarantined=1)

    with pytest.raises(batch.ReconciliationError, match="does not reconcile"):
        batch.finish(db, summary, since=None, high_water=None, fingerprint=None)


def test_resubmitted_row_that_fails_again_stays_open(session_factory, db, tmp_path):
    spec = sources.household_register(tmp_path / "huji.csv", [sources.person(1, mz="77")])
    ingest(spec, session_factory, tmp_path)
    row = db.scalar(select(QuarantinedRow))

    summary = flows.resubmit_rows(
        spec, [row], {}, session_factory=session_factory, run_id="resubmit:test", accept_review=False
    )

    db.refresh(row)
    assert (summary.quarantined, row.status.value) == (1, "open")
    assert db.scalar(select(func.count()).select_from(QuarantinedRow)) == 1


def test_resubmission_does_not_reset_the_file_fingerprint(session_factory, db, tmp_path):
    spec = sources.household_register(tmp_path / "huji.csv", [sources.person(1), sources.person(2, mz="77")])
    ingest(spec, session_factory, tmp_path)
    row = db.scalar(select(QuarantinedRow))
    flows.resubmit_rows(
        spec,
        [row],
        {row.id: {"mz": "01"}},
        session_factory=session_factory,
        run_id="resubmit:t",
        accept_review=False,
    )

    again = ingest(spec, session_factory, tmp_path)

    assert again.status is BatchStatus.skipped


def test_a_dismissed_difference_is_not_reopened_by_the_next_load(session_factory, db, tmp_path):
    ingest(sources.household_register(tmp_path / "huji.csv", [sources.person(1)]), session_factory, tmp_path)
    canbao = sources.social_insurance(
        tmp_path / "canbao.csv", [{"sfzh": sources.id_number(1), "xm": "侧试1", "cbzt": "1"}]
    )
    ingest(canbao, session_factory, tmp_path)
    ticket = db.scalar(select(Discrepancy))
    ticket.status = DiscrepancyStatus.dismissed
    db.commit()

    again = ingest(canbao, session_factory, tmp_path, force=True)

    assert again.discrepancies == 0
    assert db.scalar(select(func.count()).select_from(Discrepancy)) == 1


def test_codes_with_spaces_or_hyphens_load_as_one_subject(session_factory, db, tmp_path):
    spaced = sources.id_number(1)[:6] + " " + sources.id_number(1)[6:]

    summary = ingest(
        sources.household_register(
            tmp_path / "huji.csv", [sources.person(1), sources.person(1, sfzh=spaced)]
        ),
        session_factory,
        tmp_path,
    )

    assert (summary.inserted, summary.quarantined) == (1, 1)


def test_a_value_holding_a_unicode_line_separator_loads_and_reads_back(session_factory, db, tmp_path):
    name = "测试\u2028甲\x85乙"

    summary = ingest(
        sources.household_register(tmp_path / "huji.csv", [sources.person(1, xm=name)]),
        session_factory,
        tmp_path,
    )

    assert (summary.inserted, summary.quarantined) == (1, 0)
    assert values(records(db, sources.id_number(1))[0])["population.name"] == name


def test_a_process_that_imports_only_the_dag_task_bodies_has_every_table_mapped() -> None:
    # A DAG task imports ingest.scheduled alone; a quarantined row points at users, so every
    # foreign key must resolve there, not only in processes that happened to import the API first.
    script = (
        "import ingest.scheduled\n"
        "from catalog_schema.database import Base\n"
        "[fk.column for table in Base.metadata.tables.values() for fk in table.foreign_keys]\n"
    )

    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False)

    assert (done.returncode, done.stderr) == (0, "")


def test_postgresql_change_detection_is_one_array_lookup_per_chunk(connection, session_factory, tmp_path):
    # Chunks larger than an IN slice: the old path sent several IN lists per chunk, each answered by
    # scanning the department's rows (no statistics inside the load's transaction).
    if connection.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's lookup path; SQLite keeps its IN slices")
    chunk = bulk.LOOKUP_SLICE + 1000
    rows = [sources.person(i) for i in range(2 * chunk)]
    spec = sources.household_register(tmp_path / "huji.csv", rows, chunk_rows=chunk)
    ingest(spec, session_factory, tmp_path)
    lookups: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        # Lookups by key, as an array or an IN list (not the batch's one probe for any current version).
        by_key = "unnest(" in statement or " IN (" in statement
        if statement.startswith("SELECT") and "FROM library_records" in statement and by_key:
            lookups.append((statement, parameters))

    event.listen(connection, "before_cursor_execute", record)
    again = ingest(spec, session_factory, tmp_path, force=True)
    event.remove(connection, "before_cursor_execute", record)

    assert (again.unchanged, again.inserted, again.updated) == (2 * chunk, 0, 0)
    assert [("unnest(" in sql, len(params.get("keys", ()))) for sql, params in lookups] == [(True, chunk)] * 2
