"""The data-element registry: elements with their sources, the elements still without an
authoritative source, and registering, removing and transferring sources (一数一源).

Each page calls the service function of its JSON API route with the same permission rule.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import DbSession, DepartmentKeyPath, ElementCodePath, Paging
from api.portal import web
from api.portal.web import Form, PortalUser, options
from authz.permissions import ElementManage
from catalog_schema.department import service as department_service
from catalog_schema.element import service as element_service
from catalog_schema.element.models import DataElement
from catalog_schema.element.schemas import (
    ElementRead,
    PartitionRead,
    SourceRegister,
    TransferCreate,
    TransferRead,
)
from catalog_schema.errors import GovdxError
from catalog_schema.pagination import PageParams, page_of
from catalog_schema.types import Library, SearchText, SourceRole

router = APIRouter()

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
    return web.render(request, "elements_list.html", context, status=status)


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
    # A library split by record: who answers for which of its records (the kept elements' real sources).
    partitions = [
        PartitionRead.of(p) for p in element_service.list_partitions(db=db, library=element.library)
    ]
    context = {
        "title": f"数据元 {e.name}",
        "e": e,
        "partitions": partitions,
        "transfers": transfers,
        "acting": acting,
        "errors": errors or {},
        "form": form or {},
        "roles": options(SourceRole),
        "departments": web.department_options(db),
    }
    return web.render(request, "elements_element.html", context, status=status)


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
