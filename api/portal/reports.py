"""The feedback-clock (SLA) report: on-time rates and overdue stages as bar charts, and their CSVs."""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import DbSession
from api.portal import web
from authz.calendar.service import local_date
from authz.clock import reports
from authz.permissions import ClockReportRead
from catalog_schema.errors import GovdxError

router = APIRouter()


def _bars(rows: Sequence[tuple[str, float]], *, scale: float | None = None) -> list[dict[str, object]]:
    """Rows of a horizontal bar chart: label, value, and width in per cent of the largest (or ``scale``)."""
    top = scale or max((v for _, v in rows), default=0) or 1
    return [{"label": label, "value": value, "width": round(100 * value / top, 1)} for label, value in rows]


@router.get("/reports", dependencies=[web.page_requires(ClockReportRead)])
def sla_report(
    request: Request,
    db: DbSession,
    start: Annotated[date | None, Query()] = None,
    end: Annotated[date | None, Query()] = None,
) -> Response:
    """On-time rate per department, and overdue stages by stage and by department (as /reports/*)."""
    today = local_date(datetime.now(UTC))
    start, end = start or date(today.year, 1, 1), end or today
    form = {"start": start.isoformat(), "end": end.isoformat()}
    try:
        reports.check_range(start, end)
    except GovdxError as exc:
        context = {"title": "时限统计", "form": form, "errors": web.field_errors(exc), "ready": False}
        return web.render(request, "reports.html", context, status=422)
    on_time = reports.on_time_report(db=db, start=start, end=end, department_id=None)
    open_stages = reports.open_stages_report(db=db, start=start, end=end, department_id=None)
    by_department = [r for r in on_time if r.scope == "department"]
    total = next((r for r in on_time if r.scope == "total"), None)
    overdue_by_kind = [(r.kind_label or "", r.overdue) for r in open_stages if r.scope == "kind"]
    overdue_by_department = [
        (r.department_name or "", r.overdue) for r in open_stages if r.scope == "department" and r.overdue
    ]
    context = {
        "title": "时限统计",
        "form": form,
        "ready": True,
        "total": total,
        "rates": _bars(
            [
                (r.department_name or "", round(100 * r.on_time_rate, 1))
                for r in by_department
                if r.on_time_rate is not None
            ],
            scale=100,
        ),
        "on_time": by_department,
        "overdue_by_kind": _bars(overdue_by_kind),
        "overdue_by_department": _bars(sorted(overdue_by_department, key=lambda x: -x[1])),
        "open_total": next((r for r in open_stages if r.scope == "total"), None),
        "query": f"start={start}&end={end}",
    }
    return web.render(request, "reports.html", context)


@router.get("/reports/{name}.csv", dependencies=[web.page_requires(ClockReportRead)])
def report_csv(
    db: DbSession,
    name: Literal["on-time", "open-stages"],
    start: Annotated[date, Query()],
    end: Annotated[date, Query()],
) -> Response:
    """The same CSV as the API's ``format=csv``, for a browser that holds a session, not a token."""
    reports.check_range(start, end)
    if name == "on-time":
        rows: Sequence[reports.ReportRow] = reports.on_time_report(
            db=db, start=start, end=end, department_id=None
        )
        row_type: type[reports.ReportRow] = reports.OnTimeRow
    else:
        rows = reports.open_stages_report(db=db, start=start, end=end, department_id=None)
        row_type = reports.OpenStagesRow
    return Response(
        reports.to_csv(rows, row_type=row_type),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}_{start}_{end}.csv"'},
    )
