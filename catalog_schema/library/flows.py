"""Ingest one department source into its base library: read, check, load or quarantine, cross-check.

A batch runs in two transactions. The first records the batch as running (so a killed process
leaves a trace). The second does all the loading and commits only when the batch reconciles:
rows read = inserted + updated + unchanged + quarantined. A process killed in between leaves
the library exactly as it was; the next run marks the stale batch abandoned and loads again.

Per chunk, everything is column-wise: rules give masks (``quality.rules``), change detection
compares digests of canonical JSON, and lookups go to the database by key in slices.

Everything is written as the storage contract says (``catalog_schema.keys``,
``catalog_schema.library.subjects``): a subject key only as its blind index and sealed in
``subject_cipher``; the values of sensitive elements sealed under ``"~sealed"``; ``row_hash`` a
keyed digest; quarantined raw rows and the values on discrepancy tickets sealed when they can
carry personal data. Plaintext lives only in this process's memory, per chunk.
"""

import functools
import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

import catalog_schema.models  # noqa: F401 - every mapper configured, whoever imports the flow first
from catalog_schema.database import for_writing, utcnow
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement, ElementSource
from catalog_schema.errors import GovdxError, InvalidInput
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import SEALED, Keyring, is_sealed
from catalog_schema.library import subjects
from catalog_schema.library.models import Discrepancy, IngestBatch, LibraryRecord, QuarantinedRow
from catalog_schema.library.subjects import KEY_SEPARATOR, MAX_KEY_LENGTH
from catalog_schema.types import (
    BatchStatus,
    DataType,
    DiscrepancyKind,
    DiscrepancyStatus,
    QuarantineQueue,
    Sensitivity,
    SourceRole,
)
from connectors import open_connector
from connectors.base import ROW_COLUMN, RejectedRecord, Window
from connectors.config import SourceSpec
from quality import crosscheck, rules

SessionFactory = Callable[[], Session]
T = TypeVar("T")
Progress = Callable[["BatchSummary"], None]

# Keys per IN (...) lookup: below SQLite's variable limit, large enough to amortise round trips.
LOOKUP_SLICE = 5000
RESUBMIT_PREFIX = "resubmit:"
# Elements encrypted at rest (DESIGN "Data access and audit").
SEALED_SENSITIVITY = frozenset({Sensitivity.sensitive, Sensitivity.highly_sensitive})
# Elements whose values can be a citizen's ID number whatever their grading (a credit subject,
# a certificate holder): a quarantined raw row carrying one is sealed too.
_ID_BEARING = frozenset({rules.ID_ELEMENT, *rules.SUBJECT_CODE_ELEMENTS})


def quarantine_aad(source: str) -> str:
    """What a quarantined row's sealed raw text is bound to."""
    return f"quarantine:{source}"


def ticket_aad(subject_key: str, element: str) -> str:
    """What a discrepancy ticket's sealed values are bound to: the stored key and the element."""
    return f"{subject_key}|{element}"


def open_raw(keyring: Keyring, raw: str, *, source: str) -> str:
    """A quarantined row's raw JSON text, unsealed when it was sealed."""
    return keyring.decrypt(raw, aad=quarantine_aad(source)) if is_sealed(raw) else raw


def open_subject(keyring: Keyring, subject_key: str | None, subject_cipher: str | None) -> str | None:
    """The plaintext subject key of a stored row (the stored key when no cipher was kept)."""
    if subject_key is None or subject_cipher is None:
        return subject_key
    return keyring.decrypt(subject_cipher, aad=subjects.cipher_aad(subject_key))


def open_ticket_value(keyring: Keyring, value: str | None, *, subject_key: str, element: str) -> str | None:
    """A discrepancy ticket's value, unsealed when it was sealed."""
    if value is None or not is_sealed(value):
        return value
    return keyring.decrypt(value, aad=ticket_aad(subject_key, element))


class ReconciliationError(GovdxError):
    """A batch's counts do not add up; it is rolled back rather than half-trusted."""

    status = 500
    code = "batch_not_reconciled"


class SourceConfigError(InvalidInput):
    code = "source_config_invalid"


