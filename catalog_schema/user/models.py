"""The users table."""

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog_schema.database import (
    Base,
    DepartmentOwnedMixin,
    TimestampMixin,
    UTCDateTime,
    enum_column,
    utcnow,
)
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
    # For the optional password age limit (catalog_schema.user.password_policy, max_age_days).
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    department: Mapped[Department] = relationship(lazy="joined")


class LoginFailure(Base):
    """One failed sign-in: the name tried (whether or not such a user exists) and the address it came from."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username", "username", "at"),
        Index("ix_login_failures_address", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
