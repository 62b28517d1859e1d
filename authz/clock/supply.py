"""更新周期督办: tell a provider, once per lapse, that a resource of theirs missed its update cycle.

``ingest.freshness`` finds the resources that became overdue in a check (no data within their
更新周期, or none ever); this puts a message in the provider department's inbox and queues it for
its supervisor's mail and the webhook, like the clock's warnings (``authz.clock.notify``). A
resource that stays overdue is not announced again until it has been fresh in between.
"""

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.clock import notify
from authz.clock.settings import ClockSettings
from authz.types import NotificationKind
from catalog_schema.database import for_writing, get_sessionmaker, utcnow
from catalog_schema.library.models import ResourceFreshness
from catalog_schema.resource.models import Resource


def _message(resource: Resource, freshness: ResourceFreshness | None) -> tuple[str, str]:
    title = f"信息资源《{resource.name}》（{resource.code}）未按更新周期提供数据"
    cycle = f"登记的更新周期为“{resource.update_cycle.label}”"
    if freshness is None or freshness.last_loaded_at is None:
        return title, (
            f"信息资源《{resource.name}》{cycle}，平台至今未收到其数据。"
            "请按目录登记的方式报送数据，或更正目录中的更新周期与交付方式。"
        )
    last = f"{freshness.last_loaded_at:%Y-%m-%d %H:%M}"
    due = f"，应于 {freshness.due_at:%Y-%m-%d %H:%M} 前更新" if freshness.due_at else ""
    return title, (
        f"信息资源《{resource.name}》{cycle}，最近一次收到数据为 {last}（UTC）{due}，已逾期。"
        "请尽快报送更新数据。"
    )


def warn(*, db: Session, resource_ids: Sequence[int], now: datetime | None = None) -> dict[str, Any]:
    """Post and queue one message per resource to its provider department; how many."""
    now = now or utcnow()
    settings = ClockSettings()
    resources = db.scalars(select(Resource).where(Resource.id.in_(list(resource_ids)))).all()
    entries: list[dict[str, Any]] = []
    carried: list[Resource] = []
    for resource in resources:
        title, body = _message(resource, db.get(ResourceFreshness, resource.id))
        entries.append(
            {
                "department_id": resource.provider_id,
                "kind": NotificationKind.update_missed,
                "title": title,
                "body": body,
                "at": now,
            }
        )
        carried.append(resource)
    ids = notify.post_many(db=db, entries=entries)
    messages = [
        message
        for notification_id, entry, resource in zip(ids, entries, carried, strict=True)
        for message in notify.outbound_values(
            notification_id=notification_id,
            title=entry["title"],
            body=entry["body"],
            at=now,
            settings=settings,
            supervisor_email=resource.provider.supervisor_email,
            payload={
                "event": "update_missed",
                "resource": resource.code,
                "department": resource.provider.slug,
            },
        )
    ]
    return {"warned": len(ids), "queued": notify.queue_many(db=db, messages=messages)}


def warn_providers(
    *,
    resource_ids: Sequence[int],
    session_factory: Callable[[], Session] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """:func:`warn` in a transaction of its own (the update-cycle DAG's second task)."""
    with (session_factory or get_sessionmaker())() as db:
        for_writing(db)
        result = warn(db=db, resource_ids=resource_ids, now=now)
        db.commit()
    return result
