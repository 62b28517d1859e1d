"""The SLA profile in and out."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from authz.calendar.schemas import ArrangementRead
from authz.clock.models import Notification
from catalog_schema.resource.schemas import Labelled


class SlaProfileRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    review_days: int
    provision_days: int
    decision_days: int
    discrepancy_days: int
    due_soon_days: int
    updated_at: datetime | None = None


class SlaProfileUpdate(BaseModel):
    """New limits in working days; stages already running keep the limit they started with."""

    model_config = ConfigDict(extra="forbid")

    review_days: int | None = Field(default=None, ge=1, le=60, description="规范性审查时限")
    provision_days: int | None = Field(default=None, ge=1, le=60, description="平台提供时限")
    decision_days: int | None = Field(default=None, ge=1, le=60, description="部门审批时限")
    discrepancy_days: int | None = Field(default=None, ge=1, le=60, description="校核差异处理时限")
    due_soon_days: int | None = Field(default=None, ge=0, le=10, description="黄牌预警：剩余工作日不超过")


class NotificationRead(BaseModel):
    """An inbox entry as its reader sees it."""

    id: int
    kind: Labelled
    title: str
    body: str
    created_at: datetime
    read_at: datetime | None
    request_id: int | None
    stage_id: int | None

    @classmethod
    def of(cls, n: Notification) -> "NotificationRead":
        return cls(
            id=n.id,
            kind=Labelled.of(n.kind),
            title=n.title,
            body=n.body,
            created_at=n.created_at,
            read_at=n.read_at,
            request_id=n.request_id,
            stage_id=n.stage_id,
        )

    @classmethod
    def for_reader(cls, n: Notification, read_at: datetime | None) -> "NotificationRead":
        """The entry with the reader's own receipt: read state is not a property of a shared entry."""
        return cls.of(n).model_copy(update={"read_at": read_at})


class RecomputeRead(BaseModel):
    """What recomputing open stages changed."""

    model_config = ConfigDict(from_attributes=True)

    deadlines_checked: int
    deadlines_changed: int
    states_changed: int
    open_by_state: dict[str, int]


class ArrangementApplied(BaseModel):
    """A loaded calendar arrangement and what reloading the open deadlines under it changed."""

    arrangement: ArrangementRead
    recompute: RecomputeRead
