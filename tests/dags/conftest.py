"""Airflow for the DAG tests: its own AIRFLOW_HOME, set before anything imports Airflow."""

import os
import tempfile

AIRFLOW_HOME = tempfile.mkdtemp(prefix="govdx-airflow-test-")
os.environ.setdefault("AIRFLOW_HOME", AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
