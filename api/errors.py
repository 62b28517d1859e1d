"""Every error leaves the API as JSON with a stable ``code``, ``message`` (中文) and ``message_en``."""

import logging
from collections.abc import Mapping

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.routes import data
from authz.types import AccessReason
from catalog_schema.errors import Conflict, GovdxError, InvalidInput
from catalog_schema.validation import problem_from_error

log = logging.getLogger("govdx.api")

_HTTP_TEXT = {
    401: ("未登录或身份凭证无效", "not authenticated"),
    403: ("无权访问", "forbidden"),
    404: ("请求的地址不存在", "not found"),
    405: ("不支持该请求方法", "method not allowed"),
    413: ("请求内容过大", "request body too large"),
}


def is_portal_path(path: str) -> bool:
    """Portal pages are everything outside the JSON API and its docs."""
    return not (path.startswith("/api/") or path.startswith("/docs"))


def _json(
    request: Request, status: int, body: Mapping[str, object], headers: dict[str, str] | None = None
) -> Response:
    # The portal's pages get the same error as a page in their own frame (api/portal/web.py).
    page = getattr(request.app.state, "error_page", None)
    if page is not None and is_portal_path(request.url.path):
        response: Response = page(request, status, body)
        return response
    return JSONResponse(status_code=status, content=body, headers=headers)


async def _govdx_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GovdxError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return _json(request, exc.status, exc.as_dict(), headers)


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # FastAPI locates errors as ("body", "items", 0, ...); drop the "body"/"query" head for users.
    problems = [problem_from_error(e, loc=tuple(e["loc"])[1:]) for e in exc.errors()]
    error = InvalidInput(
        "请求参数有误：" + "；".join(f"{p.path} {p.message}" for p in problems),
        "invalid request: " + "; ".join(f"{p.path}: {p.message_en}" for p in problems),
        code="validation_error",
        problems=problems,
    )
    request_id = await run_in_threadpool(
        data.record_at_the_door, request.scope, AccessReason.invalid_request, error.message
    )
    return _json(
        request, error.status, error.as_dict(), {data.REQUEST_ID: request_id} if request_id else None
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    zh, en = _HTTP_TEXT.get(exc.status_code, ("请求失败", str(exc.detail)))
    return _json(
        request,
        exc.status_code,
        {"code": f"http_{exc.status_code}", "message": zh, "message_en": en},
        dict(exc.headers or {}),
    )


async def _integrity_error(request: Request, exc: Exception) -> Response:
    # Reached only when a concurrent writer wins a race the services' own checks could not see.
    error = Conflict(
        "提交的数据与他人刚刚保存的数据冲突(唯一性或引用约束)，请刷新后重试",
        "the request conflicts with data saved concurrently (a uniqueness or reference constraint); "
        "reload and retry",
        code="concurrent_conflict",
    )
    return _json(request, error.status, error.as_dict())


async def _data_error(request: Request, exc: Exception) -> Response:
    # A value that passed validation but that the database cannot store: still the caller's input.
    error = InvalidInput(
        "提交的值超出数据库允许的范围(长度、数值或字符)，请检查后重新提交",
        "a value is outside what the database can store (length, number or character)",
        code="value_out_of_range",
    )
    return _json(request, error.status, error.as_dict())


async def _operational_error(request: Request, exc: Exception) -> Response:
    if "database is locked" in str(exc):
        body = {
            "code": "database_busy",
            "message": "数据库正忙，请稍后重试",
            "message_en": "the database is busy; retry shortly",
        }
        return _json(request, 503, body, {"Retry-After": "2"})
    return await _unexpected(request, exc)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error", exc_info=exc)
    body = {
        "code": "internal_error",
        "message": "服务器内部错误，已记录",
        "message_en": "internal server error",
    }
    return _json(request, 500, body)


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(GovdxError, _govdx_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IntegrityError, _integrity_error)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _operational_error)
    app.add_exception_handler(Exception, _unexpected)
