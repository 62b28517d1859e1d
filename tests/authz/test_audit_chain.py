"""The access log's chain: checkpoints, verification of every kind of tampering, and offline export."""

import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from authz.audit import chain as audit_chain
from authz.audit import checkpoint as audit_checkpoint
from authz.audit import export as audit_export
from authz.audit import scheduled
from authz.audit import verify as audit_verify
from authz.audit.chain import AccessEntry, append, record_hash
from authz.audit.checkpoint import checkpoint_message
from authz.audit.models import GENESIS, AccessRecord, AuditCheckpoint, AuditHead
from authz.audit.schemas import BreakKind, VerifyReport
from catalog_schema.errors import InvalidInput
from catalog_schema.keys.service import Keyring, verify_signature

T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)


def _entry(**overrides: object) -> AccessEntry:
    values: dict[str, object] = {
        "mode": "lookup",
        "outcome": "served",
        "request_id": uuid4().hex,
        "client_id": "renshe-social-insurance",
        "purpose_ref": "GX2026000001",
        "resource_code": "370100-00001",
        "items": ["姓名", "公民身份号码"],
        "subjects": 1,
        "rows_returned": 1,
    }
    values.update(overrides)
    return AccessEntry(**values)  # type: ignore[arg-type]


def _append(db: Session, n: int, *, start: datetime = T0) -> None:
    for i in range(n):
        append(db=db, entry=_entry(), at=start + timedelta(minutes=i))
    db.flush()


def _verify(db: Session, keyring: Keyring) -> VerifyReport:
    # A small batch, so every test also walks the keyset pagination across batches.
    return audit_verify.verify(db=db, keyring_public_keys=keyring.public_keys(), batch=3)


def _first(report: VerifyReport) -> tuple[BreakKind, int | None]:
    assert report.first_break is not None, report
    return report.first_break.kind, report.first_break.seq


def _id(db: Session, seq: int) -> int | None:
    return db.scalar(select(AccessRecord.id).where(AccessRecord.seq == seq))


def _set_seq(db: Session, old: int, new: int) -> None:
    db.execute(update(AccessRecord).where(AccessRecord.seq == old).values(seq=new))


def _rechain(db: Session, first: int) -> None:
    """What a tamperer with database access does: recompute hashes from ``first`` on and move the head."""
    prev = db.scalar(select(AccessRecord.hash).where(AccessRecord.seq == first - 1)) or GENESIS
    records = db.scalars(select(AccessRecord).where(AccessRecord.seq >= first).order_by(AccessRecord.seq))
    for record in records:
        record.prev_hash = prev
        record.hash = prev = record_hash(audit_chain.content_of(record))
    db.flush()
    last = db.scalar(select(func.max(AccessRecord.seq)))
    db.execute(update(AuditHead).values(seq=last, hash=prev))


# -- intact chains and checkpoints ----------------------------------------------------------------


def test_empty_log_verifies(log: Session, keyring: Keyring) -> None:
    report = _verify(log, keyring)

    assert (report.intact, report.records, report.head_seq, report.first_break) == (True, 0, 0, None)


def test_intact_chain_with_checkpoints_verifies(log: Session, keyring: Keyring) -> None:
    _append(log, 7)
    audit_checkpoint.checkpoint(db=log, keyring=keyring)
    _append(log, 3, start=T0 + timedelta(hours=1))
    audit_checkpoint.checkpoint(db=log, keyring=keyring)

    report = _verify(log, keyring)

    assert report.intact, report.breaks
    assert (report.records, report.records_verified, report.first_seq, report.last_seq) == (10, 10, 1, 10)
    assert (report.checkpoints, report.checkpoints_verified, report.head_seq) == (2, 2, 10)
    assert report.verified_through == 10


def test_checkpoint_signs_the_head_with_the_platform_key(log: Session, keyring: Keyring) -> None:
    _append(log, 4)

    made = audit_checkpoint.checkpoint(db=log, keyring=keyring, at=T0 + timedelta(hours=1))

    assert made is not None
    head = log.execute(select(AuditHead.seq, AuditHead.hash)).one()
    assert (made.seq, made.hash, made.key_id) == (head.seq, head.hash, keyring.active_signing)
    message = checkpoint_message(seq=4, digest=head.hash, at=T0 + timedelta(hours=1))
    assert message == f"govdx-audit-checkpoint/1\n4\n{head.hash}\n2026-05-01T03:00:00.000000Z".encode()
    assert verify_signature(keyring.public_keys()[made.key_id], message, made.signature)


def test_no_checkpoint_when_nothing_was_appended_since_the_last(log: Session, keyring: Keyring) -> None:
    _append(log, 2)
    audit_checkpoint.checkpoint(db=log, keyring=keyring)

    again = audit_checkpoint.checkpoint(db=log, keyring=keyring)

    assert again is None
    assert log.scalar(select(func.count()).select_from(AuditCheckpoint)) == 1


