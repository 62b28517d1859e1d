"""Many writers appending at once: the chain stays linear, with no gap, no fork and no record lost."""

import threading

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from authz.audit import verify as audit_verify
from authz.audit.chain import AccessEntry, append
from authz.audit.models import AccessRecord, AuditHead
from catalog_schema.database import for_writing
from catalog_schema.keys.service import Keyring

THREADS = 8
APPENDS = 25


def _writer(engine: Engine, name: str, barrier: threading.Barrier, failures: list[str]) -> None:
    try:
        barrier.wait(timeout=30)
        for i in range(APPENDS):
            with Session(engine) as session:
                for_writing(session)
                append(
                    db=session, entry=AccessEntry(mode="lookup", outcome="served", request_id=f"{name}-{i}")
                )
                session.commit()
    except Exception as exc:  # anything at all is the failure this test is about
        failures.append(f"{name}: {exc!r}")


def test_concurrent_appends_make_one_gapless_verifying_chain(fresh_engine: Engine, keyring: Keyring) -> None:
    barrier, failures = threading.Barrier(THREADS), []
    threads = [
        threading.Thread(target=_writer, args=(fresh_engine, f"w{n}", barrier, failures))
        for n in range(THREADS)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    with Session(fresh_engine) as session:
        seqs = list(session.scalars(select(AccessRecord.seq).order_by(AccessRecord.seq)))
        requests = set(session.scalars(select(AccessRecord.request_id)))
        head = session.execute(select(AuditHead.seq, AuditHead.hash)).one()
        last = session.scalar(select(AccessRecord.hash).where(AccessRecord.seq == THREADS * APPENDS))
        report = audit_verify.verify(db=session, keyring_public_keys=keyring.public_keys(), batch=64)
    assert failures == []
    assert seqs == list(range(1, THREADS * APPENDS + 1))
    assert len(requests) == THREADS * APPENDS
    assert (head.seq, head.hash) == (THREADS * APPENDS, last)
    assert report.intact, report.breaks
    assert report.records_verified == THREADS * APPENDS
