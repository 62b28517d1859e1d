"""The access log: appending and chaining, signed checkpoints, verification, export and search.

A record's hash is SHA-256 over the canonical JSON of its content, ``prev_hash`` included
(keys sorted, no spaces, UTF-8, times as ISO 8601 UTC with microseconds). Changing, deleting,
inserting or reordering a record therefore breaks the chain at that record, and a signed
checkpoint pins the chain's state so the last records cannot be silently replaced either.

A checkpoint signs ``govdx-audit-checkpoint/1\n<seq>\n<hash>\n<at>`` (Ed25519, RFC 8032) with
the platform key. :func:`verify` reads the records in seq order a keyset batch at a time and
reports the first break by kind; :func:`export_lines` writes a time range as JSON Lines carrying
the public keys and the hash of the record before the range, which :func:`verify_export` checks
offline with the same rules. :func:`search` finds records by the keyed fingerprint of the subject
an auditor types, never by the subject itself.
"""

import hashlib
import json
import re
import weakref
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, cast

from cryptography.hazmat.primitives import serialization
from sqlalchemy import ColumnElement, Engine, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.orm import Session

from authz.audit.models import GENESIS, AccessRecord, AuditCheckpoint, AuditHead
from authz.audit.schemas import AuditFilter, AuditRecordRead, BreakKind, ChainBreak, Note, VerifyReport
from authz.sharing.models import Grant
from authz.types import OUTSIDE_APPROVAL, AccessOutcome
from catalog_schema.database import utcnow
from catalog_schema.department import service as department_service
from catalog_schema.department.models import Department
from catalog_schema.errors import Conflict, InvalidInput
from catalog_schema.keys.service import Keyring, verify_signature
from catalog_schema.library import subjects
from catalog_schema.pagination import PageParams
from catalog_schema.types import Library
from quality.rules import ID_ELEMENT

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


