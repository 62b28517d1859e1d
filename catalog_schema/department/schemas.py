"""Department in and out."""

from pydantic import BaseModel, ConfigDict, EmailStr, field_validator, model_validator
from stdnum.cn import uscc
from stdnum.exceptions import ValidationError as StdnumError

from catalog_schema.department.models import Department
from catalog_schema.types import DepartmentKind, DepartmentSlug, RegionCode, ShortText
from catalog_schema.validation import BilingualValueError, refuse_explicit_null


def _credit_code(value: str) -> str:
    """GB 32100-2015 统一社会信用代码, checked by python-stdnum (length, alphabet, check digits)."""
    try:
        return uscc.validate(value)
    except StdnumError as exc:
        raise BilingualValueError(
            f"统一社会信用代码 {value!r} 无效(GB 32100：18 位，含校验码)，请核对后重新填写",
            f"unified social credit code {value!r} is invalid (GB 32100: 18 characters with "
            f"check digits): {exc}",
        ) from exc


class Supervisor(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    phone: ShortText | None = None
    email: EmailStr | None = None


class DepartmentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: DepartmentSlug
    name: ShortText
    credit_code: str
    region_code: RegionCode
    kind: DepartmentKind
    supervisor: Supervisor = Supervisor()

    @field_validator("credit_code")
    @classmethod
    def _check_credit_code(cls, value: str) -> str:
        return _credit_code(value)


class DepartmentUpdate(BaseModel):
    """Fields to change: an absent field stays; in ``supervisor`` only the given parts change, null clears."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    credit_code: str | None = None
    region_code: RegionCode | None = None
    kind: DepartmentKind | None = None
    supervisor: Supervisor | None = None

    @field_validator("credit_code")
    @classmethod
    def _check_credit_code(cls, value: str | None) -> str | None:
        return None if value is None else _credit_code(value)

    @model_validator(mode="after")
    def _required_not_null(self) -> "DepartmentUpdate":
        refuse_explicit_null(self, ("name", "credit_code", "region_code", "kind"))
        return self


class DepartmentRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    slug: str
    name: str
    credit_code: str


class DepartmentRead(DepartmentRef):
    region_code: str
    kind: DepartmentKind
    kind_label: str
    supervisor: Supervisor

    @classmethod
    def of(cls, dept: Department) -> "DepartmentRead":
        return cls(
            id=dept.id,
            slug=dept.slug,
            name=dept.name,
            credit_code=dept.credit_code,
            region_code=dept.region_code,
            kind=dept.kind,
            kind_label=dept.kind.label,
            supervisor=Supervisor(
                name=dept.supervisor_name, phone=dept.supervisor_phone, email=dept.supervisor_email
            ),
        )
