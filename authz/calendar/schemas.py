"""The arrangement file an administrator loads, and what the API shows of the calendar."""

from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from catalog_schema.types import LongText, ShortText
from catalog_schema.validation import BilingualValueError

# The years the working-day calendar covers.
FIRST_YEAR = 2001
LAST_YEAR = 2060


class HolidaySpan(BaseModel):
    """放假: consecutive days off, e.g. 国庆节 10-01 … 10-08."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: ShortText
    start: date = Field(alias="from")
    end: date | None = Field(default=None, alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> "HolidaySpan":
        if self.end is not None and self.end < self.start:
            raise BilingualValueError(
                f"放假结束日 {self.end} 早于开始日 {self.start}",
                f"holiday ends ({self.end}) before it starts ({self.start})",
            )
        return self


class MakeUpDay(BaseModel):
    """调休上班: a weekend day worked in exchange for a holiday."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText
    date: date


class ArrangementFile(BaseModel):
    """国务院办公厅关于某年部分节假日安排的通知, or a region's adjustment of it."""

    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=FIRST_YEAR, le=LAST_YEAR)
    region: str = Field(default="", pattern=r"^([0-9]{6})?$")
    source: LongText
    holidays: list[HolidaySpan] = Field(default_factory=list, max_length=100)
    workdays: list[MakeUpDay] = Field(default_factory=list, max_length=100)


class ArrangementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    year: int
    region: str
    source: str
    days: list[dict[str, object]]
    loaded_at: datetime


class DeadlineRead(BaseModel):
    start: date
    working_days: int
    due_on: date
    due_at: datetime
    provisional: bool
