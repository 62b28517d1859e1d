"""The auditor's pages: access-log search and subject lookup, and the integrity check."""

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from api.deps import CurrentKeyring, DbSession, Paging
from api.portal import web
from api.routes.audit import Filters
from authz.audit import search as audit_search
from authz.audit import verify as audit_verify
from authz.permissions import AuditRead
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
