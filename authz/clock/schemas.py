"""The SLA profile in and out."""

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


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
