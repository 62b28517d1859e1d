"""Exporting a range of the access log as JSON Lines that verify offline, and reading such a file back.

:func:`export_lines` writes a time range as JSON Lines carrying the public keys and the hash of
the record before the range, which :func:`authz.audit.verify.verify_export` checks offline with
the same rules. A record that lists subjects (a bulk export's row group) carries their
trace ids (``authz.audit.traces``) in ``subject_traces``, so the verifier can check them against the record's
chained ``subjects_digest``. The readers here undo what the writer does (a file's header, its lines, a record
or a checkpoint line parsed); judging what they read is the verifier's.
"""

import json
from collections.abc import Callable, Generator, Iterator
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.audit import chain as audit_chain
from authz.audit import traces
from authz.audit.checkpoint import CHECKPOINT_FORMAT, Signed
from authz.audit.models import GENESIS, AccessRecord, AccessSubject, AuditCheckpoint
from catalog_schema.database import utcnow
from catalog_schema.errors import InvalidInput
from catalog_schema.keys.service import Keyring

EXPORT_FORMAT = "govdx-audit-export/1"


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
                "from": None if since is None else audit_chain.timestamp(since),
                "to": None if until is None else audit_chain.timestamp(until),
                "first_seq": first,
                "last_seq": last,
                "anchor": {"seq": None if first is None else first - 1, "hash": anchor},
                "public_keys": public_keys,
                "hash": "SHA-256 hex of the record's chained fields as JSON: sorted keys, no spaces, UTF-8",
                "chained_fields": list(audit_chain.CHAINED_FIELDS),
                "optional_chained_fields": list(audit_chain.OPTIONAL_CHAINED_FIELDS),
                "subject_traces": "the first 16 hex digits of each listed subject's keyed fingerprint",
                "subjects_digest": "SHA-256 hex of the record's subject_traces, distinct, sorted, "
                "joined by newlines; chained (and present) only when the record lists subjects",
                "checkpoint_message": f"{CHECKPOINT_FORMAT}\\n<seq>\\n<hash>\\n<at>, signed with Ed25519",
                "exported_at": audit_chain.timestamp(utcnow()),
            }
        )
        records = checkpoints = 0
        if first is not None and last is not None:
            waiting: dict[int, list[Signed]] = {}
            in_range = select(AuditCheckpoint).where(AuditCheckpoint.seq.between(first, last))
            for cp in db.scalars(in_range.order_by(AuditCheckpoint.seq, AuditCheckpoint.id)):
                waiting.setdefault(cp.seq, []).append(Signed.of(cp))
            for record_id, content, digest in audit_chain.stream(
                db=db, after=first - 1, upto=last, batch=batch
            ):
                seq = content["seq"]
                content["at"] = audit_chain.timestamp(content["at"])
                listed: dict[str, Any] = {}
                for name in audit_chain.OPTIONAL_CHAINED_FIELDS:
                    if content[name] is None:
                        del content[name]  # as it was hashed: absent
                if content.get("subjects_digest") is not None:
                    listed["subject_traces"] = _listed_subjects(db, seq)
                yield _line({"type": "record", "id": record_id, **content, **listed, "hash": digest})
                records += 1
                for signed in waiting.pop(seq, []):
                    yield _line(signed.line())
                    checkpoints += 1
            for signed in (s for seq in sorted(waiting) for s in waiting[seq]):
                yield _line(signed.line())  # their record is missing: the verifier will say so
                checkpoints += 1
        yield _line({"type": "end", "records": records, "checkpoints": checkpoints})


def _listed_subjects(db: Session, seq: int) -> list[str]:
    """The trace ids a record lists (a bulk export's row group), sorted."""
    rows = db.scalars(select(AccessSubject.ids).where(AccessSubject.record_seq == seq))
    return sorted(trace for packed in rows for trace in traces.unpack(packed))


# -- reading an export back ---------------------------------------------------------------------

# How a record line starts as _line writes it, so a pass that wants only the rest skips records unparsed.
_RECORD_LINE = '{"type":"record",'


def _not_an_export(path: Path, why: str, why_en: str) -> InvalidInput:
    return InvalidInput(
        f"{path} 不是 govdx 访问日志导出文件：{why}",
        f"{path} is not a govdx access log export: {why_en}",
        code="export_invalid",
    )


def read_lines(path: Path, *, skip_records: bool = False) -> Generator[tuple[int, dict[str, Any] | None]]:
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


def read_header(path: Path) -> dict[str, Any]:
    """The export's header line (format, public keys, anchor); InvalidInput when the file is no export."""
    try:
        with closing(read_lines(path)) as lines:
            header = next((document for _number, document in lines), None)
    except OSError as exc:
        raise _not_an_export(
            path, f"无法读取（{exc.strerror}）", f"cannot be read ({exc.strerror})"
        ) from None
    if header is None or header.get("type") != "header" or header.get("format") != EXPORT_FORMAT:
        raise _not_an_export(
            path, f"首行不是 {EXPORT_FORMAT} 文件头", f"its first line is not a {EXPORT_FORMAT} header"
        )
    if not isinstance(header.get("public_keys"), dict) or not isinstance(header.get("anchor") or {}, dict):
        raise _not_an_export(path, "文件头缺少公钥或锚点", "its header lacks public keys or the anchor")
    return header


def parse_checkpoint(document: dict[str, Any]) -> Signed | None:
    """A checkpoint line as the verifier takes it; None when it is malformed."""
    try:
        signed = Signed(**{k: v for k, v in document.items() if k != "type"})
    except TypeError:
        return None
    fields = (signed.hash, signed.at, signed.key_id, signed.signature)
    if not isinstance(signed.seq, int) or not all(isinstance(v, str) for v in fields):
        return None
    return signed


def listed(document: dict[str, Any]) -> list[str] | None:
    """The subject trace ids a record line lists; None when it lists none (or not as strings)."""
    found = document.get("subject_traces")
    if not isinstance(found, list):
        return None
    return [str(f) for f in found]


def parse_record(document: dict[str, Any]) -> tuple[dict[str, Any], str, int | None] | None:
    """A record line's (chained content, hash, id); None when it is malformed."""
    if any(name not in document for name in audit_chain.CHAINED_FIELDS) or not isinstance(
        document.get("hash"), str
    ):
        return None
    content = {name: document[name] for name in audit_chain.CHAINED_FIELDS}
    for name in audit_chain.OPTIONAL_CHAINED_FIELDS:
        content[name] = document.get(name)
    if not isinstance(content["seq"], int) or not isinstance(content["at"], str):
        return None
    record_id = document.get("id")
    return content, document["hash"], record_id if isinstance(record_id, int) else None
