"""Catalog resources: browse and search for everyone; register, change, publish, retire for admins."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import CurrentUser, DbSession, DepartmentKeyQuery, ElementCodeQuery, Paging, RowId, requires
from authz.permissions import CatalogBrowse, CatalogManage, visible_resource_statuses
from catalog_schema.library import service as library_service
from catalog_schema.library.schemas import OverdueRead
from catalog_schema.pagination import Page, page_of
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import (
    ResourceCreate,
    ResourceRead,
    ResourceSummary,
    ResourceUpdate,
    RetireIn,
    VersionRead,
)
from catalog_schema.types import ResourceClass, ResourceStatus, SearchText, ShareType, UpdateCycle

router = APIRouter(prefix="/resources", tags=["resources 信息资源"])


def _visible(resource: Resource, user: CurrentUser, asked_for: str) -> Resource:
    # A resource the user may not see is reported exactly as a missing one: same words, and only
    # what the caller sent, so a draft's existence and internal id do not leak.
    if resource.status not in visible_resource_statuses(user):
        raise resource_service.not_found(asked_for)
    return resource


def _resource(db: DbSession, user: CurrentUser, resource_id: RowId) -> Resource:
    return resource_service.get_visible(
        db=db, resource_id=resource_id, visible=visible_resource_statuses(user)
    )


PathResource = Annotated[Resource, Depends(_resource)]


@router.get(
    "",
    response_model=Page[ResourceSummary],
    dependencies=[requires(CatalogBrowse)],
    summary="浏览与检索资源目录 / browse and search the catalog",
)
def search_resources(
    db: DbSession,
    user: CurrentUser,
    paging: Paging,
    resource_class: Annotated[ResourceClass | None, Query(alias="class", description="类")] = None,
    classification: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,20}$", description="分类码前缀 / classification prefix")
    ] = None,
    provider: DepartmentKeyQuery = None,
    share_type: ShareType | None = None,
    element: ElementCodeQuery = None,
    update_cycle: UpdateCycle | None = None,
    q: Annotated[SearchText | None, Query(description="名称或摘要中的文字")] = None,
    status: ResourceStatus | None = None,
) -> Page[ResourceSummary]:
    filters = resource_service.ResourceFilter(
        resource_class=resource_class,
        classification=classification,
        provider=provider,
        share_type=share_type,
        element=element,
        update_cycle=update_cycle,
        q=q,
        status=status,
    )
    rows, total = resource_service.search(
        db=db, params=paging, filters=filters, visible=visible_resource_statuses(user)
    )
    return page_of([ResourceSummary.of(r) for r in rows], total, paging)


@router.get(
    "/overdue",
    response_model=Page[OverdueRead],
    dependencies=[requires(CatalogManage)],
    summary="逾期未更新的资源（从未收到数据的在前） / resources whose data is overdue, never supplied first",
)
def list_overdue(db: DbSession, paging: Paging) -> Page[OverdueRead]:
    rows, total = library_service.overdue(db=db, params=paging)
    return page_of([OverdueRead.of(r) for r in rows], total, paging)


@router.get(
    "/by-code/{code:path}",
    response_model=ResourceRead,
    dependencies=[requires(CatalogBrowse)],
    summary="按资源代码查询 / one resource by its code",
)
def get_resource_by_code(db: DbSession, user: CurrentUser, code: str) -> ResourceRead:
    resource = _visible(resource_service.get_by_code(db=db, code=code), user, code)
    return ResourceRead.of(resource, freshness=library_service.freshness(db=db, resource_id=resource.id))


@router.get(
    "/{resource_id}",
    response_model=ResourceRead,
    dependencies=[requires(CatalogBrowse)],
    summary="资源详情：信息项、数据元及其来源 / one resource with items, elements, sources",
)
def get_resource(db: DbSession, resource: PathResource) -> ResourceRead:
    return ResourceRead.of(resource, freshness=library_service.freshness(db=db, resource_id=resource.id))


@router.post(
    "",
    response_model=ResourceRead,
    status_code=201,
    dependencies=[requires(CatalogManage)],
    summary="登记信息资源(草稿，代码自动生成) / register a resource as a draft",
)
def create_resource(db: DbSession, user: CurrentUser, data: ResourceCreate) -> ResourceRead:
    return ResourceRead.of(resource_service.create(db=db, data=data, actor_id=user.id))


@router.patch(
    "/{resource_id}",
    response_model=ResourceRead,
    dependencies=[requires(CatalogManage)],
    summary="修改信息资源(已发布的保留上一版本) / update; a published one keeps a version",
)
def update_resource(
    db: DbSession, user: CurrentUser, resource: PathResource, data: ResourceUpdate
) -> ResourceRead:
    return ResourceRead.of(resource_service.update(db=db, resource=resource, data=data, actor_id=user.id))


@router.post(
    "/{resource_id}/publish",
    response_model=ResourceRead,
    dependencies=[requires(CatalogManage)],
    summary="发布 / publish a draft",
)
def publish_resource(db: DbSession, user: CurrentUser, resource: PathResource) -> ResourceRead:
    return ResourceRead.of(resource_service.publish(db=db, resource=resource, actor_id=user.id))


@router.post(
    "/{resource_id}/retire",
    response_model=ResourceRead,
    dependencies=[requires(CatalogManage)],
    summary="撤销(须说明原因) / retire with a reason",
)
def retire_resource(db: DbSession, user: CurrentUser, resource: PathResource, data: RetireIn) -> ResourceRead:
    return ResourceRead.of(
        resource_service.retire(db=db, resource=resource, reason=data.reason, actor_id=user.id)
    )


@router.get(
    "/{resource_id}/versions",
    response_model=list[VersionRead],
    dependencies=[requires(CatalogBrowse)],
    summary="历史版本 / kept versions",
)
def list_versions(db: DbSession, resource: PathResource) -> list[VersionRead]:
    return [
        VersionRead.model_validate(v, from_attributes=True)
        for v in resource_service.versions(db=db, resource=resource)
    ]
