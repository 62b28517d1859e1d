"""The pipelines' pages: ingest batches with their quality reports, the quarantine, and
discrepancy tickets with their feedback clocks.

Each page calls the service function of its JSON API route with the same permission rule (and, for
tickets, the same department scope), so a page shows nothing its reader could not get from the API.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy.orm import Session

from api.deps import CurrentKeyring, DbSession, Paging, RowId
from api.portal import web
from api.portal.web import Form, PortalUser, options
from api.routes import pipelines as pipeline_routes
from authz import permissions
from authz.clock import flows as clock_flows
from authz.clock import service as clock_service
from authz.permissions import PipelineRead, QuarantineManage
from authz.sharing import service as sharing_service
from catalog_schema.errors import GovdxError
from catalog_schema.library import service as library_service
from catalog_schema.library.models import Discrepancy, IngestBatch, QuarantinedRow
from catalog_schema.library.schemas import BatchRead, Discard, DiscrepancyRead, QuarantinedRowRead
from catalog_schema.library.schemas import DiscrepancyResolve as DiscrepancyResolution
from catalog_schema.pagination import page_of
from catalog_schema.types import (
    BatchStatus,
    DiscrepancyStatus,
    Library,
    QuarantineQueue,
    QuarantineStatus,
)
from catalog_schema.user.models import User

router = APIRouter()


# ---- batches and their quality reports -----------------------------------------------------------

SourceQuery = Annotated[str | None, Query(max_length=64, pattern=r"^([a-z][a-z0-9_]*)?$")]
API_DOCS, PORTAL_DOCS = "/api/v1/quality-docs/", "/quality-docs/"


def _batch_read(batch: IngestBatch) -> BatchRead:
    """The API's batch, its quality report linked through the portal (a browser has no bearer token)."""
    read = BatchRead.of(batch)
    if read.quality_report and read.quality_report.startswith(API_DOCS):
        read = read.model_copy(update={"quality_report": PORTAL_DOCS + read.quality_report[len(API_DOCS) :]})
    return read


@router.get("/batches", dependencies=[web.page_requires(PipelineRead)])
def list_batches(
    request: Request,
    db: DbSession,
    paging: Paging,
    source: SourceQuery = None,
    library: Library | None = None,
    status: BatchStatus | None = None,
) -> Response:
    batches, total = library_service.list_batches(
        db=db, params=paging, source=source or None, library=library, status=status
    )
    chosen = {k: v for k, v in request.query_params.items() if k != "page" and v}
    context = {
        "title": "归集批次",
        "page": page_of([_batch_read(b) for b in batches], total, paging),
        "form": chosen,
        "libraries": options(Library),
        "statuses": options(BatchStatus),
        "base": web.page_base("/batches", chosen),
    }
    return web.render(request, "pipelines_batches.html", context)


@router.get("/batches/{batch_id}", dependencies=[web.page_requires(PipelineRead)])
def batch_page(request: Request, db: DbSession, batch_id: RowId) -> Response:
    b = _batch_read(library_service.get_batch(db=db, batch_id=batch_id))
    return web.render(request, "pipelines_batch.html", {"title": f"归集批次 {b.id}", "b": b})


@router.get("/quality-docs/{path:path}", dependencies=[web.page_requires(PipelineRead)])
def quality_docs(path: str) -> FileResponse:
    # The API route's own function: the same folder and the same guard against leaving it.
    return pipeline_routes.quality_docs(path)


# ---- the quarantine ------------------------------------------------------------------------------


def _quarantine_context(user: User) -> dict[str, Any]:
    return {
        "can_discard": QuarantineManage.allows(user),
        "queues": options(QuarantineQueue),
        "statuses": options(QuarantineStatus),
        "libraries": options(Library),
    }


@router.get("/quarantine", dependencies=[web.page_requires(PipelineRead)])
def list_quarantine(
    request: Request,
    db: DbSession,
    user: PortalUser,
    keyring: CurrentKeyring,
    paging: Paging,
    source: SourceQuery = None,
    queue: QuarantineQueue | None = None,
    status: QuarantineStatus = QuarantineStatus.open,
    rule: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z_]*$")] = None,
    batch_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    rows, total = library_service.list_quarantine(
        db=db,
        params=paging,
        source=source or None,
        queue=queue,
        status=status,
        rule=rule or None,
        batch_id=batch_id,
    )
    chosen = {k: v for k, v in request.query_params.items() if k != "page" and v}
    context = {
        "title": "隔离区",
        "page": page_of([QuarantinedRowRead.of(r, keyring=keyring) for r in rows], total, paging),
        "form": {"status": status.value, **chosen},
        "base": web.page_base("/quarantine", chosen),
        **_quarantine_context(user),
    }
    return web.render(request, "pipelines_quarantine.html", context)


