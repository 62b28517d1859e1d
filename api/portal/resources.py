"""The catalog: browse and search it with filters and open one resource (for everyone), and
register, edit, publish and retire resources (for the catalog administrator).

Each page calls the service function of its JSON API route with the same permission rule, so a page
shows nothing its reader could not get from the API.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from api.deps import DbSession, Paging, RowId
from api.portal import resource_form, web
from api.portal.web import Form, PortalUser, options
from authz import permissions
from authz.permissions import CatalogBrowse, CatalogManage, visible_resource_statuses
from catalog_schema.errors import GovdxError
from catalog_schema.library import service as library_service
from catalog_schema.library.schemas import OverdueRead
from catalog_schema.pagination import page_of
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import (
    ResourceCreate,
    ResourceRead,
    ResourceSummary,
    ResourceUpdate,
    RetireIn,
)
from catalog_schema.settings import platform_department
from catalog_schema.types import (
    ControlParamKind,
    DataType,
    DeliveryKind,
    Library,
    ResourceClass,
    ResourceFormat,
    ResourceStatus,
    SearchText,
    ShareMethod,
    ShareType,
    UpdateCycle,
)
from catalog_schema.user.models import User

router = APIRouter()


# ---- browsing the catalog ------------------------------------------------------------------------


@router.get("/catalog", dependencies=[web.page_requires(CatalogBrowse)])
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


@router.get("/catalog/overdue", dependencies=[web.page_requires(CatalogManage)])
def overdue_page(request: Request, db: DbSession, paging: Paging) -> Response:
    rows, total = library_service.overdue(db=db, params=paging)
    page = page_of([OverdueRead.of(r) for r in rows], total, paging)
    return web.render(request, "resources_overdue.html", {"title": "逾期未更新的资源", "page": page})


@router.get("/catalog/{resource_id:int}", dependencies=[web.page_requires(CatalogBrowse)])
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
        "platform_department": platform_department(),
        "can_request": can_request,
        "can_manage": permissions.CatalogManage.allows(user),
    }
    return web.render(request, "resource.html", context)


# ---- registering and editing resources -----------------------------------------------------------


def _form_choices(db: Session) -> dict[str, Any]:
    return {
        "classes": options(ResourceClass),
        "formats": options(ResourceFormat),
        "share_types": options(ShareType),
        "share_methods": options(ShareMethod),
        "cycles": options(UpdateCycle),
        "data_types": [(t.value, f"{t.value} {t.label}") for t in DataType],
        "param_kinds": options(ControlParamKind),
        "delivery_kinds": options(DeliveryKind),
        "libraries": options(Library),
        "providers": web.department_options(db),
    }


def _resource_form(
    request: Request,
    db: Session,
    *,
    form: dict[str, str],
    errors: dict[str, str],
    item_rows: int,
    param_rows: int,
    resource: ResourceRead | None = None,
    side: dict[str, str] | None = None,
    acting: str | None = None,
    status: int = 200,
) -> Response:
    context = {
        "side": side or {},
        "title": f"修改信息资源：{resource.name}" if resource else "登记信息资源",
        "r": resource,
        "form": form,
        "errors": errors,
        "acting": acting,
        "item_rows": item_rows + resource_form.BLANK_ITEM_ROWS,
        "param_rows": param_rows + resource_form.BLANK_PARAM_ROWS,
        **_form_choices(db),
    }
    return web.render(request, "resources_form.html", context, status=status)


@router.get("/catalog/new", dependencies=[web.page_requires(CatalogManage)])
def new_resource(request: Request, db: DbSession) -> Response:
    form = {"share.type": ShareType.unconditional.value, "share.method": ShareMethod.api.value}
    return _resource_form(request, db, form=form, errors={}, item_rows=0, param_rows=0)


@router.post("/catalog/new", dependencies=[web.page_requires(CatalogManage)])
def create_resource(request: Request, db: DbSession, user: PortalUser, form: Form) -> Response:
    values, shown, item_rows, param_rows = resource_form.posted(form, create=True)
    known = resource_form.known_fields(shown, item_rows, param_rows)
    try:
        data = ResourceCreate.model_validate(values)
    except ValidationError as exc:
        errors = resource_form.errors(exc, known)
    else:
        try:
            created = resource_service.create(db=db, data=data, actor_id=user.id)
        except GovdxError as exc:
            web.failed(db, exc)
            errors = resource_form.errors(exc, known)
        else:
            flash = f"已登记信息资源“{created.name}”（{created.code}），当前为草稿"
            return web.redirect(request, f"/catalog/{created.id}", flash=flash)
    return _resource_form(
        request, db, form=shown, errors=errors, item_rows=item_rows, param_rows=param_rows, status=422
    )


def _managed(db: Session, user: User, resource_id: int) -> Resource:
    """The resource, as the API's route sees it: one the user may not see reads as missing."""
    return resource_service.get_visible(
        db=db, resource_id=resource_id, visible=visible_resource_statuses(user)
    )


