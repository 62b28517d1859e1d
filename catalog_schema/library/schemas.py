"""Batches, quarantined rows, discrepancy tickets and library records, in and out.

What is sealed at rest (subject keys, raw rows, sensitive values) is opened here, for the readers
the routes already admitted; the answers read as they did before encryption at rest.
"""

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from catalog_schema.keys.service import Keyring
from catalog_schema.library import sealing
from catalog_schema.library.models import Discrepancy, IngestBatch, QuarantinedRow, ResourceFreshness
from catalog_schema.resource.schemas import ResourceSummary
from catalog_schema.types import (
    BatchStatus,
    DiscrepancyKind,
    DiscrepancyStatus,
    Library,
    LongText,
    QuarantineQueue,
    QuarantineStatus,
    RowNumber,
)


class BatchRead(BaseModel):
    id: int
    source: str
    title: str
    library: Library | None = Field(description="基础库；资源数据集的批次为空 / none for a dataset's batch")
    resource: str | None = Field(description="资源数据集的信息资源代码 / the dataset's resource code")
    department: str
    run_id: str
    status: BatchStatus
    status_label: str
    started_at: datetime
    finished_at: datetime | None
    rows_read: int
    loaded: int
    inserted: int
    updated: int
    unchanged: int
    quarantined: int
    held_for_review: int
    discrepancies: int
    reconciles: bool
    watermark_from: str | None
    watermark_to: str | None
    fingerprint: str | None
    error_code: str | None
    error: str | None
    quality_success: bool | None
    quality_report: str | None = Field(description="Data Docs 页面地址 / link to the quality report")

    @classmethod
    def of(cls, batch: IngestBatch) -> "BatchRead":
        return cls(
            id=batch.id,
            source=batch.source,
            title=batch.title,
            library=batch.library,
            resource=batch.resource.code if batch.resource is not None else None,
            department=batch.department.slug,
            run_id=batch.run_id,
            status=batch.status,
            status_label=batch.status.label,
            started_at=batch.started_at,
            finished_at=batch.finished_at,
            rows_read=batch.rows_read,
            loaded=batch.loaded,
            inserted=batch.inserted,
            updated=batch.updated,
            unchanged=batch.unchanged,
            quarantined=batch.quarantined,
            held_for_review=batch.held_for_review,
            discrepancies=batch.discrepancies,
            reconciles=batch.reconciles,
            watermark_from=batch.watermark_from,
            watermark_to=batch.watermark_to,
            fingerprint=batch.fingerprint,
            error_code=batch.error_code,
            error=batch.error,
            quality_success=batch.quality_success,
            quality_report=f"/api/v1/quality-docs/{batch.quality_report}" if batch.quality_report else None,
        )


class Reason(BaseModel):
    rule: str
    element: str | None
    message: str
    message_en: str


class QuarantinedRowRead(BaseModel):
    id: int
    batch_id: int
    source: str
    library: Library | None
    source_row: int | None
    subject_key: str | None
    raw: dict[str, Any]
    reasons: list[Reason]
    queue: QuarantineQueue
    status: QuarantineStatus
    created_at: datetime
    resolved_at: datetime | None
    resolution_note: str | None
    resubmitted_batch_id: int | None

    @classmethod
    def of(cls, row: QuarantinedRow, *, keyring: Keyring) -> "QuarantinedRowRead":
        return cls(
            id=row.id,
            batch_id=row.batch_id,
            source=row.source,
            library=row.library,
            source_row=row.source_row,
            subject_key=sealing.open_subject(keyring, row.subject_key, row.subject_cipher),
            raw=json.loads(sealing.open_raw(keyring, row.raw, source=row.source)),
            reasons=[Reason(**r) for r in json.loads(row.reasons)],
            queue=row.queue,
            status=row.status,
            created_at=row.created_at,
            resolved_at=row.resolved_at,
            resolution_note=row.resolution_note,
            resubmitted_batch_id=row.resubmitted_batch_id,
        )


CellValue = Annotated[str, Field(max_length=4000)] | None


class Resubmit(BaseModel):
    """Quarantined rows to load again, with corrected cells keyed by row id then source column."""

    model_config = ConfigDict(extra="forbid")

    ids: list[RowNumber] = Field(min_length=1, max_length=1000)
    corrections: dict[RowNumber, dict[Annotated[str, Field(max_length=64)], CellValue]] = {}
    accept_review: bool = Field(
        default=False, description="复核通过：如试点期统一社会信用代码 / the review found the value legal"
    )


class Discard(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: LongText


class DiscrepancyRead(BaseModel):
    id: int
    library: Library
    element: str
    element_name: str
    subject_key: str
    kind: DiscrepancyKind
    kind_label: str
    rule: str | None
    authoritative_department: str
    authoritative_value: str | None
    other_department: str
    other_value: str | None
    detected_at: datetime
    batch_id: int
    status: DiscrepancyStatus
    status_label: str
    resolved_at: datetime | None
    resolved_by_id: int | None
    resolution_note: str | None

    @classmethod
    def of(cls, ticket: Discrepancy, *, keyring: Keyring) -> "DiscrepancyRead":
        where = {"subject_key": ticket.subject_key, "element": ticket.element.code}
        return cls(
            id=ticket.id,
            library=ticket.library,
            element=ticket.element.code,
            element_name=ticket.element.name,
            subject_key=sealing.open_subject(keyring, ticket.subject_key, ticket.subject_cipher) or "",
            kind=ticket.kind,
            kind_label=ticket.kind.label,
            rule=ticket.rule,
            authoritative_department=ticket.authoritative_department.slug,
            authoritative_value=sealing.open_ticket_value(keyring, ticket.authoritative_value, **where),
            other_department=ticket.other_department.slug,
            other_value=sealing.open_ticket_value(keyring, ticket.other_value, **where),
            detected_at=ticket.detected_at,
            batch_id=ticket.batch_id,
            status=ticket.status,
            status_label=ticket.status.label,
            resolved_at=ticket.resolved_at,
            resolved_by_id=ticket.resolved_by_id,
            resolution_note=ticket.resolution_note,
        )


class DiscrepancyResolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal[DiscrepancyStatus.confirmed, DiscrepancyStatus.corrected, DiscrepancyStatus.dismissed]
    note: LongText


class SubjectValue(BaseModel):
    element: str
    value: str | None
    department: str
    valid_from: datetime
    valid_to: datetime | None
    batch_id: int


class SubjectRecord(BaseModel):
    """A subject's values on a date: each element from its authoritative department's version then."""

    library: Library
    subject_key: str
    on: date | None
    values: list[SubjectValue]


class OverdueRead(BaseModel):
    """A published resource whose data is overdue: never supplied, or its 更新周期 passed."""

    resource: ResourceSummary
    never_supplied: bool = Field(description="从未收到数据（或没有数据源） / no data ever arrived")
    last_loaded_at: datetime | None
    due_at: datetime | None
    sources: list[str] = Field(description="为该资源供数的数据源 / the sources that feed it")
    checked_at: datetime

    @classmethod
    def of(cls, row: ResourceFreshness) -> "OverdueRead":
        return cls(
            resource=ResourceSummary.of(row.resource),
            never_supplied=row.never_supplied,
            last_loaded_at=row.last_loaded_at,
            due_at=row.due_at,
            sources=[s for s in row.sources.split(",") if s],
            checked_at=row.checked_at,
        )
