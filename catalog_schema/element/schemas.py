"""Data elements and their sources, and the record partitions of a library, in and out."""

import re
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalog_schema.department.schemas import DepartmentRef
from catalog_schema.element.models import DataElement, OwnershipTransfer, RecordPartition
from catalog_schema.types import (
    DataType,
    DepartmentKey,
    ElementCode,
    Library,
    LongText,
    Sensitivity,
    ShortText,
    SourceRole,
)
from catalog_schema.validation import BilingualValueError, refuse_explicit_null


class ElementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ElementCode
    name: ShortText
    library: Library
    data_type: DataType
    length: int | None = Field(default=None, ge=1, le=4000)
    standard: ShortText | None = None
    sensitivity: Sensitivity = Sensitivity.internal
    description: LongText | None = None
    authoritative: DepartmentKey = Field(
        description="权威源部门的简码或统一社会信用代码 / slug or credit code"
    )
    verification: list[DepartmentKey] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _one_role_per_department(self) -> "ElementCreate":
        if self.authoritative in self.verification:
            raise BilingualValueError(
                f"权威源部门 {self.authoritative} 不能同时是校核源",
                f"the authoritative department {self.authoritative} cannot also be a verification source",
                field="verification",
            )
        if len(set(self.verification)) != len(self.verification):
            raise BilingualValueError(
                "校核源部门重复", "a verification department is listed twice", field="verification"
            )
        return self


class ElementUpdate(BaseModel):
    """Fields to change: an absent field stays, ``null`` clears length, standard or description."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    data_type: DataType | None = None
    length: int | None = Field(default=None, ge=1, le=4000)
    standard: ShortText | None = None
    sensitivity: Sensitivity | None = None
    description: LongText | None = None

    @model_validator(mode="after")
    def _required_not_null(self) -> "ElementUpdate":
        refuse_explicit_null(self, ("name", "data_type", "sensitivity"))
        return self


class SourceRegister(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: DepartmentKey
    role: SourceRole


class TransferCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to_department: DepartmentKey
    reason: LongText


class ElementRead(BaseModel):
    code: str
    name: str
    library: Library
    library_label: str
    data_type: DataType
    data_type_label: str
    length: int | None
    standard: str | None
    sensitivity: Sensitivity
    sensitivity_label: str
    description: str | None
    authoritative: DepartmentRef | None
    verification: list[DepartmentRef]

    @classmethod
    def of(cls, element: DataElement) -> "ElementRead":
        owner = element.authoritative_source
        return cls(
            code=element.code,
            name=element.name,
            library=element.library,
            library_label=element.library.label,
            data_type=element.data_type,
            data_type_label=element.data_type.label,
            length=element.length,
            standard=element.standard,
            sensitivity=element.sensitivity,
            sensitivity_label=element.sensitivity.label,
            description=element.description,
            authoritative=DepartmentRef.model_validate(owner.department) if owner else None,
            verification=[DepartmentRef.model_validate(s.department) for s in element.verification_sources],
        )


class TransferRead(BaseModel):
    element: str
    from_department: DepartmentRef
    to_department: DepartmentRef
    reason: str
    transferred_at: datetime
    transferred_by_id: int | None

    @classmethod
    def of(cls, element_code: str, transfer: OwnershipTransfer) -> "TransferRead":
        return cls(
            element=element_code,
            from_department=DepartmentRef.model_validate(transfer.from_department),
            to_department=DepartmentRef.model_validate(transfer.to_department),
            reason=transfer.reason,
            transferred_at=transfer.transferred_at,
            transferred_by_id=transfer.transferred_by_id,
        )


# The libraries whose records are partitioned among departments: what names a partition, and its
# codes (GB 32100-2015 表1's registering authorities; quality.credit_kinds' eight kinds; catalog_schema
# may not import the validators, which check every row's code against the same tables).
PARTITIONED_LIBRARIES: dict[Library, tuple[str, str, re.Pattern[str]]] = {
    Library.legal_person: (
        "统一社会信用代码的登记管理部门码",
        "the credit code's registering-authority character",
        re.compile(r"[1-9ANY]"),
    ),
    Library.credit: ("信用信息类别代码", "the credit record's kind code", re.compile(r"0[1-8]")),
}


class PartitionCreate(BaseModel):
    """A partition of a library's records and the one department that is their authoritative source."""

    model_config = ConfigDict(extra="forbid")

    library: Library
    code: str = Field(min_length=1, max_length=8, description="登记管理部门码或信用信息类别代码")
    name: ShortText
    authoritative: DepartmentKey = Field(
        description="权威源部门的简码或统一社会信用代码 / slug or credit code"
    )

    @model_validator(mode="after")
    def _code_names_a_partition(self) -> "PartitionCreate":
        if self.library not in PARTITIONED_LIBRARIES:
            raise BilingualValueError(
                f"{self.library.label}不按记录分区（只有法人库和公共信用库）",
                f"the {self.library.value} library is not partitioned by record "
                "(legal_person and credit are)",
                field="library",
            )
        zh, en, codes = PARTITIONED_LIBRARIES[self.library]
        if not codes.fullmatch(self.code):
            raise BilingualValueError(
                f"分区代码 {self.code} 不是{zh}", f"partition code {self.code!r} is not {en}", field="code"
            )
        return self


class PartitionRead(BaseModel):
    library: Library
    code: str
    name: str
    department: DepartmentRef

    @classmethod
    def of(cls, partition: RecordPartition) -> "PartitionRead":
        return cls(
            library=partition.library,
            code=partition.code,
            name=partition.name,
            department=DepartmentRef.model_validate(partition.department),
        )
