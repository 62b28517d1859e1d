"""Bulk export: every current subject of a resource's library or dataset, as a Parquet file in row groups.

An export is authorised by ``authz.access.guard`` and logged by ``authz.access.trail`` before a
byte of it is streamed (:func:`open_export` commits); :func:`export_chunks` then reads the library
in a session of its own, one row group per ``export_rows`` subjects, so memory stays bounded by
that and not by the library.

Traced per person. The record :func:`open_export` commits promises what was authorised and
counted against the quota: the subjects in the view *as of that moment*, by number. The stream
reads the view as it is when it runs (a load in between may add or close subjects), so the
opening record cannot name them. Instead each row group is traced when it is made: before its
bytes are handed to the response, an access record of the export (same request id, client, grant
and resource; ``subjects`` and ``rows_returned`` of that group) is committed through the group
commit, listing the fingerprint of every subject in the group in ``access_subjects`` and binding
that list into its hash by ``subjects_digest`` (``authz.audit.chain``). The rule is the data
plane's own: no trace, no data. A stream cut off midway (the client gone, the process killed)
therefore leaves traced every subject whose row group was handed over — at most one row group
more than the client may have received, never one less; a failed trace write ends the stream
before that group's bytes. Fingerprints are those the lookups log (``guard``): the keyring's
fingerprint of the canonical plaintext key, the library's lookup key (a credit subject's code,
not its decision's) or the dataset's query key, so one subject search finds lookups, batches and
exports alike. Computing them costs one HMAC per subject (its key is unsealed for the file
anyway); the trace rows are one insert per row group (``make bench-export`` measures it).
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from authz.access import controls as access_controls
from authz.access import datasets, group_commit, guard, lookup
from authz.access.exceptions import Refused, Unauthenticated
from authz.access.group_commit import Write
from authz.access.schemas import Call
from authz.access.settings import DataSettings, get_settings
from authz.access.trail import Trail, commit_served, record_refusal
from authz.audit import traces
from authz.calendar.service import local_date
from authz.types import AccessMode, AccessOutcome
from catalog_schema.database import utcnow
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import LibraryRecord
from catalog_schema.types import Library


@dataclass(frozen=True)
class ExportPlan:
    """An authorised, logged export: what to stream, and how to mask it."""

    request_id: str
    resource: guard.SharedResource
    terms: guard.Terms
    rows: int
    trail: Trail  # who called, under which grant: each row group's trace record says it again

    @property
    def filename(self) -> str:
        return f"{self.resource.code.replace('/', '-')}-{self.request_id}.parquet"


def open_export(
    *,
    db: Session,
    secret: str,
    call: Call,
    resource: str,
    items: list[str] | None,
    keyring: Keyring | None = None,
    now: datetime | None = None,
) -> ExportPlan:
    """Authorise and log a bulk export and commit; the rows then stream through :func:`export_chunks`.

    The export counts every current subject of the library against the quota and in the record's
    ``rows_returned``, as of this moment; the stream reads the library as it is when it runs, and
    traces each row group's subjects as it goes (see the module docstring).
    """
    at = now or utcnow()
    trail = Trail.begin(call, AccessMode.bulk_export, resource, items or [])
    try:
        found, terms = guard.authorise_export(
            db=db, secret=secret, trail=trail, resource_code=resource, wanted=items, at=at
        )
        if found.library is None:
            count = datasets.count(db, found)
        else:
            count = int(
                db.scalar(select(func.count(distinct(LibraryRecord.subject_key))).where(*_in_view(found)))
                or 0
            )
    except (Refused, Unauthenticated) as denial:
        record_refusal(db, trail, denial, at)
        raise
    trail.keys = count
    entry = trail.entry(AccessOutcome.served, subjects=count, rows_returned=count)
    window = access_controls.window(trail=trail, resource_id=found.id, found=found.controls, at=at)
    commit_served(
        db, trail, [entry], at, grant_id=terms.grant_id, quota=terms.daily_quota, count=count, window=window
    )
    return ExportPlan(request_id=call.request_id, resource=found, terms=terms, rows=count, trail=trail)


def _in_view(resource: guard.SharedResource) -> list[Any]:
    """The conditions on ``library_records`` of the current records in a resource's view."""
    r = LibraryRecord
    conditions = [r.library == resource.library, r.valid_to.is_(None)]
    if resource.department_id is not None:
        conditions.append(r.department_id == resource.department_id)
    return conditions


