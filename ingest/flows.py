"""Ingest one department source into its base library: read, check, load or quarantine, cross-check.

A batch runs in two transactions. The first records the batch as running (so a killed process
leaves a trace). The second does all the loading and commits only when the batch reconciles:
rows read = inserted + updated + unchanged + quarantined. A process killed in between leaves
the library exactly as it was; the next run marks the stale batch abandoned and loads again.

Each chunk is prepared without the database (``ingest.prepare``: rules, keys, digests, sealing; in
a worker process one chunk ahead when the batch has more than one) and then written by
``ingest.loader``, column-wise; all its writes sit in the second transaction: rows that cannot
load go to quarantine (``ingest.quarantine_writer``), the others are upserted into the library,
then cross-checked against their authoritative sources into discrepancy tickets
(``ingest.tickets``). Resubmitting quarantined rows (``ingest.quarantine``) is a batch too.

Everything is written as the storage contract says (``catalog_schema.keys``,
``catalog_schema.library.subjects``): a subject key only as its blind index and sealed in
``subject_cipher``; the values of sensitive elements sealed under ``"~sealed"``; ``row_hash`` a
keyed digest; quarantined raw rows and the values on discrepancy tickets sealed when they can
carry personal data. Plaintext lives only in memory, per chunk: this process's and, for a batch
of many chunks, its preparing worker's (``ingest.prepare``), never in a file between them.
"""

import json
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import pyarrow as pa
from sqlalchemy import update
from sqlalchemy.orm import Session

import catalog_schema.models  # noqa: F401 - every mapper configured, whoever imports the flow first
from catalog_schema.database import for_writing, utcnow
from catalog_schema.errors import InvalidInput
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import Keyring
from catalog_schema.library.models import QuarantinedRow
from catalog_schema.library.sealing import (
    open_raw,
)
from catalog_schema.types import (
    BatchStatus,
)
from connectors import open_connector
from connectors.base import ROW_COLUMN, RejectedRecord, Window
from connectors.config import SourceSpec
from ingest import batch, connections  # noqa: F401 - connections: Airflow's, for sources without GOVDX_CONN_*
from ingest.batch import BatchSummary
from ingest.loader import Loader
from ingest.prepare import PreparedChunks, Preparer
from ingest.registry import Registry, registry_for

SessionFactory = Callable[[], Session]
T = TypeVar("T")
Progress = Callable[[BatchSummary], None]


def ingest(
    spec: SourceSpec,
    *,
    session_factory: SessionFactory,
    sources_dir: Path,
    run_id: str,
    force: bool = False,
    progress: Progress | None = None,
) -> BatchSummary:
    """Load ``spec``'s new and changed rows into its library; skip a file whose content is unchanged."""
    keyring = keys_service.get_keyring()  # before anything is recorded: no keyring, no batch
    with session_factory() as db:
        registry = registry_for(db, spec)
    connector = open_connector(spec, sources_dir=sources_dir)
    batch_id, previous = batch.open_batch(session_factory, spec, registry, run_id)
    try:
        fingerprint = connector.fingerprint()
        if not force and fingerprint is not None and previous is not None and previous[1] == fingerprint:
            return batch.skip(session_factory, batch_id, spec, fingerprint)
        since = previous[0] if previous is not None and not force else None
        return _load(
            spec,
            registry,
            keyring,
            session_factory,
            batch_id,
            connector.read(Window(since)),
            rejected=lambda: connector.stats.rejected,
            watermark=lambda: (since, connector.stats.high_water or since, fingerprint),
            progress=progress,
        )
    except BaseException as exc:
        batch.fail(session_factory, batch_id, exc)
        raise