def test_no_checkpoint_of_an_empty_log(log: Session, keyring: Keyring) -> None:
    assert audit_checkpoint.checkpoint(db=log, keyring=keyring) is None


def test_checkpoint_refuses_a_head_that_does_not_match_its_record(log: Session, keyring: Keyring) -> None:
    _append(log, 3)
    log.execute(delete(AccessRecord).where(AccessRecord.seq == 3))

    with pytest.raises(audit_checkpoint.AuditChainBroken) as caught:
        audit_checkpoint.checkpoint(db=log, keyring=keyring)

    assert caught.value.code == "audit_chain_broken"
    assert log.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0


def test_run_checkpoint_verifies_the_new_records_then_signs(
    log: Session, session_factory: sessionmaker[Session], keyring: Keyring
) -> None:
    _append(log, 5)
    log.commit()

    result = scheduled.run_checkpoint(session_factory, keyring=keyring)

    assert result["checkpoint"]["seq"] == 5
    assert result["verified_records"] == 5
    assert scheduled.run_checkpoint(session_factory, keyring=keyring)["checkpoint"] is None


def test_run_checkpoint_reads_only_from_the_last_checkpoint_on(
    log: Session, session_factory: sessionmaker[Session], keyring: Keyring
) -> None:
    _append(log, 6)
    audit_checkpoint.checkpoint(db=log, keyring=keyring)
    _append(log, 2, start=T0 + timedelta(hours=1))
    log.commit()

    result = scheduled.run_checkpoint(session_factory, keyring=keyring)

    assert (result["verified_records"], result["checkpoint"]["seq"]) == (3, 8)  # seq 6, 7 and 8


def test_run_checkpoint_refuses_to_sign_a_broken_chain(
    log: Session, session_factory: sessionmaker[Session], keyring: Keyring
) -> None:
    _append(log, 5)
    log.execute(update(AccessRecord).where(AccessRecord.seq == 2).values(rows_returned=999))
    log.commit()

    with pytest.raises(audit_checkpoint.AuditChainBroken) as caught:
        scheduled.run_checkpoint(session_factory, keyring=keyring)

    assert caught.value.extra["first_break"]["seq"] == 2
    assert log.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0


# -- tampering ------------------------------------------------------------------------------------


def test_modified_record_is_a_hash_mismatch_at_its_seq(log: Session, keyring: Keyring) -> None:
    _append(log, 10)
    log.execute(update(AccessRecord).where(AccessRecord.seq == 4).values(rows_returned=500))

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.hash_mismatch, 4)
    assert report.first_break is not None and report.first_break.record_id == _id(log, 4)
    assert (report.break_count, report.records_verified, report.verified_through) == (1, 9, 3)


def test_deleted_record_in_the_middle_is_a_seq_gap(log: Session, keyring: Keyring) -> None:
    _append(log, 10)
    log.execute(delete(AccessRecord).where(AccessRecord.seq == 4))

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.seq_gap, 4)
    assert report.first_break is not None and report.first_break.record_id == _id(log, 5)


def test_deleted_tail_is_a_head_mismatch(log: Session, keyring: Keyring) -> None:
    _append(log, 10)
    log.execute(delete(AccessRecord).where(AccessRecord.seq >= 9))

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.head_mismatch, 9)
    assert (report.records_verified, report.head_seq) == (8, 10)


def test_inserted_record_with_a_plausible_hash_breaks_the_next_link(log: Session, keyring: Keyring) -> None:
    _append(log, 10)
    # Make room after seq 5 (in two steps: seq is unique) and forge a record that chains onto seq 5.
    log.execute(update(AccessRecord).where(AccessRecord.seq > 5).values(seq=AccessRecord.seq + 1000))
    log.execute(update(AccessRecord).where(AccessRecord.seq > 1000).values(seq=AccessRecord.seq - 999))
    forged = {
        **audit_chain.content_of(log.scalars(select(AccessRecord).where(AccessRecord.seq == 5)).one()),
        "seq": 6,
        "request_id": "forged",
        "prev_hash": log.scalar(select(AccessRecord.hash).where(AccessRecord.seq == 5)),
    }
    log.execute(insert(AccessRecord).values(**forged, hash=record_hash(forged)))

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.link_broken, 7)
    assert report.first_break is not None and report.first_break.record_id == _id(log, 7)


