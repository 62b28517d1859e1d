"""The one-data-one-source registry: elements, their authoritative and verification sources.

一数一源、多源校核 (seeds/002 §六(二)1): each element has exactly one authoritative provider;
any other provider is a verification source compared against it; moving ownership is an
explicit, recorded administrator action. The partial unique index on ``element_sources``
holds the first rule in the database too, so two concurrent registrations cannot both win.

Where a library's records are split among departments (the 法人库 by registering authority, the
公共信用库 by kind of decision), its common elements are kept by the platform department and each
record partition has one authoritative department (``RecordPartition``, unique per library and code).
"""

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog_schema.department import service as department_service
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement, ElementSource, OwnershipTransfer, RecordPartition
from catalog_schema.element.schemas import ElementCreate, ElementUpdate, PartitionCreate
from catalog_schema.errors import Conflict, InvalidInput, NotFound, Problem
from catalog_schema.pagination import PageParams, paginate
from catalog_schema.resource.models import ResourceItem
from catalog_schema.types import ID_CARRYING_ELEMENTS, Library, Sensitivity, SourceRole


def carries_id_number(code: str, standard: str | None) -> bool:
    """Whether an element can hold a person's 公民身份号码 (GB 11643): by its code or its cited standard."""
    return code in ID_CARRYING_ELEMENTS or "11643" in (standard or "")


def _check_grade(code: str, standard: str | None, sensitivity: Sensitivity) -> None:
    """An element that can hold an ID number is graded 高度敏感, as the data plane masks it."""
    if sensitivity is not Sensitivity.highly_sensitive and carries_id_number(code, standard):
        raise InvalidInput(
            f"数据元 {code} 可能包含公民身份号码，敏感级别须为“高度敏感”",
            f"data element {code} can hold ID numbers and must be graded highly_sensitive",
            code="id_element_grade",
            problems=[Problem("sensitivity", "须为高度敏感", "must be highly_sensitive")],
        )


def get_by_code(*, db: Session, code: str) -> DataElement:
    """The element with this code, or NotFound."""
    element = db.scalar(select(DataElement).where(DataElement.code == code))
    if element is None:
        raise NotFound(
            f"数据元 {code!r} 不存在，可通过 GET /api/v1/elements 查询已登记的数据元",
            f"data element {code!r} does not exist (list them with GET /api/v1/elements)",
            code="element_not_found",
        )
    return element


def list_(
    *,
    db: Session,
    params: PageParams,
    library: Library | None = None,
    department: Department | None = None,
    role: SourceRole | None = None,
    q: str | None = None,
) -> tuple[list[DataElement], int]:
    """A page of elements, filtered by library, providing department and role, and text."""
    stmt = select(DataElement).order_by(DataElement.code)
    if library is not None:
        stmt = stmt.where(DataElement.library == library)
    if department is not None:
        sources = select(ElementSource.element_id).where(ElementSource.department_id == department.id)
        if role is not None:
            sources = sources.where(ElementSource.role == role)
        stmt = stmt.where(DataElement.id.in_(sources))
    if q:
        text = q.strip()
        stmt = stmt.where(
            or_(
                DataElement.name.icontains(text, autoescape=True),
                DataElement.code.icontains(text, autoescape=True),
            )
        )
    return paginate(db, stmt, params)


def without_authoritative(*, db: Session, params: PageParams) -> tuple[list[DataElement], int]:
    """A page of elements with no authoritative source (one-data-one-source gaps), by code."""
    owned = select(ElementSource.element_id).where(ElementSource.role == SourceRole.authoritative)
    stmt = select(DataElement).where(DataElement.id.not_in(owned)).order_by(DataElement.code)
    return paginate(db, stmt, params)


def create(*, db: Session, data: ElementCreate, actor_id: int | None = None) -> DataElement:
    """Register an element with its authoritative source and any verification sources."""
    if db.scalar(select(DataElement.id).where(DataElement.code == data.code)) is not None:
        raise Conflict(
            f"数据元代码 {data.code!r} 已存在，请更换代码或修改已有数据元",
            f"data element code {data.code!r} already exists; choose another or update that element",
            code="element_duplicate",
        )
    _check_grade(data.code, data.standard, data.sensitivity)
    owner = department_service.get_by_ref(db=db, ref=data.authoritative)
    verifiers = [department_service.get_by_ref(db=db, ref=ref) for ref in data.verification]
    element = DataElement(
        code=data.code,
        name=data.name,
        library=data.library,
        data_type=data.data_type,
        length=data.length,
        standard=data.standard,
        sensitivity=data.sensitivity,
        description=data.description,
    )
    db.add(element)
    db.flush()
    register_source(
        db=db, element=element, department=owner, role=SourceRole.authoritative, actor_id=actor_id
    )
    for dept in verifiers:
        register_source(
            db=db, element=element, department=dept, role=SourceRole.verification, actor_id=actor_id
        )
    return element


