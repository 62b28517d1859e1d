"""The portal: Simplified-Chinese pages for people, served by the API's own app.

Pages are server-rendered Jinja2 templates with a little plain JavaScript; each page calls the
same service functions, with the same permission rules and the same user, as its API route.
"""

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.staticfiles import StaticFiles

from api.portal import account, admin, audit, catalog, sharing, web

router = APIRouter(include_in_schema=False, dependencies=[Depends(web.check_csrf)])
for module in (account, catalog, sharing, admin, audit):
    router.include_router(module.router)


async def _login_required(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, web.LoginRequired)
    return web.login_redirect(exc)


def install(app: FastAPI) -> None:
    """Mount the pages, their static files, and error pages for browser paths on ``app``."""
    app.state.error_page = web.error_page
    app.add_exception_handler(web.LoginRequired, _login_required)
    app.mount("/static", StaticFiles(directory=Path(__file__).with_name("static")), name="static")
    app.include_router(router)
