"""Bulk export: every current subject of a resource's library or dataset, as a Parquet file in row groups.

An export is authorised by ``authz.access.guard`` and logged by ``authz.access.trail`` before a
byte of it is streamed (:func:`open_export` commits); :func:`export_chunks` then reads the library
in a session of its own, one row group per ``export_rows`` subjects, so memory stays bounded by
that and not by the library.
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
from authz.access import datasets, guard, lookup
from authz.access.exceptions import Refused, Unauthenticated
from authz.access.schemas import Call
from authz.access.settings import DataSettings, get_settings
from authz.access.trail import Trail, commit_served, record_refusal
from authz.types import AccessMode, AccessOutcome
from catalog_schema.database import utcnow
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import LibraryRecord


@dataclass(frozen=True)
class ExportPlan:
    """An authorised, logged export: what to stream, and how to mask it."""

    request_id: str
    resource: guard.SharedResource
    terms: guard.Terms
    rows: int

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
    ``rows_returned``, as of this moment; the stream reads the library as it is when it runs.
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
    return ExportPlan(request_id=call.request_id, resource=found, terms=terms, rows=count)


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


def export_chunks(
    *, db: Session, plan: ExportPlan, keyring: Keyring | None = None, settings: DataSettings | None = None
) -> Iterator[bytes]:
    """The Parquet file of an authorised export, in pieces: one row group per ``export_rows`` subjects."""
    keyring = keyring or keys_service.get_keyring()
    size = (settings or get_settings()).export_rows
    if plan.resource.library is None:
        yield from _dataset_chunks(db, plan, keyring, size)
        return
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

    def flush_subject() -> None:
        if not plan.resource.keeps(pending):
            return
        for name, value in lookup.project(plan.terms, plan.resource, pending).items():
            columns[name].append(value)

    def write_group() -> bytes:
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


def _dataset_chunks(db: Session, plan: ExportPlan, keyring: Keyring, size: int) -> Iterator[bytes]:
    """A dataset's export: every current row (a subject may have several), ``size`` rows a group."""
    schema = pa.schema([(name, pa.string()) for name in plan.terms.items])
    sink = _Drain()
    writer = pq.ParquetWriter(sink, schema)
    columns: dict[str, list[str | None]] = {name: [] for name in plan.terms.items}
    rows = datasets.rows(db, keyring, plan.resource, size)
    try:
        for values in rows:
            for name, value in lookup.project(plan.terms, plan.resource, values).items():
                columns[name].append(value)
            if len(columns[plan.terms.items[0]]) >= size:
                writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=schema))
                for column in columns.values():
                    column.clear()
                yield sink.take()
        if columns[plan.terms.items[0]]:
            writer.write_batch(pa.RecordBatch.from_pydict(columns, schema=schema))
        writer.close()
        yield sink.take()
    finally:
        rows.close()
        if writer.is_open:
            writer.close()