def _edit_page(
    request: Request,
    db: Session,
    resource: Resource,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    side: dict[str, str] | None = None,
    acting: str | None = None,
    status: int = 200,
) -> Response:
    r = ResourceRead.of(resource)
    shown = form if form is not None else resource_form.prefill(r)
    item_rows, param_rows = resource_form.rows_of(shown)
    return _resource_form(
        request,
        db,
        form=shown,
        errors=errors or {},
        item_rows=item_rows,
        param_rows=param_rows,
        resource=r,
        side=side,
        acting=acting,
        status=status,
    )


@router.get("/catalog/{resource_id}/edit", dependencies=[web.page_requires(CatalogManage)])
def edit_resource(request: Request, db: DbSession, user: PortalUser, resource_id: RowId) -> Response:
    return _edit_page(request, db, _managed(db, user, resource_id))


@router.post("/catalog/{resource_id}/edit", dependencies=[web.page_requires(CatalogManage)])
def update_resource(
    request: Request, db: DbSession, user: PortalUser, resource_id: RowId, form: Form
) -> Response:
    resource = _managed(db, user, resource_id)
    values, shown, item_rows, param_rows = resource_form.posted(form, create=False)
    known = resource_form.known_fields(shown, item_rows, param_rows) | {"change_note"}
    try:
        data = ResourceUpdate.model_validate(values)
    except ValidationError as exc:
        errors = resource_form.errors(exc, known)
    else:
        try:
            resource_service.update(db=db, resource=resource, data=data, actor_id=user.id)
        except GovdxError as exc:
            web.failed(db, exc)
            errors = resource_form.errors(exc, known)
            resource = _managed(db, user, resource_id)
        else:
            return web.redirect(request, f"/catalog/{resource.id}", flash=f"已保存“{resource.name}”")
    return _edit_page(request, db, resource, form=shown, errors=errors, acting="edit", status=422)


@router.post("/catalog/{resource_id}/publish", dependencies=[web.page_requires(CatalogManage)])
def publish_resource(request: Request, db: DbSession, user: PortalUser, resource_id: RowId) -> Response:
    resource = _managed(db, user, resource_id)
    try:
        resource_service.publish(db=db, resource=resource, actor_id=user.id)
    except GovdxError as exc:
        errors = web.failed(db, exc)
        return _edit_page(
            request, db, _managed(db, user, resource_id), errors=errors, acting="publish", status=422
        )
    return web.redirect(request, f"/catalog/{resource.id}", flash=f"已发布“{resource.name}”")


@router.post("/catalog/{resource_id}/retire", dependencies=[web.page_requires(CatalogManage)])
def retire_resource(
    request: Request, db: DbSession, user: PortalUser, resource_id: RowId, form: Form
) -> Response:
    resource = _managed(db, user, resource_id)
    data, errors = web.parse(RetireIn, web.form_dict(form))
    if data is not None:
        try:
            resource_service.retire(db=db, resource=resource, reason=data.reason, actor_id=user.id)
        except GovdxError as exc:
            errors = web.failed(db, exc)
            resource = _managed(db, user, resource_id)
        else:
            return web.redirect(request, f"/catalog/{resource.id}", flash=f"已撤销“{resource.name}”")
    side = {"reason": str(form.get("reason") or "")}
    return _edit_page(request, db, resource, side=side, errors=errors, acting="retire", status=422)
