"""Signing in and out, the home page of each role, and the inbox."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api.deps import DbSession, Paging, RowId, SessionFactory, Settings, client_address
from api.portal import web
from api.portal.web import Form, PortalUser
from authz import permissions, security
from authz.clock import notify
from authz.clock.schemas import NotificationRead
from authz.sharing import service as sharing_service
from catalog_schema.errors import GovdxError
from catalog_schema.pagination import PageParams, page_of
from catalog_schema.user import flows as user_flows
from catalog_schema.user import service as user_service

router = APIRouter()

_ONE = PageParams(page=1, page_size=1)


@router.get("/login")
def login_page(
    request: Request,
    next_url: Annotated[str, Query(alias="next", max_length=2000)] = "/",
    expired: bool = False,
) -> Response:
    return web.render(request, "login.html", {"next": next_url, "expired": expired, "title": "登录"})


# Signing in writes only cookies; the slow password hash must not hold the write lock.
@router.post("/login")
def login(request: Request, factory: SessionFactory, settings: Settings, form: Form) -> Response:
    username, password = str(form.get("username") or "").strip(), str(form.get("password") or "")
    next_url = str(form.get("next") or "/")
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "请输入用户名"
    if not password:
        errors["password"] = "请输入密码"
    user, status = None, 422
    if not errors:
        try:
            user = user_flows.sign_in(
                session_factory=factory,
                username=username,
                password=password,
                address=client_address(request),
            )
        except GovdxError as refused:  # wrong credentials (401) or locked (429)
            errors, status = {"": refused.message}, refused.status
    if user is None:
        context = {"next": next_url, "form": {"username": username}, "errors": errors, "title": "登录"}
        return web.render(request, "login.html", context, status=status)
    web.remember(request, user)
    # A new CSRF value for the new session, so a token seen before signing in is worth nothing after.
    request.state.new_csrf = web.new_csrf_value()
    response = web.redirect(request, web.local_url(next_url))
    web.set_session(response, request, web.session_token(user, settings), settings)
    return response


@router.post("/logout")
def logout(request: Request, db: DbSession, settings: Settings) -> Response:
    """Sign out: every token of the user ends, in every worker (a copied cookie included)."""
    token = request.cookies.get(web.SESSION_COOKIE)
    claims = security.read_token(token, secret=settings.secret_key) if token else None
    user = user_service.get_by_username(db=db, username=claims.username) if claims else None
    if claims is not None and user is not None and claims.generation == user.session_generation:
        user_service.end_sessions(db=db, user=user)
    response = web.redirect(request, "/login", flash="已退出登录")
    response.delete_cookie(web.SESSION_COOKIE, path="/")
    return response


@router.get("/")
def home(request: Request, db: DbSession, user: PortalUser) -> Response:
    """What waits for this user: the counts behind each of their queues."""
    queues: list[tuple[str, str, int]] = []

    def count(box: str | None) -> int:
        return sharing_service.list_(db=db, user=user, params=_ONE, box=box)[1]

    if permissions.RequestSubmit.allows(user):
        queues.append(("/requests?box=mine", "本部门的共享申请", count("mine")))
    if permissions.RequestReview.allows(user):
        queues.append(("/requests?box=to_review", "待审查、待提供的申请", count("to_review")))
    if permissions.RequestDecide.allows(user):
        queues.append(("/requests?box=to_decide", "待我部门审批的申请", count("to_decide")))
    if permissions.InboxRead.allows(user):
        unread = notify.inbox(db=db, user=user, params=_ONE, unread_only=True)[1]
        queues.append(("/inbox", "未读消息", unread))
    return web.render(request, "home.html", {"queues": queues, "title": "工作台"})


@router.get("/inbox", dependencies=[web.page_requires(permissions.InboxRead)])
def inbox(
    request: Request, db: DbSession, user: PortalUser, paging: Paging, unread: bool = False
) -> Response:
    found, total = notify.inbox(db=db, user=user, params=paging, unread_only=unread)
    page = page_of([NotificationRead.for_reader(n, read_at) for n, read_at in found], total, paging)
    return web.render(request, "inbox.html", {"page": page, "unread": unread, "title": "消息"})


@router.post("/inbox/{notification_id}/read", dependencies=[web.page_requires(permissions.InboxRead)])
def mark_read(request: Request, db: DbSession, user: PortalUser, notification_id: RowId) -> Response:
    notify.mark_read(db=db, user=user, notification_id=notification_id)
    return web.redirect(request, "/inbox")
