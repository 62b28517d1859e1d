"""`govdx audit`: verify exits 0 when intact and 1 naming the first broken record; export, checkpoint, search.

The commands open their own connections, so each backend gets a database of its own whose
commits are real; the log is emptied before each test.
"""

import base64
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import Result
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from authz.audit import chain as audit_chain
from authz.audit.chain import AccessEntry, append, record_hash
from authz.audit.cli import audit_app
from authz.audit.models import GENESIS, AccessRecord, AuditCheckpoint, AuditHead
from catalog_schema.database import for_writing, get_engine, get_sessionmaker
from catalog_schema.keys.service import Keyring

runner = CliRunner()
T0 = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
ID_NUMBER = "11010519491231002X"


def _use_database(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("GOVDX_DATABASE_URL", url)
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


@pytest.fixture
def engine(fresh_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[Engine]:
    """The backend's own database with an empty log, named by GOVDX_DATABASE_URL for the commands."""
    with Session(fresh_engine) as session:
        session.execute(delete(AuditCheckpoint))
        session.execute(delete(AccessRecord))
        session.execute(update(AuditHead).values(seq=0, hash=GENESIS))
        session.commit()
    _use_database(monkeypatch, fresh_engine.url.render_as_string(hide_password=False))
    yield fresh_engine
    get_engine().dispose()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def _append(engine: Engine, n: int, *, fingerprint: str | None = None, start: datetime = T0) -> None:
    with Session(engine) as session:
        for_writing(session)
        for i in range(n):
            entry = AccessEntry(
                mode="lookup",
                outcome="served",
                request_id=uuid4().hex,
                client_id="renshe-social-insurance",
                resource_code="370100-00001",
                subject_fingerprint=fingerprint,
                subjects=1,
                rows_returned=1,
            )
            append(db=session, entry=entry, at=start + timedelta(minutes=i))
        session.commit()


def _change(engine: Engine, *statements: object) -> None:
    with Session(engine) as session:
        for statement in statements:
            session.execute(statement)  # type: ignore[call-overload]
        session.commit()


def _run(*args: str) -> Result:
    return runner.invoke(audit_app, list(args))


# -- verify -----------------------------------------------------------------------------------------


def test_verify_exits_0_on_an_intact_log(engine: Engine) -> None:
    _append(engine, 10)

    result = _run("verify", "--batch", "100")

    assert result.exit_code == 0, result.output
    assert "intact" in result.stdout
    assert "10 条记录已核验 records verified" in result.stdout


def _modify(engine: Engine) -> None:
    _change(engine, update(AccessRecord).where(AccessRecord.seq == 4).values(rows_returned=500))


def _delete_middle(engine: Engine) -> None:
    _change(engine, delete(AccessRecord).where(AccessRecord.seq == 4))


def _delete_tail(engine: Engine) -> None:
    _change(engine, delete(AccessRecord).where(AccessRecord.seq == 10))


def _insert(engine: Engine) -> None:
    # Room after seq 3 (in two steps: seq is unique), then a record that chains onto seq 3.
    _change(
        engine,
        update(AccessRecord).where(AccessRecord.seq > 3).values(seq=AccessRecord.seq + 1000),
        update(AccessRecord).where(AccessRecord.seq > 1000).values(seq=AccessRecord.seq - 999),
    )
    with Session(engine) as session:
        before = session.scalars(select(AccessRecord).where(AccessRecord.seq == 3)).one()
        forged = {
            **audit_chain.content_of(before),
            "seq": 4,
            "request_id": "forged",
            "prev_hash": before.hash,
        }
        session.execute(insert(AccessRecord).values(**forged, hash=record_hash(forged)))
        session.commit()


def _swap(engine: Engine) -> None:
    _change(
        engine,
        update(AccessRecord).where(AccessRecord.seq == 4).values(seq=-1),
        update(AccessRecord).where(AccessRecord.seq == 5).values(seq=4),
        update(AccessRecord).where(AccessRecord.seq == -1).values(seq=5),
    )


@pytest.mark.parametrize(
    ("tamper", "seq", "kind"),
    [
        (_modify, 4, "hash_mismatch"),
        (_delete_middle, 4, "seq_gap"),
        (_delete_tail, 10, "head_mismatch"),
        (_insert, 5, "link_broken"),  # the forged record chains on; the one after it cannot
        (_swap, 4, "link_broken"),
    ],
    ids=["modified", "deleted", "deleted-tail", "inserted", "reordered"],
)
def test_verify_exits_1_naming_the_first_broken_record(
    engine: Engine, tamper: Callable[[Engine], None], seq: int, kind: str
) -> None:
    _append(engine, 10)
    tamper(engine)

    result = _run("verify")

    assert result.exit_code == 1, result.output
    assert f"first break at seq {seq}" in result.stdout
    assert kind in result.stdout


def test_verify_exits_1_on_a_checkpoint_with_a_forged_signature(engine: Engine) -> None:
    _append(engine, 6)
    assert _run("checkpoint").exit_code == 0
    forged = base64.b64encode(Ed25519PrivateKey.generate().sign(b"govdx-audit-checkpoint/1")).decode()
    _change(engine, update(AuditCheckpoint).values(signature=forged))

    result = _run("verify")

    assert result.exit_code == 1, result.output
    assert "first break at seq 6" in result.stdout
    assert "checkpoint_signature_invalid" in result.stdout


def test_verify_as_a_process_exits_1_naming_the_first_broken_record(engine: Engine) -> None:
    _append(engine, 5)
    _modify(engine)

    done = subprocess.run(
        [sys.executable, "-m", "api.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
    )

    assert done.returncode == 1, done.stderr[-2000:]
    assert "first break at seq 4" in done.stdout


# -- checkpoint -------------------------------------------------------------------------------------


def test_checkpoint_signs_the_head_then_finds_nothing_new(engine: Engine) -> None:
    _append(engine, 5)

    first, second = _run("checkpoint"), _run("checkpoint")

    assert (first.exit_code, second.exit_code) == (0, 0), first.output + second.output
    assert "checkpoint signed: seq 5" in first.stdout
    assert "nothing appended since the last checkpoint" in second.stdout


def test_checkpoint_of_a_broken_chain_exits_1_and_signs_nothing(engine: Engine) -> None:
    _append(engine, 5)
    _modify(engine)

    result = _run("checkpoint")

    assert result.exit_code == 1, result.output
    assert "seq 4" in result.output
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(AuditCheckpoint)) == 0


# -- export and offline verification ----------------------------------------------------------------


@pytest.fixture
def exported(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """seq 1–8 exported with their checkpoint; afterwards no database can be reached at all."""
    _append(engine, 8)
    assert _run("checkpoint").exit_code == 0
    path = tmp_path / "export.jsonl"
    result = _run("export", "--from", "2026-05-01", "--to", "2026-05-01", "--out", str(path))
    assert result.exit_code == 0, result.output
    _use_database(monkeypatch, f"sqlite:///{tmp_path / 'missing' / 'none.sqlite'}")
    return path


def test_export_verifies_offline_without_a_database(exported: Path) -> None:
    result = _run("verify", "--file", str(exported))

    assert result.exit_code == 0, result.output
    assert "8 条记录已核验 records verified" in result.stdout
    assert "1 个检查点已核验 checkpoints verified" in result.stdout
    assert not (exported.parent / "missing").exists()


def test_tampered_export_exits_1_naming_the_record(exported: Path) -> None:
    documents = [json.loads(line) for line in exported.read_text(encoding="utf-8").splitlines()]
    documents[3]["client_id"] = "someone-else"  # the record at seq 3
    exported.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")

    result = _run("verify", "--file", str(exported))

    assert result.exit_code == 1, result.output
    assert "first break at seq 3" in result.stdout


def test_verify_of_a_file_that_is_not_an_export_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello\n", encoding="utf-8")

    result = _run("verify", "--file", str(path))

    assert result.exit_code == 2
    assert "export_invalid" in result.output


def test_export_with_an_invalid_time_exits_2(engine: Engine) -> None:
    result = _run("export", "--from", "2026-13-01")

    assert result.exit_code == 2
    assert "invalid_time" in result.output


def test_export_of_a_range_that_ends_before_it_starts_exits_2(engine: Engine) -> None:
    result = _run("export", "--from", "2026-05-02", "--to", "2026-05-01")

    assert result.exit_code == 2
    assert "invalid_range" in result.output


# -- search -----------------------------------------------------------------------------------------


def test_search_by_id_number_lists_only_that_subjects_accesses(engine: Engine, keyring: Keyring) -> None:
    _append(engine, 2, fingerprint=keyring.fingerprint(ID_NUMBER))
    _append(engine, 3, fingerprint=keyring.fingerprint("110105194912310037"))

    result = _run("search", "--subject", "110105 19491231 002x", "--from", "2026-05-01")

    assert result.exit_code == 0, result.output
    assert "共 2 条 total" in result.stdout
