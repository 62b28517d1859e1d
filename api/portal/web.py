"""What every portal page shares: the session cookie, CSRF, templates, forms and error pages.

A portal session is the API's own user token (``authz.security``) kept in an HttpOnly cookie, so a
page knows exactly the user, role and department the API would, and every page calls the same
service functions with that user as the matching API route does. A session expires after
``GOVDX_TOKEN_TTL_MINUTES`` without a request; a request in the second half of its life renews it.

Posts carry a CSRF token that each form repeats in a hidden field, checked for every non-GET
request of the portal's router: signed in, an HMAC of the session's id under the platform secret
(bound to the session); on the sign-in form, a random value in a SameSite=Lax cookie (double
submit). Signing out ends every session of the user (``user_service.end_sessions``).
"""

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, unquote, urlencode

from fastapi import Depends, Request, params
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from api.deps import SAFE_METHODS, DbSession, Settings
from api.settings import ApiSettings
from authz import permissions, security
from authz.calendar.service import TZ, WorkingCalendar, local_date
from authz.clock.models import ClockStage
from authz.permissions import Permission
from authz.types import AccessMode, MaskRule
from catalog_schema.department import service as department_service
from catalog_schema.department.schemas import DepartmentRef
from catalog_schema.errors import Forbidden, GovdxError
from catalog_schema.types import LabelledEnum
from catalog_schema.user import service as user_service
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role
from catalog_schema.validation import problems_from

SESSION_COOKIE = "govdx_session"
CSRF_COOKIE = "govdx_csrf"
CSRF_FIELD = "csrf_token"
FLASH_COOKIE = "govdx_flash"

templates = Jinja2Templates(directory=Path(__file__).with_name("templates"))


def _localtime(moment: datetime | None) -> str:
    return moment.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if moment else ""


templates.env.filters.update(
    localtime=_localtime,
    isotime=lambda text: _localtime(datetime.fromisoformat(text)) if text else "",
    pair=lambda value: (value, value),
    mode_label=lambda value: AccessMode.of(value).label,
    mask_label=lambda value: MaskRule.of(value).label,
)

M = TypeVar("M", bound=BaseModel)


class LoginRequired(Exception):
    """The page needs a signed-in user; the portal answers with the login page."""

    def __init__(self, next_url: str, *, expired: bool) -> None:
        super().__init__(next_url)
        self.next_url = next_url
        self.expired = expired


def local_url(url: str | None) -> str:
    # Only same-site paths: "next" must not send a user who just logged in to another site.
    if not url or not url.startswith("/") or url.startswith("//") or "\\" in url:
        return "/"
    return url


def login_redirect(exc: LoginRequired) -> RedirectResponse:
    query = {"next": exc.next_url} | ({"expired": "1"} if exc.expired else {})
    response = RedirectResponse(f"/login?{urlencode(query)}", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def get_portal_user(request: Request, db: DbSession, settings: Settings) -> User:
    """The signed-in, active user of this browser, or LoginRequired."""
    token = request.cookies.get(SESSION_COOKIE)
    claims = security.read_token(token, secret=settings.secret_key) if token else None
    user = user_service.get_by_username(db=db, username=claims.username) if claims else None
    if claims is None or user is None or not user.is_active or claims.generation != user.session_generation:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target if request.method in SAFE_METHODS else "/", expired=token is not None)
    ttl = timedelta(minutes=settings.token_ttl_minutes)
    if claims.expires_at - datetime.now(UTC) < ttl / 2:
        request.state.renewed_session = session_token(user, settings, session_id=claims.session_id)
    request.state.session_id = claims.session_id
    remember(request, user)
    return user


@dataclass(frozen=True)
class Viewer:
    """Who the page is for, as the frame shows it; kept apart from the ORM row so an error page
    rendered after the request's session has closed still has it."""

    full_name: str
    role: Role
    department: DepartmentRef
    nav: list[tuple[str, str]]


def remember(request: Request, user: User) -> None:
    """Keep the signed-in user for the page frame (name, department, role, menu)."""
    request.state.viewer = Viewer(
        full_name=user.full_name,
        role=user.role,
        department=DepartmentRef.model_validate(user.department),
        nav=navigation(user),
    )


PortalUser = Annotated[User, Depends(get_portal_user)]


