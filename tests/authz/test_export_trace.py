"""Bulk exports traced per person: each row group's subjects, committed before its bytes leave, bound into
the chain, found by the subject search, and covered by verification online and offline.
"""

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from authz.access import export, lookup
from authz.access.schemas import Call, LookupIn
from authz.access.settings import DataSettings
from authz.audit import export as audit_export
from authz.audit import search as audit_search
from authz.audit import traces
from authz.audit import verify as audit_verify
from authz.audit.models import AccessRecord, AccessSubject
from authz.audit.schemas import AuditFilter, BreakKind, VerifyReport
from catalog_schema.keys.service import Keyring
from catalog_schema.pagination import PageParams
from tests import factories
from tests.conftest import TEST_SECRET

PENALTIES = "104002/000001"  # 信用 行政处罚信息（双公示）: a view of the credit library, 无条件共享


@pytest.fixture
def system(db):
    api_client, _ = factories.api_client(db)
    return api_client


@pytest.fixture
def people(log, keyring):
    """Three people in 公安's population records (the access log emptied first); their ID numbers."""
    keys = []
    for seed in (1, 2, 3):
        values = factories.person(seed)
        factories.library_record(log, "population", [values["population.id_number"]], values, keyring=keyring)
        keys.append(values["population.id_number"])
    return keys


@pytest.fixture
def exportable(db):
    """A 公安 view of the population library whose grant may export."""
    resource = factories.people_resource(db)
    return resource, factories.grant(
        db, resource=resource, items=["公民身份号码"], access_modes=("bulk_export",)
    )


def _call(system, grant, request_id):
    token = factories.client_headers(system)["Authorization"].removeprefix("Bearer ")
    return Call(
        token=token, purpose=grant.request_number, operator=None, request_id=request_id, client_ip="127.0.0.1"
    )


def _open(session_factory, system, grant, resource, request_id="exp-1"):
    with session_factory() as session:
        return export.open_export(
            db=session,
            secret=TEST_SECRET,
            call=_call(system, grant, request_id),
            resource=resource,
            items=None,
        )


def _stream(session_factory, plan, rows):
    """The export's chunks, as the route streams them (a reading session, a trace session)."""
    with session_factory() as stream, session_factory() as log_db:
        yield from export.export_chunks(
            db=stream, log_db=log_db, plan=plan, settings=DataSettings(export_rows=rows)
        )


def _traces(db, request_id):
    """The row-group records of an export, in order, each with the trace ids it lists."""
    records = db.scalars(
        select(AccessRecord)
        .where(AccessRecord.request_id == request_id, AccessRecord.subjects_digest.is_not(None))
        .order_by(AccessRecord.seq)
    )
    return [
        (
            record,
            {
                trace
                for packed in db.scalars(
                    select(AccessSubject.ids).where(AccessSubject.record_seq == record.seq)
                )
                for trace in traces.unpack(packed)
            },
        )
        for record in records
    ]


def _found(db, keyring, subject):
    """The request ids the subject search finds for ``subject``."""
    records, _total = audit_search.search(
        db=db, keyring=keyring, filters=AuditFilter(subject=subject), params=PageParams(page=1, page_size=100)
    )
    return {r.request_id for r in records}


def _verify(db: Session, keyring: Keyring) -> VerifyReport:
    return audit_verify.verify(db=db, keyring_public_keys=keyring.public_keys(), batch=3)


def test_each_row_group_is_traced_before_its_bytes_are_handed_over(
    db, session_factory, keyring, system, people, exportable
):
    resource, grant = exportable
    plan = _open(session_factory, system, grant, resource)
    chunks = _stream(session_factory, plan, rows=2)

    next(chunks)  # the first row group's bytes

    ((record, listed),) = _traces(db, "exp-1")
    assert (record.mode, record.subjects, record.rows_returned, record.client_id) == (
        "bulk_export",
        2,
        2,
        system.client_id,
    )
    assert len(listed) == 2 and listed <= {keyring.subject_index("population", [k])[:16] for k in people}
    chunks.close()


def test_a_finished_export_traces_every_subject_once(
    db, session_factory, keyring, system, people, exportable
):
    resource, grant = exportable
    plan = _open(session_factory, system, grant, resource)

    list(_stream(session_factory, plan, rows=2))

    groups = _traces(db, "exp-1")
    assert [r.subjects for r, _ in groups] == [2, 1]
    assert set().union(*(listed for _, listed in groups)) == {
        keyring.subject_index("population", [k])[:16] for k in people
    }


def test_a_stream_cut_off_after_its_first_row_group_traces_only_the_subjects_handed_over(
    db, session_factory, keyring, system, people, exportable
):
    resource, grant = exportable
    plan = _open(session_factory, system, grant, resource)
    chunks = _stream(session_factory, plan, rows=1)

    next(chunks)
    chunks.close()  # the client went away

    ((_record, listed),) = _traces(db, "exp-1")
    found = [k for k in people if "exp-1" in _found(db, keyring, k)]
    assert len(found) == 1 and listed == {keyring.subject_index("population", [found[0]])[:16]}


def test_an_export_opened_but_never_streamed_traces_no_subject(
    db, session_factory, keyring, system, people, exportable
):
    resource, grant = exportable

    _open(session_factory, system, grant, resource)

    assert _traces(db, "exp-1") == [] and "exp-1" not in _found(db, keyring, people[0])


def test_an_untraced_stream_for_the_benchmark_floor_writes_no_trace(
    db, session_factory, system, people, exportable
):
    resource, grant = exportable
    plan = _open(session_factory, system, grant, resource)

    with session_factory() as stream, session_factory() as log_db:
        list(export.export_chunks(db=stream, log_db=log_db, plan=plan, traced=False))

    assert _traces(db, "exp-1") == []


