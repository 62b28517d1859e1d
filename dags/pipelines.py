"""Builds the pipeline DAGs: per base library, one load task per declared source, then the library's
quality report; per dataset source (库表交换), its load, then the dataset's quality report.

Not a DAG file itself: ``population.py``, ``legal_person.py``, ``certificate.py`` and
``credit.py`` each call :func:`library_dag` once, ``datasets.py`` :func:`dataset_dag` per dataset
source. Tasks call ``ingest.scheduled``
and nothing else; a source error that a retry cannot fix fails the task at once.

Parsing reads only ``ingest.declared`` (which sources exist); each task imports the engine it
calls in its body, so a DAG file parses without pandas, Arrow, GX or the database models.
"""

import os
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, Asset, dag, task
from airflow.sdk.exceptions import AirflowFailException

from catalog_schema.types import Library
from ingest import declared


def alert_platform(context: Any) -> None:
    """A task failed for good, or the scheduler failed it for sitting queued: tell the platform."""
    from authz.clock import task_alerts

    ti = context["ti"]
    reason = context.get("exception") or context.get("reason") or ""
    task_alerts.task_failed(
        dag_id=ti.dag_id,
        task_id=ti.task_id,
        run_id=ti.run_id,
        try_number=int(ti.try_number or 0),
        reason=str(reason)[:500],
    )


DEFAULT_ARGS: dict[str, Any] = {
    "owner": "govdx-data",
    "on_failure_callback": alert_platform,
    # GOVDX_TASK_RETRIES=0 lets the in-process demo run fail fast instead of waiting out retries.
    "retries": int(os.environ.get("GOVDX_TASK_RETRIES", "2")),
    "retry_delay": timedelta(seconds=int(os.environ.get("GOVDX_TASK_RETRY_DELAY_SECONDS", "60"))),
    "retry_exponential_backoff": True,
}
START = datetime(2026, 1, 1)


def library_asset(library: Library) -> Asset:
    """The base library as an Airflow Asset, updated when its DAG's quality report completes."""
    return Asset(name=f"govdx_{library.value}", uri=f"govdx://library/{library.value}")


@task
def load(source: str, **context: Any) -> dict[str, Any]:
    """Ingest one source (idempotent: unchanged rows and unchanged files change nothing)."""
    from connectors.base import SourceError
    from ingest import scheduled

    try:
        return scheduled.load_source(source, run_id=str(context["run_id"]))
    except SourceError as exc:
        if exc.retryable:
            raise
        raise AirflowFailException(f"{exc.message} / {exc.message_en}") from exc


@task
def report(library: str, **context: Any) -> dict[str, Any]:
    """Great Expectations suite over every batch this run committed; Data Docs under GOVDX_HOME/quality."""
    from ingest import scheduled

    return scheduled.quality_report(Library[library], run_id=str(context["run_id"]))


def library_dag(library: Library, *, doc_md: str | None, schedule: str = "@daily") -> DAG:
    """The DAG of one base library, its tasks ordered by the sources' ``after`` declarations."""

    @dag(
        dag_id=f"govdx_{library.value}",
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["govdx", "base-library", library.value],
        doc_md=doc_md,
    )
    def pipeline() -> None:
        specs = declared.sources_of(library)
        tasks = {spec.name: load.override(task_id=f"load_{spec.name}")(spec.name) for spec in specs}
        for spec in specs:
            for upstream in spec.after:
                if upstream in tasks:
                    tasks[upstream] >> tasks[spec.name]
        # After every load; the report finds the run's batches itself (an orphaned attempt's included).
        list(tasks.values()) >> report.override(outlets=[library_asset(library)])(library.value)

    return pipeline()


def dataset_asset(resource: str) -> Asset:
    """A resource's dataset as an Airflow Asset, updated when its DAG's quality report completes."""
    return Asset(name=f"govdx_dataset_{resource.replace('/', '_')}", uri=f"govdx://dataset/{resource}")


@task
def report_dataset(resource: str, **context: Any) -> dict[str, Any]:
    """Great Expectations suite over every batch this run committed to the dataset."""
    from ingest import scheduled

    return scheduled.dataset_quality_report(resource, run_id=str(context["run_id"]))


def dataset_dag(source: str, resource: str, *, title: str, schedule: str = "@daily") -> DAG:
    """The DAG of one dataset source (库表交换): load the provider's table, then report its quality."""

    @dag(
        dag_id=declared.dataset_dag_id(source),
        schedule=schedule,
        start_date=START,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["govdx", "dataset", resource],
        doc_md=f"库表交换 {resource}: {title}. Loads the provider's table into the resource's dataset, "
        "then runs its Great Expectations suite.",
    )
    def pipeline() -> None:
        loaded = load.override(task_id=f"load_{source}")(source)
        loaded >> report_dataset.override(outlets=[dataset_asset(resource)])(resource)

    return pipeline()
