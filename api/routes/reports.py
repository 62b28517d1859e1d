"""Feedback-clock reports: on-time rates and open stages, as JSON or CSV."""

from collections.abc import Sequence
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from api.deps import DbSession, DepartmentKeyQuery, requires
from authz.clock import reports
from authz.clock.reports import OnTimeRow, OpenStagesRow, ReportRow
from authz.permissions import ClockReportRead
from catalog_schema.department import service as department_service

router = APIRouter(tags=["reports 限期反馈统计"])


class ReportFormat(StrEnum):
    json = "json"
    csv = "csv"


StartQuery = Annotated[date, Query(description="区间开始日（含）/ first day, inclusive")]
EndQuery = Annotated[date, Query(description="区间结束日（含），跨度不超过 3 年 / last day, inclusive")]
FormatQuery = Annotated[ReportFormat, Query(alias="format", description="json 或 csv（Excel 可直接打开）")]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "JSON rows, or CSV with format=csv"}
}


def _department_id(db: DbSession, department: DepartmentKeyQuery = None) -> int | None:
    return None if department is None else department_service.get_by_ref(db=db, ref=department).id


DepartmentFilter = Annotated[int | None, Depends(_department_id)]


def _csv(rows: Sequence[ReportRow], row_type: type[ReportRow], name: str, start: date, end: date) -> Response:
    return Response(
        reports.to_csv(rows, row_type=row_type),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}_{start}_{end}.csv"'},
    )


@router.get(
    "/reports/on-time",
    response_model=list[OnTimeRow],
    responses=CSV_RESPONSE,
    dependencies=[requires(ClockReportRead)],
    summary="按期办结率 / on-time rate of stages due in a range, by department and stage, with totals",
)
def on_time(
    db: DbSession,
    start: StartQuery,
    end: EndQuery,
    department_id: DepartmentFilter,
    fmt: FormatQuery = ReportFormat.json,
) -> list[OnTimeRow] | Response:
    rows = reports.on_time_report(db=db, start=start, end=end, department_id=department_id)
    return _csv(rows, OnTimeRow, "on-time", start, end) if fmt is ReportFormat.csv else rows


@router.get(
    "/reports/open-stages",
    response_model=list[OpenStagesRow],
    responses=CSV_RESPONSE,
    dependencies=[requires(ClockReportRead)],
    summary="未办结环节 / open stages started in a range, by state now, by department and stage",
)
def open_stages(
    db: DbSession,
    start: StartQuery,
    end: EndQuery,
    department_id: DepartmentFilter,
    fmt: FormatQuery = ReportFormat.json,
) -> list[OpenStagesRow] | Response:
    rows = reports.open_stages_report(db=db, start=start, end=end, department_id=department_id)
    return _csv(rows, OpenStagesRow, "open-stages", start, end) if fmt is ReportFormat.csv else rows