def test_a_credit_export_is_traced_by_subject_code_with_the_fingerprint_its_lookup_logs(
    db, session_factory, keyring, system
):
    company = factories.credit_code(42)
    for number in ("榕市监罚〔2026〕1号", "榕市监罚〔2026〕2号"):
        values = {"credit.subject_code": company, "credit.decision_doc_no": number, "credit.kind": "02"}
        factories.library_record(db, "credit", [company, number], values, department="xinyong")
    grant = factories.grant(
        db, resource=PENALTIES, items=["主体代码", "决定文书号"], access_modes=("lookup", "bulk_export")
    )
    plan = _open(session_factory, system, grant, PENALTIES)
    list(_stream(session_factory, plan, rows=10))
    with session_factory() as session:
        data = LookupIn(resource=PENALTIES, key=company.lower())
        lookup.lookup(db=session, secret=TEST_SECRET, call=_call(system, grant, "look-1"), data=data)

    (looked_up,) = db.scalars(select(AccessRecord).where(AccessRecord.request_id == "look-1"))
    ((_record, listed),) = _traces(db, "exp-1")
    assert looked_up.subject_fingerprint == keyring.fingerprint(company)
    assert listed == {keyring.subject_index("credit", [company])[:16]}


# -- verification ----------------------------------------------------------------------------------


@pytest.fixture
def traced(db, session_factory, system, people, exportable):
    """A finished export of the three people in two row groups; the seq of its first group's record."""
    resource, grant = exportable
    list(_stream(session_factory, _open(session_factory, system, grant, resource), rows=2))
    return _traces(db, "exp-1")[0][0]


def test_an_exports_traces_verify(db, keyring, traced):
    report = _verify(db, keyring)

    assert report.intact, report.first_break


def _bucket(db, traced):
    """One stored bucket of the record's trace ids: (bucket, packed ids)."""
    return db.execute(
        select(AccessSubject.bucket, AccessSubject.ids).where(AccessSubject.record_seq == traced.seq)
    ).first()


def _rewrite(db, traced, bucket, packed):
    db.execute(
        update(AccessSubject)
        .where(AccessSubject.record_seq == traced.seq, AccessSubject.bucket == bucket)
        .values(ids=packed)
    )


def test_a_deleted_subject_trace_is_found_naming_its_record(db, keyring, traced):
    bucket, packed = _bucket(db, traced)
    _rewrite(db, traced, bucket, packed[8:])  # its first id gone

    report = _verify(db, keyring)

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq, report.first_break.record_id) == (
        BreakKind.subjects_mismatch,
        traced.seq,
        traced.id,
    )


def test_an_altered_subject_trace_is_found_naming_its_record(db, keyring, traced):
    bucket, packed = _bucket(db, traced)
    _rewrite(db, traced, bucket, packed[:-1] + bytes([packed[-1] ^ 1]))

    report = _verify(db, keyring)

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.subjects_mismatch, traced.seq)


def test_a_trace_added_to_the_exports_opening_record_is_found(db, keyring, traced):
    opening = traced.seq - 1  # the record open_export committed lists no subjects
    trace = traces.trace_id(keyring.subject_index("population", [factories.id_number(77)]))
    db.execute(
        insert(AccessSubject).values(
            bucket=traces.bucket_of(trace), record_seq=opening, ids=bytes.fromhex(trace)
        )
    )

    report = _verify(db, keyring)

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.subjects_mismatch, opening)


def test_a_digest_rewritten_to_match_altered_traces_breaks_the_records_hash(db, keyring, traced):
    db.execute(delete(AccessSubject).where(AccessSubject.record_seq == traced.seq))
    db.execute(update(AccessRecord).where(AccessRecord.seq == traced.seq).values(subjects_digest=None))

    report = _verify(db, keyring)

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.hash_mismatch, traced.seq)


# -- the offline export of the log -----------------------------------------------------------------


def _export_log(session_factory: sessionmaker[Session], keyring: Keyring, path: Path) -> list[dict]:
    db_lines = audit_export.export_lines(session_factory=session_factory, keyring=keyring, batch=4)
    path.write_text("".join(db_lines), encoding="utf-8")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_an_exported_log_lists_each_row_groups_subjects_and_verifies_offline(
    db, session_factory, keyring, people, traced, tmp_path
):
    db.commit()
    documents = _export_log(session_factory, keyring, tmp_path / "log.jsonl")

    report = audit_verify.verify_export(path=tmp_path / "log.jsonl")

    listed = [d for d in documents if d["type"] == "record" and "subject_traces" in d]
    assert report.intact, report.first_break
    assert [len(d["subject_traces"]) for d in listed] == [2, 1]
    assert {f for d in listed for f in d["subject_traces"]} == {
        keyring.subject_index("population", [k])[:16] for k in people
    }


def test_a_subject_removed_from_an_exported_log_is_found_offline(
    db, session_factory, keyring, traced, tmp_path
):
    db.commit()
    documents = _export_log(session_factory, keyring, tmp_path / "log.jsonl")
    for document in documents:
        if document.get("seq") == traced.seq:
            document["subject_traces"].pop()
    (tmp_path / "log.jsonl").write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents), encoding="utf-8"
    )

    report = audit_verify.verify_export(path=tmp_path / "log.jsonl")

    assert report.first_break is not None
    assert (report.first_break.kind, report.first_break.seq) == (BreakKind.subjects_mismatch, traced.seq)
