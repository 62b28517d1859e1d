"""The table of the resource datasets: a provider's own rows, versioned SCD2, one or many per subject.

A ``dataset`` resource (库表交换) is its provider's table, collected by a pipeline. Each row is
keyed by the resource, its subject (the blind index of the binding's ``query_key`` values) and its
record key (a keyed digest of the binding's ``record_key`` values, "" when the binding has none:
one row per subject). Values are canonical JSON {item name: text}, the items whose element is
敏感 or 高度敏感 sealed under "~sealed", exactly as ``library_records`` keeps its values.
"""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from catalog_schema.database import Base, UTCDateTime


class DatasetRecord(Base):
    """One version of one row of a resource's dataset."""

    __tablename__ = "dataset_records"
    __table_args__ = (
        # At most one current version per row, whichever process loads.
        Index(
            "uq_dataset_records_current",
            "resource_id",
            "subject_key",
            "record_key",
            unique=True,
            sqlite_where=text("valid_to IS NULL"),
            postgresql_where=text("valid_to IS NULL"),
        ),
        Index("ix_dataset_records_subject", "resource_id", "subject_key", "valid_from"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    # The blind index of the query key (catalog_schema.dataset.subjects); the key itself only sealed.
    subject_key: Mapped[str] = mapped_column(String(200))
    record_key: Mapped[str] = mapped_column(String(64), default="")
    subject_cipher: Mapped[str | None] = mapped_column(Text)
    values: Mapped[str] = mapped_column(Text)
    row_hash: Mapped[str] = mapped_column(String(32))
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    valid_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    batch_id: Mapped[int] = mapped_column(ForeignKey("ingest_batches.id"))
    source_row: Mapped[int | None]
