"""`govdx db`, `govdx catalog`, `govdx user` and `govdx demo` commands."""

import sys
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from authz.roles import Role
from catalog_schema import demo, exchange, migrate
from catalog_schema.database import get_engine, session_scope
from catalog_schema.demo import clients as demo_clients
from catalog_schema.demo import requests as demo_requests
from catalog_schema.demo import sources as demo_sources
from catalog_schema.department import service as department_service
from catalog_schema.errors import GovdxError, InvalidInput
from catalog_schema.resource import service as resource_service
from catalog_schema.user import service as user_service
from catalog_schema.user.schemas import UserCreate
from catalog_schema.validation import problems_from

out = Console()
err = Console(stderr=True)

db_app = typer.Typer(help="数据库迁移 / database migrations", no_args_is_help=True)
catalog_app = typer.Typer(help="资源目录导入导出 / catalog import and export", no_args_is_help=True)
user_app = typer.Typer(help="用户管理 / users", no_args_is_help=True)
demo_app = typer.Typer(help="演示数据 / demo data", no_args_is_help=True)


def fail(error: GovdxError) -> NoReturn:
    """Print a user error in both languages, with every located problem, and exit 2."""
    err.print(f"[bold red]错误[/] {error.message}")
    err.print(f"[dim]error ({error.code}): {error.message_en}[/]")
    if error.problems:
        table = Table("位置 path", "问题", "problem", show_lines=False)
        for p in error.problems:
            table.add_row(p.path, p.message, p.message_en)
        err.print(table)
    raise typer.Exit(2)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="目标版本 / target revision")] = "head",
) -> None:
    """Migrate the platform database (GOVDX_DATABASE_URL, default SQLite under var/) to the newest schema."""
    engine = get_engine()
    before = migrate.current_revision(engine)
    migrate.upgrade(engine, revision)
    after = migrate.current_revision(engine)
    out.print(f"数据库 {engine.url.render_as_string(hide_password=True)}: {before or '(空)'} → {after}")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the platform database."""
    out.print(migrate.current_revision(get_engine()) or "(未初始化 / not initialised)")


@catalog_app.command("import")
def catalog_import(
    file: Annotated[Path, typer.Argument(help="目录 YAML 文件 / catalog YAML file")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="只检查并报告将发生的变化，不保存 / check and report only")
    ] = False,
) -> None:
    """Import a catalog file: idempotent, and all-or-nothing (one bad entry changes nothing)."""
    try:
        document = exchange.read_file(file)  # parsed before the write lock is taken
        with session_scope() as db:
            report = exchange.import_catalog(db, document)
            if dry_run:
                db.rollback()
    except GovdxError as error:
        fail(error)
    _print_import(report)
    if dry_run:
        out.print("[yellow]试运行：未保存任何变化 / dry run: nothing was saved[/]")


def _print_import(report: exchange.ImportReport) -> None:
    table = Table("类别 section", "新增 created", "更新 updated", "未变 unchanged")
    for section, counts in report.counts.items():
        table.add_row(section, str(counts["created"]), str(counts["updated"]), str(counts["unchanged"]))
    out.print(table)


class ExportFormat(StrEnum):
    yaml = "yaml"
    dcat = "dcat"


@catalog_app.command("export")
def catalog_export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="yaml: 可再导入; dcat: JSON-LD")
    ] = ExportFormat.yaml,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="输出文件，默认标准输出")] = None,
) -> None:
    """Export the catalog as YAML (re-importable) or as DCAT JSON-LD for harvesters."""
    with session_scope(write=False) as db:
        text = exchange.export_yaml(db) if fmt is ExportFormat.yaml else exchange.export_dcat(db)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        err.print(f"已写入 / written: {output}")


@user_app.command("add")
def user_add(
    username: str,
    role: Annotated[Role, typer.Option(help="角色 / role")],
    department: Annotated[str, typer.Option(help="部门简码或统一社会信用代码")],
    full_name: Annotated[str, typer.Option(help="姓名 / full name")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="至少 8 位 / at least 8 characters",
        ),
    ],
) -> None:
    """Add a user with a role in a department."""
    try:
        data = UserCreate(
            username=username,
            role=role,
            department=department,
            full_name=full_name,
            password=password,
        )
    except ValidationError as exc:
        fail(InvalidInput("用户信息有误", "invalid user", problems=problems_from(exc)))
    try:
        with session_scope() as db:
            user = user_service.create(db=db, data=data)
            out.print(f"已添加用户 {user.username}({user.role.label}，{user.department.name})")
    except GovdxError as error:
        fail(error)


@demo_app.command("seed")
def demo_seed() -> None:
    """Migrate, then load the demo catalog and one user per role (safe to run again)."""
    migrate.upgrade(get_engine())
    try:
        with session_scope() as db:
            report = demo.seed(db)
            requests_added = demo_requests.seed(db)
            requests_total = demo_requests.count(db)
            demo_clients.seed(db)
            statuses = resource_service.count_by_status(db=db)
            departments = department_service.count(db=db)
    except GovdxError as error:
        fail(error)
    out.print("[bold]演示目录 / demo catalog[/]")
    _print_import(report.catalog)
    out.print(
        f"部门 departments: {departments}；资源 resources: "
        + "，".join(f"{k} {v}" for k, v in sorted(statuses.items()))
    )
    users = Table(
        "用户名 username",
        "角色 role",
        "部门 department",
        title=f"演示用户 / demo users (密码 password: {demo.DEMO_PASSWORD})",
    )
    for username, _full_name, role, dept in demo.DEMO_USERS:
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
    out_dir: Annotated[Path, typer.Option("--out", help="输出目录 / output directory")] = Path("var/sources"),
) -> None:
    """Write the demo departments' sources, with injected faults, and manifest.json listing the faults."""
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
    records = out_dir / demo_sources.WEIJIAN_RECORDS
    out.print(f"卫健接口 / 卫健 API: python -m catalog_schema.demo.weijian_api {records} --port 8765")
