"""The edges every request passes: its client's address, its body's size, the headers of every answer.

- :class:`ClientAddress`: ``X-Forwarded-For`` (and ``X-Forwarded-Proto``) are believed only from a
  configured trusted proxy (``GOVDX_TRUSTED_PROXIES``). Anyone may send the header; from anyone
  else it would let a caller write any address into the access log and past a resource's source
  address control (管控参数). Behind proxies, the client is the nearest address in the chain that
  is not itself a trusted proxy.
- :class:`BodySizeLimit`: bodies above the limit are refused before anything parses them.
- :class:`SecurityHeaders`: what a browser should be told about every answer (GB/T 22239 三级:
  no framing, no sniffing, no referrer leak, no caching of personal data; HSTS over HTTPS).
"""

import ipaddress
from collections.abc import Sequence

from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.routes import data
from authz.types import AccessReason
from catalog_schema.errors import PayloadTooLarge

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


class ClientAddress:
    """Take the client's address (and scheme) from a trusted proxy's forwarding headers, else the peer's."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    def _is_trusted(self, address: object) -> bool:
        return address is not None and any(address in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.trusted and scope.get("client"):
            peer = _address(scope["client"][0])
            if self._is_trusted(peer):
                headers = dict(scope["headers"])
                hops = [
                    h for h in headers.get(b"x-forwarded-for", b"").decode("latin-1").split(",") if h.strip()
                ]
                # From the nearest hop back: the first address no trusted proxy vouches for is the client.
                for hop in reversed(hops):
                    address = _address(hop)
                    if address is None:
                        break  # an unreadable hop: nothing before it can be believed
                    scope["client"] = (str(address), 0)
                    if not self._is_trusted(address):
                        break
                proto = headers.get(b"x-forwarded-proto", b"").decode("latin-1").strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto
        await self.app(scope, receive, send)


class BodySizeLimit:
    """Refuse request bodies above a limit, declared or streamed in chunks, before anything parses them."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(
            f"请求内容超过 {self.max_bytes} 字节上限，请拆分后提交",
            f"request body exceeds the {self.max_bytes}-byte limit; split it up",
        )
        request_id = await run_in_threadpool(
            data.record_at_the_door, scope, AccessReason.body_too_large, error.message
        )
        headers = {data.REQUEST_ID: request_id} if request_id else None
        await JSONResponse(error.as_dict(), status_code=error.status, headers=headers)(scope, receive, send)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        # Read the body here, so a chunked body without Content-Length meets the same limit.
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


# The portal's pages load nothing from elsewhere and run no inline script; the one inline style
# is a bar's width (reports). /docs is Swagger UI, which loads its script from a CDN.
_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}
_HSTS = "max-age=31536000; includeSubDomains"
_OUTSIDE_CSP = ("/docs",)


class SecurityHeaders:
    """Add the security headers to every answer; ``Cache-Control: no-store`` to all but static files."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers.setdefault(name, value)
                if not path.startswith(_OUTSIDE_CSP):
                    headers.setdefault("Content-Security-Policy", _CSP)
                if not path.startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
                if scope.get("scheme") == "https":
                    headers.setdefault("Strict-Transport-Security", _HSTS)
            await send(message)

        await self.app(scope, receive, send_with_headers)
