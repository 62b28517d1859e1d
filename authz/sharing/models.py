"""Sharing requests, their transitions, each owner's part of a composite, and the grants they end in."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from authz.clock.models import ClockStage
from authz.types import GrantStatus, OwnerOutcome, RequestAction, RequestStatus, Route
from catalog_schema.database import (
    Base,
    DepartmentOwnedMixin,
    TimestampMixin,
    UTCDateTime,
    enum_column,
    utcnow,
)
from catalog_schema.department.models import Department
from catalog_schema.resource.models import Resource
from catalog_schema.user.models import User


class SharingRequest(DepartmentOwnedMixin, TimestampMixin, Base):
    """A department's request for a resource; ``department_id`` is the requesting department."""

    __tablename__ = "sharing_requests"
    __table_args__ = (
        Index("ix_sharing_requests_status", "status"),
        Index("ix_sharing_requests_provider_status", "provider_department_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # The reference a department system quotes on every data call (like X-Road's X-Road-Issue).
    number: Mapped[str | None] = mapped_column(String(24), unique=True)
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"), index=True)
    resource_version: Mapped[int]
    provider_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    items: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    business_reference: Mapped[str | None] = mapped_column(String(100))
    access_modes: Mapped[list[str]] = mapped_column(JSON)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    expected_volume: Mapped[int]
    status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus), default=RequestStatus.submitted)
    route: Mapped[Route | None] = mapped_column(enum_column(Route))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    department: Mapped[Department] = relationship(foreign_keys="SharingRequest.department_id", lazy="joined")
    provider_department: Mapped[Department] = relationship(
        foreign_keys=[provider_department_id], lazy="joined"
    )
    requester: Mapped[User] = relationship(lazy="joined")
    resource: Mapped[Resource] = relationship(lazy="joined")
    events: Mapped[list["RequestEvent"]] = relationship(
        back_populates="request", order_by="RequestEvent.id", lazy="selectin", cascade="all, delete-orphan"
    )
    stages: Mapped[list[ClockStage]] = relationship(
        order_by=ClockStage.id, lazy="selectin", cascade="all, delete-orphan"
    )
    grant: Mapped["Grant | None"] = relationship(back_populates="request", lazy="selectin")
    # A composite's parts (route composite): one per owner that decides, plus the platform's.
    decisions: Mapped[list["OwnerDecision"]] = relationship(
        back_populates="request", order_by="OwnerDecision.id", lazy="selectin", cascade="all, delete-orphan"
    )


class OwnerDecision(Base):
    """One department's part of a composite request: the items it decides, on its own decision stage,
    and what it decided; the platform's part (items no owner has to decide) has no stage."""

    __tablename__ = "owner_decisions"
    __table_args__ = (UniqueConstraint("request_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("sharing_requests.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"), index=True)
    stage_id: Mapped[int | None] = mapped_column(ForeignKey("clock_stages.id", ondelete="SET NULL"))
    items: Mapped[list[str]] = mapped_column(JSON)
    # Per item, why it is routed here (owners.Basis value): conditional, controlled, no_entry, ….
    basis: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    outcome: Mapped[OwnerOutcome] = mapped_column(enum_column(OwnerOutcome), default=OwnerOutcome.pending)
    approved_items: Mapped[list[str]] = mapped_column(JSON, default=list)
    masking: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    request: Mapped[SharingRequest] = relationship(back_populates="decisions")
    department: Mapped[Department] = relationship(lazy="joined")
    stage: Mapped[ClockStage | None] = relationship(lazy="joined")
    decided_by: Mapped[User | None] = relationship(lazy="joined")


class RequestEvent(Base):
    """Who did what to a request, when, and why; one row per transition, never changed."""

    __tablename__ = "request_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("sharing_requests.id", ondelete="CASCADE"), index=True)
    # "submit" for the first event; otherwise a RequestAction value.
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[RequestStatus | None] = mapped_column(enum_column(RequestStatus))
    to_status: Mapped[RequestStatus] = mapped_column(enum_column(RequestStatus))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_role: Mapped[str] = mapped_column(String(32))
    actor_department_id: Mapped[int | None] = mapped_column(ForeignKey("departments.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    request: Mapped[SharingRequest] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship(lazy="joined")
    actor_department: Mapped[Department | None] = relationship(lazy="joined")

    @property
    def action_label(self) -> str:
        return "提交申请" if self.action == "submit" else RequestAction[self.action].label


class Grant(DepartmentOwnedMixin, TimestampMixin, Base):
    """What a consumer department may read of a resource, for what, until when; ``department_id`` consumes."""

    __tablename__ = "grants"
    __table_args__ = (Index("ix_grants_resource_status", "resource_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("sharing_requests.id", ondelete="CASCADE"), unique=True
    )
    # The request number a department system quotes on every data call under this grant.
    request_number: Mapped[str] = mapped_column(String(24), index=True)
    resource_id: Mapped[int] = mapped_column(ForeignKey("resources.id"))
    provider_department_id: Mapped[int] = mapped_column(ForeignKey("departments.id"))
    route: Mapped[Route] = mapped_column(enum_column(Route))
    items: Mapped[list[str]] = mapped_column(JSON)
    access_modes: Mapped[list[str]] = mapped_column(JSON)
    purpose: Mapped[str] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    valid_from: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    daily_quota: Mapped[int | None]
    # Per item: how the data plane masks it (issue 5); empty means served as stored.
    masking: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[GrantStatus] = mapped_column(enum_column(GrantStatus), default=GrantStatus.active)
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    end_reason: Mapped[str | None] = mapped_column(Text)

    request: Mapped[SharingRequest] = relationship(back_populates="grant")
    resource: Mapped[Resource] = relationship(lazy="joined")
    department: Mapped[Department] = relationship(foreign_keys="Grant.department_id", lazy="joined")
