"""Appending to the access log, and the hash that chains it.

A record's hash is SHA-256 over the canonical JSON of its content, ``prev_hash`` included
(keys sorted, no spaces, UTF-8, times as ISO 8601 UTC with microseconds). Changing, deleting,
inserting or reordering a record therefore breaks the chain at that record, and a signed
checkpoint pins the chain's state so the last records cannot be silently replaced either.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from authz.audit.models import AccessRecord, AuditHead
from catalog_schema.database import utcnow

HEAD_ID = 1
# The fields a record's hash covers, in the order the export writes them.
CHAINED_FIELDS = (
    "seq",
    "at",
    "client_id",
    "department_id",
    "operator",
    "grant_id",
    "purpose_ref",
    "resource_code",
    "mode",
    "items",
    "subject_fingerprint",
    "subjects",
    "rows_returned",
    "outcome",
    "reason_code",
    "reason",
    "client_ip",
    "request_id",
    "prev_hash",
)


@dataclass
class AccessEntry:
    """What the data plane knows about one call, before it is numbered and chained."""

    mode: str
    outcome: str
    request_id: str
    client_id: str | None = None
    department_id: int | None = None
    operator: str | None = None
    grant_id: int | None = None
    purpose_ref: str | None = None
    resource_code: str | None = None
    items: list[str] = field(default_factory=list)
    subject_fingerprint: str | None = None
    subjects: int = 0
    rows_returned: int = 0
    reason_code: str | None = None
    reason: str | None = None
    client_ip: str | None = None


def _time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(content: dict[str, Any]) -> bytes:
    """The bytes a record's hash is taken over: the chained fields as canonical JSON."""
    body = {name: content[name] for name in CHAINED_FIELDS}
    if isinstance(body["at"], datetime):
        body["at"] = _time(body["at"])
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def record_hash(content: dict[str, Any]) -> str:
    """SHA-256 (hex) of a record's canonical content, ``prev_hash`` included."""
    return hashlib.sha256(canonical(content)).hexdigest()


def content_of(record: AccessRecord) -> dict[str, Any]:
    """A stored record's chained fields, as they were hashed."""
    return {name: getattr(record, name) for name in CHAINED_FIELDS}


def append(*, db: Session, entry: AccessEntry, at: datetime | None = None) -> int:
    """Number, chain and insert one access record in the caller's transaction; returns its seq.

    The head row is locked until the caller commits, so concurrent writers append one after the
    other (PostgreSQL: row lock; SQLite: the write lock the data plane's transaction holds).
    """
    head = db.execute(
        select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID).with_for_update()
    ).one()
    content: dict[str, Any] = asdict(entry)
    content["items"] = json.dumps(entry.items, ensure_ascii=False)
    content.update(seq=head.seq + 1, at=(at or utcnow()).astimezone(UTC), prev_hash=head.hash)
    digest = record_hash(content)
    db.execute(insert(AccessRecord).values(**content, hash=digest))
    db.execute(update(AuditHead).where(AuditHead.id == HEAD_ID).values(seq=content["seq"], hash=digest))
    return int(content["seq"])
