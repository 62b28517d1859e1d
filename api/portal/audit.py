"""The auditor's pages: access-log search and subject lookup, the integrity check, and the
feedback-clock (SLA) report with charts."""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import CurrentKeyring, DbSession, Paging
from api.portal import web
from api.routes.audit import Filters
from authz.audit import search as audit_search
from authz.audit import verify as audit_verify
from authz.calendar.service import local_date
from authz.clock import reports
from authz.permissions import AuditRead, ClockReportRead
from authz.types import AccessOutcome
from catalog_schema.errors import GovdxError
from catalog_schema.pagination import page_of

router = APIRouter()

View = Literal["all", "outside"]
# Which search field a refusal is about (anything else is the subject as typed).
_FIELD_OF = {"invalid_range": "to", "department_not_found": "department"}


@router.get("/audit", dependencies=[web.page_requires(AuditRead)])
def access_log(
    request: Request,
    db: DbSession,
    keyring: CurrentKeyring,
    filters: Filters,
    paging: Paging,
    view: View = "all",
) -> Response:
    """Search the log the way the API's /audit/records does; "outside" is /audit/outside-approval."""
    chosen = {k: v for k, v in request.query_params.items() if v}
    errors: dict[str, str] = {}
    try:
        records, total = audit_search.search(
            db=db, keyring=keyring, filters=filters, params=paging, outside_approval=view == "outside"
        )
    except GovdxError as exc:
        # A subject that is no ID number or code, or an unknown department: said beside its field.
        field = _FIELD_OF.get(exc.code, "subject" if filters.subject else "")
        errors = {field: exc.message}
        records, total = [], 0
    context = {
        "title": "访问日志",
        "page": page_of(records, total, paging),
        "form": chosen,
        "errors": errors,
        "view": view,
        "outcomes": web.options(AccessOutcome),
        "departments": web.department_options(db),
        "base": web.page_base("/audit", chosen),
        "searched": bool(chosen.keys() - {"view", "page"}),
    }
    return web.render(request, "audit.html", context, status=422 if errors else 200)


@router.get("/audit/verify", dependencies=[web.page_requires(AuditRead)])
def verify(request: Request, db: DbSession, keyring: CurrentKeyring) -> Response:
    report = audit_verify.verify(db=db, keyring_public_keys=keyring.public_keys())
    return web.render(request, "audit_verify.html", {"title": "访问日志完整性核验", "report": report})


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
