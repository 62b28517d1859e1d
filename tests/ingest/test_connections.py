"""Sources find their credentials in Airflow too: a connection held only by a secrets backend."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
RESOLVE = """
from ingest import flows  # registers Airflow's connections with the connectors
from connectors.credentials import resolve_url
print(resolve_url("dept_register", source="test"))
print(resolve_url("dept_api", source="test"))
"""


@pytest.fixture
def secrets_backend(tmp_path):
    """Airflow's local-filesystem secrets backend holding two connections, and no variable for either."""
    connections = {
        "dept_register": {
            "conn_type": "postgres",
            "host": "db.dept.example",
            "login": "reader",
            "password": "p@ss:word",
            "port": 5432,
            "schema": "register",
        },
        "dept_api": {"conn_type": "https", "host": "api.dept.example", "port": 8443},
    }
    (tmp_path / "connections.json").write_text(json.dumps(connections), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GOVDX_CONN_", "AIRFLOW_CONN_"))}
    return env | {
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__SECRETS__BACKEND": "airflow.secrets.local_filesystem.LocalFilesystemBackend",
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(
            {"connections_file_path": str(tmp_path / "connections.json")}
        ),
        "PYTHONPATH": str(ROOT),
    }


def test_a_connection_only_a_secrets_backend_holds_resolves_to_its_url(secrets_backend):
    done = subprocess.run(
        [sys.executable, "-c", RESOLVE],
        env=secrets_backend,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines()[-2:] == [
        "postgresql+psycopg://reader:p%40ss%3Aword@db.dept.example:5432/register",
        "https://api.dept.example:8443",
    ]
