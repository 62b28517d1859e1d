"""The departments table."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from catalog_schema.database import Base, TimestampMixin, enum_column
from catalog_schema.types import DepartmentKind


class Department(TimestampMixin, Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    region_code: Mapped[str] = mapped_column(String(6))
    kind: Mapped[DepartmentKind] = mapped_column(enum_column(DepartmentKind))
    supervisor_name: Mapped[str | None] = mapped_column(String(200))
    supervisor_phone: Mapped[str | None] = mapped_column(String(200))
    supervisor_email: Mapped[str | None] = mapped_column(String(320))
