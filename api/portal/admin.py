"""The catalog administrator's pages: register and edit resources, the data-element registry, batches
with their quality reports, the quarantine, and discrepancy tickets.

Each page calls the service function of its JSON API route with the same permission rule (and, for
tickets, the same department scope), so a page shows nothing its reader could not get from the API.
"""

import re
from collections.abc import Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.deps import CurrentKeyring, DbSession, DepartmentKeyPath, ElementCodePath, Paging, RowId
from api.portal import web
from api.portal.web import Form, PortalUser, options
from api.routes import pipelines as pipeline_routes
from authz import permissions
from authz.clock import flows as clock_flows
from authz.clock import service as clock_service
from authz.permissions import (
    CatalogManage,
    ElementManage,
    PipelineRead,
    QuarantineManage,
    visible_resource_statuses,
)
from authz.sharing import service as sharing_service
from catalog_schema.department import service as department_service
from catalog_schema.element import service as element_service
from catalog_schema.element.models import DataElement
from catalog_schema.element.schemas import ElementRead, SourceRegister, TransferCreate, TransferRead
from catalog_schema.errors import GovdxError, Problem
from catalog_schema.library import service as library_service
from catalog_schema.library.models import Discrepancy, IngestBatch, QuarantinedRow
from catalog_schema.library.schemas import BatchRead, Discard, DiscrepancyRead, QuarantinedRowRead
from catalog_schema.library.schemas import DiscrepancyResolve as DiscrepancyResolution
from catalog_schema.pagination import PageParams, page_of
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import ResourceCreate, ResourceRead, ResourceUpdate, RetireIn
from catalog_schema.types import (
    BatchStatus,
    ControlParamKind,
    DataType,
    DiscrepancyStatus,
    Library,
    QuarantineQueue,
    QuarantineStatus,
    ResourceClass,
    ResourceFormat,
    SearchText,
    ShareMethod,
    ShareType,
    SourceRole,
    UpdateCycle,
)
from catalog_schema.user.models import User
from catalog_schema.validation import problems_from

router = APIRouter()

ITEM_FIELDS = ("name", "data_type", "length", "element", "description")
PARAM_FIELDS = ("kind", "value")
BLANK_ITEM_ROWS = 3
BLANK_PARAM_ROWS = 1
_ROW = re.compile(r"^(items|control_params)\[(\d{1,3})\]\.([a-z_]+)$")
# Errors about a whole part of the form, shown at the top of that part.
_SECTIONS = ("category", "share", "open", "items", "control_params", "related")


# ---- the resource form ---------------------------------------------------------------------------


def _flat(form: FormData) -> dict[str, str]:
    return {
        key: value.strip()
        for key in form
        if key != web.CSRF_FIELD and isinstance(value := form.get(key), str)
    }


def _rows(
    flat: dict[str, str], name: str, fields: tuple[str, ...], filled: tuple[str, ...]
) -> list[dict[str, str]]:
    """The rows of a table field in their order, leaving out rows whose ``filled`` cells are blank."""
    found: dict[int, dict[str, str]] = {}
    for key, value in flat.items():
        match = _ROW.match(key)
        if match and match[1] == name and match[3] in fields:
            found.setdefault(int(match[2]), {})[match[3]] = value
    return [row for _, row in sorted(found.items()) if any(row.get(f) for f in filled)]


def _compact(flat: dict[str, str]) -> tuple[dict[str, str], list[dict[str, str]], list[dict[str, str]]]:
    """The form with its table rows renumbered without the blank ones, so errors meet their rows."""
    items = _rows(flat, "items", ITEM_FIELDS, ("name", "length", "element", "description"))
    params = _rows(flat, "control_params", PARAM_FIELDS, ("value",))
    shown = {k: v for k, v in flat.items() if not _ROW.match(k)}
    for name, rows in (("items", items), ("control_params", params)):
        for i, row in enumerate(rows):
            shown.update({f"{name}[{i}].{field}": value for field, value in row.items()})
    return shown, items, params


def _drop_blank(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v not in (None, "")}