# Built once: the data plane appends on every call, and the ORM's per-statement work would cost
# more than the append itself (bench-api).
_RECORDS = cast(Table, AccessRecord.__table__)
_HEAD = cast(Table, AuditHead.__table__)
_READ_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == HEAD_ID).with_for_update()
_INSERT_RECORDS = insert(_RECORDS)
_MOVE_HEAD = (
    update(_HEAD).where(_HEAD.c.id == HEAD_ID).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_MOVE_KNOWN_HEAD = (
    update(_HEAD)
    .where(_HEAD.c.id == HEAD_ID, _HEAD.c.seq == bindparam("old_seq"), _HEAD.c.hash == bindparam("old_hash"))
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_ENTRY_FIELDS = tuple(f.name for f in fields(AccessEntry))
# Per engine: the head as this process last moved it (a hint, see append_timed).
_LAST_HEAD: "weakref.WeakKeyDictionary[Engine, tuple[int, str]]" = weakref.WeakKeyDictionary()


def append_many(*, db: Session, entries: Sequence[AccessEntry], at: datetime | None = None) -> list[int]:
    """Number, chain and insert access records in the caller's transaction; returns their seqs.

    The head row is locked until the caller commits, so concurrent writers append one after the
    other (PostgreSQL: row lock; SQLite: the write lock the data plane's transaction holds).
    """
    moment = at or utcnow()
    return append_timed(db=db, entries=[(entry, moment) for entry in entries])


def append_timed(*, db: Session, entries: Sequence[tuple[AccessEntry, datetime]]) -> list[int]:
    """Like :func:`append_many`, each record with its own time (the calls of a group commit)."""
    if not entries:
        return []
    conn = db.connection()
    engine = conn.engine
    # The head this process wrote last, if it is still the head: moving it on only where it still
    # is saves reading it first. Anyone else's append (or a rollback of ours) makes the move miss,
    # and then the head is read and locked as usual.
    known = _LAST_HEAD.get(engine)
    rows: list[dict[str, Any]] = []
    if known is not None:
        rows = _chain(entries, *known)
        moved = conn.execute(
            _MOVE_KNOWN_HEAD,
            {
                "new_seq": rows[-1]["seq"],
                "new_hash": rows[-1]["hash"],
                "old_seq": known[0],
                "old_hash": known[1],
            },
        )
        if moved.rowcount != 1:
            rows = []
    if not rows:
        rows = _chain(entries, *conn.execute(_READ_HEAD).one())
        conn.execute(_MOVE_HEAD, {"new_seq": rows[-1]["seq"], "new_hash": rows[-1]["hash"]})
    conn.execute(_INSERT_RECORDS, rows)
    _LAST_HEAD[engine] = (rows[-1]["seq"], rows[-1]["hash"])
    return [row["seq"] for row in rows]


def _chain(entries: Sequence[tuple[AccessEntry, datetime]], seq: int, prev_hash: str) -> list[dict[str, Any]]:
    """The records of ``entries``, numbered and chained after the head (``seq``, ``prev_hash``)."""
    rows = []
    for entry, at in entries:
        seq += 1
        content: dict[str, Any] = {name: getattr(entry, name) for name in _ENTRY_FIELDS}
        content.update(
            items=json.dumps(entry.items, ensure_ascii=False),
            seq=seq,
            at=at.astimezone(UTC),
            prev_hash=prev_hash,
        )
        prev_hash = content["hash"] = record_hash(content)
        rows.append(content)
    return rows


def append(*, db: Session, entry: AccessEntry, at: datetime | None = None) -> int:
    """Number, chain and insert one access record in the caller's transaction; returns its seq."""
    return append_many(db=db, entries=[entry], at=at)[0]


# -- checkpoints ------------------------------------------------------------------------------

CHECKPOINT_FORMAT = "govdx-audit-checkpoint/1"
EXPORT_FORMAT = "govdx-audit-export/1"
# Breaks a report lists; the count covers them all.
MAX_BREAKS = 20
# Core columns, read by position: the verifier reads every record, and ORM rows cost several times more.
_TABLE = AccessRecord.__table__
_COLUMNS = (_TABLE.c.id, *(_TABLE.c[name] for name in CHAINED_FIELDS), _TABLE.c.hash)


class AuditChainBroken(Conflict):
    """The chain does not verify, so it must not be signed."""

    code = "audit_chain_broken"


def checkpoint_message(*, seq: int, digest: str, at: datetime | str) -> bytes:
    """What a checkpoint's signature covers: format, seq, hash and time (as records write it), one a line."""
    moment = _time(at) if isinstance(at, datetime) else at
    return f"{CHECKPOINT_FORMAT}\n{seq}\n{digest}\n{moment}".encode()


def _head(db: Session) -> Row[tuple[int, str]]:
    return db.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)).one()


def checkpoint(
    *, db: Session, keyring: Keyring, at: datetime | None = None, upto: int | None = None
) -> AuditCheckpoint | None:
    """Sign the chain's head (or the record at ``upto``); None when nothing came since the last checkpoint."""
    if upto is None:
        seq, digest = _head(db)
        stored = db.scalar(select(AccessRecord.hash).where(AccessRecord.seq == seq)) if seq else GENESIS
    else:
        seq, stored = upto, db.scalar(select(AccessRecord.hash).where(AccessRecord.seq == upto))
        digest = stored
    if stored is None or stored != digest:
        raise AuditChainBroken(
            f"seq {seq} 处的记录缺失或与链头不符，拒绝签名检查点；请运行 govdx audit verify",
            f"the record at seq {seq} is missing or does not match the head; not signing a checkpoint "
            "(run `govdx audit verify`)",
        )
    last = db.scalar(select(func.max(AuditCheckpoint.seq)))
    if seq == 0 or (last is not None and last >= seq):
        return None
    moment = (at or utcnow()).astimezone(UTC)
    key_id, signature = keyring.sign(checkpoint_message(seq=seq, digest=digest, at=moment))
    row = AuditCheckpoint(seq=seq, hash=digest, at=moment, key_id=key_id, signature=signature)
    db.add(row)
    db.flush()
    return row


# -- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Signed:
    """A checkpoint as the verifier sees it, from the database or from an export line."""

    id: int | None
    seq: int
    hash: str
    at: str
    key_id: str
    signature: str

    @classmethod
    def of(cls, row: AuditCheckpoint) -> "_Signed":
        return cls(row.id, row.seq, row.hash, _time(row.at), row.key_id, row.signature)

    def line(self) -> dict[str, Any]:
        return {"type": "checkpoint", **asdict(self)}


