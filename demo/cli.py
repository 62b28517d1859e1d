"""`govdx demo …`: stand up the demo city — catalog and users, department sources, every pipeline,
and the API with 卫健's service beside it."""

import os
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from catalog_schema import migrate
from catalog_schema.cli import fail, out, print_import
from catalog_schema.database import get_engine, session_scope
from catalog_schema.department import service as department_service
from catalog_schema.errors import GovdxError, InvalidInput
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.settings import KeySettings
from catalog_schema.library import service as library_service
from catalog_schema.resource import service as resource_service
from catalog_schema.settings import PROJECT_ROOT
from catalog_schema.settings import home as govdx_home
from demo import catalog as demo_catalog
from demo import clients as demo_clients
from demo import health_api
from demo import requests as demo_requests
from demo import sources as demo_sources
from ingest import cli as ingest_cli
from ingest.settings import PipelineSettings

demo_app = typer.Typer(help="演示数据 / demo data", no_args_is_help=True)


@demo_app.command("seed")
def demo_seed() -> None:
    """Create the keyring if there is none, migrate, then load the demo catalog and one user per role
    (safe to run again)."""
    keys = KeySettings().file
    if not keys.exists():
        keys_service.create(keys)
        out.print(f"已创建密钥环 / keyring created: {keys}")
    migrate.upgrade(get_engine())
    try:
        with session_scope() as db:
            report = demo_catalog.seed(db)
            requests_added = demo_requests.seed(db)
            requests_total = demo_requests.count(db)
            demo_clients.seed(db)
            statuses = resource_service.count_by_status(db=db)
            departments = department_service.count(db=db)
    except GovdxError as error:
        fail(error)
    out.print("[bold]演示目录 / demo catalog[/]")
    print_import(report.catalog)
    out.print(
        f"部门 departments: {departments}；资源 resources: "
        + "，".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    )
    users = Table(
        "用户名 username",
        "角色 role",
        "部门 department",
        title=f"演示用户 / demo users (密码 password: {demo_catalog.DEMO_PASSWORD})",
    )
    for username, _full_name, role, dept in demo_catalog.DEMO_USERS:
        users.add_row(username, f"{role.label} ({role.value})", dept)
    out.print(users)
    out.print(f"新增用户 users created: {report.users_created}")
    out.print(
        f"共享申请 sharing requests: {requests_total}（本次新增 added {requests_added}），"
        "覆盖每个办理状态与时限颜色 / one in every state and clock colour"
    )
    clients = Table(
        "client_id", "部门 department", "名称 name", "client_secret", title="演示业务系统 / demo clients"
    )
    for client_id, dept, name, secret in demo_clients.DEMO_CLIENTS:
        clients.add_row(client_id, dept, name, secret)
    out.print(clients)


@demo_app.command("sources")
def demo_sources_command(
    people: Annotated[int, typer.Option(help="人口数 / people")] = 5000,
    orgs: Annotated[int, typer.Option(help="法人数 / legal persons")] = 600,
    seed: Annotated[int, typer.Option(help="随机种子，种子相同则数据相同 / same seed, same data")] = 2026,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="输出目录 / output directory (默认 GOVDX_HOME/sources)")
    ] = None,
) -> None:
    """Write the demo departments' sources, with injected faults, and manifest.json listing the faults."""
    out_dir = out_dir or PipelineSettings().sources_dir
    try:
        manifest = demo_sources.generate(out_dir, people=people, orgs=orgs, seed=seed)
    except GovdxError as error:
        fail(error)
    faults: dict[str, Counter[str]] = {name: Counter() for name in manifest.sources}
    for fault in manifest.faults:
        faults[fault.source][fault.fault] += 1
    table = Table(
        "数据源 source",
        "格式 format",
        "位置 location",
        "行数 rows",
        "注入问题 injected faults",
        title=f"演示数据源 / demo sources (seed {seed})",
    )
    for name, output in manifest.sources.items():
        injected = "\n".join(f"{kind} ×{count}" for kind, count in faults[name].items()) or "-"
        table.add_row(name, output.format, output.path or output.table or "", str(output.rows), injected)
    out.print(table)
    out.print(f"问题清单 / manifest: {out_dir / demo_sources.MANIFEST_NAME}")
    records = out_dir / demo_sources.HEALTH_RECORDS
    out.print(f"卫健接口 / 卫健 API: python -m demo.health_api {records} --port 8765")


