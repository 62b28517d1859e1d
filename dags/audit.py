"""访问日志检查点 access log checkpoint, hourly: verifies the access records appended since the last
checkpoint and signs the chain's state at the last of them with the platform's Ed25519 key, so an
exported range can be verified offline and a record removed from the end is found. Nothing is
signed when nothing was appended; a chain that does not verify is never signed and fails the run."""

from typing import Any

from airflow.sdk import dag, task

from dags.pipelines import DEFAULT_ARGS, START


@task
def checkpoint() -> dict[str, Any]:
    """Verify the records since the last checkpoint, then sign a new one."""
    # Imported when the task runs, so that parsing this file stays light (tests/dags/test_parsing.py).
    from authz.audit import scheduled

    return scheduled.run_checkpoint()


@dag(
    dag_id="govdx_audit_checkpoint",
    schedule="@hourly",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["govdx", "audit"],
    doc_md=__doc__,
)
def audit_checkpoint() -> None:
    checkpoint()


audit_checkpoint_dag = audit_checkpoint()
