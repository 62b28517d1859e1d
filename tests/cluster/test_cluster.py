"""The production topology for real: govdx and Airflow on PostgreSQL, two Celery workers on Redis.

`make test` runs this after the main suite (marker ``cluster``, time of its own). It brings up
``demo.cluster`` as ``make cluster`` does (small demo sources, ports and databases of its own),
triggers every govdx DAG through Airflow's REST API and compares each source's batch with the
in-process ``dag.test()`` run of the same sources; then it SIGKILLs the whole Celery worker that
is loading a batch and checks that the batch is abandoned, the load retried on the other worker
and balanced, with a quality verdict.
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from demo import cluster
from demo import sources as demo_sources

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
BROKER = "redis://127.0.0.1:6379/7"  # a database of its own: a `make cluster` beside it keeps its tasks
SOURCE_COUNTS = "SELECT source, rows_read, inserted, updated, unchanged, quarantined FROM ingest_batches"


@dataclass
class Running:
    topology: cluster.Topology
    cluster: cluster.Cluster
    environment: dict[str, str]
    airflow: httpx.Client
    in_process: dict[str, tuple[int, ...]]  # source -> counts of the dag.test() run

    def govdx(self, sql: str, **params: Any) -> list[Any]:
        engine = create_engine(self.environment["GOVDX_DATABASE_URL"])
        try:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), params))
        finally:
            engine.dispose()


def _server() -> str:
    url = os.environ.get("GOVDX_TEST_POSTGRES_URL")
    required = os.environ.get("GOVDX_REQUIRE_SERVICES") == "1"
    reachable = _reachable(6379)
    if url and reachable:
        return make_url(url).set(database=None).render_as_string(hide_password=False)
    why = "set GOVDX_TEST_POSTGRES_URL" if not url else "Redis is not reachable on 127.0.0.1:6379"
    if required:
        pytest.fail(f"GOVDX_REQUIRE_SERVICES=1 but the cluster test cannot run: {why}")
    if cluster.requirements():
        pytest.skip(f"the cluster test needs {'; '.join(cluster.requirements())}")
    pytest.skip(f"cluster test skipped: {why}")


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _in_process_run(topology: cluster.Topology, environment: dict[str, str]) -> dict[str, tuple[int, ...]]:
    """Every pipeline DAG by dag.test() (`govdx demo pipelines`) over the same sources, into SQLite."""
    database = topology.home / "in-process.sqlite"
    env = {
        **environment,
        "GOVDX_DATABASE_URL": f"sqlite:///{database}",
        "GOVDX_QUALITY_DIR": str(topology.home / "in-process-quality"),
        "GOVDX_TASK_RETRIES": "0",
    }
    # Its own embedded Airflow, and 卫健's service started by the command itself.
    for name in [n for n in env if n.startswith("AIRFLOW__") or n == "GOVDX_CONN_WEIJIAN_API"]:
        del env[name]
    govdx = [sys.executable, "-m", "api.cli"]
    subprocess.run([*govdx, "demo", "seed"], env=env, check=True, capture_output=True, cwd=ROOT)
    done = subprocess.run(
        [*govdx, "demo", "pipelines", "--home", str(topology.home / "in-process-airflow")],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    engine = create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        counts = {row[0]: tuple(row[1:]) for row in conn.execute(text(SOURCE_COUNTS))}
    engine.dispose()
    return counts


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    topology = cluster.Topology(
        home=tmp_path_factory.mktemp("cluster"),
        postgres=_server(),
        name="citest",
        api_workers=2,
        worker_concurrency=4,
        airflow_port=_free_port(),
        api_port=_free_port(),
        health_port=_free_port(),
        people=400,
        orgs=100,
        extra_env={
            "AIRFLOW__CELERY__BROKER_URL": BROKER,
            # Only the runs the test triggers; a killed worker's task found within seconds.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "15",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "3",
            "GOVDX_TASK_RETRY_DELAY_SECONDS": "2",
            # Long enough for the first test's queue (every DAG at once on 2 × 4 slots) to drain.
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "60",
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT_CHECK_INTERVAL": "5",
        },
    )
    cluster.create_databases(topology, fresh=True)
    environment = cluster.env(topology)
    running = cluster.Cluster(topology, environment)
    try:
        cluster.prepare(topology, environment, lambda _: None)
        in_process = _in_process_run(topology, environment)
        running.start()
        running.wait_healthy(timeout=150)
        token = httpx.get(f"{topology.airflow_url}/auth/token", timeout=10).json()["access_token"]
        airflow = httpx.Client(
            base_url=f"{topology.airflow_url}/api/v2",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )
        yield Running(topology, running, environment, airflow, in_process)
    finally:
        running.stop()
        _drop(topology)


def _drop(topology: cluster.Topology) -> None:
    engine = create_engine(topology.database("postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for name in (topology.govdx_db, topology.airflow_db):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _trigger(run: Running, dag_id: str) -> str:
    assert run.airflow.patch(f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200
    created = run.airflow.post(f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
    assert created.status_code == 200, created.text
    return str(created.json()["dag_run_id"])


def _wait(run: Running, runs: dict[str, str], *, timeout: float) -> dict[str, str]:
    """Until each DAG run ends; its final state by DAG id."""
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while len(states) < len(runs):
        for dag_id, run_id in runs.items():
            state = run.airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            if state in ("success", "failed"):
                states[dag_id] = state
        if time.monotonic() > deadline:
            pytest.fail(f"DAG runs not finished after {timeout:.0f} s: {set(runs) - set(states)}")
        time.sleep(2)
    return states


def test_every_dag_runs_on_the_workers_with_the_counts_of_the_in_process_run(running: Running) -> None:
    dags = [d["dag_id"] for d in running.airflow.get("/dags", params={"limit": 100}).json()["dags"]]
    runs = {dag_id: _trigger(running, dag_id) for dag_id in dags if dag_id.startswith("govdx_")}

    states = _wait(running, runs, timeout=180)

    assert states == dict.fromkeys(runs, "success")
    counts = {row[0]: tuple(row[1:]) for row in running.govdx(SOURCE_COUNTS)}
    assert counts == running.in_process
    assert all(read == sum(rest) for read, *rest in counts.values())
    duplicates = running.govdx(
        "SELECT library, department_id, subject_key FROM library_records WHERE valid_to IS NULL "
        "GROUP BY library, department_id, subject_key HAVING count(*) > 1"
    )
    assert duplicates == []
    unjudged = running.govdx(
        "SELECT source FROM ingest_batches WHERE status = 'succeeded' AND quality_success IS NULL"
    )
    assert unjudged == []


def test_a_worker_killed_mid_batch_leaves_it_abandoned_and_the_other_worker_loads_it(
    running: Running,
) -> None:
    # 公安's register grows to 40,000 people, all changed since the last load: a batch of seconds.
    register = running.environment["GOVDX_CONN_GONGAN_HUJI"]
    demo_sources.write_police_household_register(register, people=40_000, seed=7, faults=False)
    engine = create_engine(register)
    with engine.begin() as conn:
        conn.execute(text("UPDATE huji SET updated_at = '2030-01-01 00:00:00'"))
    engine.dispose()
    before = running.govdx("SELECT coalesce(max(id), 0) FROM ingest_batches")[0][0]
    run_id = _trigger(running, "govdx_population")
    victim = _worker_loading(running, "govdx_population", run_id, "load_gongan_huji", after=before)

    # The whole worker: its pool, and the task process it started (a session of its own).
    _kill_tree(victim.pid)
    states = _wait(running, {"govdx_population": run_id}, timeout=180)

    assert states == {"govdx_population": "success"}
    batches = running.govdx(
        "SELECT status, rows_read, inserted + updated + unchanged + quarantined, quality_success "
        "FROM ingest_batches WHERE source = 'gongan_huji' AND id > :before ORDER BY id",
        before=before,
    )
    assert [b[0] for b in batches] == ["abandoned", "succeeded"]
    _, read, accounted, verdict = batches[-1]
    assert read == accounted and read > 0 and verdict is not None
    tries = running.airflow.get(
        f"/dags/govdx_population/dagRuns/{run_id}/taskInstances/load_gongan_huji"
    ).json()
    assert tries["try_number"] >= 2 and tries["state"] == "success"
    workers = [p for p in running.cluster.parts if p.name.startswith("celery") and p.process is not None]
    alive = [p.name for p in workers if p.process is not None and p.process.poll() is None]
    assert len(alive) == 1 and victim.name not in alive


def test_a_task_no_worker_takes_is_reported_to_the_platform_as_escalations_are(running: Running) -> None:
    for part in running.cluster.parts:
        if part.name.startswith("celery") and part.process is not None and part.process.poll() is None:
            _kill_tree(part.process.pid)  # no worker left to take anything
    run_id = _trigger(running, "govdx_audit_checkpoint")

    states = _wait(running, {"govdx_audit_checkpoint": run_id}, timeout=150)

    assert states == {"govdx_audit_checkpoint": "failed"}
    alerts = _alerts(running, "govdx_audit_checkpoint", timeout=60)
    assert alerts and all(role == "platform_admin" for _, role in alerts)


def _alerts(running: Running, dag_id: str, *, timeout: float) -> list[Any]:
    """The platform's task alerts about ``dag_id`` (the dag-processor writes them soon after the failure)."""
    deadline = time.monotonic() + timeout
    while True:
        found = running.govdx(
            "SELECT n.title, n.role FROM notifications n JOIN departments d ON d.id = n.department_id "
            "WHERE n.kind = 'task_alert' AND d.slug = 'shujuju' AND n.title LIKE :title",
            title=f"%{dag_id}%",
        )
        if found or time.monotonic() > deadline:
            return found
        time.sleep(2)


