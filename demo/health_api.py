"""卫健委's vital-records API for the demo: paged JSON over HTTP, served from the generator's file.

``GET /api/v1/vital-records?page=N&size=M[&since=T]`` answers
``{"data": [...], "page": N, "size": M, "total": T}``. Pages start at 1; a page past the end
has no records; ``since`` keeps the records whose ``gxsj`` (更新时间, ``YYYY-MM-DD HH:MM:SS``)
is later than it, as the real 全民健康信息平台 interface filters by update time.

``GET /api/v1/birth-certificates/{出生医学证明编号}`` is the 出生医学证明信息 service the platform
forwards to (接口共享, ``authz.access.proxy``): ``{"records": [...]}`` in the catalog resource's item
names (出生医学证明编号, 新生儿姓名, 新生儿性别, 出生日期; the items it holds no data for are absent),
or 404 for a number it never issued.

Run it beside the demo: ``python -m demo.health_api var/sources/weijian/vital_records.json``, or
``govdx demo serve``, which runs it beside the API.
"""

import argparse
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

RECORDS_PATH = "/api/v1/vital-records"
BIRTH_CERTIFICATES_PATH = "/api/v1/birth-certificates/"
# 出生医学证明信息 (101003/000001): item name ← the vital record's field.
BIRTH_CERTIFICATE_ITEMS = {
    "出生医学证明编号": "cszmbh",
    "新生儿姓名": "xm",
    "新生儿性别": "xb",
    "出生日期": "csrq",
}
INCREMENTAL_FIELD = "gxsj"
DEFAULT_SIZE = 100
MAX_SIZE = 10_000
DEFAULT_PORT = 8765


class VitalRecordsServer(ThreadingHTTPServer):
    """Serves one list of records; ``shutdown()`` stops it and releases the port."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], records: list[dict[str, Any]]) -> None:
        super().__init__(address, _Handler)
        self.records = records
        self.birth_certificates = {r["cszmbh"]: r for r in records if r.get("cszmbh")}

    def shutdown(self) -> None:
        super().shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: VitalRecordsServer

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path.startswith(BIRTH_CERTIFICATES_PATH):
            self._birth_certificate(unquote(url.path.removeprefix(BIRTH_CERTIFICATES_PATH)))
            return
        if url.path != RECORDS_PATH:
            self._send(HTTPStatus.NOT_FOUND, _error("not_found", "接口不存在", f"no such path: {url.path}"))
            return
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            page = _positive(query.get("page", "1"), "page")
            size = min(_positive(query.get("size", str(DEFAULT_SIZE)), "size"), MAX_SIZE)
        except ValueError as exc:
            self._send(HTTPStatus.BAD_REQUEST, _error("bad_request", "分页参数须为正整数", str(exc)))
            return
        records = self.server.records
        since = query.get("since")
        if since:
            records = [r for r in records if (r.get(INCREMENTAL_FIELD) or "") > since]
        start = (page - 1) * size
        body = {"data": records[start : start + size], "page": page, "size": size, "total": len(records)}
        self._send(HTTPStatus.OK, body)

    def _birth_certificate(self, number: str) -> None:
        record = self.server.birth_certificates.get(number)
        if record is None:
            self._send(
                HTTPStatus.NOT_FOUND, _error("not_found", "无此出生医学证明", "no such birth certificate")
            )
            return
        found = {item: record[field] for item, field in BIRTH_CERTIFICATE_ITEMS.items() if record.get(field)}
        self._send(HTTPStatus.OK, {"records": [found]})

    def _send(self, status: HTTPStatus, body: dict[str, Any]) -> None:
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: a demo source's access log is noise in test and pipeline output."""


def _positive(value: str, name: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def _error(code: str, message: str, message_en: str) -> dict[str, Any]:
    return {"code": code, "message": message, "message_en": message_en}


def load_records(records_path: Path) -> list[dict[str, Any]]:
    """The records the generator wrote (a JSON array)."""
    records = json.loads(records_path.read_text(encoding="utf-8"))
    if not isinstance(records, list):
        raise ValueError(f"{records_path} must hold a JSON array of records")
    return records


def serve(records_path: Path, host: str = "127.0.0.1", port: int = 0) -> tuple[VitalRecordsServer, str]:
    """Serve ``records_path`` on a daemon thread; returns the server and its base URL (port 0: any free)."""
    server = VitalRecordsServer((host, port), load_records(records_path))
    # A short poll interval, so shutdown() returns at once.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="weijian-api", daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_address[1]}"


def main(argv: list[str] | None = None) -> None:
    """Run the API in the foreground until Ctrl-C."""
    parser = argparse.ArgumentParser(
        description="卫健委出生医学证明与死亡信息接口（演示）/ demo vital-records API"
    )
    parser.add_argument("records", type=Path, help="vital_records.json written by `govdx demo sources`")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    args = parser.parse_args(argv)
    server = VitalRecordsServer((args.host, args.port), load_records(args.records))
    base = f"http://{args.host}:{server.server_address[1]}"
    print(f"卫健接口 / vital-records API: {base}{RECORDS_PATH}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