def test_record_appended_without_moving_the_head_is_a_head_mismatch(log: Session, keyring: Keyring) -> None:
    _append(log, 5)
    forged = {
        **audit_chain.content_of(log.scalars(select(AccessRecord).where(AccessRecord.seq == 5)).one()),
        "seq": 6,
        "prev_hash": log.scalar(select(AccessRecord.hash).where(AccessRecord.seq == 5)),
    }
    log.execute(insert(AccessRecord).values(**forged, hash=record_hash(forged)))

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.head_mismatch, 6)
    assert report.first_break is not None and report.first_break.record_id == _id(log, 6)


def test_two_records_swapped_break_the_link_at_the_first(log: Session, keyring: Keyring) -> None:
    _append(log, 10)
    _set_seq(log, 4, -1)
    _set_seq(log, 5, 4)
    _set_seq(log, -1, 5)

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.link_broken, 4)
    assert report.first_break is not None and report.first_break.record_id == _id(log, 4)


def test_checkpoint_with_a_forged_signature_is_found(log: Session, keyring: Keyring) -> None:
    _append(log, 6)
    made = audit_checkpoint.checkpoint(db=log, keyring=keyring)
    assert made is not None
    message = checkpoint_message(seq=made.seq, digest=made.hash, at=made.at)
    forged = base64.b64encode(Ed25519PrivateKey.generate().sign(message)).decode()
    log.execute(update(AuditCheckpoint).where(AuditCheckpoint.id == made.id).values(signature=forged))

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.checkpoint_signature_invalid, 6)
    assert report.first_break is not None and report.first_break.checkpoint_id == made.id
    assert (report.records_verified, report.checkpoints_verified) == (6, 0)


def test_checkpoint_moved_to_another_seq_is_found(log: Session, keyring: Keyring) -> None:
    _append(log, 6)
    made = audit_checkpoint.checkpoint(db=log, keyring=keyring)
    assert made is not None
    log.execute(update(AuditCheckpoint).values(seq=3))

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.checkpoint_signature_invalid, 3)


def test_rewritten_and_rechained_records_are_found_by_the_checkpoint(log: Session, keyring: Keyring) -> None:
    _append(log, 10)
    audit_checkpoint.checkpoint(db=log, keyring=keyring)
    log.execute(update(AccessRecord).where(AccessRecord.seq == 8).values(rows_returned=0))
    _rechain(log, 8)

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.checkpoint_mismatch, 10)


def test_tail_deleted_with_the_head_moved_back_is_found_by_the_checkpoint(
    log: Session, keyring: Keyring
) -> None:
    _append(log, 10)
    audit_checkpoint.checkpoint(db=log, keyring=keyring)
    log.execute(delete(AccessRecord).where(AccessRecord.seq >= 9))
    _rechain(log, 9)  # nothing to rechain: only the head moves back to seq 8

    report = _verify(log, keyring)

    assert _first(report) == (BreakKind.checkpoint_mismatch, 10)


# -- export and offline verification ---------------------------------------------------------------


def _export(
    session_factory: sessionmaker[Session],
    keyring: Keyring,
    path: Path,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Path:
    lines = audit_export.export_lines(
        session_factory=session_factory, keyring=keyring, since=since, until=until, batch=4
    )
    path.write_text("".join(lines), encoding="utf-8")
    return path


def _rewrite(path: Path, change: Callable[[list[dict]], list[dict]]) -> None:
    documents = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    documents = change(documents)
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents), encoding="utf-8")


@pytest.fixture
def exported(log: Session, session_factory: sessionmaker[Session], keyring: Keyring, tmp_path: Path) -> Path:
    """seq 1–12, one a minute from T0, checkpoints at seq 8 and 12."""
    _append(log, 8)
    audit_checkpoint.checkpoint(db=log, keyring=keyring)
    _append(log, 4, start=T0 + timedelta(minutes=8))
    audit_checkpoint.checkpoint(db=log, keyring=keyring)
    log.commit()
    return _export(session_factory, keyring, tmp_path / "export.jsonl")


def test_export_verifies_offline(exported: Path, keyring: Keyring) -> None:
    report = audit_verify.verify_export(path=exported)

    assert report.intact, report.breaks
    assert (report.source, report.records, report.checkpoints_verified, report.verified_through) == (
        "export",
        12,
        2,
        12,
    )
    assert report.key_fingerprints == {
        kid: audit_verify.key_fingerprint(pem) for kid, pem in keyring.public_keys().items()
    }


def test_export_holds_a_header_every_record_its_checkpoints_and_an_end(exported: Path) -> None:
    kinds = [json.loads(line)["type"] for line in exported.read_text(encoding="utf-8").splitlines()]

    assert kinds == ["header", *["record"] * 8, "checkpoint", *["record"] * 4, "checkpoint", "end"]


