"""What each grant has used on each day (Asia/Shanghai), for its daily quota; what each client has
called of a resource in the current window, for the resource's rate limit."""

from datetime import date

from sqlalchemy import BigInteger, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from catalog_schema.database import Base


class GrantUsage(Base):
    """Calls and subjects served under one grant on one local day."""

    __tablename__ = "grant_usage"

    grant_id: Mapped[int] = mapped_column(ForeignKey("grants.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    calls: Mapped[int] = mapped_column(default=0)
    subjects: Mapped[int] = mapped_column(default=0)


class RateWindow(Base):
    """Calls one client has made to one resource in the current window of its rate limit (管控参数).

    One row per client and resource, moved on to the next window by the first call in it (see
    ``authz.access.group_commit``), so the table holds no history to prune.
    """

    __tablename__ = "rate_windows"

    client_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("api_clients.client_id", ondelete="CASCADE"), primary_key=True
    )
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id", ondelete="CASCADE"), primary_key=True)
    # The window's first second since the epoch (UTC): windows are aligned to multiples of their length.
    window_start: Mapped[int] = mapped_column(BigInteger)
    calls: Mapped[int] = mapped_column(default=0)
