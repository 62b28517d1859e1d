"""Sharing for department staff and reviewers: the request form, request lists with their
clocks, one request with the actions its reader may take, and grants."""

import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.deps import DbSession, Paging, RowId
from api.portal import web
from api.portal.web import Form, PortalUser, options
from authz.calendar.service import local_date
from authz.permissions import GrantRead as GrantReadPermission
from authz.permissions import RequestAct, RequestRead, RequestSubmit, visible_resource_statuses
from authz.sharing import grants as sharing_grants
from authz.sharing import owners as sharing_owners
from authz.sharing import service as sharing_service
from authz.sharing.models import SharingRequest
from authz.sharing.schemas import GrantRead, RequestCreate, RequestSummary, TransitionIn
from authz.sharing.schemas import RequestRead as RequestOut
from authz.types import AccessMode, GrantStatus, MaskRule, RequestAction, RequestStatus
from catalog_schema.errors import GovdxError
from catalog_schema.pagination import page_of
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource

router = APIRouter()

Box = Literal["mine", "to_review", "to_decide"]
BOXES = {"mine": "本部门的申请", "to_review": "待审查、待提供", "to_decide": "待我部门审批"}
# Actions whose form asks for a reason (the service refuses them without one) and the approve form.
REASON_REQUIRED = {
    RequestAction.reject,
    RequestAction.deny,
    RequestAction.request_supplement,
    RequestAction.revoke,
}


def _requestable(db: DbSession, user: PortalUser, resource_id: int) -> Resource:
    return resource_service.get_visible(
        db=db, resource_id=resource_id, visible=visible_resource_statuses(user)
    )


def _form_page(
    request: Request, resource: Resource, form: dict[str, Any], errors: dict[str, str], status: int = 200
) -> Response:
    context = {
        "title": f"申请使用：{resource.name}",
        "resource": resource,
        "form": form,
        "errors": errors,
        "modes": options(AccessMode),
    }
    return web.render(request, "request_form.html", context, status=status)


@router.get("/requests/new", dependencies=[web.page_requires(RequestSubmit)])
def new_request(
    request: Request, db: DbSession, user: PortalUser, resource: Annotated[int, Query(ge=1, le=2**31 - 1)]
) -> Response:
    found = _requestable(db, user, resource)
    today = local_date(datetime.now(UTC))
    form = {
        "items": [],
        "access_modes": [AccessMode.lookup.value],
        "valid_from": today.isoformat(),
        "valid_until": (today + timedelta(days=365)).isoformat(),
    }
    return _form_page(request, found, form, {})


@router.post("/requests/new", dependencies=[web.page_requires(RequestSubmit)])
def submit_request(request: Request, db: DbSession, user: PortalUser, form: Form) -> Response:
    posted = str(form.get("resource_id") or "")
    # The form's own hidden field; anything else is a resource no one can see.
    resource_id = int(posted) if re.fullmatch(r"[1-9][0-9]{0,9}", posted) and int(posted) < 2**31 else 0
    found = _requestable(db, user, resource_id)
    values = web.form_dict(form, lists=("items", "access_modes"))
    values.pop("resource_id", None)
    data, errors = web.parse(RequestCreate, {**values, "resource": found.code})
    if data is not None:
        try:
            created = sharing_service.submit(db=db, data=data, user=user)
        except GovdxError as exc:
            errors = web.failed(db, exc)
        else:
            return web.redirect(request, f"/requests/{created.id}", flash=f"已提交申请 {created.number}")
    return _form_page(request, found, values, errors, status=422)


def _clocks(db: Session, requests: list[SharingRequest]) -> dict[int, dict[str, Any]]:
    """Each stage's clock by stage id, judged on one calendar."""
    if not requests:
        return {}
    calendar = sharing_service.calendar(db=db)
    return {s.id: web.clock(s, calendar) for r in requests for s in r.stages}


@router.get("/requests", dependencies=[web.page_requires(RequestRead)])
def list_requests(
    request: Request,
    db: DbSession,
    user: PortalUser,
    paging: Paging,
    box: Box | None = None,
    status: RequestStatus | None = None,
) -> Response:
    found, total = sharing_service.list_(db=db, user=user, params=paging, status=status, box=box)
    page = page_of(
        [RequestSummary.of(r, sharing_service.allowed_actions(r, user)) for r in found], total, paging
    )
    chosen = {k: v for k, v in request.query_params.items() if v}
    context = {
        "title": "共享申请",
        "page": page,
        "clocks": _clocks(db, found),
        "box": box,
        "boxes": BOXES,
        "form": chosen,
        "statuses": options(RequestStatus),
        "base": web.page_base("/requests", chosen),
    }
    return web.render(request, "requests.html", context)


