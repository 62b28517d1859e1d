"""A resource's rate limit holds across API workers: ``govdx serve --workers 4`` on PostgreSQL.

The test migrates and seeds a PostgreSQL database of its own (GOVDX_TEST_POSTGRES_URL), publishes a
公安 resource whose rate limit is 20次/小时, grants it to 人社 and starts four uvicorn workers on it.
Sixty lookups at once, spread over the workers by the kernel: exactly twenty are served, the other
forty are 429 with Retry-After, and the access log holds a record of every one of the sixty, its
hash chain whole: the four processes' group commits append in one order, the head row's lock.
"""

import asyncio
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from authz.audit.models import AccessRecord
from authz.audit.verify import verify
from catalog_schema import migrate
from catalog_schema.keys.service import get_keyring
from demo import catalog as demo_catalog
from tests import factories
from tests.conftest import _postgres_engine

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
LIMIT, CALLS, WORKERS = 20, 60, 4


@dataclass(frozen=True)
class Served:
    """The four workers' base URL, the resource, and the headers of 人社's system under its grant."""

    base: str
    resource: str
    headers: dict[str, str]


@pytest.fixture(scope="module")
def database() -> Iterator[Engine]:
    """A fresh PostgreSQL database, migrated and holding the demo catalog (skipped without a server)."""
    engines = _postgres_engine()
    engine = next(engines)
    migrate.upgrade(engine)
    with Session(engine) as db:
        demo_catalog.seed(db)
        db.commit()
    yield engine
    next(engines, None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_workers(process: subprocess.Popen[bytes], log: Path, base: str) -> None:
    """Until every worker has started and the API answers."""
    deadline = time.monotonic() + 60
    while log.read_text().count("Application startup complete") < WORKERS:
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"govdx serve did not start {WORKERS} workers:\n{log.read_text()}")
        time.sleep(0.1)
    assert httpx.get(f"{base}/api/v1/health", timeout=5).status_code == 200


@pytest.fixture(scope="module")
def served(database: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Four workers serving a resource of 20次/小时 that 人社 has a grant for."""
    with Session(database) as db:
        values = factories.person(1)
        factories.library_record(db, "population", [values["population.id_number"]], values)
        code = factories.people_resource(
            db, control_params=[{"kind": "rate_limit", "value": f"{LIMIT}次/小时"}]
        )
        grant = factories.grant(db, resource=code, items=["姓名"])
        system, secret = factories.api_client(db)
        purpose, client_id = grant.request_number, system.client_id
        db.commit()
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    home = tmp_path_factory.mktemp("workers")
    env = {
        **os.environ,
        "GOVDX_PROFILE": "demo",
        "GOVDX_DATABASE_URL": database.url.render_as_string(hide_password=False),
        "GOVDX_QUALITY_DIR": str(home / "quality"),
    }
    govdx = Path(sys.executable).with_name("govdx")
    log_path = home / "server.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [str(govdx), "serve", "--workers", str(WORKERS), "--port", str(port)],
            env=env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_workers(process, log_path, base)
            token = httpx.post(
                f"{base}/api/v1/auth/client-token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
                timeout=10,
            ).json()["access_token"]
            yield Served(base, code, {"Authorization": f"Bearer {token}", "X-Govdx-Purpose": purpose})
        finally:
            process.terminate()
            process.wait(timeout=20)


async def _fire(served: Served) -> list[httpx.Response]:
    body = {"resource": served.resource, "key": factories.person(1)["population.id_number"]}
    headers = served.headers
    limits = httpx.Limits(max_connections=CALLS)
    async with httpx.AsyncClient(base_url=served.base, limits=limits, timeout=30) as client:
        return list(
            await asyncio.gather(
                *(
                    client.post(
                        "/api/v1/data/lookup", json=body, headers={**headers, "X-Request-Id": f"w-{i}"}
                    )
                    for i in range(CALLS)
                )
            )
        )


def test_the_rate_limit_holds_across_four_workers(database, served):
    now = datetime.now(UTC)
    if now.minute == 59 and now.second > 50:  # the calls must fall in one hourly window
        time.sleep(61 - now.second)

    responses = asyncio.run(_fire(served))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * LIMIT + [429] * (CALLS - LIMIT)
    limited = [r for r in responses if r.status_code == 429]
    assert all(1 <= int(r.headers["Retry-After"]) <= 3600 for r in limited)
    assert {r.json()["code"] for r in limited} == {"rate_limited"}
    with Session(database) as db:
        records = db.execute(
            select(AccessRecord.request_id, AccessRecord.outcome, AccessRecord.reason_code).where(
                AccessRecord.request_id.like("w-%")
            )
        ).all()
    assert len(records) == CALLS and len({r.request_id for r in records}) == CALLS
    assert sorted((r.outcome, r.reason_code) for r in records) == sorted(
        [("served", None)] * LIMIT + [("refused", "rate_limited")] * (CALLS - LIMIT)
    )


def test_the_access_log_chain_is_whole_after_four_workers_wrote_it_at_once(database, served):
    asyncio.run(_fire(served))

    with Session(database) as db:
        report = verify(db=db, keyring_public_keys=get_keyring().public_keys())
        head = db.scalar(select(func.max(AccessRecord.seq)))

    assert report.intact, report.first_break
    assert (report.records, report.last_seq) == (head, head)