def _resource_values(form: FormData, *, create: bool) -> tuple[dict[str, Any], dict[str, str], int, int]:
    """The posted form as ``ResourceCreate``/``ResourceUpdate`` input, and the form to show again.

    A blank optional field is left out of a new resource and clears it on an edit; a blank required
    text is sent as "" on an edit, so the schema says it cannot be empty.
    """
    shown, items, params = _compact(_flat(form))

    def text(name: str, *, required: bool = False) -> str | None:
        value = shown.get(name) or None
        return "" if value is None and required and not create else value

    related = [c for c in re.split(r"[\s,，、;；]+", shown.get("related", "")) if c]
    values: dict[str, Any] = {
        "name": text("name", required=True),
        "abstract": text("abstract", required=True),
        "format": text("format"),
        "format_detail": text("format_detail"),
        "share": {
            "type": text("share.type"),
            "condition": text("share.condition"),
            "legal_basis": text("share.legal_basis"),
            "method": text("share.method"),
        },
        "open": {"open": bool(shown.get("open.open")), "condition": text("open.condition")},
        "update_cycle": text("update_cycle"),
        "published_on": text("published_on"),
        "related": related,
        "control_params": [_drop_blank(p) for p in params],
        "items": [_drop_blank(i) for i in items],
    }
    values["share"] = _drop_blank(values["share"])
    values["open"] = _drop_blank(values["open"])
    if create:
        values["category"] = _drop_blank(
            {
                "class": text("category.class"),
                "item": text("category.item"),
                "catalog": text("category.catalog"),
                "detail": text("category.detail") or "",
            }
        )
        values["provider"] = text("provider")
        values = _drop_blank(values)
    else:
        if note := text("change_note"):
            values["change_note"] = note
    return values, shown, len(items), len(params)


def _place(path: str, known: set[str]) -> str:
    """The form field a problem's path points at: itself, or the nearest enclosing field shown."""
    while path:
        if path in known:
            return path
        cut = max(path.rfind("."), path.rfind("["))
        if cut <= 0:
            break
        path = path[:cut]
    return ""


def _errors_at(problems: Iterable[Problem], known: set[str], summary: str) -> dict[str, str]:
    """Errors by the full path of their field (``items[2].element``, ``share.condition``)."""
    errors: dict[str, str] = {}
    for p in problems:
        field = _place(p.path, known)
        errors[field] = f"{errors[field]}；{p.message}" if field in errors else p.message
    errors[""] = f"{summary}；{errors['']}" if "" in errors else summary
    return errors


def _resource_errors(exc: ValidationError | GovdxError, known: set[str]) -> dict[str, str]:
    if isinstance(exc, ValidationError):
        return _errors_at(problems_from(exc), known, "提交的内容有误，请按提示更正标出的字段")
    return _errors_at(exc.problems, known, exc.message)


def _known_fields(shown: dict[str, str], item_rows: int, param_rows: int) -> set[str]:
    known = set(shown) | set(_SECTIONS)
    known |= {f"items[{i}].{f}" for i in range(item_rows) for f in ITEM_FIELDS}
    known |= {f"control_params[{i}].{f}" for i in range(param_rows) for f in PARAM_FIELDS}
    return known | {"name", "abstract", "format", "format_detail", "update_cycle", "published_on", "provider"}


def _form_choices(db: Session) -> dict[str, Any]:
    return {
        "classes": options(ResourceClass),
        "formats": options(ResourceFormat),
        "share_types": options(ShareType),
        "share_methods": options(ShareMethod),
        "cycles": options(UpdateCycle),
        "data_types": [(t.value, f"{t.value} {t.label}") for t in DataType],
        "param_kinds": options(ControlParamKind),
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
        "item_rows": item_rows + BLANK_ITEM_ROWS,
        "param_rows": param_rows + BLANK_PARAM_ROWS,
        **_form_choices(db),
    }
    return web.render(request, "admin_resource_form.html", context, status=status)


@router.get("/catalog/new", dependencies=[web.page_requires(CatalogManage)])
def new_resource(request: Request, db: DbSession) -> Response:
    form = {"share.type": ShareType.unconditional.value, "share.method": ShareMethod.api.value}
    return _resource_form(request, db, form=form, errors={}, item_rows=0, param_rows=0)