def update(*, db: Session, element: DataElement, data: ElementUpdate) -> DataElement:
    """Change descriptive fields; the data type only while no information item binds the element."""
    if data.data_type is not None and data.data_type is not element.data_type:
        bound = db.scalar(select(ResourceItem.id).where(ResourceItem.element_id == element.id).limit(1))
        if bound is not None:
            raise Conflict(
                f"数据元 {element.code} 已被信息项引用，不能修改数据类型；请先调整引用它的信息项",
                f"data element {element.code} is bound by information items; its data type cannot "
                "change until those items are changed",
                code="element_type_in_use",
            )
    given = data.model_fields_set
    _check_grade(
        element.code,
        data.standard if "standard" in given else element.standard,
        data.sensitivity if data.sensitivity is not None else element.sensitivity,
    )
    for field in given:
        setattr(element, field, getattr(data, field))
    db.flush()
    return element


def _lock(db: Session, element: DataElement) -> None:
    """Hold the element's row until the transaction ends, and read its sources afresh.

    Registrations and transfers of one element then run one after the other, so each sees the
    owner the previous one left (PostgreSQL row lock; SQLite writers are serialised already).
    """
    db.refresh(element, with_for_update=True)


def _second_owner_refused(element: DataElement, department: Department) -> Conflict:
    owner = element.authoritative_source
    assert owner is not None
    return Conflict(
        f"数据元“{element.name}”({element.code})已有权威源部门“{owner.department.name}”，"
        f"一个数据元只能有一个权威源。请将“{department.name}”登记为校核源，"
        "或请平台数据管理员办理权威源移交。",
        f"data element {element.code} ({element.name}) already has an authoritative source: "
        f"{owner.department.slug} ({owner.department.name}). An element has exactly one. "
        f"Register {department.slug} as a verification source instead, or ask the catalog "
        f"administrator to transfer ownership (POST /api/v1/elements/{element.code}/transfer).",
        code="second_authoritative_source",
        extra={"element": element.code, "current_owner": owner.department.slug},
    )


def register_source(
    *,
    db: Session,
    element: DataElement,
    department: Department,
    role: SourceRole,
    actor_id: int | None = None,
) -> ElementSource:
    """Add a provider of ``element``; a second authoritative provider is refused."""
    _lock(db, element)
    existing = next((s for s in element.sources if s.department_id == department.id), None)
    if role is SourceRole.authoritative and element.authoritative_source is not None:
        if existing is not None and existing.role is SourceRole.authoritative:
            raise Conflict(
                f"“{department.name}”已是数据元 {element.code} 的权威源",
                f"{department.slug} is already the authoritative source of {element.code}",
                code="source_already_registered",
            )
        raise _second_owner_refused(element, department)
    if existing is not None:
        raise Conflict(
            f"“{department.name}”已登记为数据元 {element.code} 的{existing.role.label}",
            f"{department.slug} is already registered as {existing.role.value} source of {element.code}",
            code="source_already_registered",
        )
    # A concurrent writer that slips past these checks meets the partial unique index (409 by the API).
    source = ElementSource(element=element, department=department, role=role, registered_by_id=actor_id)
    db.add(source)
    db.flush()
    return source


def remove_source(*, db: Session, element: DataElement, department: Department) -> None:
    """Withdraw a verification source; the authoritative source can only be transferred."""
    _lock(db, element)
    source = next((s for s in element.sources if s.department_id == department.id), None)
    if source is None:
        raise NotFound(
            f"“{department.name}”不是数据元 {element.code} 的来源部门",
            f"{department.slug} is not a source of {element.code}",
            code="source_not_found",
        )
    if source.role is SourceRole.authoritative:
        raise Conflict(
            "权威源不能直接删除，请办理权威源移交",
            "the authoritative source cannot be removed; transfer ownership instead",
            code="authoritative_source_removal",
        )
    element.sources.remove(source)
    db.flush()