def test_export_of_a_range_verifies_standalone_from_its_anchor(
    exported: Path, session_factory: sessionmaker[Session], keyring: Keyring, tmp_path: Path
) -> None:
    path = _export(
        session_factory,
        keyring,
        tmp_path / "range.jsonl",
        T0 + timedelta(minutes=3),
        T0 + timedelta(minutes=10),
    )

    report = audit_verify.verify_export(path=path)

    assert report.intact, report.breaks
    assert (report.first_seq, report.last_seq, report.checkpoints_verified) == (4, 10, 1)
    assert report.verified_through == 8
    assert any("seq 10" in note.message and "seq 8" in note.message for note in report.notes)


def test_export_of_an_empty_range_verifies_with_no_records(
    exported: Path, session_factory: sessionmaker[Session], keyring: Keyring, tmp_path: Path
) -> None:
    path = _export(session_factory, keyring, tmp_path / "empty.jsonl", T0 + timedelta(days=1))

    report = audit_verify.verify_export(path=path)

    assert (report.intact, report.records, report.first_seq) == (True, 0, None)


def test_modified_record_in_an_export_is_found(exported: Path) -> None:
    def change(documents: list[dict]) -> list[dict]:
        documents[5]["rows_returned"] = 0  # the record at seq 5
        return documents

    _rewrite(exported, change)

    assert _first(audit_verify.verify_export(path=exported)) == (BreakKind.hash_mismatch, 5)


def test_removed_record_in_an_export_is_found(exported: Path) -> None:
    _rewrite(exported, lambda documents: documents[:3] + documents[4:])  # the record at seq 3

    assert _first(audit_verify.verify_export(path=exported)) == (BreakKind.seq_gap, 3)


def test_export_cut_short_is_found(exported: Path) -> None:
    _rewrite(exported, lambda documents: documents[:-3])  # seq 12, its checkpoint and the end

    report = audit_verify.verify_export(path=exported)

    assert _first(report) == (BreakKind.head_mismatch, 12)
    assert BreakKind.malformed in {b.kind for b in report.breaks}  # and the end line is gone


def test_export_signed_with_another_key_is_found(exported: Path) -> None:
    def change(documents: list[dict]) -> list[dict]:
        for document in documents:
            if document["type"] == "checkpoint":
                document["signature"] = base64.b64encode(Ed25519PrivateKey.generate().sign(b"x")).decode()
        return documents

    _rewrite(exported, change)

    assert _first(audit_verify.verify_export(path=exported)) == (BreakKind.checkpoint_signature_invalid, 8)


def _resigned_by_a_forger(documents: list[dict]) -> list[dict]:
    """Every checkpoint re-signed with a key of the forger's own, announced in the header."""
    forger = Ed25519PrivateKey.generate()
    pem = (
        forger.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    for document in documents:
        if document["type"] == "header":
            document["public_keys"] = {kid: pem for kid in document["public_keys"]}
        if document["type"] == "checkpoint":
            message = audit_checkpoint.checkpoint_message(
                seq=document["seq"], digest=document["hash"], at=document["at"]
            )
            document["signature"] = base64.b64encode(forger.sign(message)).decode()
    return documents


def test_an_export_re_signed_by_a_forger_fails_against_the_published_keys(
    exported: Path, keyring: Keyring
) -> None:
    _rewrite(exported, _resigned_by_a_forger)

    trusting_the_file = audit_verify.verify_export(path=exported)
    trusting_the_platform = audit_verify.verify_export(path=exported, trusted_keys=keyring.public_keys())

    assert trusting_the_file.intact  # why auditors should pin the published keys
    breaks = {(b.kind, b.seq) for b in trusting_the_platform.breaks}
    assert (BreakKind.checkpoint_signature_invalid, 8) in breaks
    assert _first(trusting_the_platform) == (BreakKind.unpinned, 1)  # nothing is pinned


def test_an_export_stripped_of_its_checkpoints_fails_against_the_published_keys(
    exported: Path, keyring: Keyring
) -> None:
    _rewrite(exported, lambda documents: [d for d in documents if d["type"] != "checkpoint"])

    report = audit_verify.verify_export(path=exported, trusted_keys=keyring.public_keys())

    assert _first(report) == (BreakKind.unpinned, 1)


def test_an_export_covered_by_trusted_checkpoints_verifies_against_the_published_keys(
    exported: Path, keyring: Keyring
) -> None:
    report = audit_verify.verify_export(path=exported, trusted_keys=keyring.public_keys())

    assert report.intact, report.breaks
    assert (report.records_verified, report.checkpoints_verified, report.verified_through) == (12, 2, 12)


def test_a_file_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "not-an-export.jsonl"
    path.write_text('{"hello": "world"}\n', encoding="utf-8")

    with pytest.raises(InvalidInput) as caught:
        audit_verify.verify_export(path=path)

    assert caught.value.code == "export_invalid"
