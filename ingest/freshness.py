"""更新周期 watch (动态更新): when each published resource last got data from the sources that feed it.

A resource is fed by the sources that supply its binding: a dataset by the sources that target
it; a department's library view by its provider's sources of the view's elements; a certificate
view by the sources of its certificate types; the platform's composite by every source of its
library that carries one of its elements. A proxy resource is its provider's live service and is
never overdue. Only a load that brought rows counts (a skipped unchanged file or a resubmission
is not an update).

A resource that nothing feeds, or that never received data, is overdue from the start, and is
listed first; one whose 更新周期 passed since its last load is overdue until the next. The check
returns the resources that became overdue in it, so their providers are told once per lapse
(``authz.clock.supply``, called by the same DAG).
"""

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from catalog_schema.database import for_writing, get_sessionmaker, utcnow
from catalog_schema.element.models import DataElement
from catalog_schema.library.models import IngestBatch, ResourceFreshness
from catalog_schema.resource.models import Resource, ResourceItem
from catalog_schema.resource.schemas import DeliveryAdapter, LibraryDelivery
from catalog_schema.settings import platform_department
from catalog_schema.types import BatchStatus, DeliveryKind, Library, ResourceStatus, UpdateCycle
from connectors.config import SourceSpec, load_sources
from ingest.batch import RESUBMIT_PREFIX
from ingest.settings import PipelineSettings

# How long each 更新周期 may go without new data before it counts as missed.
CYCLE_PERIODS: dict[UpdateCycle, timedelta | None] = {
    UpdateCycle.realtime: timedelta(hours=1),
    UpdateCycle.daily: timedelta(days=1),
    UpdateCycle.weekly: timedelta(days=7),
    UpdateCycle.monthly: timedelta(days=31),
    UpdateCycle.quarterly: timedelta(days=92),
    UpdateCycle.semiannual: timedelta(days=183),
    UpdateCycle.yearly: timedelta(days=366),
    UpdateCycle.irregular: None,
}
_TYPE_ELEMENT = "certificate.type_code"


def feeding_sources(resource: Resource, declared: list[SourceSpec], elements: set[str]) -> list[str]:
    """The declared sources whose loads bring ``resource`` new data (``elements``: those its items carry)."""
    if resource.delivery_kind is DeliveryKind.dataset:
        return [s.name for s in declared if s.resource == resource.code]
    if resource.delivery_kind is not DeliveryKind.library:
        return []
    view = DeliveryAdapter.validate_python(resource.delivery)
    assert isinstance(view, LibraryDelivery)
    in_library = [s for s in declared if s.library is not None and s.library is view.library]
    if view.library is Library.certificate and resource.provider.slug != platform_department():
        types = set(view.where.get(_TYPE_ELEMENT, []))
        return [s.name for s in in_library if s.constants.get(_TYPE_ELEMENT) in types]
    if resource.provider.slug != platform_department():
        in_library = [s for s in in_library if s.department == resource.provider.slug]
    return [s.name for s in in_library if elements & set(s.elements)]


def _last_load(db: Session, sources: list[str]) -> datetime | None:
    if not sources:
        return None
    return db.scalar(
        select(func.max(IngestBatch.finished_at)).where(
            IngestBatch.source.in_(sources),
            IngestBatch.status == BatchStatus.succeeded,
            IngestBatch.rows_read > 0,
            IngestBatch.run_id.not_like(f"{RESUBMIT_PREFIX}%"),
        )
    )


def flag_missed_update_cycles(
    *,
    session_factory: Callable[[], Session] | None = None,
    declared: list[SourceSpec] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Record when each published resource last got data and whether it is overdue; which became so now."""
    now = now or utcnow()
    if declared is None:
        declared = load_sources(PipelineSettings().sources_file).sources
    missed: list[str] = []
    newly_missed: list[int] = []
    with (session_factory or get_sessionmaker())() as db:
        for_writing(db)
        resources = db.scalars(select(Resource).where(Resource.status == ResourceStatus.published)).all()
        for resource in resources:
            elements = set(
                db.scalars(
                    select(DataElement.code)
                    .join(ResourceItem, ResourceItem.element_id == DataElement.id)
                    .where(ResourceItem.resource_id == resource.id)
                )
            )
            feeding = feeding_sources(resource, declared, elements)
            last = _last_load(db, feeding)
            period = CYCLE_PERIODS[resource.update_cycle]
            due = last + period if last is not None and period is not None else None
            live = resource.delivery_kind is DeliveryKind.proxy
            is_missed = not live and (last is None or (due is not None and due < now))
            row = db.get(ResourceFreshness, resource.id)
            if row is None:
                row = ResourceFreshness(resource_id=resource.id)
                db.add(row)
            if is_missed and not row.missed:
                newly_missed.append(resource.id)
            row.last_loaded_at, row.due_at, row.missed = last, due, is_missed
            row.sources, row.checked_at = ",".join(feeding)[:500], now
            if is_missed:
                missed.append(resource.code)
        db.commit()
    return {"checked": len(resources), "missed": missed, "newly_missed": newly_missed}