def transfer_ownership(
    *,
    db: Session,
    element: DataElement,
    to_department: Department,
    reason: str,
    actor_id: int | None = None,
) -> OwnershipTransfer:
    """Make ``to_department`` the authoritative source; the previous owner stays as a verifier."""
    _lock(db, element)
    if not reason or not reason.strip():
        raise InvalidInput(
            "权威源移交必须填写原因", "an ownership transfer needs a reason", code="reason_required"
        )
    current = element.authoritative_source
    if current is None:
        raise Conflict(
            f"数据元 {element.code} 尚无权威源，请直接登记权威源",
            f"{element.code} has no authoritative source; register one",
            code="no_authoritative_source",
        )
    if current.department_id == to_department.id:
        raise Conflict(
            f"“{to_department.name}”已是数据元 {element.code} 的权威源",
            f"{to_department.slug} already owns {element.code}",
            code="source_already_registered",
        )
    previous = current.department
    current.role = SourceRole.verification
    db.flush()  # the partial unique index must see the old owner gone before the new one
    target = next((s for s in element.sources if s.department_id == to_department.id), None)
    if target is None:
        target = ElementSource(
            element=element,
            department=to_department,
            role=SourceRole.authoritative,
            registered_by_id=actor_id,
        )
        db.add(target)
    else:
        target.role = SourceRole.authoritative
    transfer = OwnershipTransfer(
        element_id=element.id,
        from_department=previous,
        to_department=to_department,
        reason=reason.strip(),
        transferred_by_id=actor_id,
    )
    db.add(transfer)
    db.flush()
    return transfer


def list_transfers(*, db: Session, element: DataElement) -> list[OwnershipTransfer]:
    """The recorded ownership transfers of ``element``, oldest first."""
    stmt = (
        select(OwnershipTransfer)
        .where(OwnershipTransfer.element_id == element.id)
        .order_by(OwnershipTransfer.transferred_at, OwnershipTransfer.id)
    )
    return list(db.scalars(stmt))


# -- record partitions -------------------------------------------------------------------------------


def list_partitions(*, db: Session, library: Library | None = None) -> list[RecordPartition]:
    """The record partitions, of one library or all, by library and code."""
    stmt = select(RecordPartition).order_by(RecordPartition.library, RecordPartition.code)
    if library is not None:
        stmt = stmt.where(RecordPartition.library == library)
    return list(db.scalars(stmt))


def partition_holders(*, db: Session, library: Library, codes: list[str]) -> dict[str, int]:
    """The authoritative department id of each of ``codes`` that is a registered partition of ``library``."""
    rows = db.execute(
        select(RecordPartition.code, RecordPartition.department_id).where(
            RecordPartition.library == library, RecordPartition.code.in_(codes)
        )
    )
    return {code: department_id for code, department_id in rows}


def holds_partition(*, db: Session, library: Library, department_id: int) -> bool:
    """Whether the department is the authoritative source of some partition of ``library``'s records."""
    stmt = select(RecordPartition.id).where(
        RecordPartition.library == library, RecordPartition.department_id == department_id
    )
    return db.scalar(stmt.limit(1)) is not None


def register_partition(*, db: Session, data: PartitionCreate) -> tuple[RecordPartition, bool]:
    """Register a partition's authoritative department, or rename it; (partition, changed).

    A partition already held by another department is refused, as a second authoritative source
    of an element is: one partition, one source.
    """
    department = department_service.get_by_ref(db=db, ref=data.authoritative)
    partition = db.scalar(
        select(RecordPartition)
        .where(RecordPartition.library == data.library, RecordPartition.code == data.code)
        .with_for_update(of=RecordPartition)
    )
    if partition is None:
        partition = RecordPartition(
            library=data.library, code=data.code, name=data.name, department=department
        )
        db.add(partition)
        db.flush()
        return partition, True
    if partition.department_id != department.id:
        raise Conflict(
            f"{data.library.label}的记录分区 {data.code}（{partition.name}）已由“{partition.department.name}”"
            f"作为权威源，一个分区只能有一个权威源（一数一源）",
            f"partition {data.code} of the {data.library.value} library is held by "
            f"{partition.department.slug}; a partition has exactly one authoritative department",
            code="partition_held",
            extra={"library": data.library.value, "code": data.code, "holder": partition.department.slug},
        )
    if partition.name == data.name:
        return partition, False
    partition.name = data.name
    db.flush()
    return partition, True
