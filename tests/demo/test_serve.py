"""`govdx demo serve`: 卫健's service and the API in one process, a proxied lookup through both.

Runs the command in a subprocess on free ports against a seeded demo database of its own, asks
for one 出生医学证明 as 人社's demo system under the seeded grant (DEMO-16), and stops it.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session

from catalog_schema import migrate
from catalog_schema.database import make_engine
from demo import catalog as demo_catalog
from demo import clients as demo_clients
from demo import requests as demo_requests
from demo import sources as demo_sources

pytestmark = pytest.mark.slow

CERTIFICATE = "P350012345"
RECORD = {
    "sfzh": "350102201503070013",
    "xm": "林小雨",
    "xb": "2",
    "csrq": "2015-03-07",
    "cszmbh": CERTIFICATE,
    "swbz": "0",
    "swrq": None,
    "gxsj": "2024-01-02 10:00:00",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _seeded(work: Path) -> str:
    url = f"sqlite:///{work / 'govdx.sqlite'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    with Session(engine) as db:
        demo_catalog.seed(db)
        demo_requests.seed(db)
        demo_clients.seed(db)
        db.commit()
    engine.dispose()
    return url


def _wait_until_up(base: str, process: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = process.stdout.read() if process.stdout else ""
            pytest.fail(f"govdx demo serve exited {process.returncode}: {output[-3000:]}")
        try:
            httpx.get(f"{base}/docs", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    pytest.fail("govdx demo serve did not come up")


def test_demo_serve_answers_a_birth_certificate_through_weijians_service(tmp_path: Path) -> None:
    sources_dir = tmp_path / "sources"
    records = sources_dir / demo_sources.HEALTH_RECORDS
    records.parent.mkdir(parents=True)
    records.write_text(json.dumps([RECORD], ensure_ascii=False), encoding="utf-8")
    port, weijian_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "GOVDX_PROFILE": "demo",
        "GOVDX_DATABASE_URL": _seeded(tmp_path),
        "GOVDX_SOURCES_DIR": str(sources_dir),
    }
    env.pop("GOVDX_CONN_WEIJIAN_API", None)
    command = [sys.executable, "-m", "api.cli", "demo", "serve", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--weijian-port", str(weijian_port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    api = f"http://127.0.0.1:{port}/api/v1"
    try:
        _wait_until_up(f"http://127.0.0.1:{port}", process)
        client_id, _department, _name, secret = demo_clients.DEMO_CLIENTS[0]
        token = httpx.post(
            f"{api}/auth/client-token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        ).json()["access_token"]

        response = httpx.post(
            f"{api}/data/lookup",
            headers={"Authorization": f"Bearer {token}", "X-Govdx-Purpose": "DEMO-16"},
            json={"resource": demo_requests.BIRTHS, "key": CERTIFICATE},
            timeout=30,
        )
    finally:
        process.send_signal(signal.SIGINT)
        output = process.communicate(timeout=30)[0]

    assert response.status_code == 200, response.text + output[-2000:]
    assert response.json()["records"] == [
        {"出生医学证明编号": CERTIFICATE, "新生儿姓名": "林小雨", "新生儿性别": "2", "出生日期": "2015-03-07"}
    ]
    assert f"127.0.0.1:{weijian_port}" in output