@dataclass
class BatchSummary:
    """What a batch did, as the CLI, the DAG logs and the API report it."""

    batch_id: int
    source: str
    status: BatchStatus = BatchStatus.running
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    held_for_review: int = 0
    discrepancies: int = 0
    seconds: float = 0.0

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "source": self.source,
            "status": self.status.value,
            "rows_read": self.rows_read,
            "loaded": self.loaded,
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "quarantined": self.quarantined,
            "held_for_review": self.held_for_review,
            "discrepancies": self.discrepancies,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Registry:
    """What the catalog says about one source's elements, read once per batch."""

    department_id: int
    types: dict[str, DataType]
    element_ids: dict[str, int]
    owners: dict[str, int]  # element code -> authoritative department id
    sensitivity: dict[str, Sensitivity]

    def sealed(self, codes: Iterable[str]) -> list[str]:
        """Those of ``codes`` that are encrypted at rest."""
        return sorted(c for c in codes if self.sensitivity.get(c) in SEALED_SENSITIVITY)

    def authoritative(self, spec: SourceSpec) -> list[str]:
        """Non-key elements this source is the authoritative source of: what it writes."""
        return sorted(
            e for e in spec.elements if self.owners.get(e) == self.department_id and e not in spec.key
        )

    def verified(self, spec: SourceSpec) -> list[str]:
        """Non-key elements this source only verifies."""
        return sorted(
            e
            for e in spec.elements
            if self.owners.get(e) not in (None, self.department_id) and e not in spec.key
        )


def registry_for(db: Session, spec: SourceSpec) -> Registry:
    """Check ``spec`` against the catalog and read what the loader needs; refuse what cannot load."""
    department = db.scalar(select(Department).where(Department.slug == spec.department))
    if department is None:
        raise SourceConfigError(
            f"数据源 {spec.name} 的提供部门 {spec.department} 未登记",
            f"source {spec.name}: department {spec.department} is not registered",
        )
    elements = db.scalars(select(DataElement).where(DataElement.code.in_(spec.elements))).all()
    by_code = {e.code: e for e in elements}
    problems = [code for code in spec.elements if code not in by_code]
    wrong_library = [e.code for e in elements if e.library != spec.library]
    if problems or wrong_library:
        raise SourceConfigError(
            f"数据源 {spec.name} 引用了未登记或不属于 {spec.library.label} 的数据元："
            f"{', '.join(problems + wrong_library)}",
            f"source {spec.name} maps elements that are unregistered or not in the {spec.library.value} "
            f"library: {', '.join(problems + wrong_library)}",
        )
    owners = {}
    for element in elements:
        source = element.authoritative_source
        if source is not None:
            owners[element.code] = source.department_id
    registry = Registry(
        department_id=department.id,
        types={e.code: e.data_type for e in elements},
        element_ids={e.code: e.id for e in elements},
        owners=owners,
        sensitivity={e.code: e.sensitivity for e in elements},
    )
    if not registry.authoritative(spec):
        raise SourceConfigError(
            f"{department.name} 不是数据源 {spec.name} 任何数据元的权威源，不能写入基础库（一数一源）",
            f"{spec.department} is not the authoritative source of any element of {spec.name}; "
            "only an authoritative source writes into a base library",
        )
    return registry


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
    batch_id, previous = _open_batch(session_factory, spec, registry, run_id)
    try:
        fingerprint = connector.fingerprint()
        if not force and fingerprint is not None and previous is not None and previous[1] == fingerprint:
            return _skip(session_factory, batch_id, spec, fingerprint)
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
        _fail(session_factory, batch_id, exc)
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
    batch_id, _ = _open_batch(session_factory, spec, registry, run_id)
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
        _fail(session_factory, batch_id, exc)
        raise


def _open_batch(
    session_factory: SessionFactory, spec: SourceSpec, registry: Registry, run_id: str
) -> tuple[int, tuple[str | None, str | None] | None]:
    """Record a running batch; return its id and the last good batch's (watermark, fingerprint)."""
    with session_factory() as db:
        for_writing(db)
        last = db.execute(
            select(IngestBatch.watermark_to, IngestBatch.fingerprint)
            .where(
                IngestBatch.source == spec.name,
                IngestBatch.status == BatchStatus.succeeded,
                # Resubmissions carry no watermark or fingerprint of the source itself.
                IngestBatch.run_id.not_like(f"{RESUBMIT_PREFIX}%"),
            )
            .order_by(IngestBatch.id.desc())
            .limit(1)
        ).first()
        batch = IngestBatch(
            source=spec.name,
            title=spec.title,
            library=spec.library,
            department_id=registry.department_id,
            run_id=run_id[:250],
            status=BatchStatus.running,
            started_at=utcnow(),
        )
        db.add(batch)
        db.commit()
        return batch.id, (None if last is None else (last[0], last[1]))


