"""Issuers' public keys, against which the 电子证照 library's signatures are checked."""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from catalog_schema.database import Base, UTCDateTime, utcnow
from catalog_schema.department.models import Department


class IssuerKey(Base):
    """An issuing department's Ed25519 public key; a certificate's signature names it by ``key_id``."""

    __tablename__ = "issuer_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    key_id: Mapped[str] = mapped_column(String(64), unique=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    algorithm: Mapped[str] = mapped_column(String(16), default="Ed25519")
    public_key: Mapped[str] = mapped_column(Text)  # PEM, SubjectPublicKeyInfo
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department] = relationship(lazy="joined")
