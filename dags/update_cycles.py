"""更新周期 watch: flags every published resource whose provider sent no data within its declared
update cycle (每日, 每周, …), or never received any, so the catalog shows freshness, the administrator
has the overdue list, and each provider is told once per lapse."""

from typing import Any

from airflow.sdk import dag, task

from dags.pipelines import DEFAULT_ARGS, START


@task
def flag_missed() -> dict[str, Any]:
    """Recompute each resource's last load and whether its update cycle was missed."""
    # Imported when the task runs, so that parsing this file stays light (tests/dags/test_parsing.py).
    from ingest import freshness

    return freshness.flag_missed_update_cycles()


@task
def warn_providers(checked: dict[str, Any]) -> dict[str, Any]:
    """Tell the provider of each resource that became overdue in this check."""
    from authz.clock import supply

    return supply.warn_providers(resource_ids=checked["newly_missed"])


@dag(
    dag_id="govdx_update_cycles",
    schedule="@hourly",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["govdx", "freshness"],
    doc_md=__doc__,
)
def update_cycles() -> None:
    # The flag task's XComArg resolves to its result at run time.
    warn_providers(flag_missed())  # type: ignore[arg-type]


update_cycles_dag = update_cycles()