@demo_app.command("pipelines")
def demo_pipelines(
    home: Annotated[
        Path | None, typer.Option(help="Airflow 目录 / AIRFLOW_HOME (默认 GOVDX_HOME/airflow)")
    ] = None,
) -> None:
    """Run every pipeline DAG once in-process (dag.test) against the demo sources; print per-source counts."""
    home = home or govdx_home() / "airflow"
    sources_dir = PipelineSettings().sources_dir
    if not (sources_dir / "manifest.json").exists():
        fail(
            InvalidInput(
                f"{sources_dir} 中没有演示数据源，请先运行 govdx demo sources",
                f"no demo sources in {sources_dir}: run `govdx demo sources` first",
                code="no_sources",
            )
        )
    server, base_url = health_api.serve(sources_dir / demo_sources.HEALTH_RECORDS)
    try:
        for name, value in demo_sources.demo_connection_env(sources_dir, base_url).items():
            os.environ.setdefault(name, value)
        ingest_cli.run_dags(home, ingest_cli.pipeline_dags())
    finally:
        server.shutdown()
    with session_scope(write=False) as db:
        rows = [
            {
                "source": b.source,
                "status": b.status.value,
                "rows_read": b.rows_read,
                "loaded": b.loaded,
                "inserted": b.inserted,
                "updated": b.updated,
                "unchanged": b.unchanged,
                "quarantined": b.quarantined,
                "held_for_review": b.held_for_review,
                "discrepancies": b.discrepancies,
                "seconds": round(((b.finished_at or b.started_at) - b.started_at).total_seconds(), 1),
            }
            for b in library_service.latest_batches(db=db)
        ]
    title = f"归集结果 / per-source counts ({get_engine().url.database})"
    ingest_cli.out.print(ingest_cli.summary_table(rows, title=title))


@demo_app.command("serve")
def demo_serve(
    host: Annotated[str | None, typer.Option(help="默认 GOVDX_HOST 或 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="默认 GOVDX_PORT 或 8000")] = None,
    weijian_port: Annotated[
        int, typer.Option(help="卫健接口端口，0 为任一空闲端口 / 卫健 service port, 0: any free one")
    ] = health_api.DEFAULT_PORT,
) -> None:
    """Run 卫健's demo service (接口共享 出生医学证明信息) on a thread, then `govdx serve`, until Ctrl-C."""
    # Imported here: api.cli loads this module (its govdx.commands entry point) while it is imported.
    from api import cli as api_cli

    records = PipelineSettings().sources_dir / demo_sources.HEALTH_RECORDS
    if not records.exists():
        fail(
            InvalidInput(
                f"没有卫健的演示数据 {records}，请先运行 govdx demo sources",
                f"no 卫健 demo records at {records}: run `govdx demo sources` first",
                code="no_sources",
            )
        )
    server, base_url = health_api.serve(records, port=weijian_port)
    # The data plane finds the service named by the catalog's conn_id here (authz.access.proxy).
    os.environ["GOVDX_CONN_WEIJIAN_API"] = base_url
    out.print(f"卫健接口 / 卫健 service: {base_url}{health_api.BIRTH_CERTIFICATES_PATH}{{出生医学证明编号}}")
    try:
        api_cli.serve(host=host, port=port, workers=1)
    finally:
        server.shutdown()


@demo_app.command("cluster")
def demo_cluster(
    postgres: Annotated[
        str, typer.Option(help="PostgreSQL 服务器 / server URL (no database)")
    ] = "postgresql+psycopg://postgres@127.0.0.1:5432",
    broker: Annotated[str, typer.Option(help="Celery broker: redis | rabbitmq")] = "redis",
    home: Annotated[Path | None, typer.Option(help="状态目录 / GOVDX_HOME (默认 var/cluster)")] = None,
    fresh: Annotated[
        bool, typer.Option(help="先删除集群数据库 / drop the cluster's databases first")
    ] = False,
) -> None:
    """Run the production topology here: govdx and Airflow on PostgreSQL, Airflow on Celery, 4 API workers."""
    from demo import cluster

    if broker not in cluster.BROKERS:
        fail(
            InvalidInput(
                f"broker 须为 {'、'.join(cluster.BROKERS)}",
                f"broker must be one of {', '.join(cluster.BROKERS)}",
            )
        )
    missing = cluster.requirements()
    if missing:
        fail(
            InvalidInput(
                "缺少集群所需的组件：" + "；".join(missing), "missing for the cluster: " + "; ".join(missing)
            )
        )
    topology = cluster.Topology(
        home=(home or PROJECT_ROOT / "var" / "cluster").resolve(), postgres=postgres, broker=broker
    )
    started = time.monotonic()
    cluster.create_databases(topology, fresh=fresh)
    environment = cluster.env(topology)
    running = cluster.Cluster(topology, environment)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        cluster.prepare(topology, environment, out.print)
        running.start()
        out.print("… waiting until every part is healthy")
        running.wait_healthy()
        table = Table(
            "部分 part", "位置 where", "pid", "日志 log", title=f"govdx cluster (GOVDX_HOME {topology.home})"
        )
        for part in running.parts:
            assert part.process is not None
            table.add_row(part.name, part.where, str(part.process.pid), str(part.log))
        out.print(table)
        out.print(
            f"全部就绪 all healthy in {time.monotonic() - started:.0f} s. Airflow UI {topology.airflow_url} "
            f"(unpause and trigger govdx_population …); govdx {topology.api_url}. Ctrl-C stops everything."
        )
        while all(p.process is not None and p.process.poll() is None for p in running.parts):
            time.sleep(1)
        stopped = [p.name for p in running.parts if p.process is not None and p.process.poll() is not None]
        out.print(f"[red]{'、'.join(stopped)} stopped; stopping the rest[/]")
    except cluster.ClusterError as error:
        out.print(f"[red]{error}[/]")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        out.print("… stopping")
    finally:
        running.stop()
        out.print("已全部停止 / every process stopped")
