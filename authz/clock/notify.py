"""The in-app inbox, and the outbound channels (SMTP, webhook) that carry warnings and 督办."""

from datetime import datetime

from sqlalchemy.orm import Session

from authz.clock.models import Notification
from authz.roles import Role
from authz.types import NotificationKind


def post(
    *,
    db: Session,
    department_id: int,
    kind: NotificationKind,
    title: str,
    body: str,
    at: datetime,
    role: Role | None = None,
    user_id: int | None = None,
    stage_id: int | None = None,
    request_id: int | None = None,
) -> Notification:
    """Put a message in a department's inbox (only ``role`` in it, or only ``user_id``, if given)."""
    notification = Notification(
        department_id=department_id,
        role=role.value if role else None,
        user_id=user_id,
        kind=kind,
        title=title[:200],
        body=body,
        stage_id=stage_id,
        request_id=request_id,
        created_at=at,
    )
    db.add(notification)
    return notification
