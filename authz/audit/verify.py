"""Verifying the access log: the chain and its checkpoints in the database, and an export offline.

:func:`verify` reads the records in seq order a keyset batch at a time and reports the first break
by kind; :func:`verify_export` checks an export (:mod:`authz.audit.export`) offline with the same
rules, so an auditor needs neither the platform nor its database. Both check the subjects a record
lists (a bulk export's row group, ``access_subjects``; in an export, the record line's
``subject_traces``) against the record's ``subjects_digest``, which the record's hash covers:
a listed subject deleted, altered or added is a break naming that record.
"""

import hashlib
import itertools
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.audit import chain as audit_chain
from authz.audit import export as audit_export
from authz.audit import traces
from authz.audit.checkpoint import Signed, checkpoint_message
from authz.audit.models import GENESIS, AccessRecord, AccessSubject, AuditCheckpoint
from authz.audit.schemas import BreakKind, ChainBreak, Note, VerifyReport
from catalog_schema.keys.service import verify_signature

# Breaks a report lists; the count covers them all.
MAX_BREAKS = 20


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
        self._waiting: dict[int, list[tuple[Signed, bool]]] = {}

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

    def checkpoint(self, cp: Signed) -> None:
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
        if audit_chain.record_hash(content) != digest:
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

    def subjects(self, seq: int, record_id: int | None, digest: str | None, listed: list[str] | None) -> None:
        """A record's listed subjects must be exactly those its ``subjects_digest`` was taken over."""
        if digest is None and not listed:
            return
        where = f"seq {seq}（id {record_id}）"
        where_en = f"seq {seq} (id {record_id})"
        if digest is None:
            self.fail(
                BreakKind.subjects_mismatch,
                seq,
                f"记录 {where} 不列导出主体，却有 {len(listed or [])} 条主体留痕：留痕被增加",
                f"record {where_en} lists no exported subjects, yet {len(listed or [])} subject traces "
                "name it: they were added",
                record_id=record_id,
            )
        elif listed is None or audit_chain.subjects_digest(listed) != digest:
            self.fail(
                BreakKind.subjects_mismatch,
                seq,
                f"记录 {where} 的导出主体留痕（{len(listed or [])} 条）与其摘要不符：留痕被删除、改动或增加",
                f"the subject traces of record {where_en} ({len(listed or [])}) do not match its digest: "
                "traces were deleted, altered or added",
                record_id=record_id,
            )

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
        signed = [Signed.of(latest)] if latest is not None else []
        start = latest.seq if latest is not None else 1
        chain = _Chain(
            public_keys=keyring_public_keys, next_seq=start, prev_hash=None if latest is not None else GENESIS
        )
    else:
        # At most one checkpoint an hour, so they fit in memory where the records need not.
        signed = [Signed.of(cp) for cp in db.scalars(checkpoints)]
        start = 1
        chain = _Chain(public_keys=keyring_public_keys, next_seq=start, prev_hash=GENESIS)
    for cp in signed:
        chain.checkpoint(cp)
    last = start - 1
    for record_id, content, digest in audit_chain.stream(db=db, after=last, batch=batch):
        chain.record(content, digest, record_id)
        last = content["seq"]
    # Read after the records: a writer commits its record and the head together, so records that
    # arrived meanwhile are read up to this head and anything beyond it was not appended by us.
    head_seq, head_hash = audit_chain.head(db=db)
    for record_id, content, digest in audit_chain.stream(db=db, after=last, upto=head_seq, batch=batch):
        chain.record(content, digest, record_id)
    chain.unmatched_checkpoints()
    chain.head(head_seq, head_hash)
    _verify_subjects(db, chain, after=start - 1, upto=head_seq, batch=batch)
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


def _verify_subjects(db: Session, chain: _Chain, *, after: int, upto: int, batch: int) -> None:
    """Every record's subject traces in seq range against its digest; traces of no digest are added ones."""
    r, t = AccessRecord, AccessSubject
    listing = db.execute(
        select(r.seq, r.id, r.subjects_digest).where(
            r.seq > after, r.seq <= upto, r.subjects_digest.is_not(None)
        )
    ).all()
    digests = {seq: (record_id, digest) for seq, record_id, digest in listing}
    stored = db.execute(
        select(t.record_seq, t.bucket, t.ids)
        .where(t.record_seq > after, t.record_seq <= upto)
        .order_by(t.record_seq)
        .execution_options(yield_per=batch)
    )
    for seq, rows in itertools.groupby(stored, key=lambda row: row[0]):
        record_id, digest = digests.pop(seq, (None, None))
        if record_id is None:
            record_id = db.scalar(select(r.id).where(r.seq == seq))
        # An id in a bucket not its own is one a search cannot find: listed as moved, it breaks
        # the digest.
        listed = [
            trace if traces.bucket_of(trace) == bucket else f"moved:{trace}"
            for _seq, bucket, packed in rows
            for trace in traces.unpack(packed)
        ]
        chain.subjects(seq, record_id, digest, listed)
    for seq, (record_id, digest) in sorted(digests.items()):
        chain.subjects(seq, record_id, digest, [])  # every trace of the record deleted


def verify_export(*, path: Path, trusted_keys: dict[str, str] | None = None) -> VerifyReport:
    """Verify an export offline: the chain in range, and each checkpoint's signature.

    Signatures are checked with ``trusted_keys`` ({key id: PEM}, as the platform publishes them)
    when given; otherwise with the keys the file carries, which proves integrity against accidents
    but not against someone who rewrote the file and re-signed it with a key of their own.
    """
    header = audit_export.read_header(path)
    public_keys: dict[Any, Any] = header["public_keys"]
    anchor: dict[str, Any] = header.get("anchor") or {}
    first_seq, last_seq = header.get("first_seq"), header.get("last_seq")
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
    for number, document in audit_export.read_lines(path, skip_records=True):
        kind = document.get("type") if document is not None else None
        if kind == "checkpoint" and document is not None:
            signed = audit_export.parse_checkpoint(document)
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
    for number, document in audit_export.read_lines(path):
        if document is None or document.get("type") != "record":
            continue
        parsed = audit_export.parse_record(document)
        if parsed is None:
            chain.fail(
                BreakKind.malformed, None, f"第 {number} 行记录格式错误", f"line {number}: malformed record"
            )
            continue
        chain.record(*parsed)
        content, _digest, record_id = parsed
        chain.subjects(
            content["seq"], record_id, content.get("subjects_digest"), audit_export.listed(document)
        )
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