def _skip(session_factory: SessionFactory, batch_id: int, spec: SourceSpec, fingerprint: str) -> BatchSummary:
    with session_factory() as db:
        for_writing(db)
        batch = db.get_one(IngestBatch, batch_id)
        batch.status = BatchStatus.skipped
        batch.fingerprint = fingerprint
        batch.finished_at = utcnow()
        db.commit()
    return BatchSummary(batch_id=batch_id, source=spec.name, status=BatchStatus.skipped)


def _fail(session_factory: SessionFactory, batch_id: int, exc: BaseException) -> None:
    with session_factory() as db:
        for_writing(db)
        batch = db.get_one(IngestBatch, batch_id)
        batch.status = BatchStatus.failed
        batch.finished_at = utcnow()
        batch.error_code = (getattr(exc, "code", None) or type(exc).__name__)[:64]
        batch.error = (
            f"{exc.message} / {exc.message_en}"
            if isinstance(exc, GovdxError)
            else f"{type(exc).__name__}: {exc}"
        )
        db.commit()


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
        _lock_source(db, spec.name, batch_id)
        loader = _Loader(db, spec, registry, keyring, batch_id, accept_review=accept_review)
        for chunk in chunks:
            loader.load(chunk)
            loader.summary.seconds = time.perf_counter() - started
            if progress is not None:
                progress(loader.summary)
        loader.quarantine_unparsed(rejected())
        loader.close()
        since, high_water, fingerprint = watermark()
        summary = loader.summary
        summary.status = BatchStatus.succeeded
        summary.seconds = time.perf_counter() - started
        _finish(db, summary, since=since, high_water=high_water, fingerprint=fingerprint)
        if resubmitted:
            # A row that failed again exactly as before keeps its open entry; the others are done.
            db.execute(
                update(QuarantinedRow)
                .where(QuarantinedRow.id.in_(resubmitted), QuarantinedRow.id.not_in(loader.kept_open))
                .values(status="resubmitted", resubmitted_batch_id=batch_id, resolved_at=utcnow())
            )
        db.commit()
    return summary


def _lock_source(db: Session, source: str, batch_id: int) -> None:
    """One loader per source at a time; SQLite's BEGIN IMMEDIATE already serialises writers."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": f"ingest:{source}"}
        )
    # Anything still 'running' for this source died with its process: we hold the source now.
    db.execute(
        update(IngestBatch)
        .where(IngestBatch.source == source, IngestBatch.status == BatchStatus.running)
        .where(IngestBatch.id != batch_id)
        .values(
            status=BatchStatus.abandoned,
            finished_at=utcnow(),
            error="进程中断，未提交 / process died mid-load",
        )
    )


def _finish(
    db: Session, summary: BatchSummary, *, since: str | None, high_water: str | None, fingerprint: str | None
) -> None:
    if summary.rows_read != summary.loaded + summary.quarantined:
        raise ReconciliationError(
            f"批次 {summary.batch_id} 对账不平：读取 {summary.rows_read} 行，"
            f"入库 {summary.loaded} 行 + 隔离 {summary.quarantined} 行",
            f"batch {summary.batch_id} does not reconcile: read {summary.rows_read}, "
            f"loaded {summary.loaded} + quarantined {summary.quarantined}",
        )
    batch = db.get_one(IngestBatch, summary.batch_id)
    batch.status = BatchStatus.succeeded
    batch.finished_at = utcnow()
    for name in (
        "rows_read",
        "inserted",
        "updated",
        "unchanged",
        "quarantined",
        "held_for_review",
        "discrepancies",
    ):
        setattr(batch, name, getattr(summary, name))
    batch.watermark_from = since
    batch.watermark_to = high_water
    batch.fingerprint = fingerprint


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany straight to the driver, each column's bind processing done once per value kind.

    SQLAlchemy's per-row parameter processing costs more than the insert itself at a million
    rows; the values here are already plain text, numbers and one timestamp per batch.
    """
    if not rows:
        return
    columns = list(rows[0])
    dialect = conn.dialect
    processors = {}
    for name in columns:
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            # Memoised for this call: the processed columns hold a handful of distinct values
            # (the library, the batch's timestamp), so each is processed once, not once per row.
            processors[name] = functools.cache(processor)
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    values = ", ".join([placeholder] * len(columns))
    sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) VALUES ({values})"
    params = [tuple(processors[c](row[c]) if c in processors else row[c] for c in columns) for row in rows]
    conn.exec_driver_sql(sql, params)


