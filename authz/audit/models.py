"""The access log: one record per data call, chained by hash, with signed checkpoints.

Each record's ``hash`` is SHA-256 over its canonical content and the previous record's hash
(``authz.audit.chain.record_hash``); ``seq`` numbers records without gaps. ``audit_head`` holds
the latest (seq, hash): appending locks that one row, so the chain stays linear whatever the number
of writers, and a record deleted from the end is still noticed. A record that serves many subjects
at once (a part of a bulk export) lists their fingerprints in ``access_subjects``, bound into its
hash by ``subjects_digest``.
"""

from datetime import datetime

from sqlalchemy import BigInteger, Index, LargeBinary, SmallInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from catalog_schema.database import Base, UTCDateTime

GENESIS = "0" * 64


class AccessRecord(Base):
    """One data call: who, under which grant, for what, about whom (fingerprint), and how it ended."""

    __tablename__ = "access_records"
    __table_args__ = (
        Index("ix_access_records_at", "at"),
        Index("ix_access_records_subject", "subject_fingerprint", "at"),
        Index("ix_access_records_department", "department_id", "at"),
        Index("ix_access_records_outcome", "outcome", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Plain values, not foreign keys: a record must outlive the client, grant or resource it names.
    client_id: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[int | None]
    operator: Mapped[str | None] = mapped_column(String(64))
    grant_id: Mapped[int | None]
    purpose_ref: Mapped[str | None] = mapped_column(String(100))
    resource_code: Mapped[str | None] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(16))
    items: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of item names
    subject_fingerprint: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 of the sorted fingerprints in access_subjects for this record (chain.subjects_digest).
    subjects_digest: Mapped[str | None] = mapped_column(String(64))
    subjects: Mapped[int] = mapped_column(default=0)
    rows_returned: Mapped[int] = mapped_column(default=0)
    outcome: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessSubject(Base):
    """The trace ids of one bucket of the subjects a record served (``authz.audit.traces``).

    Keyed by bucket, then the record's ``seq`` (a plain value, as the record's own references are):
    a search reads one bucket. A record's rows are bound into its hash through its
    ``subjects_digest``, so the verifier notices an id deleted, altered, added or moved.
    """

    __tablename__ = "access_subjects"
    # SQLite keeps the rows in the primary key's B-tree (no rowid table beside it).
    __table_args__ = ({"sqlite_with_rowid": False},)

    bucket: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    record_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    ids: Mapped[bytes] = mapped_column(LargeBinary)


class AuditHead(Base):
    """The single row holding the chain's latest (seq, hash); appenders serialise on it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


class AuditCheckpoint(Base):
    """The chain's state at ``seq``, signed with the platform's Ed25519 key."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    key_id: Mapped[str] = mapped_column(String(40))
    signature: Mapped[str] = mapped_column(String(200))
