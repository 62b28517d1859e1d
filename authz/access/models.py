"""What each grant has used on each day (Asia/Shanghai), for its daily quota."""

from datetime import date

from sqlalchemy import Date, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from catalog_schema.database import Base


class GrantUsage(Base):
    """Calls and subjects served under one grant on one local day."""

    __tablename__ = "grant_usage"

    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    calls: Mapped[int] = mapped_column(default=0)
    subjects: Mapped[int] = mapped_column(default=0)
