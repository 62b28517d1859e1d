"""Signed checkpoints: the chain's state at a seq, signed so its last records cannot be replaced unnoticed.

A checkpoint signs ``govdx-audit-checkpoint/1\n<seq>\n<hash>\n<at>`` (Ed25519, RFC 8032) with
the platform key. It is made only where the stored record still matches the head it signs; the
hourly job (:mod:`authz.audit.scheduled`) verifies the records before asking for one.
"""

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from authz.audit import chain as audit_chain
from authz.audit.models import GENESIS, AccessRecord, AuditCheckpoint
from catalog_schema.database import utcnow
from catalog_schema.errors import Conflict
from catalog_schema.keys.service import Keyring

CHECKPOINT_FORMAT = "govdx-audit-checkpoint/1"


class AuditChainBroken(Conflict):
    """The chain does not verify, so it must not be signed."""

    code = "audit_chain_broken"


@dataclass(frozen=True)
class Signed:
    """A checkpoint as the verifier sees it, from the database or from an export line."""

    id: int | None
    seq: int
    hash: str
    at: str
    key_id: str
    signature: str

    @classmethod
    def of(cls, row: AuditCheckpoint) -> "Signed":
        return cls(row.id, row.seq, row.hash, audit_chain.timestamp(row.at), row.key_id, row.signature)

    def line(self) -> dict[str, Any]:
        return {"type": "checkpoint", **asdict(self)}


def checkpoint_message(*, seq: int, digest: str, at: datetime | str) -> bytes:
    """What a checkpoint's signature covers: format, seq, hash and time (as records write it), one a line."""
    moment = audit_chain.timestamp(at) if isinstance(at, datetime) else at
    return f"{CHECKPOINT_FORMAT}\n{seq}\n{digest}\n{moment}".encode()


def checkpoint(
    *, db: Session, keyring: Keyring, at: datetime | None = None, upto: int | None = None
) -> AuditCheckpoint | None:
    """Sign the chain's head (or the record at ``upto``); None when nothing came since the last checkpoint."""
    if upto is None:
        seq, digest = audit_chain.head(db=db)
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