def key_fingerprint(public_key_pem: str) -> str:
    """``sha256:<hex>`` of a public key's DER form, for comparing with the platform's published keys."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        return "invalid"
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def _span(first: int, last: int) -> str:
    return str(first) if first == last else f"{first}–{last}"


class _Chain:
    """Takes checkpoints and records in seq order and collects every break; online and offline alike."""

    def __init__(self, *, public_keys: dict[str, str], next_seq: int, prev_hash: str | None) -> None:
        self.public_keys = public_keys
        self.next_seq = next_seq
        self.prev_hash = prev_hash  # None: the first record's link cannot be checked
        self.first_seq: int | None = None
        self.last_seq: int | None = None
        self.records = self.records_verified = 0
        self.checkpoints = self.checkpoints_verified = 0
        self.good_checkpoints: list[int] = []
        self.breaks: list[ChainBreak] = []
        self.break_count = 0
        self.first: ChainBreak | None = None
        self._waiting: dict[int, list[tuple[_Signed, bool]]] = {}

    def fail(
        self,
        kind: BreakKind,
        seq: int | None,
        message: str,
        message_en: str,
        *,
        record_id: int | None = None,
        checkpoint_id: int | None = None,
    ) -> None:
        found = ChainBreak(
            kind=kind,
            label=kind.label,
            seq=seq,
            record_id=record_id,
            checkpoint_id=checkpoint_id,
            message=message,
            message_en=message_en,
        )
        self.break_count += 1
        if len(self.breaks) < MAX_BREAKS:
            self.breaks.append(found)
        if self.first is None or _order(found) < _order(self.first):
            self.first = found

    def checkpoint(self, cp: _Signed) -> None:
        self.checkpoints += 1
        pem = self.public_keys.get(cp.key_id)
        message = checkpoint_message(seq=cp.seq, digest=cp.hash, at=cp.at)
        signed = pem is not None and verify_signature(pem, message, cp.signature)
        if not signed:
            why = "签名不正确" if pem is not None else f"签名密钥 {cp.key_id} 不在公钥中"
            why_en = "the signature is wrong" if pem is not None else f"key id {cp.key_id} is unknown"
            self.fail(
                BreakKind.checkpoint_signature_invalid,
                cp.seq,
                f"检查点（seq {cp.seq}，id {cp.id}）签名无效：{why}",
                f"checkpoint at seq {cp.seq} (id {cp.id}) has an invalid signature: {why_en}",
                checkpoint_id=cp.id,
            )
        self._waiting.setdefault(cp.seq, []).append((cp, signed))

    def record(self, content: dict[str, Any], digest: str, record_id: int | None) -> None:
        seq = content["seq"]
        clean = True
        where = f"seq {seq}（id {record_id}）"
        where_en = f"seq {seq} (id {record_id})"
        if seq != self.next_seq:
            clean = False
            if seq > self.next_seq:
                missing = _span(self.next_seq, seq - 1)
                self.fail(
                    BreakKind.seq_gap,
                    self.next_seq,
                    f"序号 {missing} 的记录缺失：其后是记录 {where}",
                    f"records at seq {missing} are missing; the next record is {where_en}",
                    record_id=record_id,
                )
            else:
                self.fail(
                    BreakKind.seq_gap,
                    seq,
                    f"记录 {where} 重复或顺序颠倒：此处应为 seq {self.next_seq}",
                    f"record {where_en} is repeated or out of order; seq {self.next_seq} was expected",
                    record_id=record_id,
                )
        elif self.prev_hash is not None and content["prev_hash"] != self.prev_hash:
            clean = False
            self.fail(
                BreakKind.link_broken,
                seq,
                f"记录 {where} 的 prev_hash 与前一条记录的哈希不符：其前有记录被删除、插入或调换",
                f"record {where_en} does not link to the record before it: a record before it was "
                "deleted, inserted or moved",
                record_id=record_id,
            )
        if record_hash(content) != digest:
            clean = False
            self.fail(
                BreakKind.hash_mismatch,
                seq,
                f"记录 {where} 的内容与其哈希不符：记录被改动",
                f"record {where_en} does not match its hash: it was modified",
                record_id=record_id,
            )
        for cp, signed in self._waiting.pop(seq, []):
            if cp.hash != digest:
                self.fail(
                    BreakKind.checkpoint_mismatch,
                    seq,
                    f"检查点（id {cp.id}）签署的 seq {seq} 哈希与记录 {where} 不符：记录被替换",
                    f"checkpoint (id {cp.id}) signed another hash for seq {seq} than record {where_en} has: "
                    "the record was replaced",
                    record_id=record_id,
                    checkpoint_id=cp.id,
                )
            elif signed:
                self.checkpoints_verified += 1
                self.good_checkpoints.append(seq)
        self.records += 1
        self.records_verified += clean
        self.first_seq = seq if self.first_seq is None else self.first_seq
        self.last_seq = seq
        self.next_seq = max(self.next_seq, seq + 1)
        self.prev_hash = digest

    def unmatched_checkpoints(self) -> None:
        """Checkpoints whose record never came: it was deleted (from the middle or the end)."""
        for seq, waiting in sorted(self._waiting.items()):
            for cp, _signed in waiting:
                self.fail(
                    BreakKind.checkpoint_mismatch,
                    seq,
                    f"检查点（id {cp.id}）签署了 seq {seq}，但没有该序号的记录：记录被删除",
                    f"checkpoint (id {cp.id}) signed seq {seq}, but there is no record at that seq: "
                    "it was deleted",
                    checkpoint_id=cp.id,
                )
        self._waiting.clear()

    def head(self, seq: int, digest: str | None, *, what: str = "链头", what_en: str = "the head") -> None:
        """The chain must end where ``seq``/``digest`` (the head row, or an export's declared end) says."""
        end_seq, end_hash = self.next_seq - 1, self.prev_hash
        if seq > end_seq:
            self.fail(
                BreakKind.head_mismatch,
                end_seq + 1,
                f"{what}为 seq {seq}，但记录只到 seq {end_seq}：末尾的 seq {_span(end_seq + 1, seq)} 被删除",
                f"{what_en} is at seq {seq} but the records end at seq {end_seq}: "
                f"seq {_span(end_seq + 1, seq)} were deleted from the end",
            )
        elif seq < end_seq:
            self.fail(
                BreakKind.head_mismatch,
                seq + 1,
                f"{what}为 seq {seq}，其后却有记录（至 seq {end_seq}）：这些记录不是正常写入的",
                f"{what_en} is at seq {seq} but records follow it (to seq {end_seq}): they were not "
                "appended the normal way",
            )
        elif digest is not None and digest != end_hash:
            self.fail(
                BreakKind.head_mismatch,
                seq,
                f"{what}的哈希与最后一条记录（seq {seq}）不符",
                f"{what_en}'s hash differs from the last record's (seq {seq})",
            )

    def report(
        self,
        *,
        source: Literal["database", "export"],
        head_seq: int | None,
        through: int | None,
        public_keys: dict[str, str],
        notes: list[Note],
    ) -> VerifyReport:
        if self.first is not None and through is not None:
            through = min(through, (self.first.seq or 1) - 1) if self.first.seq is not None else None
        return VerifyReport(
            intact=self.first is None,
            source=source,
            records=self.records,
            records_verified=self.records_verified,
            checkpoints=self.checkpoints,
            checkpoints_verified=self.checkpoints_verified,
            first_seq=self.first_seq,
            last_seq=self.last_seq,
            head_seq=head_seq,
            verified_through=through,
            first_break=self.first,
            breaks=sorted(self.breaks, key=_order),
            break_count=self.break_count,
            key_fingerprints={kid: key_fingerprint(pem) for kid, pem in sorted(public_keys.items())},
            notes=notes,
        )


def _order(found: ChainBreak) -> tuple[bool, int]:
    return found.seq is None, found.seq or 0


def _stream(
    db: Session, *, after: int, upto: int | None = None, batch: int
) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(id, chained content, hash) of records with seq in (after, upto], in seq order; keyset batches."""
    while True:
        stmt = select(*_COLUMNS).where(_TABLE.c.seq > after)
        if upto is not None:
            stmt = stmt.where(_TABLE.c.seq <= upto)
        rows = db.execute(stmt.order_by(_TABLE.c.seq).limit(batch)).all()
        for row in rows:
            yield row[0], dict(zip(CHAINED_FIELDS, row[1:-1], strict=True)), row[-1]
        if len(rows) < batch:
            return
        after = rows[-1][1]


def verify(
    *,
    db: Session,
    keyring_public_keys: dict[str, str],
    batch: int = 10000,
    since_last_checkpoint: bool = False,
) -> VerifyReport:
    """Recompute every hash and link in seq order, a batch at a time, and check the head and the checkpoints.

    With ``since_last_checkpoint`` only the records from the latest checkpoint on are read (that
    checkpoint's signature vouches for the ones before): what the hourly job checks before signing.
    """
    checkpoints = select(AuditCheckpoint).order_by(AuditCheckpoint.seq, AuditCheckpoint.id)
    if since_last_checkpoint:
        latest = db.scalars(
            checkpoints.order_by(None)
            .order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
            .limit(1)
        ).first()
        signed = [_Signed.of(latest)] if latest is not None else []
        start = latest.seq if latest is not None else 1
        chain = _Chain(
            public_keys=keyring_public_keys, next_seq=start, prev_hash=None if latest is not None else GENESIS
        )
    else:
        # At most one checkpoint an hour, so they fit in memory where the records need not.
        signed = [_Signed.of(cp) for cp in db.scalars(checkpoints)]
        start = 1
        chain = _Chain(public_keys=keyring_public_keys, next_seq=start, prev_hash=GENESIS)
    for cp in signed:
        chain.checkpoint(cp)
    last = start - 1
    for record_id, content, digest in _stream(db, after=last, batch=batch):
        chain.record(content, digest, record_id)
        last = content["seq"]
    # Read after the records: a writer commits its record and the head together, so records that
    # arrived meanwhile are read up to this head and anything beyond it was not appended by us.
    head_seq, head_hash = _head(db)
    for record_id, content, digest in _stream(db, after=last, upto=head_seq, batch=batch):
        chain.record(content, digest, record_id)
    chain.unmatched_checkpoints()
    chain.head(head_seq, head_hash)
    for found in chain.breaks:
        if found.record_id is None and found.seq is not None:
            found.record_id = db.scalar(select(AccessRecord.id).where(AccessRecord.seq == found.seq))
    notes = []
    signed_to = max((cp.seq for cp in signed), default=0)
    if head_seq > signed_to:
        unsigned = head_seq - signed_to
        where = f"最后一个检查点在 seq {signed_to}" if signed else "尚无检查点"
        where_en = f"the last checkpoint is at seq {signed_to}" if signed else "there is no checkpoint yet"
        notes.append(
            Note(
                message=f"{where}：其后 {unsigned} 条记录尚未签名，末尾记录被删除只能靠链头行发现",
                message_en=f"{where_en}: the {unsigned} records after it are not signed yet, so only the "
                "head row guards their removal from the end",
            )
        )
    return chain.report(
        source="database", head_seq=head_seq, through=head_seq, public_keys=keyring_public_keys, notes=notes
    )


# -- export and offline verification ----------------------------------------------------------


def _line(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def _seq_range(db: Session, since: datetime | None, until: datetime | None) -> tuple[int, int] | None:
    """The contiguous seqs from the first record at or after ``since`` to the last before ``until``."""
    first_stmt = select(AccessRecord.seq).order_by(AccessRecord.at, AccessRecord.seq).limit(1)
    last_stmt = select(AccessRecord.seq).order_by(AccessRecord.at.desc(), AccessRecord.seq.desc()).limit(1)
    if since is not None:
        first_stmt = first_stmt.where(AccessRecord.at >= since)
    if until is not None:
        last_stmt = last_stmt.where(AccessRecord.at < until)
    first, last = db.scalar(first_stmt), db.scalar(last_stmt)
    if first is None or last is None or first > last:
        return None
    return first, last


def export_lines(
    *,
    session_factory: Callable[[], Session],
    keyring: Keyring,
    since: datetime | None = None,
    until: datetime | None = None,
    batch: int = 5000,
) -> Iterator[str]:
    """A range of the log as JSON Lines that verify offline: header, records (each then its checkpoints), end.

    The header carries the platform's public keys and the hash of the record just before the range,
    so the range's first link can be checked without the rest of the log.
    """
    with session_factory() as db:
        span = _seq_range(db, since, until)
        first, last = span if span is not None else (None, None)
        anchor: str | None = GENESIS
        if first is not None and first > 1:
            anchor = db.scalar(select(AccessRecord.hash).where(AccessRecord.seq == first - 1))
        public_keys = keyring.public_keys()
        yield _line(
            {
                "type": "header",
                "format": EXPORT_FORMAT,
                "from": None if since is None else _time(since),
                "to": None if until is None else _time(until),
                "first_seq": first,
                "last_seq": last,
                "anchor": {"seq": None if first is None else first - 1, "hash": anchor},
                "public_keys": public_keys,
                "hash": "SHA-256 hex of the record's chained fields as JSON: sorted keys, no spaces, UTF-8",
                "chained_fields": list(CHAINED_FIELDS),
                "checkpoint_message": f"{CHECKPOINT_FORMAT}\\n<seq>\\n<hash>\\n<at>, signed with Ed25519",
                "exported_at": _time(utcnow()),
            }
        )
        records = checkpoints = 0
        if first is not None and last is not None:
            waiting: dict[int, list[_Signed]] = {}
            in_range = select(AuditCheckpoint).where(AuditCheckpoint.seq.between(first, last))
            for cp in db.scalars(in_range.order_by(AuditCheckpoint.seq, AuditCheckpoint.id)):
                waiting.setdefault(cp.seq, []).append(_Signed.of(cp))
            for record_id, content, digest in _stream(db, after=first - 1, upto=last, batch=batch):
                seq = content["seq"]
                content["at"] = _time(content["at"])
                yield _line({"type": "record", "id": record_id, **content, "hash": digest})
                records += 1
                for signed in waiting.pop(seq, []):
                    yield _line(signed.line())
                    checkpoints += 1
            for signed in (s for seq in sorted(waiting) for s in waiting[seq]):
                yield _line(signed.line())  # their record is missing: the verifier will say so
                checkpoints += 1
        yield _line({"type": "end", "records": records, "checkpoints": checkpoints})


def _not_an_export(path: Path, why: str, why_en: str) -> InvalidInput:
    return InvalidInput(
        f"{path} 不是 govdx 访问日志导出文件：{why}",
        f"{path} is not a govdx access log export: {why_en}",
        code="export_invalid",
    )


_RECORD_LINE = '{"type":"record",'


def _lines(path: Path, *, skip_records: bool = False) -> Generator[tuple[int, dict[str, Any] | None]]:
    """Each non-empty line's number and JSON object (None when it is not one)."""
    with path.open(encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, start=1):
            if not text.strip() or (skip_records and text.startswith(_RECORD_LINE)):
                continue  # records are parsed, and judged, in the second pass
            try:
                document = json.loads(text)
            except ValueError:
                document = None
            yield number, document if isinstance(document, dict) else None


def _as_signed(document: dict[str, Any]) -> _Signed | None:
    try:
        signed = _Signed(**{k: v for k, v in document.items() if k != "type"})
    except TypeError:
        return None
    fields = (signed.hash, signed.at, signed.key_id, signed.signature)
    if not isinstance(signed.seq, int) or not all(isinstance(v, str) for v in fields):
        return None
    return signed


def _as_record(document: dict[str, Any]) -> tuple[dict[str, Any], str, int | None] | None:
    if any(name not in document for name in CHAINED_FIELDS) or not isinstance(document.get("hash"), str):
        return None
    content = {name: document[name] for name in CHAINED_FIELDS}
    if not isinstance(content["seq"], int) or not isinstance(content["at"], str):
        return None
    record_id = document.get("id")
    return content, document["hash"], record_id if isinstance(record_id, int) else None


def verify_export(*, path: Path, trusted_keys: dict[str, str] | None = None) -> VerifyReport:
    """Verify an export offline: the chain in range, and each checkpoint's signature.

    Signatures are checked with ``trusted_keys`` ({key id: PEM}, as the platform publishes them)
    when given; otherwise with the keys the file carries, which proves integrity against accidents
    but not against someone who rewrote the file and re-signed it with a key of their own.
    """
    try:
        with closing(_lines(path)) as lines:
            header = next((document for _number, document in lines), None)
    except OSError as exc:
        raise _not_an_export(
            path, f"无法读取（{exc.strerror}）", f"cannot be read ({exc.strerror})"
        ) from None
    if header is None or header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
        raise _not_an_export(
            path, f"首行不是 {EXPORT_FORMAT} 文件头", f"its first line is not a {EXPORT_FORMAT} header"
        )
    public_keys = header.get("public_keys")
    anchor = header.get("anchor") or {}
    first_seq, last_seq = header.get("first_seq"), header.get("last_seq")
    if not isinstance(public_keys, dict) or not isinstance(anchor, dict):
        raise _not_an_export(path, "文件头缺少公钥或锚点", "its header lacks public keys or the anchor")
    anchor_hash = anchor.get("hash") if isinstance(anchor.get("hash"), str) else None
    if trusted_keys is not None:
        public_keys = trusted_keys
    chain = _Chain(
        public_keys={str(k): str(v) for k, v in public_keys.items()},
        next_seq=first_seq if isinstance(first_seq, int) else 1,
        prev_hash=anchor_hash,
    )
    # First pass: the checkpoints (few) and the end line, so the second can stream the records.
    end: dict[str, Any] | None = None
    for number, document in _lines(path, skip_records=True):
        kind = document.get("type") if document is not None else None
        if kind == "checkpoint" and document is not None:
            signed = _as_signed(document)
            if signed is None:
                chain.fail(
                    BreakKind.malformed,
                    None,
                    f"第 {number} 行检查点格式错误",
                    f"line {number}: malformed checkpoint",
                )
            else:
                chain.checkpoint(signed)
        elif kind == "end":
            end = document
        elif kind not in ("header", "record"):
            chain.fail(
                BreakKind.malformed,
                None,
                f"第 {number} 行不是有效的导出行",
                f"line {number} is not a valid export line",
            )
    for number, document in _lines(path):
        if document is None or document.get("type") != "record":
            continue
        parsed = _as_record(document)
        if parsed is None:
            chain.fail(
                BreakKind.malformed, None, f"第 {number} 行记录格式错误", f"line {number}: malformed record"
            )
            continue
        chain.record(*parsed)
    chain.unmatched_checkpoints()
    if isinstance(last_seq, int):
        chain.head(last_seq, None, what="文件头声明的末条记录", what_en="the header's last seq")
    elif chain.records:
        chain.fail(
            BreakKind.malformed,
            None,
            "文件头未声明范围，却含有记录",
            "the header declares no range but records follow",
        )
    if end is None or end.get("records") != chain.records or end.get("checkpoints") != chain.checkpoints:
        chain.fail(
            BreakKind.malformed,
            None,
            "文件缺少结束行或其计数与内容不符：文件被截断或增删",
            "the end line is missing or its counts differ from the content: the file was cut short or edited",
        )
    good = [seq for seq in chain.good_checkpoints if chain.first is None or seq < (chain.first.seq or 0)]
    through = max(good, default=None)
    notes = (
        []
        if trusted_keys is not None
        else [
            Note(
                message="签名公钥取自导出文件本身：请将上列公钥指纹与平台公布的指纹核对",
                message_en="the public keys come from the export itself: compare the fingerprints above "
                "with the ones the platform publishes",
            )
        ]
    )
    end_seq = chain.last_seq
    if trusted_keys is not None and end_seq is not None and (through is None or end_seq > through):
        # Pinned to the platform's keys, only what a trusted checkpoint covers counts as proven: a
        # forger who dropped the checkpoints and re-chained the records must not pass.
        chain.fail(
            BreakKind.unpinned,
            (through or 0) + 1,
            f"seq {(through or 0) + 1} 至 {end_seq} 没有被可信公钥签名的检查点覆盖",
            f"seq {(through or 0) + 1} to {end_seq} are not covered by a checkpoint under a trusted key",
        )
    if anchor_hash is None and chain.records:
        notes.append(
            Note(
                message="文件头没有前一条记录的哈希：范围内第一条记录的链接未校验",
                message_en="the header lacks the hash of the record before the range: first link unchecked",
            )
        )
    if trusted_keys is None and end_seq is not None and (through is None or end_seq > through):
        after = "范围内没有有效检查点" if through is None else f"最后一个有效检查点在 seq {through}"
        after_en = (
            "there is no valid checkpoint in the range"
            if through is None
            else f"its last valid checkpoint is at seq {through}"
        )
        notes.append(
            Note(
                message=f"导出范围到 seq {end_seq} 为止，{after}：其后的记录只校验了链内一致，"
                "末尾记录被删除或替换无法离线发现",
                message_en=f"the range ends at seq {end_seq} and {after_en}: the records after it are only "
                "checked for internal consistency; removal or replacement at the end cannot be found offline",
            )
        )
    return chain.report(
        source="export",
        head_seq=last_seq if isinstance(last_seq, int) else None,
        through=through,
        public_keys=chain.public_keys,
        notes=notes,
    )


# -- search -----------------------------------------------------------------------------------


def subject_key(text: str) -> str:
    """The canonical subject key an auditor typed: an ID number or code, or a certificate's "type:number"."""
    parts = re.split("[:：]", text.strip(), maxsplit=1)
    if len(parts) == 2:
        return subjects.plaintext_key(subjects.canonical(subjects.LOOKUP_KEY[Library.certificate], parts))
    # ID numbers and credit codes (and credit subject codes) are compacted the same way.
    return subjects.canonical_part(ID_ELEMENT, text)


def _department_id(db: Session, ref: str) -> int:
    if ref.isdigit() and len(ref) <= 9:
        return int(ref)  # records outlive departments, so an id need not name one still there
    return department_service.get_by_ref(db=db, ref=ref).id


def check_range(since: datetime | None, until: datetime | None) -> None:
    """Refuse a time range that ends before it starts."""
    if since is not None and until is not None and since >= until:
        raise InvalidInput(
            "时间范围无效：开始时间（from）应早于结束时间（to）",
            "invalid time range: from must be before to",
            code="invalid_range",
        )


def _conditions(db: Session, keyring: Keyring, filters: AuditFilter) -> list[ColumnElement[bool]]:
    check_range(filters.since, filters.until)
    where: list[ColumnElement[bool]] = []
    if filters.since is not None:
        where.append(AccessRecord.at >= filters.since)
    if filters.until is not None:
        where.append(AccessRecord.at < filters.until)
    if filters.department is not None:
        where.append(AccessRecord.department_id == _department_id(db, filters.department))
    if filters.system is not None:
        where.append(AccessRecord.client_id == filters.system)
    if filters.resource is not None:
        where.append(AccessRecord.resource_code == filters.resource)
    if filters.outcome is not None:
        where.append(AccessRecord.outcome == filters.outcome.value)
    if filters.reason is not None:
        where.append(AccessRecord.reason_code == filters.reason.value)
    if filters.subject is not None:
        where.append(AccessRecord.subject_fingerprint == keyring.fingerprint(subject_key(filters.subject)))
    return where


def search(
    *,
    db: Session,
    keyring: Keyring,
    filters: AuditFilter,
    params: PageParams,
    outside_approval: bool = False,
) -> tuple[list[AuditRecordRead], int]:
    """One page of access records matching ``filters``, newest first, and how many match in all."""
    where = _conditions(db, keyring, filters)
    if outside_approval:
        where += [
            AccessRecord.outcome == AccessOutcome.refused.value,
            AccessRecord.reason_code.in_(sorted(r.value for r in OUTSIDE_APPROVAL)),
        ]
    total = db.scalar(select(func.count()).select_from(AccessRecord).where(*where)) or 0
    rows = db.execute(
        select(AccessRecord, Department.slug, Department.name, Grant.request_number)
        .outerjoin(Department, Department.id == AccessRecord.department_id)
        .outerjoin(Grant, Grant.id == AccessRecord.grant_id)
        .where(*where)
        .order_by(AccessRecord.seq.desc())
        .limit(params.page_size)
        .offset((params.page - 1) * params.page_size)
    ).all()
    items = [
        AuditRecordRead.of(record, department_slug=slug, department_name=name, request_number=number)
        for record, slug, name, number in rows
    ]
    return items, total
