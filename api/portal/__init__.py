"""The portal: Simplified-Chinese pages for people, served by the API's own app.

Pages are server-rendered Jinja2 templates with a little plain JavaScript; each page calls the
same service functions, with the same permission rules and the same user, as its API route.
"""

from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import is_portal_path
from api.portal import account, audit, elements, pipelines, reports, resources, sharing, web

router = APIRouter(include_in_schema=False, dependencies=[Depends(web.check_csrf)])
# One module per domain, as in api/routes/; account.py (signing in, home, inbox) and web.py (the
# frame every page shares: session, CSRF, rendering, form errors) serve them all.
for module in (account, resources, sharing, elements, pipelines, audit, reports):
    router.include_router(module.router)


class BlankFiltersDropped:
    """A filter form sends its untouched fields as ``name=``; on a page that means "no filter",
    so blank query parameters are dropped before the page's typed parameters are read."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["query_string"] and is_portal_path(scope["path"]):
            pairs = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            kept = [(k, v) for k, v in pairs if v.strip()]
            if len(kept) != len(pairs):
                scope = {**scope, "query_string": urlencode(kept).encode("latin-1")}
        await self.app(scope, receive, send)


async def _login_required(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, web.LoginRequired)
    return web.login_redirect(exc)


def install(app: FastAPI) -> None:
    """Mount the pages, their static files, and error pages for browser paths on ``app``."""
    app.state.error_page = web.error_page
    app.add_exception_handler(web.LoginRequired, _login_required)
    app.add_middleware(BlankFiltersDropped)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    app.include_router(router)
