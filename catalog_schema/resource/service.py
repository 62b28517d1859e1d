"""Reads and writes of catalog resources, with the catalog rules of 1272号.

Rules held here: the code is classification code + "/" + sequence code, generated on
registration and unique; 有条件 needs its condition and 不予共享 its legal basis (checked by
the schema); an information item binds only an element of the same data type; a change to a
published resource keeps the previous version with who and when.
"""

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, func, or_, select, text
from sqlalchemy.orm import Session

from catalog_schema.department import service as department_service
from catalog_schema.element.models import DataElement
from catalog_schema.errors import Conflict, InvalidInput, NotFound, Problem
from catalog_schema.pagination import PageParams, paginate
from catalog_schema.resource import code as resource_code
from catalog_schema.resource import controls
from catalog_schema.resource import delivery as resource_delivery
from catalog_schema.resource.models import Resource, ResourceItem, ResourceVersion
from catalog_schema.resource.schemas import (
    Category,
    ControlParam,
    ItemIn,
    ResourceCreate,
    ResourceUpdate,
)
from catalog_schema.types import ResourceClass, ResourceStatus, ShareType, UpdateCycle


@dataclass(frozen=True)
class ResourceFilter:
    """What a catalog search narrows by; ``None`` means no restriction."""

    resource_class: ResourceClass | None = None
    classification: str | None = None
    provider: str | None = None
    share_type: ShareType | None = None
    element: str | None = None
    update_cycle: UpdateCycle | None = None
    q: str | None = None
    status: ResourceStatus | None = None


def not_found(asked_for: str) -> NotFound:
    """The error for a resource the caller named that does not exist (or that they may not see)."""
    return NotFound(
        f"信息资源 {asked_for!r} 不存在", f"resource {asked_for!r} does not exist", code="resource_not_found"
    )


def get(*, db: Session, resource_id: int) -> Resource:
    """The resource with this id, or NotFound."""
    resource = db.get(Resource, resource_id)
    if resource is None:
        raise not_found(str(resource_id))
    return resource


def get_visible(*, db: Session, resource_id: int, visible: frozenset[ResourceStatus]) -> Resource:
    """The resource, if its status is one the caller may see; otherwise the same NotFound as a
    missing one (same words, only what was asked for), so a draft's existence does not leak."""
    resource = get(db=db, resource_id=resource_id)
    if resource.status not in visible:
        raise not_found(str(resource_id))
    return resource


def get_by_code(*, db: Session, code: str) -> Resource:
    """The resource with this resource code, or NotFound (also for a malformed code)."""
    if not resource_code.is_valid(code):
        raise not_found(code)
    resource = db.scalar(select(Resource).where(Resource.code == resource_code.compact(code)))
    if resource is None:
        raise not_found(code)
    return resource


def search(
    *,
    db: Session,
    params: PageParams,
    filters: ResourceFilter,
    visible: frozenset[ResourceStatus],
) -> tuple[list[Resource], int]:
    """A page of resources matching ``filters`` among the statuses the caller may see."""
    stmt: Select[tuple[Resource]] = select(Resource).order_by(Resource.code)
    statuses = visible if filters.status is None else visible & {filters.status}
    stmt = stmt.where(Resource.status.in_(sorted(statuses)))
    if filters.resource_class is not None:
        stmt = stmt.where(Resource.resource_class == filters.resource_class)
    if filters.classification:
        stmt = stmt.where(Resource.classification_code.startswith(filters.classification, autoescape=True))
    if filters.provider:
        provider = department_service.get_by_ref(db=db, ref=filters.provider)
        stmt = stmt.where(Resource.provider_id == provider.id)
    if filters.share_type is not None:
        stmt = stmt.where(Resource.share_type == filters.share_type)
    if filters.update_cycle is not None:
        stmt = stmt.where(Resource.update_cycle == filters.update_cycle)
    if filters.element:
        carrying = (
            select(ResourceItem.resource_id).join(DataElement).where(DataElement.code == filters.element)
        )
        stmt = stmt.where(Resource.id.in_(carrying))
    if filters.q and filters.q.strip():
        text_ = filters.q.strip()
        stmt = stmt.where(
            or_(
                Resource.name.icontains(text_, autoescape=True),
                Resource.abstract.icontains(text_, autoescape=True),
            )
        )
    return paginate(db, stmt, params)


def count_by_status(*, db: Session) -> dict[str, int]:
    """How many resources are in each status."""
    rows = db.execute(select(Resource.status, func.count()).group_by(Resource.status))
    return {status.value: n for status, n in rows}


