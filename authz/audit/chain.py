"""The access log's hash chain: numbering, chaining and appending records, and the head.

A record's hash is SHA-256 over the canonical JSON of its content, ``prev_hash`` included
(keys sorted, no spaces, UTF-8, times as ISO 8601 UTC with microseconds). Changing, deleting,
inserting or reordering a record therefore breaks the chain at that record, and a signed
checkpoint (:mod:`authz.audit.checkpoint`) pins the chain's state so the last records cannot be
silently replaced either.

A record that serves many subjects at once (a part of a bulk export, ``authz.access.export``)
lists their fingerprints in ``access_subjects`` and carries :func:`subjects_digest` of them in
``subjects_digest``, which its hash covers: a subject row deleted, altered or added no longer
matches the digest, and the digest cannot change without breaking the chain. The digest is hashed
only when set (:data:`OPTIONAL_CHAINED_FIELDS`), so the records written before it keep their hashes.

Records are appended in the caller's transaction (the data plane's group commit), and the head
row that numbers them stays locked until that transaction commits: concurrent writers append one
after the other, so the chain stays linear, and the head still names the last record when records
are deleted from the end.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Row, Table, bindparam, insert, select, text, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.orm import Session

from authz.audit import traces
from authz.audit.models import AccessRecord, AccessSubject, AuditHead
from catalog_schema import rounds
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
# Chained when set (not None) only, so records written before each existed keep their hashes.
OPTIONAL_CHAINED_FIELDS = ("subjects_digest",)
STORED_FIELDS = CHAINED_FIELDS + OPTIONAL_CHAINED_FIELDS


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
    subjects_digest: str | None = None  # set by append from ``traced``
    # The trace ids of the subjects a record serves at once (an export's part): access_subjects.
    traced: tuple[str, ...] = ()


def timestamp(value: datetime) -> str:
    """A time as the chain writes it: ISO 8601 UTC with microseconds."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical(content: dict[str, Any]) -> bytes:
    """The bytes a record's hash is taken over: the chained fields as canonical JSON."""
    body = {name: content[name] for name in CHAINED_FIELDS}
    for name in OPTIONAL_CHAINED_FIELDS:
        if content.get(name) is not None:
            body[name] = content[name]
    if isinstance(body["at"], datetime):
        body["at"] = timestamp(body["at"])
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def record_hash(content: dict[str, Any]) -> str:
    """SHA-256 (hex) of a record's canonical content, ``prev_hash`` included."""
    return hashlib.sha256(canonical(content)).hexdigest()


def content_of(record: AccessRecord) -> dict[str, Any]:
    """A stored record's chained fields, as they were hashed."""
    return {name: getattr(record, name) for name in STORED_FIELDS}


def subjects_digest(ids: Iterable[str]) -> str:
    """SHA-256 (hex) of a record's subjects: their distinct trace ids, sorted, one per line."""
    return hashlib.sha256("\n".join(sorted(set(ids))).encode("utf-8")).hexdigest()


