"""The production topology on one machine: govdx and Airflow on PostgreSQL, Airflow on Celery.

``govdx demo cluster`` (``make cluster``) runs, against the local PostgreSQL and Redis (or
RabbitMQ): govdx migrated and seeded on PostgreSQL, Airflow's metadata on PostgreSQL, ``airflow
api-server`` on 127.0.0.1, the scheduler, the dag-processor, two Celery workers, 卫健's demo
service, and ``govdx serve --workers 4``. Every process gets the same environment (``env``): one
``GOVDX_HOME``, one JWT secret, the same connections; each runs in its own process group, so a
stop takes its children too. It waits until every part answers, prints where each is, and stops
them all on Ctrl-C (SIGINT or SIGTERM).

What Airflow 3.3 on PostgreSQL needs beyond the obvious (each cost an afternoon): an async URL of
its own (``SQL_ALCHEMY_CONN_ASYNC``, else it wants asyncpg), a result backend spelt
``db+postgresql+psycopg://``, the execution API's URL for the workers, one JWT secret of at least 64
bytes shared by every process, and celery below 5.7 (the ``celery`` extra pins it).
"""

import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from catalog_schema.settings import PROJECT_ROOT

BROKERS = {"redis": "redis://127.0.0.1:6379/0", "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//"}
WORKERS = ("worker1", "worker2")
BIN = Path(sys.executable).parent


@dataclass
class Topology:
    """Where the cluster's state lives and what it talks to."""

    home: Path
    postgres: str  # a server URL without a database, e.g. postgresql+psycopg://postgres@127.0.0.1:5432
    broker: str = "redis"
    name: str = "cluster"  # the databases are govdx_<name> and airflow_<name>
    api_workers: int = 4
    worker_concurrency: int = 4
    airflow_port: int = 8080
    api_port: int = 8000
    health_port: int = 8765
    people: int = 5000  # the demo sources' size
    orgs: int = 600
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def govdx_db(self) -> str:
        return f"govdx_{self.name}"

    @property
    def airflow_db(self) -> str:
        return f"airflow_{self.name}"

    def database(self, name: str, *, scheme: str = "postgresql+psycopg") -> str:
        url = make_url(self.postgres).set(drivername=scheme, database=name)
        return url.render_as_string(hide_password=False)

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.health_port}"


def env(topology: Topology) -> dict[str, str]:
    """The one environment every process of the cluster runs with."""
    home = topology.home
    sources = home / "sources"
    secret_file = home / "airflow-jwt-secret"
    if not secret_file.exists():
        home.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(secrets.token_urlsafe(64), encoding="utf-8")
        secret_file.chmod(0o600)
    airflow_db = topology.database(topology.airflow_db)
    return {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "GOVDX_HOME": str(home),
        "GOVDX_PROFILE": "demo",
        "GOVDX_DATABASE_URL": topology.database(topology.govdx_db),
        "GOVDX_CONN_GONGAN_HUJI": f"sqlite:///{sources / 'gongan_huji.sqlite'}",
        "GOVDX_CONN_SHICHANG_QIYE": f"sqlite:///{sources / 'shichang_qiye.sqlite'}",
        "GOVDX_CONN_WEIJIAN_API": topology.health_url,
        "GOVDX_TASK_RETRIES": "2",
        "AIRFLOW_HOME": str(home / "airflow"),
        "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{topology.airflow_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": airflow_db,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": airflow_db,
        "AIRFLOW__CELERY__BROKER_URL": BROKERS[topology.broker],
        "AIRFLOW__CELERY__RESULT_BACKEND": topology.database(
            topology.airflow_db, scheme="db+postgresql+psycopg"
        ),
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(topology.worker_concurrency),
        "AIRFLOW__API_AUTH__JWT_SECRET": secret_file.read_text(encoding="utf-8"),
        "AIRFLOW__API__BASE_URL": topology.airflow_url,
        # A task no worker takes within 5 minutes is failed at once (no requeue), and its failure
        # callback, run by the dag-processor, alerts the platform (authz.clock.task_alerts).
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "300",
        "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "30",
        "AIRFLOW__SCHEDULER__NUM_STUCK_IN_QUEUED_RETRIES": "0",
        "GX_ANALYTICS_ENABLED": "False",
        **topology.extra_env,
    }


