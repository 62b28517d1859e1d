"""Every DAG imports, is tagged, retries, and wires one load task per declared source."""

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag

from catalog_schema.types import Library
from connectors.config import load_sources
from ingest import declared
from ingest.settings import DEMO_SOURCES_FILE

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def bag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


def test_every_dag_file_imports(bag: DagBag) -> None:
    assert bag.import_errors == {}
    assert set(bag.dag_ids) == {
        "govdx_population",
        "govdx_legal_person",
        "govdx_certificate",
        "govdx_credit",
        "govdx_update_cycles",
        "govdx_sharing_clock",
        "govdx_audit_checkpoint",
        *(declared.dataset_dag_id(s.name) for s in load_sources(DEMO_SOURCES_FILE).sources if s.resource),
    }


def test_every_dag_has_tags_retries_and_docs(bag: DagBag) -> None:
    for dag_id in bag.dag_ids:
        dag = bag.dags[dag_id]
        assert dag.tags, dag_id
        assert dag.doc_md, dag_id
        assert all(task.retries >= 1 for task in dag.tasks), dag_id


@pytest.mark.parametrize("library", list(Library))
def test_library_dag_loads_each_declared_source_then_reports(bag: DagBag, library: Library) -> None:
    dag = bag.dags[f"govdx_{library.value}"]
    expected = {f"load_{s.name}" for s in load_sources(DEMO_SOURCES_FILE).sources if s.library is library}
    loads = {t.task_id for t in dag.tasks if t.task_id.startswith("load_")}
    assert loads == expected
    report = dag.get_task("report")
    assert report.upstream_task_ids == expected
    assert [o.uri for o in report.outlets] == [f"govdx://library/{library.value}"]


def test_a_dataset_source_has_its_dag_loading_it_then_reporting_its_quality(bag: DagBag) -> None:
    specs = [s for s in load_sources(DEMO_SOURCES_FILE).sources if s.resource is not None]
    assert specs
    for spec in specs:
        dag = bag.dags[declared.dataset_dag_id(spec.name)]
        report = dag.get_task("report_dataset")
        assert report.upstream_task_ids == {f"load_{spec.name}"}
        assert [o.uri for o in report.outlets] == [f"govdx://dataset/{spec.resource}"]


def test_sources_load_after_what_they_declare(bag: DagBag) -> None:
    for spec in load_sources(DEMO_SOURCES_FILE).sources:
        if spec.library is None:
            continue
        task = bag.dags[f"govdx_{spec.library.value}"].get_task(f"load_{spec.name}")
        assert {f"load_{a}" for a in spec.after} <= task.upstream_task_ids