@router.post("/catalog/new", dependencies=[web.page_requires(CatalogManage)])
def create_resource(request: Request, db: DbSession, user: PortalUser, form: Form) -> Response:
    values, shown, item_rows, param_rows = _resource_values(form, create=True)
    known = _known_fields(shown, item_rows, param_rows)
    try:
        data = ResourceCreate.model_validate(values)
    except ValidationError as exc:
        errors = _resource_errors(exc, known)
    else:
        try:
            created = resource_service.create(db=db, data=data, actor_id=user.id)
        except GovdxError as exc:
            web.failed(db, exc)
            errors = _resource_errors(exc, known)
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


def _prefill(r: ResourceRead) -> dict[str, str]:
    form: dict[str, str] = {
        "name": r.name,
        "abstract": r.abstract,
        "format": r.format.value,
        "format_detail": r.format_detail or "",
        "share.type": r.share.type.value,
        "share.condition": r.share.condition or "",
        "share.legal_basis": r.share.legal_basis or "",
        "share.method": r.share.method.value,
        "open.condition": r.open.condition or "",
        "update_cycle": r.update_cycle.value,
        "published_on": r.published_on.isoformat() if r.published_on else "",
        "related": "\n".join(r.related),
    }
    if r.open.open:
        form["open.open"] = "1"
    for i, p in enumerate(r.control_params):
        form |= {f"control_params[{i}].kind": p.kind.value, f"control_params[{i}].value": p.value}
    for i, item in enumerate(r.items):
        form |= {
            f"items[{i}].name": item.name,
            f"items[{i}].data_type": item.data_type.value,
            f"items[{i}].length": str(item.length) if item.length else "",
            f"items[{i}].element": item.element.code if item.element else "",
            f"items[{i}].description": item.description or "",
        }
    return form


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
    shown = form if form is not None else _prefill(r)
    item_rows = max([int(m[2]) + 1 for k in shown if (m := _ROW.match(k)) and m[1] == "items"], default=0)
    param_rows = max(
        [int(m[2]) + 1 for k in shown if (m := _ROW.match(k)) and m[1] == "control_params"], default=0
    )
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
    values, shown, item_rows, param_rows = _resource_values(form, create=False)
    known = _known_fields(shown, item_rows, param_rows) | {"change_note"}
    try:
        data = ResourceUpdate.model_validate(values)
    except ValidationError as exc:
        errors = _resource_errors(exc, known)
    else:
        try:
            resource_service.update(db=db, resource=resource, data=data, actor_id=user.id)
        except GovdxError as exc:
            web.failed(db, exc)
            errors = _resource_errors(exc, known)
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


# ---- data elements and their sources -------------------------------------------------------------

GAPS_SHOWN = 20


@router.get("/elements", dependencies=[web.page_requires(ElementManage)])
def list_elements(
    request: Request,
    db: DbSession,
    paging: Paging,
    library: Library | None = None,
    department: Annotated[str | None, Query(max_length=32, pattern=r"^[A-Za-z0-9_]*$")] = None,
    role: SourceRole | None = None,
    q: Annotated[SearchText | None, Query()] = None,
) -> Response:
    chosen = {k: v for k, v in request.query_params.items() if k != "page" and v}
    errors: dict[str, str] = {}
    elements: list[DataElement] = []
    total, status = 0, 200
    if role is not None and not department:
        # As the API: a role filter applies to a department.
        errors["role"] = "按来源角色筛选时须同时选择部门"
        status = 422
    else:
        dept = department_service.get_by_ref(db=db, ref=department) if department else None
        elements, total = element_service.list_(
            db=db, params=paging, library=library, department=dept, role=role, q=q or None
        )
    gaps, gap_total = element_service.without_authoritative(db=db, params=PageParams(page_size=GAPS_SHOWN))
    context = {
        "title": "数据元登记",
        "page": page_of([ElementRead.of(e) for e in elements], total, paging),
        "gaps": gaps,
        "gap_total": gap_total,
        "form": chosen,
        "errors": errors,
        "libraries": options(Library),
        "roles": options(SourceRole),
        "departments": web.department_options(db),
        "base": web.page_base("/elements", chosen),
    }
    return web.render(request, "admin_elements.html", context, status=status)


