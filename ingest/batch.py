"""A batch's own record: opened as running, then skipped, failed or finished when it reconciles.

Each function here is one short transaction of its own except :func:`finish` and
:func:`lock_source`, which run inside the load's transaction (``ingest.flows``).
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from catalog_schema.database import for_writing, utcnow
from catalog_schema.errors import GovdxError
from catalog_schema.keys.service import Keyring
from catalog_schema.library.models import IngestBatch
from catalog_schema.types import BatchStatus
from connectors.config import SourceSpec
from ingest.registry import Registry

SessionFactory = Callable[[], Session]

RESUBMIT_PREFIX = "resubmit:"


class ReconciliationError(GovdxError):
    """A batch's counts do not add up; it is rolled back rather than half-trusted."""

    status = 500
    code = "batch_not_reconciled"


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


@dataclass
class BatchWriter:
    """What the writers of one batch share: the load's session and connection, the source, what
    the catalog says of it, the keyring, the batch, its timestamp and its running counts."""

    db: Session
    conn: Connection
    spec: SourceSpec
    registry: Registry
    keyring: Keyring
    batch_id: int
    now: datetime
    summary: BatchSummary


def open_batch(
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
            library=registry.library,
            resource_id=registry.resource_id,
            department_id=registry.department_id,
            run_id=run_id[:250],
            status=BatchStatus.running,
            started_at=utcnow(),
        )
        db.add(batch)
        db.commit()
        return batch.id, (None if last is None else (last[0], last[1]))


def skip(session_factory: SessionFactory, batch_id: int, spec: SourceSpec, fingerprint: str) -> BatchSummary:
    with session_factory() as db:
        for_writing(db)
        batch = db.get_one(IngestBatch, batch_id)
        batch.status = BatchStatus.skipped
        batch.fingerprint = fingerprint
        batch.finished_at = utcnow()
        db.commit()
    return BatchSummary(batch_id=batch_id, source=spec.name, status=BatchStatus.skipped)


def fail(session_factory: SessionFactory, batch_id: int, exc: BaseException) -> None:
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


def lock_source(db: Session, source: str, batch_id: int) -> None:
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


def finish(
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
