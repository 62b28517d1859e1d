"""A pipeline task that failed, or that no worker took, is told to the platform's administrators."""

from sqlalchemy import select

from authz.clock import task_alerts
from authz.clock.models import Notification
from authz.types import NotificationKind
from catalog_schema.department import service as department_service


def test_a_failed_task_lands_in_the_platform_administrators_inbox(db, session_factory):
    notification_id = task_alerts.task_failed(
        dag_id="govdx_population",
        task_id="load_gongan_huji",
        run_id="manual__1",
        try_number=3,
        reason="Task was requeued more than 0 times and will be failed.",
        session_factory=session_factory,
    )

    alert = db.scalars(select(Notification).where(Notification.id == notification_id)).one()
    platform = department_service.get_by_ref(db=db, ref="shujuju")
    assert (alert.kind, alert.department_id, alert.role) == (
        NotificationKind.task_alert,
        platform.id,
        "platform_admin",
    )
    assert "govdx_population.load_gongan_huji" in alert.title and "worker" in alert.body
