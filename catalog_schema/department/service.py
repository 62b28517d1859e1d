"""Reads and writes of departments."""

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from catalog_schema.department.models import Department
from catalog_schema.department.schemas import DepartmentCreate, DepartmentUpdate
from catalog_schema.errors import Conflict, NotFound


def get(*, db: Session, department_id: int) -> Department:
    """The department with this id, or NotFound."""
    dept = db.get(Department, department_id)
    if dept is None:
        raise NotFound(
            f"部门 {department_id} 不存在",
            f"department {department_id} does not exist",
            code="department_not_found",
        )
    return dept


def get_by_ref(*, db: Session, ref: str) -> Department:
    """The department named by its slug or its unified social credit code, or NotFound."""
    dept = db.scalar(select(Department).where(or_(Department.slug == ref, Department.credit_code == ref)))
    if dept is None:
        raise NotFound(
            f"部门 {ref!r} 不存在；请使用部门简码(slug)或统一社会信用代码，"
            "可通过 GET /api/v1/departments 查询",
            f"department {ref!r} does not exist; use its slug or credit code "
            "(list them with GET /api/v1/departments)",
            code="department_not_found",
        )
    return dept


def list_(*, db: Session) -> list[Department]:
    """All departments by name."""
    return list(db.scalars(select(Department).order_by(Department.slug)))


def count(*, db: Session) -> int:
    """How many departments there are."""
    return db.scalar(select(func.count()).select_from(Department)) or 0


def _ensure_unique(
    db: Session,
    *,
    slug: str | None,
    name: str | None,
    credit_code: str | None,
    exclude_id: int | None = None,
) -> None:
    checks = (
        ("slug", "部门简码", slug),
        ("name", "部门名称", name),
        ("credit_code", "统一社会信用代码", credit_code),
    )
    for column, label, value in checks:
        if value is None:
            continue
        stmt = select(Department).where(getattr(Department, column) == value)
        if exclude_id is not None:
            stmt = stmt.where(Department.id != exclude_id)
        other = db.scalar(stmt)
        if other is not None:
            raise Conflict(
                f"{label} {value!r} 已被部门“{other.name}”使用，请更换",
                f"{column} {value!r} is already used by department {other.slug!r}",
                code="department_duplicate",
            )


def create(*, db: Session, data: DepartmentCreate) -> Department:
    """Register a department; slug, name and credit code must be unused."""
    _ensure_unique(db, slug=data.slug, name=data.name, credit_code=data.credit_code)
    dept = Department(
        slug=data.slug,
        name=data.name,
        credit_code=data.credit_code,
        region_code=data.region_code,
        kind=data.kind,
        supervisor_name=data.supervisor.name,
        supervisor_phone=data.supervisor.phone,
        supervisor_email=data.supervisor.email,
    )
    db.add(dept)
    db.flush()
    return dept


def update(*, db: Session, dept: Department, data: DepartmentUpdate) -> Department:
    """Change the fields given in ``data``."""
    _ensure_unique(db, slug=None, name=data.name, credit_code=data.credit_code, exclude_id=dept.id)
    for field in {"name", "credit_code", "region_code", "kind"} & data.model_fields_set:
        setattr(dept, field, getattr(data, field))
    if "supervisor" in data.model_fields_set:
        supervisor = data.supervisor
        given = supervisor.model_fields_set if supervisor is not None else {"name", "phone", "email"}
        for part in given:
            setattr(dept, f"supervisor_{part}", getattr(supervisor, part) if supervisor else None)
    db.flush()
    return dept