def _slices(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), LOOKUP_SLICE):
        yield values[start : start + LOOKUP_SLICE]


def canonical_json(frame: pd.DataFrame) -> list[str]:
    """One canonical JSON object per row: keys in sorted column order, nulls kept, UTF-8 text."""
    if frame.empty:
        return []
    ordered = frame[sorted(frame.columns)]
    ordered = ordered.astype(object).where(ordered.notna(), None)
    text = ordered.to_json(orient="records", lines=True, force_ascii=False)
    # Split on "\n" only: JSON escapes it inside strings, but not U+0085 or U+2028, which
    # str.splitlines() would also split on.
    return text.removesuffix("\n").split("\n")


@dataclass
class _Loader:
    db: Session
    spec: SourceSpec
    registry: Registry
    keyring: Keyring
    batch_id: int
    accept_review: bool = False
    summary: BatchSummary = field(init=False)
    now: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        self.summary = BatchSummary(batch_id=self.batch_id, source=self.spec.name)
        self.kept_open: set[int] = set()
        self.conn: Connection = self.db.connection()
        if self.conn.dialect.name == "sqlite":
            # SQLite's default 2 MB page cache thrashes on a million random-key index inserts; a
            # fixed 128 MB keeps the indexes' upper levels in memory (bounded, whatever the table size).
            self.conn.exec_driver_sql("PRAGMA cache_size = -131072")
        self.writes = self.registry.authoritative(self.spec)
        self.verifies = self.registry.verified(self.spec)
        self.sealed_writes = self.registry.sealed(self.writes)
        self.clear_writes = [e for e in self.writes if e not in self.sealed_writes]
        self.seal_raw = bool(
            self.registry.sealed(self.spec.elements) or _ID_BEARING.intersection(self.spec.elements)
        )
        # Blind indexes, not keys: a temporary table still lands in the database's temp files, and
        # every loaded row needs its index anyway (equal keys, equal indexes).
        self.seen = Table(
            f"govdx_seen_{self.batch_id}",
            MetaData(),
            Column("subject_key", String(200), primary_key=True),
            Column("source_row", Integer),
            prefixes=["TEMPORARY"],
        )
        self.seen.create(self.conn)
        self.records = cast(Table, LibraryRecord.__table__)
        # Plaintext key <-> stored key of the rows of the chunk being loaded, for the cross-checks.
        self.stored_of: dict[str, str] = {}
        self.plain_of: dict[str, str] = {}

    def close(self) -> None:
        self.seen.drop(self.conn)

    # -- one chunk --------------------------------------------------------------------------

    def load(self, chunk: pa.RecordBatch) -> None:
        raw = chunk.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
        rows = chunk.column(ROW_COLUMN).to_numpy(zero_copy_only=False)
        frame = rules.normalise(raw[list(self.spec.columns)].rename(columns=self.spec.columns))
        for element, value in self.spec.constants.items():
            frame[element] = value
        verdicts = rules.evaluate(
            frame,
            types=self.registry.types,
            required=[*self.spec.key, *self.spec.required],
            registering_authority=self.spec.registering_authority,
            registration_date=self.spec.registration_date,
        )
        # normalise() already gave every key part its canonical form (subjects.canonical_part).
        keys = frame[self.spec.key[0]].astype("string")
        for element in self.spec.key[1:]:
            keys = keys + KEY_SEPARATOR + frame[element].astype("string")
        verdicts.add(
            "key_too_long", self.spec.key[0], (keys.str.len() > MAX_KEY_LENGTH).fillna(False).to_numpy()
        )
        has_key = keys.notna().to_numpy()
        stored = self._stored_keys(frame, has_key)
        failed = verdicts.rejected | (np.zeros(len(frame), bool) if self.accept_review else verdicts.review)
        candidates = ~failed & has_key
        duplicate = self._duplicates(stored, rows, candidates)
        verdicts.add("duplicate_key", self.spec.key[0], duplicate)
        quarantined = failed | duplicate | ~has_key
        self.summary.rows_read += len(frame)
        self._quarantine(
            raw,
            rows,
            keys,
            stored,
            verdicts,
            quarantined,
            review=verdicts.review & ~verdicts.rejected & ~duplicate,
        )
        good = ~quarantined
        if good.any():
            loaded = frame[good].set_index(keys[good].to_numpy())
            stored_keys: list[str] = stored[good].tolist()
            self.stored_of = dict(zip(loaded.index, stored_keys, strict=True))
            self.plain_of = dict(zip(stored_keys, loaded.index, strict=True))
            self._upsert(loaded, stored_keys, rows[good])
            self._crosscheck(loaded, stored_keys)

    def _stored_keys(self, frame: pd.DataFrame, has_key: np.ndarray) -> np.ndarray:
        """The blind index of each row's key (None where the key is missing): one HMAC per part."""
        stored = np.full(len(frame), None, dtype=object)
        positions = np.flatnonzero(has_key)
        if len(positions):
            index, library = self.keyring.subject_index, self.spec.library.value
            parts = zip(*(frame[e].iloc[positions].tolist() for e in self.spec.key), strict=True)
            stored[positions] = [index(library, p) for p in parts]
        return stored

    def _duplicates(self, stored: np.ndarray, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Rows whose key came earlier in this batch (this chunk or an earlier one); the first one loads."""
        duplicate = np.zeros(len(stored), bool)
        positions = np.flatnonzero(candidates)
        within = pd.Series(stored[positions]).duplicated(keep="first").to_numpy()
        duplicate[positions[within]] = True
        first = positions[~within]
        first_keys = stored[first].tolist()
        earlier: set[str] = set()
        for part in _slices(first_keys):
            earlier.update(
                self.conn.execute(
                    select(self.seen.c.subject_key).where(self.seen.c.subject_key.in_(part))
                ).scalars()
            )
        if earlier:
            duplicate[first[np.isin(first_keys, list(earlier))]] = True
        fresh = [
            {"subject_key": k, "source_row": int(r)}
            for k, r in zip(first_keys, rows[first], strict=True)
            if k not in earlier
        ]
        bulk_insert(self.conn, self.seen, fresh)
        return duplicate

    # -- quarantine -----------------------------------------------------------------------------

    def _quarantine(
        self,
        raw: pd.DataFrame,
        rows: np.ndarray,
        keys: pd.Series,
        stored: np.ndarray,
        verdicts: rules.Verdicts,
        quarantined: np.ndarray,
        *,
        review: np.ndarray,
    ) -> None:
        positions = np.flatnonzero(quarantined)
        if len(positions) == 0:
            return
        raws = canonical_json(raw.iloc[positions][list(self.spec.columns)])
        entries = []
        for position, raw_json in zip(positions, raws, strict=True):
            reasons = verdicts.reasons(int(position))
            if not reasons:
                zh, en = rules.message("required_missing")
                reasons = [
                    {"rule": "required_missing", "element": self.spec.key[0], "message": zh, "message_en": en}
                ]
            subject_key = stored[position]
            entries.append(
                {
                    "batch_id": self.batch_id,
                    "source": self.spec.name,
                    "library": self.spec.library,
                    "source_row": int(rows[position]),
                    "subject_key": subject_key,
                    "subject_cipher": None
                    if subject_key is None
                    else self.keyring.encrypt(str(keys.iloc[position]), aad=subjects.cipher_aad(subject_key)),
                    "raw": raw_json,
                    "reasons": json.dumps(reasons, ensure_ascii=False),
                    "queue": QuarantineQueue.review if review[position] else QuarantineQueue.rejected,
                    "created_at": self.now,
                }
            )
        self.summary.quarantined += len(entries)
        self.summary.held_for_review += int(review[positions].sum())
        self._insert_quarantined(entries)

    def _insert_quarantined(self, entries: list[dict[str, Any]]) -> None:
        """Insert the entries not already open, their raw text sealed when it can hold personal data."""
        fresh = self._not_yet_quarantined(entries)
        if self.seal_raw:
            aad = quarantine_aad(self.spec.name)
            for entry in fresh:
                entry["raw"] = self.keyring.encrypt(entry["raw"], aad=aad)
        if fresh:
            self.db.execute(insert(QuarantinedRow), fresh)

    def _not_yet_quarantined(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A re-run meets the same bad rows again: an identical open entry is kept, not repeated."""
        q = QuarantinedRow.__table__.c
        known: dict[tuple[int, str], int] = {}
        rows = [e["source_row"] for e in entries]
        for part in _slices(rows):
            known.update(
                # Sealed raw text differs on every write (fresh nonce): compare what it says.
                ((r.source_row, open_raw(self.keyring, r.raw, source=self.spec.name)), r.id)
                for r in self.conn.execute(
                    select(q.id, q.source_row, q.raw).where(
                        q.source == self.spec.name,
                        q.status == "open",
                        q.source_row.in_(part),
                    )
                )
            )
        fresh = []
        for entry in entries:
            existing = known.get((entry["source_row"], entry["raw"]))
            if existing is None:
                fresh.append(entry)
            else:
                self.kept_open.add(existing)
        return fresh

    def quarantine_unparsed(self, records: list[RejectedRecord]) -> None:
        """Records the source format could not parse: quarantined with their raw text."""
        if not records:
            return
        zh, en = rules.message("truncated_record")
        entries = [
            {
                "batch_id": self.batch_id,
                "source": self.spec.name,
                "library": self.spec.library,
                "source_row": r.row,
                "subject_key": None,
                "subject_cipher": None,
                "raw": json.dumps({"_raw": r.raw}, ensure_ascii=False),
                "reasons": json.dumps(
                    [
                        {
                            "rule": "truncated_record",
                            "element": None,
                            "message": f"{zh}：{r.reason}",
                            "message_en": f"{en}: {r.reason_en}",
                        }
                    ],
                    ensure_ascii=False,
                ),
                "queue": QuarantineQueue.rejected,
                "created_at": self.now,
            }
            for r in records
        ]
        self._insert_quarantined(entries)
        self.summary.rows_read += len(records)
        self.summary.quarantined += len(records)

    # -- change detection and SCD2 ------------------------------------------------------------

    def _current(self, department_id: int, keys: Sequence[str], *columns: Any) -> list[Any]:
        r = self.records.c
        found: list[Any] = []
        for part in _slices(keys):
            found.extend(
                self.conn.execute(
                    select(r.subject_key, *columns).where(
                        r.library == self.spec.library.value,
                        r.department_id == department_id,
                        r.subject_key.in_(part),
                        r.valid_to.is_(None),
                    )
                ).all()
            )
        return found

    def _sealed_values(self, frame: pd.DataFrame, stored: list[str]) -> list[str]:
        """What ``library_records.values`` holds for each row: clear members, then one ``~sealed``.

        The same object as ``json.dumps(keyring.seal(...), sort_keys=True)`` gives, built column-wise:
        ``"~sealed"`` sorts after every element code, so it is appended to the clear members' JSON.
        """
        if not self.sealed_writes:
            return canonical_json(frame[self.clear_writes])
        clear = canonical_json(frame[self.clear_writes]) if self.clear_writes else ["{}"] * len(frame)
        hidden = canonical_json(frame[self.sealed_writes])
        encrypt = self.keyring.encrypt
        return [
            f'{c[:-1]}{"," if len(c) > 2 else ""}"{SEALED}":"{encrypt(h, aad=key)}"}}'
            for c, h, key in zip(clear, hidden, stored, strict=True)
        ]

    def _upsert(self, loaded: pd.DataFrame, stored: list[str], rows: np.ndarray) -> None:
        digest = self.keyring.digest
        hashes = [digest(line) for line in canonical_json(loaded[self.writes])]
        existing = {
            k: (i, h)
            for k, i, h in self._current(
                self.registry.department_id, stored, self.records.c.id, self.records.c.row_hash
            )
        }
        changed, closing = [], []
        for position, (key, row_hash) in enumerate(zip(stored, hashes, strict=True)):
            current = existing.get(key)
            if current is not None and current[1] == row_hash:
                self.summary.unchanged += 1
                continue
            if current is not None:
                closing.append(current[0])
            changed.append(position)
        # Sealing costs an encryption per row: only rows that are written pay it.
        keys = [stored[p] for p in changed]
        plain = loaded.index[changed].tolist()
        values = self._sealed_values(loaded.iloc[changed], keys)
        encrypt = self.keyring.encrypt
        fresh = [
            {
                "library": self.spec.library.value,
                "subject_key": key,
                "subject_cipher": encrypt(subject, aad=subjects.cipher_aad(key)),
                "department_id": self.registry.department_id,
                "values": line,
                "row_hash": hashes[position],
                "valid_from": self.now,
                "valid_to": None,
                "batch_id": self.batch_id,
                "source_row": int(rows[position]),
            }
            for position, key, subject, line in zip(changed, keys, plain, values, strict=True)
        ]
        if closing:
            r = self.records.c
            for part in _slices(closing):
                self.conn.execute(update(self.records).where(r.id.in_(part)).values(valid_to=self.now))
        bulk_insert(self.conn, self.records, fresh)
        self.summary.updated += len(closing)
        self.summary.inserted += len(fresh) - len(closing)

    # -- one data, one source -------------------------------------------------------------------

    def _authoritative_values(self, department_id: int, stored: list[str]) -> pd.DataFrame:
        """Another department's current values of these subjects, unsealed, by plaintext key."""
        found = self._current(department_id, stored, self.records.c["values"])
        if not found:
            return pd.DataFrame(index=pd.Index([], dtype=object))
        unseal = self.keyring.unseal
        return pd.DataFrame(
            [unseal(json.loads(v), aad=k) for k, v in found], index=[self.plain_of[k] for k, _ in found]
        )

    def _crosscheck(self, loaded: pd.DataFrame, stored: list[str]) -> None:
        tickets: list[dict[str, Any]] = []
        by_owner: dict[int, list[str]] = {}
        for element in self.verifies:
            by_owner.setdefault(self.registry.owners[element], []).append(element)
        for owner, elements in by_owner.items():
            theirs = self._authoritative_values(owner, stored)
            for d in crosscheck.differences(loaded, theirs, elements):
                tickets.append(
                    self._ticket(
                        d.element,
                        d.subject_key,
                        DiscrepancyKind.value_mismatch,
                        None,
                        owner,
                        d.authoritative_value,
                        d.other_value,
                    )
                )
        # A subject unknown to the key's authoritative source (only for single-element keys: a
        # composite key such as subject + decision number names a record, not a subject).
        key_owner = self.registry.owners.get(self.spec.key[0])
        if len(self.spec.key) == 1 and key_owner is not None and key_owner != self.registry.department_id:
            known = {k for (k,) in self._current(key_owner, stored)}
            for key, subject in zip(stored, loaded.index, strict=True):
                if key not in known:
                    tickets.append(
                        self._ticket(
                            self.spec.key[0],
                            subject,
                            DiscrepancyKind.missing_in_authoritative,
                            None,
                            key_owner,
                            None,
                            subject,
                        )
                    )
        tickets.extend(self._cross_rules(loaded, stored))
        self._open_tickets(tickets)

    def _cross_rules(self, loaded: pd.DataFrame, stored: list[str]) -> list[dict[str, Any]]:
        insurance, death = "population.insurance_status", "population.death_flag"
        owners = self.registry.owners
        if self.spec.library.value != "population":
            return []
        insurance_owner = owners.get(insurance) or self._owner_of(insurance)
        death_owner = owners.get(death) or self._owner_of(death)
        if insurance_owner is None or death_owner is None:
            return []
        if insurance in self.writes:
            insured = loaded[insurance]
            deaths = self._authoritative_values(death_owner, stored).get(death, pd.Series(dtype=object))
        elif death in self.writes:
            deaths = loaded[death]
            insured = self._authoritative_values(insurance_owner, stored).get(
                insurance, pd.Series(dtype=object)
            )
        else:
            return []
        hits = crosscheck.deceased_insured(insured.dropna(), deaths.dropna())
        return [
            self._ticket(
                insurance,
                str(key),
                DiscrepancyKind.rule_violation,
                "deceased_insured",
                insurance_owner,
                str(value),
                "死亡 / deceased",
                other_department=death_owner,
            )
            for key, value in hits.items()
        ]

    def _owner_of(self, code: str) -> int | None:
        return self.db.scalar(
            select(ElementSource.department_id)
            .join(DataElement, DataElement.id == ElementSource.element_id)
            .where(DataElement.code == code, ElementSource.role == SourceRole.authoritative)
        )

    def _element_id(self, code: str) -> int:
        if code not in self.registry.element_ids:
            found = self.db.execute(
                select(DataElement.id, DataElement.sensitivity).where(DataElement.code == code)
            ).one()
            self.registry.element_ids[code] = found.id
            self.registry.sensitivity[code] = found.sensitivity
        return self.registry.element_ids[code]

    def _ticket(
        self,
        element: str,
        subject: str,
        kind: DiscrepancyKind,
        rule: str | None,
        owner: int,
        authoritative_value: str | None,
        other_value: str | None,
        *,
        other_department: int | None = None,
    ) -> dict[str, Any]:
        """A ticket about ``subject`` (a plaintext key of this chunk), its values still in the clear."""
        return {
            "library": self.spec.library,
            "element_id": self._element_id(element),
            "subject_key": self.stored_of[subject],
            "kind": kind,
            "rule": rule,
            "authoritative_department_id": owner,
            "authoritative_value": authoritative_value,
            "other_department_id": other_department or self.registry.department_id,
            "other_value": other_value,
            "detected_at": self.now,
            "batch_id": self.batch_id,
            "status": DiscrepancyStatus.open,
            # Sealed by _sealed_ticket once the ticket is to be written.
            "_element": element,
            "_subject": subject,
        }

    def _seal_value(self, ticket: dict[str, Any], value: str | None) -> str | None:
        element = ticket["_element"]
        if value is None or self.registry.sensitivity.get(element) not in SEALED_SENSITIVITY:
            return value
        return self.keyring.encrypt(value, aad=ticket_aad(ticket["subject_key"], element))

    def _sealed_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        row = {k: v for k, v in ticket.items() if not k.startswith("_")}
        row["subject_cipher"] = self.keyring.encrypt(
            ticket["_subject"], aad=subjects.cipher_aad(ticket["subject_key"])
        )
        row["authoritative_value"] = self._seal_value(ticket, ticket["authoritative_value"])
        row["other_value"] = self._seal_value(ticket, ticket["other_value"])
        return row

    def _open_tickets(self, tickets: list[dict[str, Any]]) -> None:
        """Open a ticket per new difference.

        The latest ticket for the same element, subject and department decides: an open one is
        refreshed when the values moved; a resolved one with the same values stays resolved (a
        dismissed difference is not reopened every night); different values open a new ticket.
        """
        if not tickets:
            return
        tickets_table = cast(Table, Discrepancy.__table__)
        d = tickets_table.c
        latest: dict[tuple[int, str, int], tuple[int, str, str | None, str | None]] = {}
        for part in _slices(sorted({t["subject_key"] for t in tickets})):
            for row in self.conn.execute(
                select(
                    d.id,
                    d.element_id,
                    d.subject_key,
                    d.other_department_id,
                    d.status,
                    d.authoritative_value,
                    d.other_value,
                )
                .where(d.subject_key.in_(part))
                .order_by(d.id)
            ):
                latest[(row.element_id, row.subject_key, row.other_department_id)] = (
                    row.id,
                    row.status,
                    row.authoritative_value,
                    row.other_value,
                )
        fresh = []
        for ticket in tickets:
            found = latest.get((ticket["element_id"], ticket["subject_key"], ticket["other_department_id"]))
            same = found is not None and tuple(
                # Sealed values differ on every write (fresh nonce): compare what they say.
                open_ticket_value(
                    self.keyring, value, subject_key=ticket["subject_key"], element=ticket["_element"]
                )
                for value in found[2:]
            ) == (ticket["authoritative_value"], ticket["other_value"])
            if found is None or (found[1] != DiscrepancyStatus.open.value and not same):
                fresh.append(self._sealed_ticket(ticket))
            elif found[1] == DiscrepancyStatus.open.value and not same:
                self.conn.execute(
                    update(tickets_table)
                    .where(d.id == found[0])
                    .values(
                        authoritative_value=self._seal_value(ticket, ticket["authoritative_value"]),
                        other_value=self._seal_value(ticket, ticket["other_value"]),
                        detected_at=self.now,
                        batch_id=self.batch_id,
                    )
                )
        self.summary.discrepancies += len(fresh)
        if fresh:
            self.db.execute(insert(Discrepancy), fresh)