def page_requires(permission: Permission) -> params.Depends:
    """Like ``api.deps.requires``: the same named rule, for the signed-in portal user."""

    def check(user: PortalUser) -> User:
        return permission.check(user)

    check.__name__ = f"page_requires_{permission.name.replace(' ', '_')}"
    return Depends(check)


def session_token(user: User, settings: ApiSettings, *, session_id: str | None = None) -> str:
    """The cookie's token: a new session, or ``session_id`` renewed; in the user's session generation."""
    return security.issue_token(
        username=user.username,
        role=user.role.value,
        department_id=user.department_id,
        secret=settings.secret_key,
        ttl=timedelta(minutes=settings.token_ttl_minutes),
        generation=user.session_generation,
        session_id=session_id,
    )


def set_session(response: Response, request: Request, token: str, settings: ApiSettings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=settings.token_ttl_minutes * 60,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def new_csrf_value() -> str:
    return secrets.token_urlsafe(32)


def session_csrf(session_id: str, settings: ApiSettings) -> str:
    """The CSRF token of a signed-in session: keyed by the platform secret, bound to the session's id."""
    return hmac.new(settings.secret_key.encode(), f"csrf\x1f{session_id}".encode(), "sha256").hexdigest()


def _csrf_token(request: Request) -> str:
    session_id = getattr(request.state, "session_id", None)
    if session_id:
        return session_csrf(session_id, request.app.state.settings)
    token = getattr(request.state, "new_csrf", None) or request.cookies.get(CSRF_COOKIE)
    if token is None:
        token = request.state.new_csrf = new_csrf_value()
    return token


async def check_csrf(request: Request) -> None:
    """Every post of the portal repeats its CSRF token in a form field; a mismatch is a 403.

    Signed in, the token is the session's own (:func:`session_csrf`): a token of another session,
    or a cookie planted beside this one, is refused. The sign-in form has no session yet: its token
    is the double-submitted cookie.
    """
    if request.method in SAFE_METHODS:
        return
    form = await request.form()
    settings: ApiSettings = request.app.state.settings
    session = request.cookies.get(SESSION_COOKIE)
    claims = security.read_token(session, secret=settings.secret_key) if session else None
    if claims is not None and claims.session_id and request.url.path != "/login":
        kept: str | None = session_csrf(claims.session_id, settings)
    else:
        kept = request.cookies.get(CSRF_COOKIE)
    sent = form.get(CSRF_FIELD)
    if not kept or not isinstance(sent, str) or not hmac.compare_digest(sent.encode(), kept.encode()):
        raise Forbidden(
            "页面已失效（防伪令牌缺失或不符），请刷新页面后重新提交",
            "the form's CSRF token is missing or does not match; reload the page and submit again",
            code="csrf_failed",
        )


async def form_data(request: Request) -> FormData:
    return await request.form()


Form = Annotated[FormData, Depends(form_data)]


def _finish(request: Request, response: Response) -> Response:
    settings: ApiSettings = request.app.state.settings
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf:
        response.set_cookie(
            CSRF_COOKIE,
            new_csrf,
            path="/",
            httponly=True,
            # Lax, not Strict: a link followed from mail must keep, not replace, the token of open forms.
            samesite="lax",
            secure=request.url.scheme == "https",
        )
    renewed = getattr(request.state, "renewed_session", None)
    if renewed:
        set_session(response, request, renewed, settings)
    return response


def render(
    request: Request, template: str, context: Mapping[str, Any] | None = None, *, status: int = 200
) -> Response:
    """A page: the template with the user, the navigation, the CSRF token and any flash message."""
    viewer: Viewer | None = getattr(request.state, "viewer", None)
    flash = request.cookies.get(FLASH_COOKIE)
    response = templates.TemplateResponse(
        request,
        template,
        {
            "user": viewer,
            "nav": viewer.nav if viewer else [],
            "csrf_token": _csrf_token(request),
            "flash": unquote(flash) if flash else None,
            "errors": {},
            "form": {},
            **(context or {}),
        },
        status_code=status,
    )
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return _finish(request, response)


def redirect(request: Request, url: str, flash: str | None = None) -> Response:
    """After a successful post: go to ``url`` (303) and show ``flash`` there once."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        response.set_cookie(FLASH_COOKIE, quote(flash), path="/", httponly=True, samesite="lax", max_age=60)
    return _finish(request, response)


def error_page(request: Request, status: int, body: Mapping[str, Any]) -> Response:
    """A GovdxError (or any error the API reports as JSON) as a page in the portal's frame."""
    return render(request, "error.html", {"status": status, "error": body}, status=status)


# ---- forms --------------------------------------------------------------------------------


def form_dict(form: FormData, *, lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """A form as a model's input: blank fields left out, repeated fields (checkboxes) as lists."""
    values: dict[str, Any] = {}
    for key in form:
        if key == CSRF_FIELD:
            continue
        if key in lists:
            values[key] = [v for v in form.getlist(key) if isinstance(v, str) and v.strip()]
        else:
            value = form.get(key)
            if isinstance(value, str) and value.strip():
                values[key] = value.strip()
    for key in lists:
        values.setdefault(key, [])
    return values


def field_errors(exc: ValidationError | GovdxError) -> dict[str, str]:
    """Errors by form field (the first part of a problem's path); "" holds what has no field."""
    problems = problems_from(exc) if isinstance(exc, ValidationError) else exc.problems
    errors: dict[str, str] = {}
    for p in problems:
        field = p.path.split(".")[0].split("[")[0]
        errors[field] = f"{errors[field]}；{p.message}" if field in errors else p.message
    if isinstance(exc, GovdxError) and not problems:
        errors[""] = exc.message
    return errors


def parse(model: type[M], values: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    """``values`` as ``model``, or None with the field errors to show in place."""
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, field_errors(exc)


def failed(db: Session, exc: GovdxError) -> dict[str, str]:
    """A refused form: undo whatever the service did, and say why by field."""
    db.rollback()
    return field_errors(exc)


# ---- what pages show ----------------------------------------------------------------------


def options(enum: type[LabelledEnum]) -> list[tuple[str, str]]:
    """A vocabulary as (value, Chinese label) pairs for a select or checkboxes."""
    return [(m.value, m.label) for m in enum]


def department_options(db: Session) -> list[tuple[str, str]]:
    """Every department as (slug, name), for a department select."""
    return [(d.slug, d.name) for d in department_service.list_(db=db)]


def navigation(user: User | None) -> list[tuple[str, str]]:
    """The menu: only the pages whose rule admits ``user`` (the rules the pages enforce)."""
    if user is None:
        return []
    entries = [
        ("/catalog", "资源目录", permissions.CatalogBrowse),
        ("/requests", "共享申请", permissions.RequestRead),
        ("/grants", "共享授权", permissions.GrantRead),
        ("/discrepancies", "差异工单", permissions.DiscrepancyRead),
        ("/elements", "数据元登记", permissions.ElementManage),
        ("/batches", "归集批次", permissions.PipelineRead),
        ("/quarantine", "隔离区", permissions.PipelineRead),
        ("/audit", "访问日志", permissions.AuditRead),
        ("/audit/verify", "完整性核验", permissions.AuditRead),
        ("/reports", "时限统计", permissions.ClockReportRead),
        ("/inbox", "消息", permissions.InboxRead),
    ]
    return [(url, label) for url, label, rule in entries if rule.allows(user)]


def clock(stage: ClockStage, calendar: WorkingCalendar, now: datetime | None = None) -> dict[str, Any]:
    """A stage's clock as a person reads it: working days left (or overdue), colour, pause."""
    today = local_date(now or datetime.now(UTC))
    state = stage.state.value
    view: dict[str, Any] = {"state": state, "label": stage.state.label, "due_on": stage.due_on, "colour": ""}
    if not stage.state.is_open:
        return view
    if state == "paused":
        view["text"] = "补正暂停，时限不计"
        return view
    due: date = stage.due_on
    try:
        if due >= today:
            left = calendar.working_days_between(today, due)
            view["text"] = f"剩余 {left} 个工作日"
        else:
            late = calendar.working_days_between(due, today)
            view["text"] = f"已超期 {late} 个工作日"
    except GovdxError:
        view["text"] = f"截止 {due}"  # beyond the calendar's years: the date is all there is
    view["colour"] = {"due_soon": "yellow", "overdue": "red"}.get(state, "green")
    return view


def page_base(path: str, chosen: Mapping[str, str]) -> str:
    """The URL of a list with its filters, ready for ``page=N`` to be appended (the pager's base)."""
    query = urlencode({k: v for k, v in chosen.items() if k != "page" and v})
    return f"{path}?{query}&" if query else f"{path}?"
