"""Tables of the base libraries and of the pipelines that fill them.

A subject's record is split by department, one satellite per source department (Data Vault
style): ``library_records`` holds, for each (library, subject key, department), the values of
the elements that department is the authoritative source of, versioned SCD2 with
``valid_from``/``valid_to``. The subject's full record on a date is the union of its
departments' versions valid on that date, and each value has exactly one writer.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog_schema.database import Base, UTCDateTime, enum_column, utcnow
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement
from catalog_schema.resource.models import Resource
from catalog_schema.types import (
    BatchStatus,
    DiscrepancyKind,
    DiscrepancyStatus,
    Library,
    QuarantineQueue,
    QuarantineStatus,
)


class IngestBatch(Base):
    """One load of one source: what was read, where every row went, and whether it reconciled."""

    __tablename__ = "ingest_batches"
    __table_args__ = (Index("ix_ingest_batches_source_status", "source", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    # What the batch loads: a base library, or a resource's dataset (库表交换); exactly one.
    library: Mapped[Library | None] = mapped_column(enum_column(Library))
    resource_id: Mapped[int | None] = mapped_column(ForeignKey("resources.id", ondelete="RESTRICT"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    run_id: Mapped[str] = mapped_column(String(250))
    status: Mapped[BatchStatus] = mapped_column(enum_column(BatchStatus))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    quarantined: Mapped[int] = mapped_column(Integer, default=0)
    held_for_review: Mapped[int] = mapped_column(Integer, default=0)
    discrepancies: Mapped[int] = mapped_column(Integer, default=0)
    watermark_from: Mapped[str | None] = mapped_column(String(64))
    watermark_to: Mapped[str | None] = mapped_column(String(64))
    fingerprint: Mapped[str | None] = mapped_column(String(80))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    quality_report: Mapped[str | None] = mapped_column(String(500))
    quality_success: Mapped[bool | None]

    department: Mapped[Department] = relationship(lazy="joined")
    resource: Mapped[Resource | None] = relationship(lazy="joined")

    @property
    def loaded(self) -> int:
        return self.inserted + self.updated + self.unchanged

    @property
    def reconciles(self) -> bool:
        """Rows read = inserted + updated + unchanged + quarantined."""
        return self.rows_read == self.loaded + self.quarantined


class LibraryRecord(Base):
    """One version of the values one department is authoritative for, about one subject."""

    __tablename__ = "library_records"
    __table_args__ = (
        # At most one current version per subject and department, whichever process loads.
        Index(
            "uq_library_records_current",
            "library",
            "department_id",
            "subject_key",
            unique=True,
            sqlite_where=text("valid_to IS NULL"),
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_library_records_subject", "library", "subject_key", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    library: Mapped[Library] = mapped_column(enum_column(Library))
    # The blind index of the key (catalog_schema.library.subjects); the key itself only sealed.
    subject_key: Mapped[str] = mapped_column(String(200))
    subject_cipher: Mapped[str | None] = mapped_column(Text)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    # Canonical JSON object {element code: text value}, sensitive elements sealed under "~sealed"
    # (catalog_schema.keys); row_hash is a keyed digest of the plaintext, for change detection.
    values: Mapped[str] = mapped_column(Text)
    row_hash: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # No index on batch_id: every index slows the load, and only reports ask by batch.
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"))
    source_row: Mapped[int | None]


class QuarantinedRow(Base):
    """A source row that was not loaded, with every reason; it can be corrected and resubmitted."""

    __tablename__ = "quarantined_rows"
    __table_args__ = (Index("ix_quarantined_rows_source_status", "source", "status", "queue"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"), index=True)
    source: Mapped[str] = mapped_column(String(64))
    library: Mapped[Library | None] = mapped_column(enum_column(Library))  # None: a dataset's source
    source_row: Mapped[int | None]
    subject_key: Mapped[str | None] = mapped_column(String(200))
    subject_cipher: Mapped[str | None] = mapped_column(Text)
    # JSON object {source column: text} as read (or {"_raw": line} when the format could not parse it),
    # sealed whole when the source carries a sensitive element.
    raw: Mapped[str] = mapped_column(Text)
    # JSON list of {rule, column, message, message_en}.
    reasons: Mapped[str] = mapped_column(Text)
    queue: Mapped[QuarantineQueue] = mapped_column(enum_column(QuarantineQueue))
    status: Mapped[QuarantineStatus] = mapped_column(
        enum_column(QuarantineStatus), default=QuarantineStatus.open
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resubmitted_batch_id: Mapped[int | None] = mapped_column(ForeignKey("ingest_batches.id"))


class Discrepancy(Base):
    """A difference between the authoritative source and another department, addressed as a ticket."""

    __tablename__ = "discrepancies"
    __table_args__ = (
        # One open ticket per (element, subject, other department): a re-run refreshes it.
        Index(
            "uq_discrepancies_open",
            "element_id",
            "subject_key",
            "other_department_id",
            unique=True,
            sqlite_where=text("status = 'open'"),
            postgresql_where=text("status = 'open'"),
        ),
        Index("ix_discrepancies_status", "status", "authoritative_department_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    library: Mapped[Library] = mapped_column(enum_column(Library))
    element_id: Mapped[int] = mapped_column(ForeignKey("data_elements.id"))
    subject_key: Mapped[str] = mapped_column(String(200))
    subject_cipher: Mapped[str | None] = mapped_column(Text)
    kind: Mapped[DiscrepancyKind] = mapped_column(enum_column(DiscrepancyKind))
    rule: Mapped[str | None] = mapped_column(String(64))
    authoritative_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    authoritative_value: Mapped[str | None] = mapped_column(Text)
    other_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    other_value: Mapped[str | None] = mapped_column(Text)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"), index=True)
    status: Mapped[DiscrepancyStatus] = mapped_column(
        enum_column(DiscrepancyStatus), default=DiscrepancyStatus.open
    )
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)

    element: Mapped[DataElement] = relationship(lazy="joined")
    authoritative_department: Mapped[Department] = relationship(
        foreign_keys=[authoritative_department_id], lazy="joined"
    )
    other_department: Mapped[Department] = relationship(foreign_keys=[other_department_id], lazy="joined")


class ResourceFreshness(Base):
    """When a resource's data last arrived, and whether its declared 更新周期 was missed."""

    __tablename__ = "resource_freshness"

    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True)
    last_loaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    missed: Mapped[bool] = mapped_column(default=False)
    sources: Mapped[str] = mapped_column(String(500), default="")
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    resource: Mapped[Resource] = relationship(lazy="joined")

    @property
    def never_supplied(self) -> bool:
        """No data ever arrived (or nothing feeds the resource): listed first, told first."""
        return self.last_loaded_at is None