def _build_items(db: Session, items: list[ItemIn]) -> list[ResourceItem]:
    """Information items for ``items``; every unknown element or type mismatch is reported at once."""
    codes = {i.element for i in items if i.element}
    elements = {e.code: e for e in db.scalars(select(DataElement).where(DataElement.code.in_(codes)))}
    problems: list[Problem] = []
    built: list[ResourceItem] = []
    for position, item in enumerate(items):
        element = None
        if item.element:
            element = elements.get(item.element)
            path = f"items[{position}].element"
            if element is None:
                problems.append(
                    Problem(
                        path,
                        f"数据元 {item.element!r} 不存在，请先登记数据元或更正代码",
                        f"data element {item.element!r} does not exist; register it first or fix the code",
                    )
                )
            elif element.data_type is not item.data_type:
                problems.append(
                    Problem(
                        f"items[{position}].data_type",
                        f"信息项“{item.name}”的数据类型 {item.data_type.value}({item.data_type.label}) "
                        f"与数据元 {element.code} 的数据类型 {element.data_type.value}"
                        f"({element.data_type.label}) 不一致，请改为 {element.data_type.value}",
                        f"item {item.name!r} has data type {item.data_type.value} but element "
                        f"{element.code} is {element.data_type.value}; use {element.data_type.value}",
                    )
                )
        built.append(
            ResourceItem(
                position=position,
                name=item.name,
                data_type=item.data_type,
                length=item.length,
                element=element,
                description=item.description,
            )
        )
    if problems:
        raise InvalidInput(
            "信息项与数据元不匹配",
            "information items do not match their data elements",
            code="item_element_mismatch",
            problems=problems,
        )
    return built


def check_related(
    db: Session, codes: list[str], *, own_code: str | None = None, kept: frozenset[str] = frozenset()
) -> None:
    """New relations must name existing, published resources: a relation is shown to every reader.

    Codes in ``kept`` were related before; they stay allowed when their resource is retired later.
    """
    if not codes:
        return
    rows = db.execute(select(Resource.code, Resource.status).where(Resource.code.in_(codes)))
    statuses = {code: status for code, status in rows}
    problems = []
    for i, c in enumerate(codes):
        if c == own_code:
            problems.append(
                Problem(f"related[{i}]", "资源不能关联自身", "a resource cannot be related to itself")
            )
        elif c not in statuses:
            problems.append(
                Problem(f"related[{i}]", f"关联资源 {c} 不存在", f"related resource {c} does not exist")
            )
        elif statuses[c] is not ResourceStatus.published and c not in kept:
            problems.append(
                Problem(
                    f"related[{i}]",
                    f"关联资源 {c} 尚未发布或已撤销，只能关联已发布的资源",
                    f"related resource {c} is not published; only published resources can be related",
                )
            )
    if problems:
        raise InvalidInput(
            "关联资源代码无效", "invalid related resource codes", code="related_invalid", problems=problems
        )


def _lock_classification(db: Session, classification: str) -> None:
    """Serialise code generation within one classification until this transaction ends.

    Two registrations would otherwise read the same highest sequence and collide. SQLite
    already serialises writers (BEGIN IMMEDIATE, see catalog_schema.database); PostgreSQL
    takes a transaction-scoped advisory lock keyed by the classification code.
    """
    if db.get_bind().dialect.name == "postgresql":
        key = f"govdx.resource_code:{classification}"
        db.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def _assign_code(db: Session, category: Category, wanted: str | None) -> tuple[str, int]:
    classification = category.classification_code
    if wanted is not None:
        try:
            resource_code.validate(wanted, expected_classification=classification)
        except resource_code.InvalidResourceCode as exc:
            raise InvalidInput(
                exc.reason_zh,
                exc.reason_en,
                code="invalid_resource_code",
                problems=[Problem("code", exc.reason_zh, exc.reason_en)],
            ) from exc
        if db.scalar(select(Resource.id).where(Resource.code == wanted)) is not None:
            raise Conflict(
                f"信息资源代码 {wanted} 已被占用",
                f"resource code {wanted} is already taken",
                code="resource_code_duplicate",
                problems=[Problem("code", f"代码 {wanted} 重复", f"duplicate code {wanted}")],
            )
        return wanted, resource_code.split(wanted)[1]
    _lock_classification(db, classification)
    last = (
        db.scalar(select(func.max(Resource.sequence)).where(Resource.classification_code == classification))
        or 0
    )
    if last + 1 >= 10**resource_code.SEQUENCE_DIGITS:
        raise Conflict(
            f"分类 {classification} 下的顺序码已用尽(最大 999999)，请为新资源选择其他分类(目/细目)",
            f"classification {classification} has no sequence numbers left (max 999999); "
            "use another catalog or detail level",
            code="classification_full",
        )
    return resource_code.format(classification, last + 1), last + 1