# Built once: the data plane appends on every call, and the ORM's per-statement work would cost
# more than the append itself (bench-api).
_RECORDS = cast(Table, AccessRecord.__table__)
_HEAD = cast(Table, AuditHead.__table__)
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID).with_for_update()
_INSERT_RECORDS = insert(_RECORDS)
_MOVE_HEAD = (
    update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_INSERT_SUBJECTS = text(
    f"INSERT INTO {AccessSubject.__tablename__} (bucket, record_seq, ids) VALUES (:bucket, :record_seq, :ids)"
)
_ENTRY_FIELDS = tuple(f.name for f in fields(AccessEntry) if f.name != "traced")
# Core columns, read by position: the verifier reads every record, and ORM rows cost several times more.
_COLUMNS = (_RECORDS.c.id, *(_RECORDS.c[name] for name in STORED_FIELDS), _RECORDS.c.hash)


@dataclass
class Chained:
    """Records numbered and chained after a head, and the access_subjects rows of those that trace."""

    rows: list[dict[str, Any]]
    traced: list[dict[str, Any]]

    @property
    def head(self) -> tuple[int, str]:
        return self.rows[-1]["seq"], self.rows[-1]["hash"]


def read_head() -> rounds.Step:
    """The step that reads the head and locks it until the transaction ends (SQLite: its write lock)."""
    return rounds.Step(_READ_HEAD, {}, returns=True)


def head_read(rows: list[Any]) -> tuple[int, str]:
    """The (seq, hash) :func:`read_head` read; NoResultFound when the head row is missing."""
    if len(rows) != 1:
        raise NoResultFound("the audit head row is missing; nothing can be appended to the access log")
    return rows[0][0], rows[0][1]


def chain(entries: Sequence[tuple[AccessEntry, datetime]], *, after: tuple[int, str]) -> Chained:
    """The records of ``entries`` (each with its time), numbered and chained after the head ``after``."""
    seq, prev_hash = after
    rows: list[dict[str, Any]] = []
    traced: list[dict[str, Any]] = []
    for entry, at in entries:
        seq += 1
        content: dict[str, Any] = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
        content.update(
            items=json.dumps(entry.items, ensure_ascii=False),
            seq=seq,
            at=at.astimezone(UTC),
            prev_hash=prev_hash,
        )
        if entry.traced:
            ids = set(entry.traced)
            content["subjects_digest"] = subjects_digest(ids)
            traced += ({"bucket": b, "record_seq": seq, "ids": packed} for b, packed in traces.buckets(ids))
        prev_hash = content["hash"] = record_hash(content)
        rows.append(content)
    return Chained(rows, traced)


def writes(chained: Chained) -> list[rounds.Step]:
    """The steps that move the head past ``chained`` and insert its records (head locked by read_head)."""
    seq, digest = chained.head
    steps = [
        rounds.Step(_MOVE_HEAD, {"new_seq": seq, "new_hash": digest}),
        rounds.Step(_INSERT_RECORDS, chained.rows),
    ]
    if chained.traced:
        steps.append(rounds.Step(_INSERT_SUBJECTS, chained.traced))
    return steps


def append_many(*, db: Session, entries: Sequence[AccessEntry], at: datetime | None = None) -> list[int]:
    """Number, chain and insert access records in the caller's transaction; returns their seqs.

    The head row is locked until the caller commits, so concurrent writers append one after the
    other (PostgreSQL: row lock; SQLite: the write lock the data plane's transaction holds).
    """
    moment = at or utcnow()
    return append_timed(db=db, entries=[(entry, moment) for entry in entries])


def append_timed(*, db: Session, entries: Sequence[tuple[AccessEntry, datetime]]) -> list[int]:
    """Like :func:`append_many`, each record with its own time."""
    if not entries:
        return []
    conn = db.connection()
    [head] = rounds.run(conn, [read_head()])
    chained = chain(entries, after=head_read(head))
    rounds.run(conn, writes(chained))
    return [row["seq"] for row in chained.rows]


def append(*, db: Session, entry: AccessEntry, at: datetime | None = None) -> int:
    """Number, chain and insert one access record in the caller's transaction; returns its seq."""
    return append_many(db=db, entries=[entry], at=at)[0]


def head(*, db: Session) -> Row[tuple[int, str]]:
    """The head row's (seq, hash): the last record appended, as the appender recorded it."""
    return db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).one()


def stream(
    *, db: Session, after: int, upto: int | None = None, batch: int
) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(id, chained content, hash) of records with seq in (after, upto], in seq order; keyset batches."""
    while True:
        stmt = select(*_COLUMNS).where(_RECORDS.c.seq > after)
        if upto is not None:
            stmt = stmt.where(_RECORDS.c.seq <= upto)
        rows = db.execute(stmt.order_by(_RECORDS.c.seq).limit(batch)).all()
        for row in rows:
            yield row[0], dict(zip(STORED_FIELDS, row[1:-1], strict=True)), row[-1]
        if len(rows) < batch:
            return
        after = rows[-1][1]
