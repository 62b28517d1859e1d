"""Data elements, their registered sources, and recorded ownership transfers."""

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog_schema.database import Base, TimestampMixin, UTCDateTime, enum_column, utcnow
from catalog_schema.department.models import Department
from catalog_schema.types import DataType, Library, Sensitivity, SourceRole


class DataElement(TimestampMixin, Base):
    __tablename__ = "data_elements"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    library: Mapped[Library] = mapped_column(enum_column(Library), index=True)
    data_type: Mapped[DataType] = mapped_column(enum_column(DataType))
    length: Mapped[int | None]
    standard: Mapped[str | None] = mapped_column(String(200))
    sensitivity: Mapped[Sensitivity] = mapped_column(enum_column(Sensitivity))
    description: Mapped[str | None] = mapped_column(Text)

    sources: Mapped[list["ElementSource"]] = relationship(
        back_populates="element",
        cascade="all, delete-orphan",
        order_by="ElementSource.role, ElementSource.id",
        lazy="selectin",
    )

    @property
    def authoritative_source(self) -> "ElementSource | None":
        return next((s for s in self.sources if s.role is SourceRole.authoritative), None)

    @property
    def verification_sources(self) -> list["ElementSource"]:
        return [s for s in self.sources if s.role is SourceRole.verification]


class ElementSource(Base):
    """A department that provides an element: the one authoritative source, or a verification source."""

    __tablename__ = "element_sources"
    __table_args__ = (
        UniqueConstraint("element_id", "department_id"),
        # One data, one source, held by the database too: at most one authoritative row per
        # element, whichever process writes (a partial unique index, on SQLite and PostgreSQL).
        Index(
            "uq_element_sources_one_authoritative",
            "element_id",
            unique=True,
            sqlite_where=text("role = 'authoritative'"),
            postgresql_where=text("role = 'authoritative'"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    element_id: Mapped[int] = mapped_column(ForeignKey("data_elements.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    role: Mapped[SourceRole] = mapped_column(enum_column(SourceRole))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    element: Mapped[DataElement] = relationship(back_populates="sources")
    department: Mapped[Department] = relationship(lazy="joined")


class OwnershipTransfer(Base):
    """An administrator's recorded decision to move an element's authoritative source."""

    __tablename__ = "element_ownership_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    element_id: Mapped[int] = mapped_column(ForeignKey("data_elements.id", ondelete="CASCADE"), index=True)
    from_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    to_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    reason: Mapped[str] = mapped_column(Text)
    transferred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    transferred_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    from_department: Mapped[Department] = relationship(foreign_keys=[from_department_id], lazy="joined")
    to_department: Mapped[Department] = relationship(foreign_keys=[to_department_id], lazy="joined")


class RecordPartition(Base):
    """一数一源 by record: the one department whose records make up a part of a base library.

    In the 法人库 a legal person is registered by one authority, named by the first character
    of its credit code (GB 32100-2015 §4.1: 1 机构编制, 5 民政, 9 市场监管 …); in the 公共信用库
    a decision is made by the department of its kind (``quality.credit_kinds``). The library's
    common elements are kept by the platform department (their schema); each partition's
    holder writes and answers for its records, as a certificate's issuer does for its type.
    """

    __tablename__ = "record_partitions"
    __table_args__ = (UniqueConstraint("library", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    library: Mapped[Library] = mapped_column(enum_column(Library))
    code: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id", ondelete="RESTRICT"), index=True)
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department] = relationship(lazy="joined")