def _apply_share(resource: Resource, data: ResourceCreate | ResourceUpdate) -> None:
    if data.share is not None:
        resource.share_type = data.share.type
        resource.share_condition = data.share.condition
        resource.share_legal_basis = data.share.legal_basis
        resource.share_method = data.share.method
    if data.open is not None:
        resource.open_to_public = data.open.open
        resource.open_condition = data.open.condition


def _control_params(params: list[ControlParam]) -> list[dict[str, Any]]:
    return [p.model_dump(mode="json") for p in params]


def check_controls(params: list[dict[str, Any]], items: list[str]) -> None:
    """A resource's 管控参数 must each parse, name its own items, and declare a single kind once."""
    problems = [
        Problem(f"control_params[{i}].value", error.message, error.message_en)
        for i, error in controls.check(params, items=items)
    ]
    if problems:
        raise InvalidInput(
            "管控参数有误", "invalid control parameters", code="invalid_control_params", problems=problems
        )


def _ensure_name_free(db: Session, *, provider_id: int, name: str, exclude_id: int | None = None) -> None:
    stmt = select(Resource.code).where(Resource.provider_id == provider_id, Resource.name == name)
    if exclude_id is not None:
        stmt = stmt.where(Resource.id != exclude_id)
    taken = db.scalar(stmt)
    if taken is not None:
        raise Conflict(
            f"该提供方已有同名信息资源“{name}”(代码 {taken})，请更换名称或修改已有资源",
            f"this provider already has a resource named {name!r} ({taken}); rename or update it",
            code="resource_name_duplicate",
            problems=[Problem("name", "名称重复", "duplicate name")],
        )


def create(
    *,
    db: Session,
    data: ResourceCreate,
    actor_id: int | None = None,
    status: ResourceStatus = ResourceStatus.draft,
) -> Resource:
    """Register a resource as a draft (or published, for imports); the code is generated if absent."""
    provider = department_service.get_by_ref(db=db, ref=data.provider)
    _ensure_name_free(db, provider_id=provider.id, name=data.name)
    items = _build_items(db, data.items)
    check_controls(_control_params(data.control_params), [i.name for i in data.items])
    code, sequence = _assign_code(db, data.category, data.code)
    check_related(db, data.related, own_code=code)
    resource = Resource(
        code=code,
        resource_class=data.category.resource_class,
        category_item=data.category.item,
        category_catalog=data.category.catalog,
        category_detail=data.category.detail,
        classification_code=data.category.classification_code,
        sequence=sequence,
        name=data.name,
        provider=provider,
        abstract=data.abstract,
        format=data.format,
        format_detail=data.format_detail,
        update_cycle=data.update_cycle,
        published_on=data.published_on,
        related_codes=list(data.related),
        control_params=_control_params(data.control_params),
        status=status,
        version=1,
        created_by_id=actor_id,
        updated_by_id=actor_id,
        items=items,
    )
    _apply_share(resource, data)
    resource_delivery.bind(resource, data.delivery)
    resource_delivery.check(resource, db=db)
    if status is ResourceStatus.published and resource.published_on is None:
        resource.published_on = date.today()
    db.add(resource)
    db.flush()
    return resource


def _item_document(item: ResourceItem) -> dict[str, Any]:
    return drop_empty(
        {
            "name": item.name,
            "data_type": item.data_type.value,
            "length": item.length,
            "element": item.element.code if item.element else None,
            "description": item.description,
        }
    )


def to_document(resource: Resource) -> dict[str, Any]:
    """The resource as one entry of a catalog file (the shape of ``ResourceImport``)."""
    return drop_empty(
        {
            "code": resource.code,
            "name": resource.name,
            "category": {
                "class": resource.resource_class.value,
                "item": resource.category_item,
                "catalog": resource.category_catalog,
                "detail": resource.category_detail,
            },
            "provider": resource.provider.slug,
            "abstract": resource.abstract,
            "format": resource.format.value,
            "format_detail": resource.format_detail,
            "share": {
                "type": resource.share_type.value,
                "condition": resource.share_condition,
                "legal_basis": resource.share_legal_basis,
                "method": resource.share_method.value,
            },
            "open": {"open": resource.open_to_public, "condition": resource.open_condition},
            "update_cycle": resource.update_cycle.value,
            "published_on": resource.published_on.isoformat() if resource.published_on else None,
            "related": list(resource.related_codes or []),
            "control_params": list(resource.control_params or []),
            "delivery": dict(resource.delivery or {}),
            "items": [
                {
                    "name": i.name,
                    "data_type": i.data_type.value,
                    "length": i.length,
                    "element": i.element.code if i.element else None,
                    "description": i.description,
                }
                for i in resource.items
            ],
            "status": resource.status.value,
        }
    )


def drop_empty(value: Any) -> Any:
    """``value`` without empty fields (None, "" and []), at every depth: the shape files are compared in."""
    if isinstance(value, dict):
        return {k: drop_empty(v) for k, v in value.items() if v is not None and v != [] and v != ""}
    if isinstance(value, list):
        return [drop_empty(v) for v in value]
    return value


