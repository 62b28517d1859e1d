"""`make demo`'s pipeline step for real: every DAG run with dag.test() on an embedded Airflow database.

Runs the `govdx` commands in a subprocess with their own platform database, sources and
AIRFLOW_HOME, exactly as `make demo` does, at a small size.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from connectors.config import load_sources
from ingest.settings import DEMO_SOURCES_FILE

GOVDX = [sys.executable, "-m", "api.cli"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    work = tmp_path_factory.mktemp("demo-run")
    env = {
        **os.environ,
        "GOVDX_PROFILE": "demo",
        "GOVDX_DATABASE_URL": f"sqlite:///{work / 'govdx.sqlite'}",
        "GOVDX_SOURCES_DIR": str(work / "sources"),
        "GOVDX_QUALITY_DIR": str(work / "quality"),
    }
    env.pop("AIRFLOW_HOME", None)
    for step in (
        ["db", "upgrade"],
        ["demo", "seed"],
        ["demo", "sources", "--people", "300", "--orgs", "100", "--out", str(work / "sources")],
    ):
        subprocess.run([*GOVDX, *step], env=env, check=True, capture_output=True, text=True)
    done = subprocess.run(
        [*GOVDX, "demo", "pipelines", "--home", str(work / "airflow")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return work, done


def test_demo_pipelines_succeed(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, done = demo_run
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_every_declared_source_has_a_successful_batch(
    demo_run: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    work, _ = demo_run
    with create_engine(f"sqlite:///{work / 'govdx.sqlite'}").connect() as conn:
        done = {
            row[0]
            for row in conn.execute(text("SELECT source FROM ingest_batches WHERE status = 'succeeded'"))
        }
    assert done == {s.name for s in load_sources(DEMO_SOURCES_FILE).sources}


def test_quality_reports_are_written(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    work, _ = demo_run
    with create_engine(f"sqlite:///{work / 'govdx.sqlite'}").connect() as conn:
        reports = {
            row[0] for row in conn.execute(text("SELECT quality_report FROM ingest_batches")) if row[0]
        }
    assert reports
    assert all((work / "quality" / r).exists() for r in reports)


def test_per_source_counts_are_printed(demo_run: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, done = demo_run
    assert "per-source counts" in done.stdout
    assert "gongan_huji" in done.stdout
