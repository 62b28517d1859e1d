"""What Airflow parses in dags/, and how fast: only DAG files, each light enough to parse in
under half a second (Airflow best practices, "Top level Python code")."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.dag_processing.dagbag import DagBag

ROOT = Path(__file__).resolve().parents[2]
DAGS = ROOT / "dags"
PARSE_SECONDS = 0.5


@pytest.fixture(scope="module")
def parsed() -> list[dict[str, Any]]:
    # A fresh interpreter: this one has imported govdx already, which would hide each file's import cost.
    done = subprocess.run(
        [sys.executable, "-m", "tests.dags.parse_each", str(DAGS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    lines = done.stdout.splitlines()
    return [json.loads(line.removeprefix("PARSED ")) for line in lines if line.startswith("PARSED ")]


@pytest.fixture(scope="module")
def bag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_modules_that_hold_no_dag_are_not_parsed(bag: DagBag) -> None:
    parsed_files = {Path(stat.file).name for stat in bag.dagbag_stats}
    assert parsed_files.isdisjoint({"__init__.py", "pipelines.py"})
    assert "population.py" in parsed_files


def test_every_file_airflow_parses_holds_a_dag(bag: DagBag) -> None:
    assert {Path(stat.file).name for stat in bag.dagbag_stats if stat.dag_num == 0} == set()


def test_each_dag_file_parses_in_under_half_a_second(parsed: list[dict[str, Any]]) -> None:
    assert {r["file"] for r in parsed} >= {"population.py", "datasets.py", "audit.py"}
    assert all(not r.get("crashed") and not r["errors"] for r in parsed), parsed
    assert {r["file"]: r["seconds"] for r in parsed if r["seconds"] >= PARSE_SECONDS} == {}


def test_parsing_a_dag_file_imports_no_heavy_library(parsed: list[dict[str, Any]]) -> None:
    assert {r["file"]: r["heavy"] for r in parsed if r["heavy"]} == {}