def attach_related(*, db: Session, resource: Resource, codes: list[str]) -> None:
    """Set the relations of a resource that keeps no versions yet (an import's second pass)."""
    check_related(db, codes, own_code=resource.code, kept=frozenset(resource.related_codes or []))
    resource.related_codes = list(codes)
    db.flush()


def _keep_version(
    db: Session, resource: Resource, *, snapshot: dict[str, Any], actor_id: int | None, note: str | None
) -> None:
    """Store ``snapshot`` as the resource's current version, then number the next one."""
    db.add(
        ResourceVersion(
            resource_id=resource.id,
            version=resource.version,
            snapshot=snapshot,
            superseded_by_id=actor_id,
            change_note=note,
        )
    )
    resource.version += 1


def _refuse_retired(resource: Resource) -> None:
    if resource.status is ResourceStatus.retired:
        raise Conflict(
            f"信息资源 {resource.code} 已撤销，不能修改",
            f"resource {resource.code} is retired and cannot change",
            code="resource_retired",
        )


def update(*, db: Session, resource: Resource, data: ResourceUpdate, actor_id: int | None = None) -> Resource:
    """Change a resource; a published one that really changed keeps its previous version."""
    _refuse_retired(resource)
    given = data.model_fields_set
    items = _build_items(db, data.items) if data.items is not None else None
    if "control_params" in given or items is not None:
        # The query key must name an item of the resource as it will be, whichever of the two changes.
        params = _control_params(data.control_params or []) if "control_params" in given else None
        names = [i.name for i in (items if items is not None else resource.items)]
        check_controls(params if params is not None else list(resource.control_params or []), names)
    if data.related:
        check_related(db, data.related, own_code=resource.code, kept=frozenset(resource.related_codes or []))
    if data.name is not None:
        _ensure_name_free(db, provider_id=resource.provider_id, name=data.name, exclude_id=resource.id)
    if "published_on" in given and data.published_on is None and resource.status is not ResourceStatus.draft:
        raise InvalidInput(
            "已发布的资源必须有发布日期",
            "a published resource keeps its publication date",
            code="published_on_required",
            problems=[Problem("published_on", "不能清空", "cannot be cleared")],
        )
    before = to_document(resource)
    for field in ("name", "abstract", "format", "format_detail", "update_cycle", "published_on"):
        if field in given:
            setattr(resource, field, getattr(data, field))
    _apply_share(resource, data)
    if "related" in given:
        resource.related_codes = list(data.related or [])
    if "control_params" in given:
        resource.control_params = _control_params(data.control_params or [])
    if items is not None and [_item_document(i) for i in items] != before.get("items"):
        resource.items.clear()
        db.flush()  # old items go before new ones with the same names arrive
        resource.items.extend(items)
    if data.delivery is not None:
        resource_delivery.bind(resource, data.delivery)
    resource_delivery.check(resource, db=db)
    if to_document(resource) == before:
        return resource  # nothing changed: no version, no new author
    if resource.status is ResourceStatus.published:
        _keep_version(db, resource, snapshot=before, actor_id=actor_id, note=data.change_note)
    resource.updated_by_id = actor_id
    db.flush()
    return resource


def publish(*, db: Session, resource: Resource, actor_id: int | None = None) -> Resource:
    """Publish a draft; its 发布日期 is today unless it already has one."""
    if resource.status is not ResourceStatus.draft:
        raise Conflict(
            f"只有草稿可以发布，信息资源 {resource.code} 当前为“{resource.status.label}”",
            f"only a draft can be published; {resource.code} is {resource.status.value}",
            code="resource_not_draft",
        )
    resource_delivery.check(resource, db=db)
    resource.status = ResourceStatus.published
    resource.published_on = resource.published_on or date.today()
    resource.updated_by_id = actor_id
    db.flush()
    return resource


def retire(*, db: Session, resource: Resource, reason: str, actor_id: int | None = None) -> Resource:
    """Retire a resource with a reason; a published one keeps its last version."""
    _refuse_retired(resource)
    if resource.status is ResourceStatus.published:
        _keep_version(
            db, resource, snapshot=to_document(resource), actor_id=actor_id, note=f"撤销 / retired: {reason}"
        )
    resource.status = ResourceStatus.retired
    resource.retired_reason = reason
    resource.updated_by_id = actor_id
    db.flush()
    return resource


def versions(*, db: Session, resource: Resource) -> list[ResourceVersion]:
    """The kept versions of ``resource``, newest first."""
    stmt = (
        select(ResourceVersion)
        .where(ResourceVersion.resource_id == resource.id)
        .order_by(ResourceVersion.version.desc())
    )
    return list(db.scalars(stmt))