def _element_page(
    request: Request,
    db: Session,
    element: DataElement,
    *,
    errors: dict[str, str] | None = None,
    acting: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    transfers = [
        TransferRead.of(element.code, t) for t in element_service.list_transfers(db=db, element=element)
    ]
    e = ElementRead.of(element)
    context = {
        "title": f"数据元 {e.name}",
        "e": e,
        "transfers": transfers,
        "acting": acting,
        "errors": errors or {},
        "form": form or {},
        "roles": options(SourceRole),
        "departments": web.department_options(db),
    }
    return web.render(request, "admin_element.html", context, status=status)


@router.get("/elements/{code}", dependencies=[web.page_requires(ElementManage)])
def element_page(request: Request, db: DbSession, code: ElementCodePath) -> Response:
    return _element_page(request, db, element_service.get_by_code(db=db, code=code))


@router.post("/elements/{code}/sources", dependencies=[web.page_requires(ElementManage)])
def register_source(
    request: Request, db: DbSession, user: PortalUser, code: ElementCodePath, form: Form
) -> Response:
    element = element_service.get_by_code(db=db, code=code)
    values = web.form_dict(form)
    data, errors = web.parse(SourceRegister, values)
    if data is not None:
        try:
            dept = department_service.get_by_ref(db=db, ref=data.department)
            element_service.register_source(
                db=db, element=element, department=dept, role=data.role, actor_id=user.id
            )
        except GovdxError as exc:
            errors = web.failed(db, exc)
            element = element_service.get_by_code(db=db, code=code)
        else:
            flash = f"已将“{dept.name}”登记为 {element.code} 的{data.role.label}"
            return web.redirect(request, f"/elements/{element.code}", flash=flash)
    return _element_page(request, db, element, errors=errors, acting="source", form=values, status=422)


@router.post("/elements/{code}/sources/{department}/remove", dependencies=[web.page_requires(ElementManage)])
def remove_source(
    request: Request, db: DbSession, code: ElementCodePath, department: DepartmentKeyPath
) -> Response:
    element = element_service.get_by_code(db=db, code=code)
    try:
        dept = department_service.get_by_ref(db=db, ref=department)
        element_service.remove_source(db=db, element=element, department=dept)
    except GovdxError as exc:
        errors = web.failed(db, exc)
        element = element_service.get_by_code(db=db, code=code)
        return _element_page(request, db, element, errors=errors, acting="remove", status=422)
    return web.redirect(request, f"/elements/{element.code}", flash=f"已撤销“{dept.name}”的校核源登记")


@router.post("/elements/{code}/transfer", dependencies=[web.page_requires(ElementManage)])
def transfer(
    request: Request, db: DbSession, user: PortalUser, code: ElementCodePath, form: Form
) -> Response:
    element = element_service.get_by_code(db=db, code=code)
    values = web.form_dict(form)
    data, errors = web.parse(TransferCreate, values)
    if data is not None:
        try:
            dept = department_service.get_by_ref(db=db, ref=data.to_department)
            element_service.transfer_ownership(
                db=db, element=element, to_department=dept, reason=data.reason, actor_id=user.id
            )
        except GovdxError as exc:
            errors = web.failed(db, exc)
            element = element_service.get_by_code(db=db, code=code)
        else:
            flash = f"已将 {element.code} 的权威源移交给“{dept.name}”"
            return web.redirect(request, f"/elements/{element.code}", flash=flash)
    return _element_page(request, db, element, errors=errors, acting="transfer", form=values, status=422)


# ---- batches and their quality reports -----------------------------------------------------------

SourceQuery = Annotated[str | None, Query(max_length=64, pattern=r"^([a-z][a-z0-9_]*)?$")]
API_DOCS, PORTAL_DOCS = "/api/v1/quality-docs/", "/quality-docs/"


def _batch_read(batch: IngestBatch) -> BatchRead:
    """The API's batch, its quality report linked through the portal (a browser has no bearer token)."""
    read = BatchRead.of(batch)
    if read.quality_report and read.quality_report.startswith(API_DOCS):
        read = read.model_copy(update={"quality_report": PORTAL_DOCS + read.quality_report[len(API_DOCS) :]})
    return read


@router.get("/batches", dependencies=[web.page_requires(PipelineRead)])
def list_batches(
    request: Request,
    db: DbSession,
    paging: Paging,
    source: SourceQuery = None,
    library: Library | None = None,
    status: BatchStatus | None = None,
) -> Response:
    batches, total = library_service.list_batches(
        db=db, params=paging, source=source or None, library=library, status=status
    )
    chosen = {k: v for k, v in request.query_params.items() if k != "page" and v}
    context = {
        "title": "归集批次",
        "page": page_of([_batch_read(b) for b in batches], total, paging),
        "form": chosen,
        "libraries": options(Library),
        "statuses": options(BatchStatus),
        "base": web.page_base("/batches", chosen),
    }
    return web.render(request, "admin_batches.html", context)


@router.get("/batches/{batch_id}", dependencies=[web.page_requires(PipelineRead)])
def batch_page(request: Request, db: DbSession, batch_id: RowId) -> Response:
    b = _batch_read(library_service.get_batch(db=db, batch_id=batch_id))
    return web.render(request, "admin_batch.html", {"title": f"归集批次 {b.id}", "b": b})


@router.get("/quality-docs/{path:path}", dependencies=[web.page_requires(PipelineRead)])
def quality_docs(path: str) -> FileResponse:
    # The API route's own function: the same folder and the same guard against leaving it.
    return pipeline_routes.quality_docs(path)


# ---- the quarantine ------------------------------------------------------------------------------


def _quarantine_context(user: User) -> dict[str, Any]:
    return {
        "can_discard": QuarantineManage.allows(user),
        "queues": options(QuarantineQueue),
        "statuses": options(QuarantineStatus),
        "libraries": options(Library),
    }


@router.get("/quarantine", dependencies=[web.page_requires(PipelineRead)])
def list_quarantine(
    request: Request,
    db: DbSession,
    user: PortalUser,
    keyring: CurrentKeyring,
    paging: Paging,
    source: SourceQuery = None,
    queue: QuarantineQueue | None = None,
    status: QuarantineStatus = QuarantineStatus.open,
    rule: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]*$")] = None,
    batch_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    rows, total = library_service.list_quarantine(
        db=db,
        params=paging,
        source=source or None,
        queue=queue,
        status=status,
        rule=rule or None,
        batch_id=batch_id,
    )
    chosen = {k: v for k, v in request.query_params.items() if k != "page" and v}
    context = {
        "title": "隔离区",
        "page": page_of([QuarantinedRowRead.of(r, keyring=keyring) for r in rows], total, paging),
        "form": {"status": status.value, **chosen},
        "base": web.page_base("/quarantine", chosen),
        **_quarantine_context(user),
    }
    return web.render(request, "admin_quarantine.html", context)


def _quarantined_page(
    request: Request,
    row: QuarantinedRow,
    user: User,
    keyring: Any,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "title": f"隔离记录 {row.id}",
        "q": QuarantinedRowRead.of(row, keyring=keyring),
        "errors": errors or {},
        "form": form or {},
        **_quarantine_context(user),
    }
    return web.render(request, "admin_quarantined.html", context, status=status)


@router.get("/quarantine/{row_id}", dependencies=[web.page_requires(PipelineRead)])
def quarantined_page(
    request: Request, db: DbSession, user: PortalUser, keyring: CurrentKeyring, row_id: RowId
) -> Response:
    return _quarantined_page(request, library_service.get_quarantined(db=db, row_id=row_id), user, keyring)


@router.post("/quarantine/{row_id}/discard", dependencies=[web.page_requires(QuarantineManage)])
def discard(
    request: Request, db: DbSession, user: PortalUser, keyring: CurrentKeyring, row_id: RowId, form: Form
) -> Response:
    row = library_service.get_quarantined(db=db, row_id=row_id)
    values = web.form_dict(form)
    data, errors = web.parse(Discard, values)
    if data is not None:
        try:
            library_service.discard(db=db, row=row, note=data.note, user=user)
        except GovdxError as exc:
            errors = web.failed(db, exc)
            row = library_service.get_quarantined(db=db, row_id=row_id)
        else:
            return web.redirect(request, "/quarantine", flash=f"已废弃隔离记录 {row.id}")
    return _quarantined_page(request, row, user, keyring, errors=errors, form=values, status=422)


# ---- discrepancy tickets -------------------------------------------------------------------------


def _ticket_clocks(db: Session, tickets: list[Discrepancy]) -> dict[int, dict[str, Any]]:
    """Each ticket's feedback clock (its ClockStage, once the clock job put it on one) by ticket id."""
    if not tickets:
        return {}
    stages = clock_service.stages_of_tickets(db=db, ticket_ids=[t.id for t in tickets])
    if not stages:
        return {}
    calendar = sharing_service.calendar(db=db)
    return {s.discrepancy_id: web.clock(s, calendar) for s in stages if s.discrepancy_id is not None}


def _department_names(db: Session) -> dict[str, str]:
    return dict(web.department_options(db))


@router.get("/discrepancies", dependencies=[web.page_requires(permissions.DiscrepancyRead)])
def list_discrepancies(
    request: Request,
    db: DbSession,
    user: PortalUser,
    keyring: CurrentKeyring,
    paging: Paging,
    status: DiscrepancyStatus | None = None,
    library: Library | None = None,
    element: Annotated[str | None, Query(max_length=64)] = None,
    subject_key: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    tickets, total = library_service.list_discrepancies(
        db=db,
        keyring=keyring,
        params=paging,
        department_id=permissions.department_scope(user),
        status=status,
        library=library,
        element=element or None,
        subject_key=subject_key or None,
    )
    chosen = {k: v for k, v in request.query_params.items() if k != "page" and v}
    context = {
        "title": "差异工单",
        "page": page_of([DiscrepancyRead.of(t, keyring=keyring) for t in tickets], total, paging),
        "clocks": _ticket_clocks(db, tickets),
        "names": _department_names(db),
        "form": chosen,
        "statuses": options(DiscrepancyStatus),
        "libraries": options(Library),
        "base": web.page_base("/discrepancies", chosen),
    }
    return web.render(request, "admin_discrepancies.html", context)


def _ticket_page(
    request: Request,
    db: Session,
    ticket: Discrepancy,
    user: User,
    keyring: Any,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    allowed = library_service.ALLOWED_RESOLUTIONS.get(ticket.status, set())
    can_resolve = permissions.DiscrepancyResolve.allows(user) and bool(allowed)
    context = {
        "title": f"差异工单 {ticket.id}",
        "t": DiscrepancyRead.of(ticket, keyring=keyring),
        "clock": _ticket_clocks(db, [ticket]).get(ticket.id),
        "names": _department_names(db),
        "can_resolve": can_resolve,
        "resolutions": [(s.value, s.label) for s in DiscrepancyStatus if s in allowed],
        "errors": errors or {},
        "form": form or {},
    }
    return web.render(request, "admin_discrepancy.html", context, status=status)


def _ticket(db: Session, user: User, ticket_id: int) -> Discrepancy:
    # The API's scope: department staff reach only tickets naming their department.
    return library_service.get_discrepancy(
        db=db, ticket_id=ticket_id, department_id=permissions.department_scope(user)
    )


@router.get("/discrepancies/{ticket_id}", dependencies=[web.page_requires(permissions.DiscrepancyRead)])
def ticket_page(
    request: Request, db: DbSession, user: PortalUser, keyring: CurrentKeyring, ticket_id: RowId
) -> Response:
    return _ticket_page(request, db, _ticket(db, user, ticket_id), user, keyring)


@router.post(
    "/discrepancies/{ticket_id}/resolve", dependencies=[web.page_requires(permissions.DiscrepancyResolve)]
)
def resolve(
    request: Request, db: DbSession, user: PortalUser, keyring: CurrentKeyring, ticket_id: RowId, form: Form
) -> Response:
    ticket = _ticket(db, user, ticket_id)
    values = web.form_dict(form)
    data, errors = web.parse(DiscrepancyResolution, values)
    if data is not None:
        try:
            clock_flows.resolve(db=db, ticket=ticket, data=data, user=user)
        except GovdxError as exc:
            errors = web.failed(db, exc)
            ticket = _ticket(db, user, ticket_id)
        else:
            flash = f"工单 {ticket.id} 已处理：{data.status.label}"
            return web.redirect(request, f"/discrepancies/{ticket.id}", flash=flash)
    return _ticket_page(request, db, ticket, user, keyring, errors=errors, form=values, status=422)
