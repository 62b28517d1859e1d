"""A loader killed mid-batch leaves the library as it was; the rerun completes the batch once.

6,000 rows in chunks of 100, killed after five chunks: the batch is one transaction whatever its
size, so this proves what 60,000 rows did, in a fraction of the time.
"""

import os
import signal
import subprocess
import sys

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog_schema import migrate
from catalog_schema.database import make_engine
from catalog_schema.library.models import IngestBatch, LibraryRecord
from catalog_schema.types import BatchStatus
from demo import catalog as demo_catalog
from tests import sources

ROWS = 6_000
CHUNK_ROWS = 100
KILL_AFTER = 500  # rows read: five chunks written inside the open transaction, 5,500 still to go


@pytest.mark.slow
def test_killed_load_leaves_nothing_and_the_rerun_completes(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'platform.sqlite'}")
    migrate.upgrade(engine)
    with Session(engine) as db:
        demo_catalog.seed(db)
        db.commit()
    spec = sources.household_register(
        tmp_path / "huji.csv", [sources.person(i) for i in range(ROWS)], chunk_rows=CHUNK_ROWS
    )
    (tmp_path / "sources.yaml").write_text(
        "version: 1\nsources:\n  - " + spec.model_dump_json(), encoding="utf-8"
    )
    env = {
        **os.environ,
        "GOVDX_DATABASE_URL": str(engine.url),
        "GOVDX_SOURCES_FILE": str(tmp_path / "sources.yaml"),
        "GOVDX_SOURCES_DIR": str(tmp_path),
    }
    command = [sys.executable, "-m", "api.cli", "library", "load", "test_huji"]

    loader = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True)
    assert loader.stdout is not None
    for line in loader.stdout:
        if (
            line.startswith("progress test_huji read=")
            and int(line.split("read=")[1].split()[0]) >= KILL_AFTER
        ):
            loader.send_signal(signal.SIGKILL)
            break
    loader.wait()

    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(LibraryRecord)) == 0
        assert db.scalar(select(IngestBatch.status)) is BatchStatus.running

    rerun = subprocess.run(command, env=env, capture_output=True, text=True)

    assert rerun.returncode == 0, rerun.stderr
    with Session(engine) as db:
        statuses = db.scalars(select(IngestBatch.status).order_by(IngestBatch.id)).all()
        assert statuses == [BatchStatus.abandoned, BatchStatus.succeeded]
        assert db.scalar(select(func.count()).select_from(LibraryRecord)) == ROWS
        distinct = db.scalar(select(func.count(func.distinct(LibraryRecord.subject_key))))
        assert distinct == ROWS
