"""Routes of the data plane 数据服务: keyed lookup, batch lookup and bulk export under a grant.

Every call carries ``X-Govdx-Purpose`` (the grant's request number, e.g. SQ-2026-000012, or the
business reference of the request it came from) and may name the end user it acts for in
``X-Govdx-Operator``; ``X-Request-Id`` is echoed, or generated when absent. Keys travel in POST
bodies, never in URLs: URLs end up in proxy and server logs, ID numbers must not.

These routes own their transactions and declare ``SessionFactory``, not ``DbSession``: the data plane
commits (the access log's group commit), and a refusal is in the access log before its 403 leaves,
which the request-wide ``DbSession`` (rolled back on any error) could not give. Each route opens one
session and closes it before the response is sent; the export streams from a second, and commits
the trace of each row group it streams (``authz.access.export``) in a third.
"""

import contextlib
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from starlette.datastructures import Headers
from starlette.types import Scope

from api.deps import SessionFactory, Settings, bearer_token, client_address
from authz.access import export as access_export
from authz.access import lookup as access_lookup
from authz.access import trail
from authz.access import verify as access_verify
from authz.access.schemas import BatchIn, BatchOut, Call, LookupIn, LookupOut, VerifyIn, VerifyOut
from authz.types import AccessMode, AccessReason
from catalog_schema.errors import GovdxError

router = APIRouter(prefix="/data", tags=["data 数据服务"])
REQUEST_ID = "X-Request-Id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,64}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


# The data plane's paths, and the access mode each is logged under.
_MODES = {
    "/api/v1/data/lookup": AccessMode.lookup,
    "/api/v1/data/batch": AccessMode.batch,
    "/api/v1/data/verify": AccessMode.verify,
    "/api/v1/data/export": AccessMode.bulk_export,
}


def _request_id(value: str | None) -> str:
    return value if value and _REQUEST_ID.match(value) else uuid.uuid4().hex


def record_at_the_door(scope: Scope, reason: AccessReason, message: str) -> str | None:
    """Log a data call refused before it was read (body too large or malformed); its request id.

    None when the request is no data call. Every data call is in the access log, these too: a
    system that keeps sending what cannot be read is visible to the auditor.
    """
    mode = _MODES.get(scope.get("path", "").rstrip("/"))
    if mode is None or scope.get("method") != "POST":
        return None
    headers = Headers(scope=scope)
    request_id = _request_id(headers.get(REQUEST_ID))
    client = scope.get("client")
    with scope["app"].state.sessionmaker() as db:
        trail.record_unread(
            db,
            mode=mode,
            request_id=request_id,
            client_ip=client[0][:64] if client else None,
            reason=reason,
            message=message,
        )
    return request_id


def _text(value: str | None, limit: int) -> str | None:
    """A header as text: HTTP carries bytes (read as Latin-1), callers send UTF-8; control characters go."""
    if not value:
        return None
    with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):
        value = value.encode("latin-1").decode("utf-8")
    value = _CONTROL.sub("", value).strip()
    return value[:limit] or None


# The dependencies of data calls are async: they do no I/O, and each sync one would cost the call a
# hop to the worker threads and back.
async def data_call(
    request: Request,
    token: Annotated[str | None, Depends(bearer_token)],
    purpose: Annotated[
        str | None,
        Header(
            alias="X-Govdx-Purpose", description="申请单号或业务办件号 / request number or business reference"
        ),
    ] = None,
    operator: Annotated[
        str | None, Header(alias="X-Govdx-Operator", description="经办人 / the end user the system acts for")
    ] = None,
    request_id: Annotated[str | None, Header(alias=REQUEST_ID, description="请求编号 / request id")] = None,
) -> Call:
    """What the request says about the call: token, purpose, operator, request id and client address."""
    return Call(
        token=token,
        purpose=_text(purpose, 100),
        operator=_text(operator, 64),
        request_id=_request_id(request_id),
        client_ip=client_address(request),
    )


DataCall = Annotated[Call, Depends(data_call)]
# A provider's service (接口共享) that fails a forwarded call: its status comes from
# authz.access.exceptions.STATUS like the 429's; documented here for the keyed routes.
_PROVIDER_FAILURES: dict[int | str, dict[str, Any]] = {
    502: {
        "description": "provider_error：提供部门服务返回错误 / the provider's service answered with an error"
    },
    504: {"description": "provider_unavailable：提供部门服务无响应 / the provider's service did not answer"},
}


