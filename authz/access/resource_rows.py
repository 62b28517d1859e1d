"""The resource row a data call reads first: its status, binding, items and 管控参数, in one query.

Read on every call, so a change to the catalog shows at once (``authz.access.guard`` builds the
call's view of it once per content), and read straight through the driver's cursor in the
call's transaction: SQLAlchemy's execution layer cost more than the query itself (40 of 55 µs,
measured), and what it returns is plain scalars and JSON text, which also key that cache.
"""

import functools
from typing import NamedTuple, cast

from sqlalchemy import Connection, Dialect, Table, Text, bindparam, select
from sqlalchemy import cast as sql_cast

from catalog_schema.database import json_rows
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement
from catalog_schema.resource.models import Resource, ResourceItem
from catalog_schema.types import DeliveryKind, ResourceStatus, ShareType

_RESOURCES, _ITEMS, _ELEMENTS, _DEPARTMENTS = (
    cast(Table, m.__table__) for m in (Resource, ResourceItem, DataElement, Department)
)
# One row per resource, its items aggregated (a row per item costs a step each).
_ITEM_ROWS = (
    select(
        json_rows(
            _ITEMS.c.position, _ITEMS.c.name, _ELEMENTS.c.code, _ELEMENTS.c.library, _ELEMENTS.c.sensitivity
        )
    )
    .select_from(_ITEMS.outerjoin(_ELEMENTS, _ELEMENTS.c.id == _ITEMS.c.element_id))
    .where(_ITEMS.c.resource_id == _RESOURCES.c.id)
    .scalar_subquery()
)
RESOURCE = (
    select(
        _RESOURCES.c.id,
        _RESOURCES.c.status,
        _RESOURCES.c.share_type,
        _RESOURCES.c.provider_id,
        _DEPARTMENTS.c.slug.label("provider"),
        _RESOURCES.c.delivery_kind,
        sql_cast(_RESOURCES.c.delivery, Text).label("delivery"),
        sql_cast(_ITEM_ROWS, Text).label("items"),
        sql_cast(_RESOURCES.c.control_params, Text).label("controls"),
    )
    .join(_DEPARTMENTS, _DEPARTMENTS.c.id == _RESOURCES.c.provider_id)
    .where(_RESOURCES.c.code == bindparam("code"))
)


class ResourceRow(NamedTuple):
    """What :data:`RESOURCE` reads, in its order: scalars and JSON text, so a resource can key a cache."""

    id: int
    status: ResourceStatus
    share_type: ShareType
    provider_id: int
    provider: str
    delivery_kind: DeliveryKind
    delivery: str | None
    items: str | None
    controls: str | None


@functools.cache
def _sql(dialect: Dialect) -> tuple[str, bool]:
    """:data:`RESOURCE` compiled for a dialect, and whether its driver takes positional parameters."""
    return str(RESOURCE.compile(dialect=dialect)), dialect.paramstyle in ("qmark", "format", "numeric")


def read(conn: Connection, code: str) -> ResourceRow | None:
    """The row of the resource ``code``, or None; in the connection's transaction."""
    sql, positional = _sql(conn.dialect)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, (code,) if positional else {"code": code})
        found = cursor.fetchone()
    finally:
        cursor.close()
    if found is None:
        return None
    id_, status, share_type, provider_id, provider, delivery_kind, delivery, items, controls = found
    return ResourceRow(
        id_,
        ResourceStatus.of(status),
        ShareType.of(share_type),
        provider_id,
        provider,
        DeliveryKind.of(delivery_kind),
        delivery,
        items,
        controls,
    )
