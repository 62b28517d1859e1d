"""Chunks prepared in a worker process while the loader writes: same rows, and a failure fails the batch."""

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import func, select

from catalog_schema.keys import service as keys_service
from catalog_schema.library import subjects
from catalog_schema.library.models import IngestBatch, LibraryRecord, QuarantinedRow
from catalog_schema.types import BatchStatus, Library
from connectors.base import ROW_COLUMN
from ingest import flows
from ingest.loader import SeenFilter
from ingest.prepare import ORPHAN_POLL_S, PreparedChunks, Preparer
from ingest.registry import registry_for
from tests import sources


def ingest(spec, session_factory, tmp_path, **kwargs):
    return flows.ingest(spec, session_factory=session_factory, sources_dir=tmp_path, run_id="test", **kwargs)


def test_rows_prepared_by_the_worker_load_sealed_and_readable(session_factory, db, tmp_path):
    rows = [sources.person(i) for i in range(250)]
    spec = sources.household_register(tmp_path / "huji.csv", rows, chunk_rows=100)

    summary = ingest(spec, session_factory, tmp_path)

    keyring = keys_service.get_keyring()
    key = subjects.stored_key(keyring, Library.population, [sources.id_number(240)])
    record = db.scalar(select(LibraryRecord).where(LibraryRecord.subject_key == key))
    shown = keyring.unseal(json.loads(record.values), aad=record.subject_key)
    assert (summary.inserted, summary.quarantined) == (250, 0)
    assert shown["population.name"] == rows[240]["xm"]
    assert keyring.decrypt(record.subject_cipher, aad=subjects.cipher_aad(key)) == sources.id_number(240)


def test_a_worker_killed_mid_batch_fails_the_batch_and_writes_nothing(session_factory, db, tmp_path):
    rows = [sources.person(i) for i in range(450)]
    rows[1]["sfzh"] = "350102"  # quarantined in the first chunk, inside the transaction
    spec = sources.household_register(tmp_path / "huji.csv", rows, chunk_rows=100)

    def kill_the_worker(summary):
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)

    with pytest.raises(BrokenProcessPool):
        ingest(spec, session_factory, tmp_path, progress=kill_the_worker)

    batch = db.scalar(select(IngestBatch).order_by(IngestBatch.id.desc()))
    assert batch.status == BatchStatus.failed
    assert db.scalar(select(func.count()).select_from(LibraryRecord)) == 0
    assert db.scalar(select(func.count()).select_from(QuarantinedRow)) == 0


class FailingPreparer(Preparer):
    """Fails on the chunk whose first row is ``fail_at`` (module level: the worker imports it)."""

    fail_at = 201

    def prepare(self, chunk):
        if chunk.column(ROW_COLUMN)[0].as_py() == self.fail_at:
            raise RuntimeError("cannot prepare")
        return super().prepare(chunk)


def test_a_chunk_the_worker_cannot_prepare_raises_at_that_chunk(db, tmp_path):
    spec = sources.household_register(tmp_path / "huji.csv", [sources.person(i) for i in range(1)])
    registry = registry_for(db, spec)
    preparer = FailingPreparer(spec, registry, keys_service.get_keyring())
    chunks = iter([_chunk(spec, start) for start in (1, 101, 201, 301)])
    prepared = []

    with pytest.raises(RuntimeError, match="cannot prepare"), PreparedChunks(preparer, chunks) as each:
        for chunk in each:
            prepared.append(int(chunk.rows[0]))

    assert prepared == [1, 101]
    assert multiprocessing.active_children() == []


def _chunk(spec, start):
    rows = [sources.person(i) for i in range(start, start + 100)]
    columns = {c: pa.array([str(r.get(c, "")) for r in rows], pa.string()) for c in spec.columns}
    columns[ROW_COLUMN] = pa.array(range(start, start + 100), pa.int64())
    return pa.RecordBatch.from_pydict(columns)


def test_the_seen_filter_never_forgets_an_identity():
    seen = SeenFilter()
    first = [f"{i:032x}" for i in range(20_000)]
    seen.check_and_add(first)

    again = seen.check_and_add(first[::7])
    fresh = seen.check_and_add([f"{i:032x}" for i in range(20_000, 40_000)])

    assert again.all()
    assert fresh.sum() < 20  # false positives only cost a lookup
    assert isinstance(again, np.ndarray)


class EchoPreparer:
    """Prepares a chunk as its row count (module level: the worker imports it)."""

    def prepare(self, chunk):
        return chunk.num_rows


KILLED_LOADER = """
import multiprocessing, os, signal
import pyarrow as pa
from ingest.prepare import PreparedChunks
from tests.ingest.test_prepare import EchoPreparer
chunks = iter([pa.record_batch({"a": [1, 2]})] * 5)
with PreparedChunks(EchoPreparer(), chunks) as each:
    for rows in each:
        print(*[child.pid for child in multiprocessing.active_children()], flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
"""


def test_the_worker_of_a_killed_loader_ends_too():
    # One line read, not the pipe to its end: an orphaned worker would hold the pipe open.
    loader = subprocess.Popen([sys.executable, "-c", KILLED_LOADER], stdout=subprocess.PIPE, text=True)
    assert loader.stdout is not None
    workers = [int(pid) for pid in loader.stdout.readline().split()]
    loader.wait()

    deadline = time.monotonic() + 10 * ORPHAN_POLL_S
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)

    assert loader.returncode == -signal.SIGKILL and workers
    assert not any(_alive(pid) for pid in workers)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
