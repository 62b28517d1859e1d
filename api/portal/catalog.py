"""The catalog for everyone: browse and search with filters, and one resource's page."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import DbSession, Paging, RowId
from api.portal import web
from api.portal.web import PortalUser, options
from authz import permissions
from authz.permissions import CatalogBrowse, visible_resource_statuses
from catalog_schema.library import service as library_service
from catalog_schema.pagination import page_of
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.schemas import ResourceRead, ResourceSummary
from catalog_schema.types import (
    ResourceClass,
    ResourceStatus,
    SearchText,
    ShareType,
    UpdateCycle,
)

router = APIRouter(dependencies=[web.page_requires(CatalogBrowse)])


@router.get("/catalog")
def browse(
    request: Request,
    db: DbSession,
    user: PortalUser,
    paging: Paging,
    q: Annotated[SearchText | None, Query()] = None,
    resource_class: Annotated[ResourceClass | None, Query(alias="class")] = None,
    share_type: ShareType | None = None,
    update_cycle: UpdateCycle | None = None,
    provider: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_]*$")] = None,
    status: ResourceStatus | None = None,
) -> Response:
    visible = visible_resource_statuses(user)
    filters = resource_service.ResourceFilter(
        resource_class=resource_class,
        share_type=share_type,
        update_cycle=update_cycle,
        provider=provider or None,
        q=q,
        status=status if status in visible else None,
    )
    rows, total = resource_service.search(db=db, params=paging, filters=filters, visible=visible)
    page = page_of([ResourceSummary.of(r) for r in rows], total, paging)
    chosen = {k: v for k, v in request.query_params.items() if k != "page" and v}
    context = {
        "title": "资源目录",
        "page": page,
        "form": chosen,
        "base": web.page_base("/catalog", chosen),
        "classes": options(ResourceClass),
        "share_types": options(ShareType),
        "cycles": options(UpdateCycle),
        "statuses": [(s.value, s.label) for s in ResourceStatus if s in visible],
        "providers": web.department_options(db),
        "can_manage": permissions.CatalogManage.allows(user),
    }
    return web.render(request, "catalog.html", context)


@router.get("/catalog/{resource_id:int}")
def resource_page(request: Request, db: DbSession, user: PortalUser, resource_id: RowId) -> Response:
    found = resource_service.get_visible(
        db=db, resource_id=resource_id, visible=visible_resource_statuses(user)
    )
    resource = ResourceRead.of(found, freshness=library_service.freshness(db=db, resource_id=found.id))
    can_request = (
        permissions.RequestSubmit.allows(user)
        and found.status is ResourceStatus.published
        and found.share_type is not ShareType.none
    )
    context = {
        "title": resource.name,
        "r": resource,
        "can_request": can_request,
        "can_manage": permissions.CatalogManage.allows(user),
    }
    return web.render(request, "resource.html", context)
