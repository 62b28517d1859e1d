"""The working-day calendar and the SLA profile."""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, status

from api.deps import CurrentUser, DbSession, requires
from authz.calendar import service as calendar_service
from authz.calendar.schemas import ArrangementRead, DeadlineRead
from authz.clock import service as clock_service
from authz.clock.schemas import ArrangementApplied, RecomputeRead, SlaProfileRead, SlaProfileUpdate
from authz.clock.settings import ClockSettings
from authz.permissions import CalendarManage, CalendarRead

router = APIRouter(tags=["calendar 工作日历与时限"])

RegionQuery = Annotated[
    str | None,
    Query(pattern=r"^[0-9]{6}$", description="行政区划代码，默认本平台所在地区 / region, default configured"),
]


def _region(region: str | None) -> str:
    return ClockSettings().calendar_region if region is None else region


@router.get(
    "/calendar/deadline",
    response_model=DeadlineRead,
    dependencies=[requires(CalendarRead)],
    summary="期限计算 / due date of “within N working days” (the starting day does not count)",
)
def deadline(
    db: DbSession,
    start: Annotated[date, Query(description="起算日 / the day of the starting event")],
    days: Annotated[int, Query(ge=0, le=1000, description="工作日数 / working days")],
    region: RegionQuery = None,
) -> DeadlineRead:
    due = calendar_service.get_calendar(db=db, region=_region(region)).deadline(start, days)
    return DeadlineRead(
        start=start, working_days=days, due_on=due.due_on, due_at=due.due_at, provisional=due.provisional
    )


@router.get(
    "/calendar/arrangements",
    response_model=list[ArrangementRead],
    dependencies=[requires(CalendarRead)],
    summary="已加载的节假日安排 / loaded arrangements, newest year first",
)
def list_arrangements(db: DbSession) -> list[ArrangementRead]:
    return [ArrangementRead.model_validate(a) for a in calendar_service.list_arrangements(db=db)]


@router.post(
    "/calendar/arrangements",
    response_model=ArrangementApplied,
    status_code=status.HTTP_201_CREATED,
    dependencies=[requires(CalendarManage)],
    summary="加载节假日安排并重算未办结期限 / load a year's arrangement and recompute open deadlines",
)
def load_arrangement(
    db: DbSession,
    user: CurrentUser,
    document: Annotated[
        dict[str, Any],
        Body(
            description="与 `govdx calendar load` 的文件相同 / the arrangement file as JSON: "
            "year, region, source, holidays[{name, from, to}], workdays[{name, date}]",
        ),
    ],
) -> ArrangementApplied:
    # Validated here rather than by FastAPI so the year checks (dates in the year, make-up days on
    # weekends, duplicates) come out as problems with paths like the schema's own.
    arrangement = calendar_service.parse_arrangement(document)
    row, report = clock_service.apply_arrangement(
        db=db, arrangement=arrangement, user=user, region=ClockSettings().calendar_region
    )
    return ArrangementApplied(
        arrangement=ArrangementRead.model_validate(row), recompute=RecomputeRead.model_validate(report)
    )


@router.get(
    "/sla-profile",
    response_model=SlaProfileRead,
    dependencies=[requires(CalendarRead)],
    summary="时限配置 / the SLA profile in force",
)
def get_sla_profile(db: DbSession) -> SlaProfileRead:
    return SlaProfileRead.model_validate(clock_service.active_profile(db=db))


@router.put(
    "/sla-profile",
    response_model=SlaProfileRead,
    dependencies=[requires(CalendarManage)],
    summary="修改时限配置 / change the limits; running stages keep theirs, new stages use these",
)
def update_sla_profile(db: DbSession, user: CurrentUser, data: SlaProfileUpdate) -> SlaProfileRead:
    return SlaProfileRead.model_validate(clock_service.update_profile(db=db, data=data, user=user))