def resubmit_rows(
    spec: SourceSpec,
    rows: Sequence[QuarantinedRow],
    corrections: dict[int, dict[str, str | None]],
    *,
    session_factory: SessionFactory,
    run_id: str,
    accept_review: bool,
) -> BatchSummary:
    """Load quarantined rows again, with corrected values, as a batch of their own."""
    keyring = keys_service.get_keyring()
    with session_factory() as db:
        registry = registry_for(db, spec)
    columns = list(spec.columns)
    records = []
    for row in rows:
        raw = json.loads(open_raw(keyring, row.raw, source=row.source))
        values = {c: raw.get(c) for c in columns}
        values.update(corrections.get(row.id, {}))
        unknown = set(values) - set(columns)
        if unknown:
            raise InvalidInput(
                f"更正了数据源 {spec.name} 没有的列：{', '.join(sorted(unknown))}",
                f"corrections name columns {spec.name} does not have: {', '.join(sorted(unknown))}",
                code="unknown_column",
            )
        values[ROW_COLUMN] = row.source_row
        records.append(values)
    schema = pa.schema([*(pa.field(c, pa.string()) for c in columns), pa.field(ROW_COLUMN, pa.int64())])
    chunk = pa.RecordBatch.from_pylist(records, schema=schema)
    batch_id, _ = batch.open_batch(session_factory, spec, registry, run_id)
    try:
        return _load(
            spec,
            registry,
            keyring,
            session_factory,
            batch_id,
            iter([chunk]),
            rejected=list,
            watermark=lambda: (None, None, None),
            progress=None,
            accept_review=accept_review,
            resubmitted=[r.id for r in rows],
        )
    except BaseException as exc:
        batch.fail(session_factory, batch_id, exc)
        raise


def _written(writing: "Future[None]", loader: Loader, started: float, progress: Progress | None) -> None:
    """Wait for a chunk's writes (raising what they raised), then report progress."""
    writing.result()
    loader.summary.seconds = time.perf_counter() - started
    if progress is not None:
        progress(loader.summary)


def _load(
    spec: SourceSpec,
    registry: Registry,
    keyring: Keyring,
    session_factory: SessionFactory,
    batch_id: int,
    chunks: Iterator[pa.RecordBatch],
    *,
    rejected: Callable[[], list[RejectedRecord]],
    watermark: Callable[[], tuple[str | None, str | None, str | None]],
    progress: Progress | None,
    accept_review: bool = False,
    resubmitted: list[int] | None = None,
) -> BatchSummary:
    started = time.perf_counter()
    with session_factory() as db:
        for_writing(db)
        batch.lock_source(db, spec.name, batch_id)
        loader = Loader(db, spec, registry, keyring, batch_id, accept_review=accept_review)
        preparer = Preparer(spec, registry, keyring, accept_review=accept_review)
        # The loader writes a chunk in a thread of its own while this one reads the next and takes
        # it from the worker: the database's half of a chunk (index and key checks, in the server
        # or in SQLite's C code, without the GIL) overlaps the source's. One chunk at a time is in
        # the writer's hands, and only the writer touches the session until the loop is done.
        with PreparedChunks(preparer, chunks) as prepared, ThreadPoolExecutor(1, "govdx-writer") as writer:
            writing: Future[None] | None = None
            for chunk in prepared:
                if writing is not None:
                    _written(writing, loader, started, progress)
                writing = writer.submit(loader.load, chunk)
            if writing is not None:
                _written(writing, loader, started, progress)
        loader.quarantine.unparsed(rejected())
        loader.close()
        since, high_water, fingerprint = watermark()
        summary = loader.summary
        summary.status = BatchStatus.succeeded
        summary.seconds = time.perf_counter() - started
        batch.finish(db, summary, since=since, high_water=high_water, fingerprint=fingerprint)
        if resubmitted:
            # A row that failed again exactly as before keeps its open entry; the others are done.
            db.execute(
                update(QuarantinedRow)
                .where(
                    QuarantinedRow.id.in_(resubmitted), QuarantinedRow.id.not_in(loader.quarantine.kept_open)
                )
                .values(status="resubmitted", resubmitted_batch_id=batch_id, resolved_at=utcnow())
            )
        db.commit()
    return summary