class _Drain:
    """A write-only file the Parquet writer fills and the response empties, chunk by chunk."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0
        self.closed = False

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


class _Tracer:
    """The subjects of the row group being made, committed as an access record before its bytes leave."""

    def __init__(self, log_db: Session, plan: ExportPlan, keyring: Keyring, traced: bool) -> None:
        self.log_db, self.plan, self.keyring, self.on = log_db, plan, keyring, traced
        self.ids: set[str] = set()
        self.last: str | None = None

    def subject(self, stored: str) -> None:
        """A subject of the group by the key it is stored and looked up by (``authz.audit.traces``).

        A subject's rows come together (the stream is in stored-key order), so its id is taken
        once a group.
        """
        if self.on and stored != self.last:
            self.last = stored
            self.ids.add(traces.trace_id(stored))

    def commit(self, rows: int) -> None:
        """Commit the group's trace record and its subjects (the data plane's group commit), or raise."""
        if not self.on or not rows:
            return
        entry = self.plan.trail.entry(
            AccessOutcome.served,
            subjects=len(self.ids),
            rows_returned=rows,
            traced=tuple(self.ids),
        )
        group_commit.submit(db=self.log_db, write=Write(entries=[entry], at=utcnow()))
        self.ids, self.last = set(), None


def export_chunks(
    *,
    db: Session,
    log_db: Session,
    plan: ExportPlan,
    keyring: Keyring | None = None,
    settings: DataSettings | None = None,
    traced: bool = True,
) -> Iterator[bytes]:
    """The Parquet file of an authorised export, in pieces: one row group per ``export_rows`` subjects.

    ``db`` reads; each row group's trace is committed in ``log_db`` before the group is yielded.
    ``traced=False`` is for bench-export's floor only: the same stream with no trace.
    """
    keyring = keyring or keys_service.get_keyring()
    size = (settings or get_settings()).export_rows
    tracer = _Tracer(log_db, plan, keyring, traced)
    chunks = _dataset_chunks if plan.resource.library is None else _library_chunks
    try:
        yield from chunks(db, plan, keyring, size, tracer)
    finally:
        # The read wrote nothing. It ends by a commit, not a rollback, so that a session sharing its
        # connection (the tests' savepoints) keeps the traces committed inside it.
        db.commit()


def _library_chunks(
    db: Session, plan: ExportPlan, keyring: Keyring, size: int, tracer: _Tracer
) -> Iterator[bytes]:
    """A library view's export: one row per subject in the view, ``size`` subjects a group."""
    assert plan.resource.library is not None
    schema = pa.schema([(name, pa.string()) for name in plan.terms.items])
    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema)
    r = LibraryRecord
    rows = db.execute(
        select(r.subject_key, r.subject_cipher, r.values)
        .where(*_in_view(plan.resource))
        .order_by(r.subject_key, r.department_id)
        .execution_options(yield_per=size)
    )
    columns: dict[str, list[str | None]] = {name: [] for name in plan.terms.items}
    pending_key: str | None = None
    pending: dict[str, Any] = {}

    key_elements = subjects.LOOKUP_KEY[plan.resource.library]
    lookup_parts = len(key_elements) if plan.resource.library is Library.credit else None
    today = local_date(utcnow())

    def flush_subject() -> None:
        if lookup_parts is not None:
            lookup.derive(pending, today)
        if not plan.resource.keeps(pending):
            return
        assert pending_key is not None
        # A credit record's stored key is (subject, decision); a lookup names the subject.
        tracer.subject(pending_key if lookup_parts is None else pending_key.split(":", 1)[0])
        for name, value in lookup.project(plan.terms, plan.resource, pending).items():
            columns[name].append(value)

    def write_group() -> bytes:
        tracer.commit(len(columns[plan.terms.items[0]]))
        writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=schema))
        for values in columns.values():
            values.clear()
        return sink.take()

    try:
        for row in rows:
            if row.subject_key != pending_key:
                if pending_key is not None:
                    flush_subject()
                    if len(columns[plan.terms.items[0]]) >= size:
                        yield write_group()
                pending_key, pending = row.subject_key, {}
                if row.subject_cipher is not None:
                    # The key is not among the values; it is sealed beside them.
                    plain = keyring.decrypt(row.subject_cipher, aad=subjects.cipher_aad(row.subject_key))
                    pending.update(zip(key_elements, plain.split(subjects.KEY_SEPARATOR), strict=False))
            pending.update(keyring.unseal(json.loads(row.values), aad=row.subject_key))
        if pending_key is not None:
            flush_subject()
        if columns[plan.terms.items[0]]:
            yield write_group()
        writer.close()
        yield sink.take()
    finally:
        rows.close()
        if writer.is_open:
            writer.close()


def _dataset_chunks(
    db: Session, plan: ExportPlan, keyring: Keyring, size: int, tracer: _Tracer
) -> Iterator[bytes]:
    """A dataset's export: every current row (a subject may have several), ``size`` rows a group."""
    schema = pa.schema([(name, pa.string()) for name in plan.terms.items])
    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema)
    columns: dict[str, list[str | None]] = {name: [] for name in plan.terms.items}
    rows = datasets.rows(db, keyring, plan.resource, size)
    assert plan.resource.query_key is not None
    try:
        for stored, values in rows:
            tracer.subject(stored)
            for name, value in lookup.project(plan.terms, plan.resource, values).items():
                columns[name].append(value)
            if len(columns[plan.terms.items[0]]) >= size:
                tracer.commit(len(columns[plan.terms.items[0]]))
                writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=schema))
                for column in columns.values():
                    column.clear()
                yield sink.take()
        if columns[plan.terms.items[0]]:
            tracer.commit(len(columns[plan.terms.items[0]]))
            writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=schema))
        writer.close()
        yield sink.take()
    finally:
        rows.close()
        if writer.is_open:
            writer.close()
