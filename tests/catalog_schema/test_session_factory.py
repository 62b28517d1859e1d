"""A task that imports only its own models still writes typed columns: sessions come with every table."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The update-cycle DAG's second task imports authz.clock.supply alone; notifications reference
# sharing_requests, whose model it never imports.
SCRIPT = """
from authz.clock import supply  # noqa: F401
from catalog_schema.database import Base, get_sessionmaker
from sqlalchemy.types import NullType
get_sessionmaker()
columns = [c for t in Base.metadata.tables.values() for c in t.c]
print([f"{c.table.name}.{c.name}" for c in columns if isinstance(c.type, NullType)])
"""


def test_after_the_first_session_factory_no_column_is_left_without_a_type():
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=120
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"