@dataclass
class Victim:
    name: str
    pid: int


def _worker_loading(running: Running, dag_id: str, run_id: str, task_id: str, *, after: int) -> Victim:
    """The Celery worker (its process group) running ``task_id``, once its batch has begun."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        begun = running.govdx(
            "SELECT id FROM ingest_batches WHERE source = 'gongan_huji' AND status = 'running' "
            "AND id > :after",
            after=after,
        )
        ti = running.airflow.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}").json()
        pid = ti.get("pid")
        if begun and pid:
            ancestors = _ancestors(int(pid))
            for part in running.cluster.parts:
                if (
                    part.name.startswith("celery")
                    and part.process is not None
                    and part.process.pid in ancestors
                ):
                    return Victim(part.name, part.process.pid)
            pytest.fail(f"task process {pid} descends from no worker ({ancestors}): {json.dumps(ti)}")
        time.sleep(0.5)
    pytest.fail("the load of gongan_huji did not begin within 120 s")


def _parents() -> dict[int, int]:
    """Every process's parent, from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _ancestors(pid: int) -> list[int]:
    return _chain(pid, _parents())


def _kill_tree(root: int) -> None:
    """SIGKILL ``root`` and every process descending from it, whatever its session."""
    parents = _parents()
    doomed = [pid for pid in parents if root in _chain(pid, parents)]
    for pid in doomed:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(root, signal.SIGKILL)


def _chain(pid: int, parents: dict[int, int]) -> list[int]:
    chain = [pid]
    while chain[-1] in parents and parents[chain[-1]] > 1:
        chain.append(parents[chain[-1]])
    return chain
