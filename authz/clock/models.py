"""Clocked stages, the SLA profile they are measured against, the in-app inbox and outbound messages."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint, case
from sqlalchemy.ext.hybrid import hybrid_method
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import ColumnElement

from authz.types import Channel, NotificationKind, OutboundStatus, StageKind, StageState
from catalog_schema.database import Base, TimestampMixin, UTCDateTime, enum_column, utcnow
from catalog_schema.department.models import Department


class SlaProfile(TimestampMixin, Base):
    """Working-day limits per stage; the active profile applies to stages started after it changes."""

    __tablename__ = "sla_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    review_days: Mapped[int] = mapped_column(default=3)
    provision_days: Mapped[int] = mapped_column(default=3)
    decision_days: Mapped[int] = mapped_column(default=10)
    discrepancy_days: Mapped[int] = mapped_column(default=10)
    # Yellow warning when this many working days or fewer are left.
    due_soon_days: Mapped[int] = mapped_column(default=1)
    is_active: Mapped[bool] = mapped_column(default=True)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def days_for(self, kind: StageKind) -> int:
        return {
            StageKind.review: self.review_days,
            StageKind.provision: self.provision_days,
            StageKind.decision: self.decision_days,
            StageKind.discrepancy: self.discrepancy_days,
        }[kind]


class ClockStage(Base):
    """One stage of a request (or one discrepancy ticket) on the working-day clock.

    ``due_at`` is the end of the due day and ``warn_at`` the start of the day the yellow warning
    begins, both in UTC; a running stage's state is a pure function of them and the time
    (:meth:`running_state_at`), so a recompute is one UPDATE.
    """

    __tablename__ = "clock_stages"
    __table_args__ = (
        Index("ix_clock_stages_state_due", "state", "due_at"),
        Index("ix_clock_stages_department_kind", "department_id", "kind"),
        Index("ix_clock_stages_due_on", "due_on"),
        Index("ix_clock_stages_start_on_state", "start_on", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[StageKind] = mapped_column(enum_column(StageKind))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("sharing_requests.id", ondelete="CASCADE"), index=True
    )
    discrepancy_id: Mapped[int | None] = mapped_column(
        ForeignKey("discrepancies.id", ondelete="CASCADE"), unique=True
    )
    # The department whose turn it is: the platform's for review and provision.
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    # What the stage is about, for inboxes and mail: "共享申请 SQ-2026-000012《…》规范性审查".
    subject: Mapped[str] = mapped_column(String(300))
    working_days: Mapped[int]
    # Yellow warning when this many working days or fewer are left; fixed when the stage starts.
    due_soon_days: Mapped[int] = mapped_column(default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    start_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    provisional: Mapped[bool] = mapped_column(default=False)
    # [{"from": iso, "until": iso | null, "reason": str, "by": username}], oldest first.
    pauses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    paused_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[StageState] = mapped_column(enum_column(StageState), default=StageState.on_time)
    state_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    yellow_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    red_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department] = relationship(lazy="joined")

    @hybrid_method
    def running_state_at(self, now: datetime) -> StageState:
        """on time, due soon or overdue at ``now``, for a stage that is neither paused nor closed."""
        if now >= self.due_at:
            return StageState.overdue
        if now >= self.warn_at:
            return StageState.due_soon
        return StageState.on_time

    # mypy sees the decorated method as a plain callable; .inplace is SQLAlchemy 2.0's hybrid API.
    @running_state_at.inplace.expression  # type: ignore[attr-defined]
    @classmethod
    def _running_state_at(cls, now: datetime) -> ColumnElement[str]:
        return case(
            (cls.due_at <= now, StageState.overdue.value),
            (cls.warn_at <= now, StageState.due_soon.value),
            else_=StageState.on_time.value,
        )


class Notification(Base):
    """An inbox entry for a department (optionally only one role in it) or one user."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_inbox", "department_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    role: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[NotificationKind] = mapped_column(enum_column(NotificationKind))
    stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("clock_stages.id", ondelete="CASCADE"), index=True
    )
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("sharing_requests.id", ondelete="CASCADE"), index=True
    )
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationReceipt(Base):
    """A read receipt: one user has read one inbox entry (a department-wide entry is read per person)."""

    __tablename__ = "notification_reads"
    __table_args__ = (UniqueConstraint("notification_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    read_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OutboundMessage(Base):
    """A warning or 督办 to send by mail or webhook; delivery is retried by the clock DAG."""

    __tablename__ = "outbound_messages"
    __table_args__ = (Index("ix_outbound_messages_status", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel))
    recipient: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    notification_id: Mapped[int | None] = mapped_column(ForeignKey("notifications.id", ondelete="SET NULL"))
    status: Mapped[OutboundStatus] = mapped_column(
        enum_column(OutboundStatus), default=OutboundStatus.pending
    )
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
