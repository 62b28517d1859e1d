"""A paged JSON API: ``GET {base}{path}?{page_param}=N&{size_param}=M[&{since_param}=since]``.

Pages are read from ``first_page`` until one holds fewer than ``page_size`` records; records
are collected into batches of ``chunk_rows``, so memory follows one batch and one page.
Connection errors, timeouts, 429 and 5xx are retried ``retries`` times, waiting
``backoff_s * 2**attempt``; then the source is unreachable. Other 4xx answers and bodies that
are not the declared JSON are errors of the declaration and are not retried.

Numbers are decoded as ``Decimal`` so ``1.50`` stays ``1.50``. A record that lacks a mapped
field gives ``None`` for it; only the first record is held to the mapping (``SchemaDrift``),
since APIs commonly omit null fields.
"""

import json
import time
from collections.abc import Generator
from decimal import Decimal
from typing import Any

import httpx
import pyarrow as pa

from connectors.base import (
    ReadStats,
    SourceError,
    SourceUnreachable,
    Window,
    as_text,
    check_columns,
    text_batch,
)
from connectors.config import HttpSpec, SourceSpec
from connectors.credentials import redact, resolve_url


class HttpConnector:
    """A paged JSON API read as string batches; ``window.since`` goes to the server as ``since_param``."""

    def __init__(self, spec: SourceSpec) -> None:
        if not isinstance(spec.connector, HttpSpec):
            raise TypeError(f"{spec.name} is not an HTTP source")
        self.spec = spec
        self.source = spec.name
        self.stats = ReadStats()
        self._http: HttpSpec = spec.connector

    def columns(self) -> list[str]:
        """The fields of the first record of the first page (empty when the API has no records)."""
        with self._client() as client:
            records = self._page(client, self._http.first_page, since=None, size=1)
        return list(records[0]) if records else []

    def fingerprint(self) -> str | None:
        """An API has no cheap digest; every run reads its window."""
        return None

    def read(self, window: Window) -> Generator[pa.RecordBatch, None, None]:
        """Stream every page's records as batches of at most ``chunk_rows``."""
        self.stats = ReadStats()
        names = list(self.spec.columns)
        field = self._http.incremental_field
        columns: dict[str, list[str | None]] = {name: [] for name in names}
        rows: list[int] = []
        done = 0
        high: Any = None
        previous: list[dict[str, Any]] | None = None
        with self._client() as client:
            page = self._http.first_page
            while True:
                records = self._page(client, page, since=window.since, size=self._http.page_size)
                if page == self._http.first_page and records:
                    check_columns(
                        source=self.source,
                        department=self.spec.department,
                        declared=names,
                        present=list(records[0]),
                    )
                if records and records == previous:
                    raise self._bad_response(
                        page,
                        "分页参数未生效，服务返回了与上一页相同的记录",
                        "the page parameter has no effect: the page repeats the last",
                    )
                for record in records:
                    done += 1
                    rows.append(done)
                    for name in names:
                        columns[name].append(as_text(record.get(name)))
                    if field is not None:
                        high = _highest(high, record.get(field))
                    if len(rows) >= self._http.chunk_rows:
                        self.stats.high_water = as_text(high)
                        yield text_batch(columns, rows)
                        columns = {name: [] for name in names}
                        rows = []
                self.stats.high_water = as_text(high)
                if len(records) < self._http.page_size:
                    break
                previous = records
                page += 1
        if rows:
            yield text_batch(columns, rows)

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self._http.timeout_s, follow_redirects=True)

    def _url(self, page: int, *, since: str | None, size: int) -> httpx.URL:
        base = httpx.URL(resolve_url(self._http.conn_id, source=self.source))
        path = base.path.rstrip("/") + "/" + self._http.path.lstrip("/")
        params: dict[str, str | int] = {self._http.page_param: page, self._http.size_param: size}
        if since is not None and self._http.since_param is not None:
            params[self._http.since_param] = since
        return base.copy_with(path=path).copy_merge_params(params)

    def _page(self, client: httpx.Client, page: int, *, since: str | None, size: int) -> list[dict[str, Any]]:
        """The records of one page, retrying what may pass."""
        url = self._url(page, since=since, size=size)
        shown = _shown(url, {self._http.page_param, self._http.size_param, self._http.since_param or ""})
        last_error = ""
        for attempt in range(self._http.retries + 1):
            if attempt:
                time.sleep(self._http.backoff_s * 2 ** (attempt - 1))
            try:
                response = client.get(url)
            except httpx.TransportError as exc:
                last_error = redact(f"{type(exc).__name__}: {exc}")
                continue
            if response.status_code == 429 or response.status_code >= 500:
                last_error = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise self._refused(shown, response.status_code)
            return self._records(response, page)
        raise SourceUnreachable(
            f"数据源 {self.source} 的接口 {shown} 在 {self._http.retries + 1} 次尝试后仍无法访问"
            f"（最后一次：{last_error}）。请确认接口服务正常、网络可达；稍后将重试。",
            f"the API {shown} of source {self.source} did not answer after {self._http.retries + 1} "
            f"attempts (last: {last_error}); check that the service is up and reachable; the run will retry",
            source=self.source,
        )

    def _records(self, response: httpx.Response, page: int) -> list[dict[str, Any]]:
        try:
            body = json.loads(response.content, parse_float=Decimal)
        except (json.JSONDecodeError, UnicodeDecodeError):
            kind = response.headers.get("content-type", "unknown")
            raise self._bad_response(
                page, f"响应不是 JSON（Content-Type: {kind}）", f"the body is not JSON (Content-Type: {kind})"
            ) from None
        field = self._http.records_field
        records = body.get(field) if isinstance(body, dict) else None
        if not isinstance(records, list):
            raise self._bad_response(
                page, f"响应中没有记录数组字段 {field}", f"the body has no array field {field}"
            )
        if not all(isinstance(record, dict) for record in records):
            raise self._bad_response(
                page, f"{field} 中有不是对象的记录", f"{field} holds a non-object record"
            )
        return records

    def _refused(self, shown: str, status: int) -> SourceError:
        fix = (
            f"请检查连接 {self._http.conn_id} 的账号或令牌"
            if status in (401, 403)
            else "请检查 sources.yaml 中的 path 和分页参数"
        )
        fix_en = (
            f"check the account or token of connection {self._http.conn_id}"
            if status in (401, 403)
            else "check path and the paging parameters in sources.yaml"
        )
        return SourceError(
            f"数据源 {self.source} 的接口 {shown} 拒绝了请求（HTTP {status}）。{fix}。",
            f"the API {shown} of source {self.source} refused the request (HTTP {status}); {fix_en}",
            source=self.source,
            code="source_http_error",
        )

    def _bad_response(self, page: int, detail: str, detail_en: str) -> SourceError:
        return SourceError(
            f"数据源 {self.source} 的接口第 {page} 页的响应不符合声明：{detail}。"
            f"请核对 sources.yaml 中的 records_field 与接口文档，或联系部门 {self.spec.department}。",
            f"page {page} of the API of source {self.source} is not as declared: {detail_en}; check "
            f"records_field in sources.yaml against the API's documentation or ask department "
            f"{self.spec.department}",
            source=self.source,
            code="source_bad_response",
        )


def _shown(url: httpx.URL, ours: set[str]) -> str:
    """The URL for messages: no user info, values of query parameters not ours (keys, tokens) hidden."""
    query = "&".join(f"{key}={value if key in ours else '***'}" for key, value in url.params.multi_items())
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{url.path}" + (f"?{query}" if query else "")


def _highest(current: Any, value: Any) -> Any:
    if value is None:
        return current
    if current is None:
        return value
    try:
        return value if value > current else current
    except TypeError:
        return value if (as_text(value) or "") > (as_text(current) or "") else current
