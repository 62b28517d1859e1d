"""Departments: everyone reads, catalog and platform administrators write."""

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import DbSession, DepartmentKeyPath, requires
from authz.permissions import CatalogBrowse, DepartmentManage
from catalog_schema.department import service as department_service
from catalog_schema.department.models import Department
from catalog_schema.department.schemas import DepartmentCreate, DepartmentRead, DepartmentUpdate

router = APIRouter(prefix="/departments", tags=["departments 部门"])


def _department(db: DbSession, ref: DepartmentKeyPath) -> Department:
    return department_service.get_by_ref(db=db, ref=ref)


PathDepartment = Annotated[Department, Depends(_department)]


@router.get(
    "",
    response_model=list[DepartmentRead],
    dependencies=[requires(CatalogBrowse)],
    summary="部门列表 / list departments",
)
def list_departments(db: DbSession) -> list[DepartmentRead]:
    return [DepartmentRead.of(d) for d in department_service.list_(db=db)]


@router.get(
    "/{ref}",
    response_model=DepartmentRead,
    dependencies=[requires(CatalogBrowse)],
    summary="部门详情(简码或统一社会信用代码) / one department by slug or credit code",
)
def get_department(dept: PathDepartment) -> DepartmentRead:
    return DepartmentRead.of(dept)


@router.post(
    "",
    response_model=DepartmentRead,
    status_code=201,
    dependencies=[requires(DepartmentManage)],
    summary="登记部门 / register a department",
)
def create_department(db: DbSession, data: DepartmentCreate) -> DepartmentRead:
    return DepartmentRead.of(department_service.create(db=db, data=data))


@router.patch(
    "/{ref}",
    response_model=DepartmentRead,
    dependencies=[requires(DepartmentManage)],
    summary="修改部门 / update a department",
)
def update_department(db: DbSession, dept: PathDepartment, data: DepartmentUpdate) -> DepartmentRead:
    return DepartmentRead.of(department_service.update(db=db, dept=dept, data=data))