def _error(call: Call, exc: GovdxError) -> JSONResponse:
    """A refusal or error as JSON with the request id (refusals are already in the access log)."""
    headers = {REQUEST_ID: call.request_id}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    if exc.status == 429:  # a resource's rate limit: seconds until its window ends (RFC 9110 §10.2.3)
        headers["Retry-After"] = str(exc.extra["retry_after"])
    body: dict[str, Any] = {**exc.as_dict(), "request_id": call.request_id}
    return JSONResponse(status_code=exc.status, content=body, headers=headers)


def _answer(call: Call, work: Callable[[], BaseModel]) -> Response:
    """The service's answer as JSON with the request id, or its error likewise.

    The answer is serialised here, in the route's worker thread: a model returned to FastAPI
    would be validated again against ``response_model`` in a second hop to the worker threads
    (bench-api). ``response_model`` still documents the answer.
    """
    try:
        answer = work()
    except GovdxError as exc:
        return _error(call, exc)
    return Response(
        content=answer.model_dump_json(), media_type="application/json", headers={REQUEST_ID: call.request_id}
    )


@router.post(
    "/lookup",
    response_model=LookupOut,
    summary="单条查询 / keyed lookup of one subject",
    responses=_PROVIDER_FAILURES,
)
def lookup(body: LookupIn, session_factory: SessionFactory, settings: Settings, call: DataCall) -> Response:
    """The masked record of one subject, as the caller's grant allows (404 when there is none).

    The key travels in the body, never in the URL: URLs end up in proxy logs.
    """
    with session_factory() as db:
        return _answer(
            call, lambda: access_lookup.lookup(db=db, secret=settings.secret_key, call=call, data=body)
        )


@router.post(
    "/batch", response_model=BatchOut, summary="批量查询 / batch lookup", responses=_PROVIDER_FAILURES
)
def batch(body: BatchIn, session_factory: SessionFactory, settings: Settings, call: DataCall) -> Response:
    """One result per key (found or not), in order, up to GOVDX_DATA_MAX_BATCH keys.

    The keys travel in the body, never in the URL: URLs end up in proxy logs.
    """
    with session_factory() as db:
        return _answer(
            call, lambda: access_lookup.batch(db=db, secret=settings.secret_key, call=call, data=body)
        )


@router.post(
    "/verify", response_model=VerifyOut, summary="核验 / does a claim match the record (一致/不一致)"
)
def verify(body: VerifyIn, session_factory: SessionFactory, settings: Settings, call: DataCall) -> Response:
    """一致 or 不一致 for each claimed item, under a grant of mode ``verify``; no value is handed over."""
    with session_factory() as db:
        return _answer(
            call, lambda: access_verify.verify(db=db, secret=settings.secret_key, call=call, data=body)
        )


@router.get(
    "/export",
    summary="批量导出 / bulk export (Parquet)",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/vnd.apache.parquet": {}}}},
)
def export(
    session_factory: SessionFactory,
    settings: Settings,
    call: DataCall,
    resource: Annotated[str, Query(min_length=1, max_length=40, description="信息资源代码 / resource code")],
    items: Annotated[
        list[str] | None, Query(max_length=200, description="信息项（可重复）；缺省为授权的全部 / items")
    ] = None,
) -> Response:
    """Every current subject of the resource's library as Parquet, streamed; grants with bulk_export only.

    No key is named: the URL carries only the resource and item names.
    """
    try:
        with session_factory() as db:
            plan = access_export.open_export(
                db=db, secret=settings.secret_key, call=call, resource=resource, items=items
            )
    except GovdxError as exc:
        return _error(call, exc)

    def chunks() -> Iterator[bytes]:
        # One session reads the view; each row group's trace commits in another before it leaves.
        with session_factory() as stream_db, session_factory() as log_db:
            yield from access_export.export_chunks(db=stream_db, log_db=log_db, plan=plan)

    filename = quote(plan.filename)
    return StreamingResponse(
        chunks(),
        media_type="application/vnd.apache.parquet",
        headers={
            REQUEST_ID: call.request_id,
            "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
            "X-Govdx-Rows": str(plan.rows),
        },
    )
