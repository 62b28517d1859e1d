"""A provider department's service for the proxy tests: a real local HTTP server the test steers.

It answers ``GET <anything>/<key>`` from ``records`` (``{"records": [...]}``, or 404 for a key it
does not hold) unless ``behaviour`` says otherwise: ``"sleep"`` (answer after ``delay`` seconds),
``"error"`` (500), ``"not_json"``, ``"malformed"`` (JSON of the wrong shape). Every request it
sees is kept in ``seen`` (its path), so a test can tell how many attempts reached it, or none.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote


class Provider(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, records: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.records = records
        self.behaviour = "answer"
        self.delay = 0.0
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def stop(self) -> None:
        """Shut down and close the port: a call now finds nobody listening."""
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: Provider

    def do_GET(self) -> None:
        provider = self.server
        provider.seen.append(self.path)
        if provider.behaviour == "sleep":
            time.sleep(provider.delay)
        if provider.behaviour == "error":
            self._send(500, b'{"error": "internal"}')
            return
        if provider.behaviour == "not_json":
            self._send(200, b"<html>upstream maintenance</html>", "text/html")
            return
        if provider.behaviour == "malformed":
            self._send(200, b'{"data": [1, 2, 3]}')
            return
        key = unquote(self.path.rsplit("/", 1)[-1])
        found = provider.records.get(key)
        if found is None:
            self._send(404, b'{"code": "not_found"}')
            return
        self._send(200, json.dumps({"records": found}, ensure_ascii=False).encode("utf-8"))

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the platform gave up waiting (its timeout): nobody to answer

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""
