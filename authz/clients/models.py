"""Machine clients (部门业务系统): who they are, and the hash of their current secret."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authz.types import ClientStatus
from catalog_schema.database import Base, DepartmentOwnedMixin, TimestampMixin, UTCDateTime, enum_column
from catalog_schema.department.models import Department


class ApiClient(DepartmentOwnedMixin, TimestampMixin, Base):
    """A department system's OAuth2 client; the secret is kept only as a SHA-256 hash."""

    __tablename__ = "api_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    # The secret is 256 random bits, so a fast hash is enough (nothing to brute-force).
    secret_hash: Mapped[str] = mapped_column(String(64))
    # Bumped by every rotation and revocation; tokens carry it, so older tokens stop working at once.
    credential_version: Mapped[int] = mapped_column(default=1)
    status: Mapped[ClientStatus] = mapped_column(enum_column(ClientStatus), default=ClientStatus.active)
    rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    department: Mapped[Department] = relationship(lazy="joined")
