"""Catalog resources in and out, in the shape of the 1272号 core metadata.

``ResourceCreate`` is also the shape of one resource in a catalog YAML file, so the API,
the import and the export read and write the same document.
"""

from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from catalog_schema.department.schemas import DepartmentRef
from catalog_schema.resource import code as resource_code
from catalog_schema.resource import controls
from catalog_schema.resource.models import Resource, ResourceItem
from catalog_schema.types import (
    ControlParamKind,
    DataType,
    DepartmentKey,
    ElementCode,
    Library,
    LongText,
    PublishDate,
    ResourceClass,
    ResourceFormat,
    ResourceStatus,
    ShareMethod,
    ShareType,
    ShortText,
    UpdateCycle,
)
from catalog_schema.validation import BilingualValueError, refuse_explicit_null

_Strict = ConfigDict(extra="forbid", populate_by_name=True)


class Category(BaseModel):
    """信息资源分类: 类/项/目/细目."""

    model_config = _Strict

    resource_class: ResourceClass = Field(alias="class")
    item: str = Field(pattern=r"^[0-9]{2}$", description="项, two digits")
    catalog: str = Field(pattern=r"^[0-9]{3}$", description="目, three digits")
    detail: str = Field(default="", pattern=r"^[0-9]{0,12}$", description="细目, digits or empty")

    @property
    def classification_code(self) -> str:
        return resource_code.classification_code(
            self.resource_class.digit, self.item, self.catalog, self.detail
        )


class Share(BaseModel):
    """共享属性: type, the condition or legal basis it requires, and the method."""

    model_config = _Strict

    type: ShareType
    condition: LongText | None = None
    legal_basis: LongText | None = None
    method: ShareMethod = ShareMethod.api

    @model_validator(mode="after")
    def _required_text(self) -> "Share":
        if self.type is ShareType.conditional and not self.condition:
            raise BilingualValueError(
                "有条件共享必须填写共享条件(share.condition)",
                "a conditional resource needs its sharing condition (share.condition)",
            )
        if self.type is ShareType.none and not self.legal_basis:
            raise BilingualValueError(
                "不予共享必须填写法律、行政法规或政策依据(share.legal_basis)",
                "a resource that is not shared needs its legal basis (share.legal_basis)",
            )
        return self


class OpenAttribute(BaseModel):
    """开放属性: whether the resource is open to the public, and on what condition."""

    model_config = _Strict

    open: bool = False
    condition: LongText | None = None


class ControlParam(BaseModel):
    """管控参数 of the service interface; the value must follow its kind's grammar (``controls``)."""

    model_config = _Strict

    kind: ControlParamKind
    value: ShortText

    @model_validator(mode="after")
    def _parses(self) -> "ControlParam":
        try:
            controls.parse(self.kind, self.value)
        except controls.InvalidControlParam as exc:
            raise BilingualValueError(exc.message, exc.message_en, field="value") from exc
        return self


class ControlParamRead(BaseModel):
    """管控参数 as stored: a value kept from before its grammar was checked is shown, not refused."""

    kind: ControlParamKind
    value: str


class ItemIn(BaseModel):
    """信息项: name, data type, length, and the element it carries."""

    model_config = _Strict

    name: ShortText
    data_type: DataType
    length: int | None = Field(default=None, ge=1, le=4000)
    element: ElementCode | None = None
    description: LongText | None = None


class LibraryDelivery(BaseModel):
    """基础库视图: the provider's values in a base library, a record per subject (per decision for credit)."""

    model_config = _Strict

    kind: Literal["library"] = "library"
    library: Library | None = Field(default=None, description="inferred from the items when absent")
    # Only records whose element holds one of the listed values, e.g. {credit.kind: [行政处罚]}.
    where: dict[ElementCode, list[ShortText]] = Field(default_factory=dict, max_length=5)


class DatasetDelivery(BaseModel):
    """库表交换: the provider's own table, collected by a pipeline into a platform-held dataset."""

    model_config = _Strict

    kind: Literal["dataset"]
    # The items a caller names a subject by, and those that tell a subject's rows apart (none: one row).
    query_key: list[ShortText] = Field(min_length=1, max_length=3)
    record_key: list[ShortText] = Field(default_factory=list, max_length=3)


class ProxyDelivery(BaseModel):
    """接口共享: the platform forwards a keyed query to the provider's own service."""

    model_config = _Strict

    kind: Literal["proxy"]
    # The service's base URL comes from GOVDX_CONN_<CONN_ID> or an Airflow Connection, never the catalog.
    conn_id: str = Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")
    path: str = Field(
        pattern=r"^/[A-Za-z0-9_./-]*\{key\}[A-Za-z0-9_./-]*$",
        max_length=200,
        description="e.g. /records/{key}",
    )
    query_key: ShortText
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=1, ge=0, le=5)


