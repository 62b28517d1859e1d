"""限期反馈 feedback clock, every 15 minutes: puts new discrepancy tickets on the working-day clock
and stops it for answered ones, expires grants whose validity is over, brings stage states up to
date and records each yellow warning (≤1 working day left), red warning and 督办 once, then sends
the queued mail and webhook messages (a failed send is retried on the next run).

The four tasks run in that order but each runs whatever became of the one before: a failed
ticket sync must not stop grant expiry, warnings or mail. A watcher task then fails the run if any
of them failed (Airflow judges a run by its last tasks only)."""

from typing import Any

from airflow.sdk import TriggerRule, chain, dag, task

from dags.pipelines import DEFAULT_ARGS, START


@task
def sync_discrepancies() -> dict[str, Any]:
    """Start the clock of new discrepancy tickets, stop it for answered ones."""
    # Imported when the task runs, so that parsing this file stays light (tests/dags/test_parsing.py).
    from authz.clock import scheduled

    return scheduled.run_sync_discrepancies()


@task(trigger_rule=TriggerRule.ALL_DONE)
def expire_grants() -> dict[str, Any]:
    """End grants whose validity is over."""
    from authz.clock import scheduled

    return scheduled.run_expire_grants()


@task(trigger_rule=TriggerRule.ALL_DONE)
def recompute_and_warn() -> dict[str, Any]:
    """Recompute stage states; record yellow and red warnings and 督办 once each."""
    from authz.clock import scheduled

    return scheduled.run_recompute_and_warn()


@task(trigger_rule=TriggerRule.ALL_DONE)
def deliver() -> dict[str, Any]:
    """Send pending mail and webhook messages."""
    from authz.clock import scheduled

    return scheduled.run_deliver()


@task(trigger_rule=TriggerRule.ONE_FAILED)
def watcher() -> None:
    """Fail the run when a job failed; skipped when all succeeded."""
    raise RuntimeError("a feedback clock job failed; see its log")


@dag(
    dag_id="govdx_sharing_clock",
    schedule="*/15 * * * *",
    start_date=START,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["govdx", "sharing", "clock"],
    doc_md=__doc__,
)
def sharing_clock() -> None:
    jobs = [sync_discrepancies(), expire_grants(), recompute_and_warn(), deliver()]
    chain(*jobs)
    jobs >> watcher()


sharing_clock_dag = sharing_clock()
