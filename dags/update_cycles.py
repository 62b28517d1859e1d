"""更新周期 watch: flags every published resource whose provider sent no data within its declared
update cycle (每日, 每周, …), so the catalog shows freshness and the administrator can chase it."""

from typing import Any

from airflow.sdk import dag, task

from dags.pipelines import DEFAULT_ARGS, START
from ingest import scheduled


@task
def flag_missed() -> dict[str, Any]:
    """Recompute each resource's last load and whether its update cycle was missed."""
    return scheduled.flag_missed_update_cycles()


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
    flag_missed()


update_cycles_dag = update_cycles()