Delivery = Annotated[LibraryDelivery | DatasetDelivery | ProxyDelivery, Field(discriminator="kind")]
DeliveryAdapter: TypeAdapter[Delivery] = TypeAdapter(Delivery)


def check_delivery_keys(delivery: Any, names: list[str]) -> None:
    """A dataset's or a proxy's keys name items of the resource."""
    keys = {
        "dataset": lambda d: [*d.query_key, *d.record_key],
        "proxy": lambda d: [d.query_key],
    }.get(delivery.kind, lambda d: [])(delivery)
    unknown = [k for k in keys if k not in names]
    if unknown:
        raise BilingualValueError(
            f"交付方式的键“{'、'.join(unknown)}”不是本资源的信息项",
            f"the delivery's keys {', '.join(unknown)} are not items of this resource",
            field="delivery",
        )


def _check_code(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return resource_code.validate(value)
    except resource_code.InvalidResourceCode as exc:
        raise BilingualValueError(exc.reason_zh, exc.reason_en) from exc


def _check_item_names(items: list[ItemIn]) -> list[ItemIn]:
    seen: set[str] = set()
    for item in items:
        if item.name in seen:
            raise BilingualValueError(f"信息项名称“{item.name}”重复", f"duplicate item name {item.name!r}")
        seen.add(item.name)
    return items


class ResourceCreate(BaseModel):
    model_config = _Strict

    code: str | None = Field(default=None, description="generated when absent")
    name: ShortText
    category: Category
    provider: DepartmentKey = Field(
        description="提供方部门简码或统一社会信用代码 / provider slug or credit code"
    )
    abstract: LongText
    format: ResourceFormat
    format_detail: ShortText | None = None
    share: Share
    open: OpenAttribute = OpenAttribute()
    update_cycle: UpdateCycle
    published_on: PublishDate | None = None
    related: list[str] = Field(default_factory=list, max_length=50)
    control_params: list[ControlParam] = Field(default_factory=list, max_length=20)
    delivery: Delivery = Field(default_factory=LibraryDelivery)
    items: list[ItemIn] = Field(min_length=1, max_length=500)

    @field_validator("code")
    @classmethod
    def _valid_code(cls, value: str | None) -> str | None:
        return _check_code(value)

    @field_validator("items")
    @classmethod
    def _item_names(cls, items: list[ItemIn]) -> list[ItemIn]:
        return _check_item_names(items)

    @field_validator("related")
    @classmethod
    def _related_codes(cls, values: list[str]) -> list[str]:
        return [c for c in (_check_code(v) for v in values) if c is not None]

    @model_validator(mode="after")
    def _delivery_keys(self) -> "ResourceCreate":
        check_delivery_keys(self.delivery, [i.name for i in self.items])
        return self


class ResourceImport(ResourceCreate):
    """A resource as a catalog file holds it: with its status."""

    status: Literal[ResourceStatus.draft, ResourceStatus.published] = ResourceStatus.draft


class ResourceUpdate(BaseModel):
    """Fields to change: an absent field stays, ``null`` clears an optional one, lists are replaced whole."""

    model_config = _Strict
    REQUIRED: ClassVar[tuple[str, ...]] = (
        "name",
        "abstract",
        "format",
        "share",
        "open",
        "update_cycle",
        "delivery",
        "items",
    )

    name: ShortText | None = None
    abstract: LongText | None = None
    format: ResourceFormat | None = None
    format_detail: ShortText | None = None
    share: Share | None = None
    open: OpenAttribute | None = None
    update_cycle: UpdateCycle | None = None
    published_on: PublishDate | None = None
    related: list[str] | None = Field(default=None, max_length=50)
    control_params: list[ControlParam] | None = Field(default=None, max_length=20)
    delivery: Delivery | None = None
    items: list[ItemIn] | None = Field(default=None, min_length=1, max_length=500)
    change_note: LongText | None = None

    @field_validator("items")
    @classmethod
    def _item_names(cls, items: list[ItemIn] | None) -> list[ItemIn] | None:
        return None if items is None else _check_item_names(items)

    @model_validator(mode="after")
    def _required_not_null(self) -> "ResourceUpdate":
        refuse_explicit_null(self, self.REQUIRED)
        return self

    @field_validator("related")
    @classmethod
    def _related_codes(cls, values: list[str] | None) -> list[str] | None:
        if values is None:
            return None
        return [c for c in (_check_code(v) for v in values) if c is not None]


class RetireIn(BaseModel):
    model_config = _Strict

    reason: LongText


class Labelled(BaseModel):
    value: str
    label: str

    @classmethod
    def of(cls, member: Any) -> "Labelled":
        return cls(value=member.value, label=member.label)


class ResourceSummary(BaseModel):
    id: int
    code: str
    name: str
    resource_class: Labelled
    classification_code: str
    provider: DepartmentRef
    format: Labelled
    share_type: Labelled
    update_cycle: Labelled
    status: Labelled
    published_on: date | None
    version: int
    route: Literal["direct", "department"] = Field(
        description="direct: the platform grants; department: the provider decides"
    )

    @classmethod
    def of(cls, r: Resource) -> "ResourceSummary":
        return cls(
            id=r.id,
            code=r.code,
            name=r.name,
            resource_class=Labelled.of(r.resource_class),
            classification_code=r.classification_code,
            provider=DepartmentRef.model_validate(r.provider),
            format=Labelled.of(r.format),
            share_type=Labelled.of(r.share_type),
            update_cycle=Labelled.of(r.update_cycle),
            status=Labelled.of(r.status),
            published_on=r.published_on,
            version=r.version,
            route="department" if r.needs_department_approval else "direct",
        )


class ItemElement(BaseModel):
    code: str
    name: str
    data_type: DataType
    sensitivity: str
    authoritative: DepartmentRef | None
    verification: list[DepartmentRef]


class ItemRead(BaseModel):
    position: int
    name: str
    data_type: Labelled
    length: int | None
    description: str | None
    element: ItemElement | None

    @classmethod
    def of(cls, item: ResourceItem) -> "ItemRead":
        element = None
        if item.element is not None:
            e = item.element
            owner = e.authoritative_source
            element = ItemElement(
                code=e.code,
                name=e.name,
                data_type=e.data_type,
                sensitivity=e.sensitivity.value,
                authoritative=DepartmentRef.model_validate(owner.department) if owner else None,
                verification=[DepartmentRef.model_validate(s.department) for s in e.verification_sources],
            )
        return cls(
            position=item.position,
            name=item.name,
            data_type=Labelled.of(item.data_type),
            length=item.length,
            description=item.description,
            element=element,
        )


class Freshness(BaseModel):
    """When the resource's data last arrived from its sources, and whether its 更新周期 was missed."""

    last_loaded_at: datetime | None
    due_at: datetime | None
    missed: bool
    checked_at: datetime


class ResourceRead(ResourceSummary):
    category: Category
    abstract: str
    format_detail: str | None
    share: Share
    open: OpenAttribute
    related: list[str]
    control_params: list[ControlParamRead]
    delivery: Delivery
    delivery_kind: Labelled
    grade: Labelled = Field(description="分级：最敏感信息项的等级 / the most sensitive item's grade")
    retired_reason: str | None
    created_at: datetime
    updated_at: datetime
    items: list[ItemRead]
    freshness: Freshness | None = Field(
        default=None, description="数据更新情况（按更新周期检查） / when data last arrived, cycle missed?"
    )

    @classmethod
    def of(cls, r: Resource, freshness: Any = None) -> "ResourceRead":
        return cls(
            **ResourceSummary.of(r).model_dump(),
            category=Category.model_validate(
                {
                    "class": r.resource_class,
                    "item": r.category_item,
                    "catalog": r.category_catalog,
                    "detail": r.category_detail,
                }
            ),
            abstract=r.abstract,
            format_detail=r.format_detail,
            share=Share.model_construct(
                type=r.share_type,
                condition=r.share_condition,
                legal_basis=r.share_legal_basis,
                method=r.share_method,
            ),
            open=OpenAttribute(open=r.open_to_public, condition=r.open_condition),
            related=list(r.related_codes or []),
            control_params=[ControlParamRead(**p) for p in r.control_params or []],
            delivery=DeliveryAdapter.validate_python(r.delivery),
            delivery_kind=Labelled.of(r.delivery_kind),
            grade=Labelled.of(r.grade),
            retired_reason=r.retired_reason,
            created_at=r.created_at,
            updated_at=r.updated_at,
            items=[ItemRead.of(i) for i in r.items],
            freshness=Freshness.model_validate(freshness, from_attributes=True) if freshness else None,
        )


class VersionRead(BaseModel):
    version: int
    superseded_at: datetime
    superseded_by_id: int | None
    change_note: str | None
    snapshot: dict[str, Any]