def _detail(
    request: Request,
    db: Session,
    found: SharingRequest,
    user: PortalUser,
    *,
    errors: dict[str, str] | None = None,
    acting: str | None = None,
    form: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    allowed = sharing_service.allowed_actions(found, user)
    r = RequestOut.of(found, allowed)
    context = {
        "title": f"共享申请 {r.number}",
        "r": r,
        "clocks": _clocks(db, [found]),
        "actions": [(a, a in REASON_REQUIRED) for a in allowed],
        # A composite's owner approves its own items only; None for every other request.
        "own_items": sharing_owners.decidable_items(found, user),
        "acting": acting,
        "errors": errors or {},
        "form": form or {},
        "modes": options(AccessMode),
        "mask_rules": options(MaskRule),
    }
    return web.render(request, "request.html", context, status=status)


@router.get("/requests/{request_id:int}", dependencies=[web.page_requires(RequestRead)])
def request_page(request: Request, db: DbSession, user: PortalUser, request_id: RowId) -> Response:
    return _detail(request, db, sharing_service.get(db=db, request_id=request_id, user=user), user)


def _transition_values(
    form: FormData, action: RequestAction, found: SharingRequest, own_items: list[str] | None
) -> dict[str, Any]:
    values = web.form_dict(form, lists=("items", "access_modes"))
    masking = {k.removeprefix("mask:"): v for k, v in values.items() if k.startswith("mask:")}
    values = {k: v for k, v in values.items() if not k.startswith("mask:")}
    if action is not RequestAction.approve:
        values.pop("items", None)
        values.pop("access_modes", None)
        return values
    if own_items is not None:
        # A composite's owner: its own items and their masking; the rest is the whole request's.
        kept = {k: v for k, v in values.items() if k in ("items", "reason")}
        return kept | ({"masking": masking} if masking else {})
    # Approve: send only what the provider changed, so an untouched form grants what was asked.
    # Unticking every item stays [], an error to show, not "no change".
    if set(values["items"]) == set(found.items):
        del values["items"]
    if set(values["access_modes"]) == set(found.access_modes):
        del values["access_modes"]
    for key, asked in (("valid_from", found.valid_from), ("valid_until", found.valid_until)):
        if values.get(key) == asked.isoformat():
            del values[key]
    if masking:
        values["masking"] = masking
    return values


@router.post("/requests/{request_id}/act/{action}", dependencies=[web.page_requires(RequestAct)])
def act(
    request: Request, db: DbSession, user: PortalUser, request_id: RowId, action: RequestAction, form: Form
) -> Response:
    # Locked, as in the API, so two people deciding at once are serialised, not both applied.
    found = sharing_service.get(db=db, request_id=request_id, user=user, lock=True)
    values = _transition_values(form, action, found, sharing_owners.decidable_items(found, user))
    data, errors = web.parse(TransitionIn, values)
    status = 422
    if data is not None:
        try:
            sharing_service.act(db=db, request=found, action=action, data=data, user=user)
        except GovdxError as exc:
            errors, status = web.failed(db, exc), exc.status
            found = sharing_service.get(db=db, request_id=request_id, user=user)
        else:
            return web.redirect(request, f"/requests/{found.id}", flash=f"已办理：{action.label}")
    shown = {**values, "items": form.getlist("items"), "access_modes": form.getlist("access_modes")}
    return _detail(request, db, found, user, errors=errors, acting=action.value, form=shown, status=status)


@router.get("/grants", dependencies=[web.page_requires(GrantReadPermission)])
def list_grants(
    request: Request, db: DbSession, user: PortalUser, paging: Paging, status: GrantStatus | None = None
) -> Response:
    grants, total = sharing_grants.list_(db=db, user=user, params=paging, status=status)
    page = page_of([GrantRead.of(g) for g in grants], total, paging)
    chosen = {k: v for k, v in request.query_params.items() if v}
    context = {
        "title": "共享授权",
        "page": page,
        "form": chosen,
        "statuses": options(GrantStatus),
        "base": web.page_base("/grants", chosen),
        "today": date.today(),
    }
    return web.render(request, "grants.html", context)
