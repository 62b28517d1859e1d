"""Data elements and the one-data-one-source registry."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import (
    CurrentUser,
    DbSession,
    DepartmentKeyPath,
    DepartmentKeyQuery,
    ElementCodePath,
    Paging,
    requires,
)
from authz.permissions import CatalogBrowse, ElementManage
from catalog_schema.department import service as department_service
from catalog_schema.element import service as element_service
from catalog_schema.element.models import DataElement
from catalog_schema.element.schemas import (
    ElementCreate,
    ElementRead,
    ElementUpdate,
    PartitionRead,
    SourceRegister,
    TransferCreate,
    TransferRead,
)
from catalog_schema.errors import InvalidInput, Problem
from catalog_schema.pagination import Page, page_of
from catalog_schema.types import Library, SearchText, SourceRole

router = APIRouter(prefix="/elements", tags=["elements 数据元"])


def _element(db: DbSession, code: ElementCodePath) -> DataElement:
    return element_service.get_by_code(db=db, code=code)


PathElement = Annotated[DataElement, Depends(_element)]


@router.get(
    "",
    response_model=Page[ElementRead],
    dependencies=[requires(CatalogBrowse)],
    summary="数据元列表 / list data elements",
)
def list_elements(
    db: DbSession,
    paging: Paging,
    library: Library | None = None,
    department: DepartmentKeyQuery = None,
    role: Annotated[
        SourceRole | None, Query(description="与 department 一起使用 / used with department")
    ] = None,
    q: Annotated[SearchText | None, Query(description="名称或代码中的文字")] = None,
) -> Page[ElementRead]:
    if role is not None and department is None:
        raise InvalidInput(
            "按来源角色(role)筛选时须同时指定部门(department)",
            "the role filter needs a department to apply to",
            code="role_needs_department",
            problems=[Problem("role", "须与 department 一起使用", "use together with department")],
        )
    dept = department_service.get_by_ref(db=db, ref=department) if department else None
    elements, total = element_service.list_(
        db=db, params=paging, library=library, department=dept, role=role, q=q
    )
    return page_of([ElementRead.of(e) for e in elements], total, paging)


@router.get(
    "/partitions",
    response_model=list[PartitionRead],
    dependencies=[requires(CatalogBrowse)],
    summary="记录分区及其权威源部门 / the record partitions and their authoritative departments",
)
def list_partitions(db: DbSession, library: Library | None = None) -> list[PartitionRead]:
    """Who answers for which records: 法人库 by registering authority, 公共信用库 by kind (set by import)."""
    return [PartitionRead.of(p) for p in element_service.list_partitions(db=db, library=library)]


@router.get(
    "/{code}",
    response_model=ElementRead,
    dependencies=[requires(CatalogBrowse)],
    summary="数据元详情及来源 / one element with its sources",
)
def get_element(element: PathElement) -> ElementRead:
    return ElementRead.of(element)


@router.post(
    "",
    response_model=ElementRead,
    status_code=201,
    dependencies=[requires(ElementManage)],
    summary="登记数据元 / register a data element",
)
def create_element(db: DbSession, user: CurrentUser, data: ElementCreate) -> ElementRead:
    return ElementRead.of(element_service.create(db=db, data=data, actor_id=user.id))


@router.patch(
    "/{code}",
    response_model=ElementRead,
    dependencies=[requires(ElementManage)],
    summary="修改数据元 / update a data element",
)
def update_element(db: DbSession, element: PathElement, data: ElementUpdate) -> ElementRead:
    return ElementRead.of(element_service.update(db=db, element=element, data=data))


@router.post(
    "/{code}/sources",
    response_model=ElementRead,
    status_code=201,
    dependencies=[requires(ElementManage)],
    summary="登记来源部门(权威源或校核源) / register a source",
    responses={409: {"description": "第二个权威源被拒绝 / a second authoritative source is refused"}},
)
def register_source(
    db: DbSession, user: CurrentUser, element: PathElement, data: SourceRegister
) -> ElementRead:
    dept = department_service.get_by_ref(db=db, ref=data.department)
    element_service.register_source(db=db, element=element, department=dept, role=data.role, actor_id=user.id)
    return ElementRead.of(element)


@router.delete(
    "/{code}/sources/{department}",
    response_model=ElementRead,
    dependencies=[requires(ElementManage)],
    summary="撤销校核源 / withdraw a verification source",
)
def remove_source(db: DbSession, element: PathElement, department: DepartmentKeyPath) -> ElementRead:
    dept = department_service.get_by_ref(db=db, ref=department)
    element_service.remove_source(db=db, element=element, department=dept)
    return ElementRead.of(element)


@router.post(
    "/{code}/transfer",
    response_model=TransferRead,
    status_code=201,
    dependencies=[requires(ElementManage)],
    summary="权威源移交 / transfer ownership",
)
def transfer(db: DbSession, user: CurrentUser, element: PathElement, data: TransferCreate) -> TransferRead:
    dept = department_service.get_by_ref(db=db, ref=data.to_department)
    record = element_service.transfer_ownership(
        db=db, element=element, to_department=dept, reason=data.reason, actor_id=user.id
    )
    return TransferRead.of(element.code, record)


@router.get(
    "/{code}/transfers",
    response_model=list[TransferRead],
    dependencies=[requires(CatalogBrowse)],
    summary="权威源移交记录 / ownership transfers",
)
def list_transfers(db: DbSession, element: PathElement) -> list[TransferRead]:
    return [TransferRead.of(element.code, t) for t in element_service.list_transfers(db=db, element=element)]
