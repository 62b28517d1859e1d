"""Loaded calendar arrangements: the State Council's annual arrangement, or a region's adjustments."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from catalog_schema.database import Base, UTCDateTime, utcnow


class CalendarArrangement(Base):
    """One year's arrangement for the nation (region "") or one region; loading it again replaces it.

    A national arrangement defines its whole year: weekdays work and weekends rest, except the listed
    holidays and make-up working days. A regional one only adjusts the listed days on top.
    """

    __tablename__ = "calendar_arrangements"
    __table_args__ = (UniqueConstraint("year", "region"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    year: Mapped[int]
    region: Mapped[str] = mapped_column(String(6), default="")
    source: Mapped[str] = mapped_column(Text)
    # [{"date": "2027-02-06", "working": false, "name": "春节"}, ...], sorted by date.
    days: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    loaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
