"""Users in and out; password hashes never leave the service."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from catalog_schema.department.schemas import DepartmentRef
from catalog_schema.types import DepartmentKey, ShortText, Username
from catalog_schema.user import password_policy
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role
from catalog_schema.validation import BilingualValueError, refuse_explicit_null

Password = Field(min_length=8, max_length=128)


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: Username
    full_name: ShortText
    role: Role
    department: DepartmentKey = Field(
        description="部门简码或统一社会信用代码 / department slug or credit code"
    )
    password: str = Password

    @model_validator(mode="after")
    def _password_policy(self) -> "UserCreate":
        try:
            password_policy.validate(self.password, username=self.username)
        except BilingualValueError as error:
            error.field = "password"
            raise
        return self


class UserUpdate(BaseModel):
    """Fields to change; every field of a user must keep a value, so null is refused."""

    model_config = ConfigDict(extra="forbid")

    full_name: ShortText | None = None
    role: Role | None = None
    department: DepartmentKey | None = None
    password: str | None = Field(default=None, min_length=8, max_length=128)
    is_active: bool | None = None

    @field_validator("password")
    @classmethod
    def _password_policy(cls, value: str | None) -> str | None:
        # The user name is not in the body: the service checks the password against it.
        return password_policy.validate(value) if value is not None else None

    @model_validator(mode="after")
    def _required_not_null(self) -> "UserUpdate":
        refuse_explicit_null(self, ("full_name", "role", "department", "password", "is_active"))
        return self


class UserRead(BaseModel):
    id: int
    username: str
    full_name: str
    role: Role
    role_label: str
    department: DepartmentRef
    is_active: bool
    created_at: datetime

    @classmethod
    def of(cls, user: User) -> "UserRead":
        return cls(
            id=user.id,
            username=user.username,
            full_name=user.full_name,
            role=user.role,
            role_label=user.role.label,
            department=DepartmentRef.model_validate(user.department),
            is_active=user.is_active,
            created_at=user.created_at,
        )