def _quarantined_page(
    request: Request,
    row: QuarantinedRow,
    user: User,
    keyring: Any,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    context = {
        "title": f"隔离记录 {row.id}",
        "q": QuarantinedRowRead.of(row, keyring=keyring),
        "errors": errors or {},
        "form": form or {},
        **_quarantine_context(user),
    }
    return web.render(request, "pipelines_quarantined.html", context, status=status)


@router.get("/quarantine/{row_id}", dependencies=[web.page_requires(PipelineRead)])
def quarantined_page(
    request: Request, db: DbSession, user: PortalUser, keyring: CurrentKeyring, row_id: RowId
) -> Response:
    return _quarantined_page(request, library_service.get_quarantined(db=db, row_id=row_id), user, keyring)


@router.post("/quarantine/{row_id}/discard", dependencies=[web.page_requires(QuarantineManage)])
def discard(
    request: Request, db: DbSession, user: PortalUser, keyring: CurrentKeyring, row_id: RowId, form: Form
) -> Response:
    row = library_service.get_quarantined(db=db, row_id=row_id)
    values = web.form_dict(form)
    data, errors = web.parse(Discard, values)
    if data is not None:
        try:
            library_service.discard(db=db, row=row, note=data.note, user=user)
        except GovdxError as exc:
            errors = web.failed(db, exc)
            row = library_service.get_quarantined(db=db, row_id=row_id)
        else:
            return web.redirect(request, "/quarantine", flash=f"已废弃隔离记录 {row.id}")
    return _quarantined_page(request, row, user, keyring, errors=errors, form=values, status=422)


# ---- discrepancy tickets -------------------------------------------------------------------------


def _ticket_clocks(db: Session, tickets: list[Discrepancy]) -> dict[int, dict[str, Any]]:
    """Each ticket's feedback clock (its ClockStage, once the clock job put it on one) by ticket id."""
    if not tickets:
        return {}
    stages = clock_service.stages_of_tickets(db=db, ticket_ids=[t.id for t in tickets])
    if not stages:
        return {}
    calendar = sharing_service.calendar(db=db)
    return {s.discrepancy_id: web.clock(s, calendar) for s in stages if s.discrepancy_id is not None}


def _department_names(db: Session) -> dict[str, str]:
    return dict(web.department_options(db))


@router.get("/discrepancies", dependencies=[web.page_requires(permissions.DiscrepancyRead)])
def list_discrepancies(
    request: Request,
    db: DbSession,
    user: PortalUser,
    keyring: CurrentKeyring,
    paging: Paging,
    status: DiscrepancyStatus | None = None,
    library: Library | None = None,
    element: Annotated[str | None, Query(max_length=64)] = None,
    subject_key: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    tickets, total = library_service.list_discrepancies(
        db=db,
        keyring=keyring,
        params=paging,
        department_id=permissions.department_scope(user),
        status=status,
        library=library,
        element=element or None,
        subject_key=subject_key or None,
    )
    chosen = {k: v for k, v in request.query_params.items() if k != "page" and v}
    context = {
        "title": "差异工单",
        "page": page_of([DiscrepancyRead.of(t, keyring=keyring) for t in tickets], total, paging),
        "clocks": _ticket_clocks(db, tickets),
        "names": _department_names(db),
        "form": chosen,
        "statuses": options(DiscrepancyStatus),
        "libraries": options(Library),
        "base": web.page_base("/discrepancies", chosen),
    }
    return web.render(request, "pipelines_discrepancies.html", context)


def _ticket_page(
    request: Request,
    db: Session,
    ticket: Discrepancy,
    user: User,
    keyring: Any,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    allowed = library_service.ALLOWED_RESOLUTIONS.get(ticket.status, set())
    can_resolve = permissions.DiscrepancyResolve.allows(user) and bool(allowed)
    context = {
        "title": f"差异工单 {ticket.id}",
        "t": DiscrepancyRead.of(ticket, keyring=keyring),
        "clock": _ticket_clocks(db, [ticket]).get(ticket.id),
        "names": _department_names(db),
        "can_resolve": can_resolve,
        "resolutions": [(s.value, s.label) for s in DiscrepancyStatus if s in allowed],
        "errors": errors or {},
        "form": form or {},
    }
    return web.render(request, "pipelines_discrepancy.html", context, status=status)


def _ticket(db: Session, user: User, ticket_id: int) -> Discrepancy:
    # The API's scope: department staff reach only tickets naming their department.
    return library_service.get_discrepancy(
        db=db, ticket_id=ticket_id, department_id=permissions.department_scope(user)
    )


@router.get("/discrepancies/{ticket_id}", dependencies=[web.page_requires(permissions.DiscrepancyRead)])
def ticket_page(
    request: Request, db: DbSession, user: PortalUser, keyring: CurrentKeyring, ticket_id: RowId
) -> Response:
    return _ticket_page(request, db, _ticket(db, user, ticket_id), user, keyring)


@router.post(
    "/discrepancies/{ticket_id}/resolve", dependencies=[web.page_requires(permissions.DiscrepancyResolve)]
)
def resolve(
    request: Request, db: DbSession, user: PortalUser, keyring: CurrentKeyring, ticket_id: RowId, form: Form
) -> Response:
    ticket = _ticket(db, user, ticket_id)
    values = web.form_dict(form)
    data, errors = web.parse(DiscrepancyResolution, values)
    if data is not None:
        try:
            clock_flows.resolve(db=db, ticket=ticket, data=data, user=user)
        except GovdxError as exc:
            errors = web.failed(db, exc)
            ticket = _ticket(db, user, ticket_id)
        else:
            flash = f"工单 {ticket.id} 已处理：{data.status.label}"
            return web.redirect(request, f"/discrepancies/{ticket.id}", flash=flash)
    return _ticket_page(request, db, ticket, user, keyring, errors=errors, form=values, status=422)