def create_databases(topology: Topology, *, fresh: bool) -> None:
    """The govdx and Airflow databases on the server, dropped first when ``fresh``."""
    engine = create_engine(topology.database("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in (topology.govdx_db, topology.airflow_db):
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if exists and fresh:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
                exists = None
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()


def prepare(topology: Topology, environment: dict[str, str], say: Callable[[str], None]) -> None:
    """govdx seeded (keyring, catalog, users), the demo sources and issuer keys, Airflow migrated."""
    steps = [
        ("govdx demo seed", [str(BIN / "govdx"), "demo", "seed"]),
        (
            "govdx demo sources",
            [
                str(BIN / "govdx"),
                "demo",
                "sources",
                "--people",
                str(topology.people),
                "--orgs",
                str(topology.orgs),
            ],
        ),
        ("govdx certificate import-keys", [str(BIN / "govdx"), "certificate", "import-keys"]),
        ("airflow db migrate", [str(BIN / "airflow"), "db", "migrate"]),
    ]
    logs = topology.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    for title, command in steps:
        say(f"… {title}")
        with (logs / "prepare.log").open("a") as log:
            done = subprocess.run(
                command, env=environment, cwd=PROJECT_ROOT, stdout=log, stderr=subprocess.STDOUT
            )
        if done.returncode != 0:
            raise ClusterError(f"{title} failed (exit {done.returncode}); see {logs / 'prepare.log'}")


class ClusterError(RuntimeError):
    """A part of the cluster did not start or did not become healthy."""


@dataclass
class Part:
    """One long-running process of the cluster."""

    name: str
    command: list[str]
    where: str
    process: subprocess.Popen[bytes] | None = None
    log: Path | None = None


@dataclass
class Cluster:
    topology: Topology
    environment: dict[str, str]
    parts: list[Part] = field(default_factory=list)

    def plan(self) -> list[Part]:
        """Every process, in start order."""
        airflow = str(BIN / "airflow")
        records = self.topology.home / "sources" / "weijian" / "vital_records.json"
        parts = [
            Part(
                "卫健 demo service",
                [
                    sys.executable,
                    "-m",
                    "demo.health_api",
                    str(records),
                    "--port",
                    str(self.topology.health_port),
                ],
                f"{self.topology.health_url}/api/v1/vital-records",
            ),
            Part(
                "airflow api-server",
                [airflow, "api-server", "-H", "127.0.0.1", "-p", str(self.topology.airflow_port)],
                self.topology.airflow_url,
            ),
            Part("airflow scheduler", [airflow, "scheduler"], "heartbeat in /api/v2/monitor/health"),
            Part("airflow dag-processor", [airflow, "dag-processor"], "heartbeat in /api/v2/monitor/health"),
        ]
        parts += [
            Part(
                f"celery {name}",
                [airflow, "celery", "worker", "--celery-hostname", f"{name}@%h"],
                f"{self.topology.broker} broker",
            )
            for name in WORKERS
        ]
        parts.append(
            Part(
                "govdx serve",
                [
                    str(BIN / "govdx"),
                    "serve",
                    "--workers",
                    str(self.topology.api_workers),
                    "--port",
                    str(self.topology.api_port),
                ],
                f"{self.topology.api_url}  (portal /, API /api/v1)",
            )
        )
        return parts

    def start(self) -> None:
        """Start every part, each in a process group of its own, its output in GOVDX_HOME/logs."""
        logs = self.topology.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        for part in self.plan():
            part.log = logs / (part.name.replace(" ", "-").replace("卫健-", "weijian-") + ".log")
            with part.log.open("ab") as out:
                part.process = subprocess.Popen(
                    part.command,
                    env=self.environment,
                    cwd=PROJECT_ROOT,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            self.parts.append(part)

    def wait_healthy(self, *, timeout: float = 180) -> None:
        """Until the API server, scheduler, dag-processor, both workers, govdx and 卫健 all answer."""
        deadline = time.monotonic() + timeout
        pending = {"airflow", "scheduler", "dag_processor", "workers", "govdx", "weijian"}
        while pending:
            for part in self.parts:
                assert part.process is not None
                if part.process.poll() is not None:
                    raise ClusterError(f"{part.name} exited ({part.process.returncode}); see {part.log}")
            pending -= self._healthy(pending)
            if not pending:
                return
            if time.monotonic() > deadline:
                raise ClusterError(f"not healthy after {timeout:.0f} s: {', '.join(sorted(pending))}")
            time.sleep(2)

    def _healthy(self, pending: set[str]) -> set[str]:
        ok: set[str] = set()
        try:
            health = httpx.get(f"{self.topology.airflow_url}/api/v2/monitor/health", timeout=3).json()
            ok.add("airflow")
            for name in ("scheduler", "dag_processor"):
                if health.get(name, {}).get("status") == "healthy":
                    ok.add(name)
        except (httpx.HTTPError, ValueError):
            pass
        if _answers(f"{self.topology.api_url}/api/v1/health"):
            ok.add("govdx")
        if _answers(f"{self.topology.health_url}/api/v1/vital-records?page=1&size=1"):
            ok.add("weijian")
        if "workers" in pending and len(celery_workers(self.environment)) >= len(WORKERS):
            ok.add("workers")
        return ok

    def stop(self) -> None:
        """SIGTERM to every process group, then SIGKILL to what is left after 20 s."""
        for part in reversed(self.parts):
            if part.process is not None and part.process.poll() is None:
                _signal_group(part.process, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for part in self.parts:
            if part.process is None:
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                part.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            _signal_group(part.process, signal.SIGKILL)  # the group: children outlive a killed parent
            part.process.wait()


def celery_workers(environment: dict[str, str]) -> list[str]:
    """The Celery workers that answer a ping on the cluster's broker."""
    script = (
        "import json\n"
        "from airflow.providers.celery.executors.celery_executor import app\n"
        "print(json.dumps([name for reply in app.control.ping(timeout=2) for name in reply]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=60
    )
    if done.returncode != 0:
        return []
    try:
        return list(json.loads(done.stdout.strip().splitlines()[-1]))
    except (ValueError, IndexError):
        return []


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)


def requirements() -> list[str]:
    """What this machine lacks for the cluster (the celery extra, the airflow command)."""
    missing = []
    try:
        import airflow.providers.celery  # noqa: F401
    except ImportError:
        missing.append("pip install -e '.[celery]' (the celery extra)")
    if shutil.which("airflow", path=str(BIN)) is None:
        missing.append(f"the airflow command in {BIN}")
    return missing
