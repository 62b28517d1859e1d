"""The users table."""

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog_schema.database import Base, DepartmentOwnedMixin, TimestampMixin, enum_column
from catalog_schema.department.models import Department
from catalog_schema.user.roles import Role


class User(DepartmentOwnedMixin, TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(32), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True)
    # Tokens issued in an earlier generation are void (authz.security, TokenClaims.generation).
    session_generation: Mapped[int] = mapped_column(default=0, server_default="0")

    department: Mapped[Department] = relationship(lazy="joined")
