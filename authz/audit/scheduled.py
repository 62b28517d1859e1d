"""The access log's periodic job, run hourly by the ``govdx_audit_checkpoint`` DAG.

:func:`run_checkpoint` first verifies the records appended since the last checkpoint (read-only,
so the data plane keeps appending meanwhile), then signs the chain at the last record it verified
in a short write transaction. A chain that does not verify is never signed: the job fails instead,
so that a checkpoint always vouches for records that were intact when it was made.
"""

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from authz.audit import checkpoint as audit_checkpoint
from authz.audit import verify as audit_verify
from catalog_schema.database import for_writing, get_sessionmaker
from catalog_schema.keys.service import Keyring, get_keyring


def run_checkpoint(
    session_factory: Callable[[], Session] | None = None,
    *,
    keyring: Keyring | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Verify the records since the last checkpoint, then sign one; AuditChainBroken if they are broken."""
    factory = session_factory or get_sessionmaker()
    ring = keyring or get_keyring()
    with factory() as db:
        report = audit_verify.verify(
            db=db, keyring_public_keys=ring.public_keys(), since_last_checkpoint=True
        )
        db.rollback()
    if not report.intact:
        assert report.first_break is not None
        first = report.first_break
        raise audit_checkpoint.AuditChainBroken(
            f"访问日志在 seq {first.seq} 处断裂（{first.label}），未签名检查点：{first.message}",
            f"the access log is broken at seq {first.seq} ({first.kind.value}); no checkpoint was signed: "
            f"{first.message_en}",
            extra={"first_break": first.model_dump(mode="json")},
        )
    with factory() as db:
        for_writing(db)
        made = audit_checkpoint.checkpoint(db=db, keyring=ring, at=now, upto=report.head_seq or None)
        result: dict[str, Any] = {"verified_records": report.records, "head_seq": report.head_seq}
        if made is None:
            result["checkpoint"] = None
        else:
            result["checkpoint"] = {"id": made.id, "seq": made.seq, "hash": made.hash, "key_id": made.key_id}
        db.commit()
    return result
