"""The head an append remembers is a hint: a rollback or another process's append never forks the chain."""

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from authz.audit import chain as audit_chain
from authz.audit import verify as audit_verify
from authz.audit.chain import AccessEntry
from authz.audit.models import AccessRecord
from catalog_schema.database import for_writing, make_engine
from catalog_schema.keys.service import Keyring


def _append(engine: Engine, request_id: str, *, commit: bool = True) -> None:
    with Session(engine) as session:
        for_writing(session)
        audit_chain.append(
            db=session, entry=AccessEntry(mode="lookup", outcome="served", request_id=request_id)
        )
        if commit:
            session.commit()


def _chain(engine: Engine, keyring: Keyring) -> tuple[list[tuple[int, str]], bool]:
    with Session(engine) as session:
        rows = session.execute(select(AccessRecord.seq, AccessRecord.request_id).order_by(AccessRecord.seq))
        report = audit_verify.verify(db=session, keyring_public_keys=keyring.public_keys())
        return [(r.seq, r.request_id) for r in rows], report.intact


def test_rolled_back_append_and_another_processs_append_leave_one_linear_chain(
    fresh_engine: Engine, keyring: Keyring
) -> None:
    other_process = make_engine(fresh_engine.url.render_as_string(hide_password=False))
    try:
        _append(fresh_engine, "a")
        _append(fresh_engine, "rolled-back", commit=False)  # this process now remembers a head that never was
        _append(fresh_engine, "b")
        _append(other_process, "c")  # moves the head behind this process's back
        _append(fresh_engine, "d")
    finally:
        other_process.dispose()

    records, intact = _chain(fresh_engine, keyring)
    assert records == [(1, "a"), (2, "b"), (3, "c"), (4, "d")]
    assert intact
