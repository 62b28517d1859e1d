"""Resources, their information items (信息项) and the versions kept of published resources."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog_schema.database import Base, TimestampMixin, UTCDateTime, enum_column, utcnow
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement
from catalog_schema.types import (
    DataType,
    DeliveryKind,
    ResourceClass,
    ResourceFormat,
    ResourceStatus,
    Sensitivity,
    ShareMethod,
    ShareType,
    UpdateCycle,
)


class Resource(TimestampMixin, Base):
    __tablename__ = "resources"
    __table_args__ = (
        UniqueConstraint("classification_code", "sequence"),
        UniqueConstraint("provider_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    # 信息资源分类: 类 (one digit), 项 (two), 目 (three), 细目 (any length, may be empty).
    resource_class: Mapped[ResourceClass] = mapped_column(enum_column(ResourceClass), index=True)
    category_item: Mapped[str] = mapped_column(String(2))
    category_catalog: Mapped[str] = mapped_column(String(3))
    category_detail: Mapped[str] = mapped_column(String(12), default="")
    classification_code: Mapped[str] = mapped_column(String(20), index=True)
    sequence: Mapped[int]
    name: Mapped[str] = mapped_column(String(200), index=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    abstract: Mapped[str] = mapped_column(Text)
    format: Mapped[ResourceFormat] = mapped_column(enum_column(ResourceFormat))
    format_detail: Mapped[str | None] = mapped_column(String(200))
    share_type: Mapped[ShareType] = mapped_column(enum_column(ShareType), index=True)
    share_condition: Mapped[str | None] = mapped_column(Text)
    share_legal_basis: Mapped[str | None] = mapped_column(Text)
    share_method: Mapped[ShareMethod] = mapped_column(enum_column(ShareMethod))
    open_to_public: Mapped[bool] = mapped_column(default=False)
    open_condition: Mapped[str | None] = mapped_column(Text)
    update_cycle: Mapped[UpdateCycle] = mapped_column(enum_column(UpdateCycle), index=True)
    published_on: Mapped[date | None] = mapped_column(Date)
    related_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    control_params: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    # The delivery binding (resource.schemas.Delivery): how a grant's rows reach the caller.
    delivery_kind: Mapped[DeliveryKind] = mapped_column(
        enum_column(DeliveryKind), default=DeliveryKind.library, server_default="library", index=True
    )
    delivery: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[ResourceStatus] = mapped_column(enum_column(ResourceStatus), index=True)
    version: Mapped[int] = mapped_column(default=1)
    retired_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    provider: Mapped[Department] = relationship(lazy="joined")
    items: Mapped[list["ResourceItem"]] = relationship(
        back_populates="resource",
        cascade="all, delete-orphan",
        order_by="ResourceItem.position",
        lazy="selectin",
    )

    @property
    def grade(self) -> Sensitivity:
        """分级: the grade of the most sensitive item (内部 when no item carries an element)."""
        grades = [i.element.sensitivity for i in self.items if i.element is not None]
        return max(grades, key=list(Sensitivity).index, default=Sensitivity.internal)

    @property
    def needs_department_approval(self) -> bool:
        """统一受理、平台授权: only unconditional data without control parameters skips the provider."""
        return self.share_type is not ShareType.unconditional or bool(self.control_params)


class ResourceItem(Base):
    """信息项: one field of a resource, with its type and the data element it carries."""

    __tablename__ = "resource_items"
    __table_args__ = (UniqueConstraint("resource_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    data_type: Mapped[DataType] = mapped_column(enum_column(DataType))
    length: Mapped[int | None]
    element_id: Mapped[int | None] = mapped_column(
        ForeignKey("data_elements.id", ondelete="RESTRICT"), index=True
    )
    description: Mapped[str | None] = mapped_column(Text)

    resource: Mapped[Resource] = relationship(back_populates="items")
    element: Mapped[DataElement | None] = relationship(lazy="joined")


class ResourceVersion(Base):
    """The metadata of a published resource as it was before a change, with who changed it and when."""

    __tablename__ = "resource_versions"
    __table_args__ = (UniqueConstraint("resource_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), index=True)
    version: Mapped[int]
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    superseded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    superseded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    change_note: Mapped[str | None] = mapped_column(Text)
