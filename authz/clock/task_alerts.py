"""Pipeline task alerts: a task that failed, or sat queued past Airflow's limit, told to the platform.

Airflow calls ``dags.pipelines.alert_platform`` when a govdx task fails for good: in the task's own
process, or, for a task the scheduler failed because it sat queued longer than
``[scheduler] task_queued_timeout`` (no worker took it: every worker dead or busy), in the
dag-processor, which needs no worker. The alert goes where 督办 goes: the platform department's
administrators' inbox at once, and its supervisor's mail and the webhook through the outbound queue.
"""

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.clock import notify
from authz.clock.settings import ClockSettings
from authz.types import NotificationKind
from catalog_schema.database import for_writing, get_sessionmaker, utcnow
from catalog_schema.department.models import Department
from catalog_schema.settings import platform_department
from catalog_schema.user.roles import Role


def task_failed(
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    try_number: int,
    reason: str,
    session_factory: Callable[[], Session] | None = None,
    now: datetime | None = None,
) -> int:
    """Tell the platform's administrators that a pipeline task failed; the notification's id."""
    at = now or utcnow()
    title = f"流水线任务失败：{dag_id}.{task_id}"
    body = (
        f"运行 {run_id} 的任务 {task_id} 第 {try_number} 次尝试后失败：{reason or '（无说明）'}。"
        "若为排队超时，说明没有可用的 worker 接收任务，请检查 Celery worker 与消息队列。"
    )
    with (session_factory or get_sessionmaker())() as db:
        for_writing(db)
        platform = db.scalars(select(Department).where(Department.slug == platform_department())).one()
        (notification_id,) = notify.post_many(
            db=db,
            entries=[
                {
                    "department_id": platform.id,
                    "kind": NotificationKind.task_alert,
                    "title": title,
                    "body": body,
                    "at": at,
                    "role": Role.platform_admin,
                }
            ],
        )
        notify.queue_many(
            db=db,
            messages=notify.outbound_values(
                notification_id=notification_id,
                title=title,
                body=body,
                at=at,
                settings=ClockSettings(),
                supervisor_email=platform.supervisor_email,
                payload={"event": "task_alert", "dag_id": dag_id, "task_id": task_id, "run_id": run_id},
            ),
        )
        db.commit()
    return notification_id
