"""`govdx db`, `govdx catalog` and `govdx user` commands, and how every command reports an error."""

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from catalog_schema import migrate
from catalog_schema.database import get_engine, session_scope
from catalog_schema.errors import GovdxError, InvalidInput
from catalog_schema.resource import exchange
from catalog_schema.user import service as user_service
from catalog_schema.user.roles import Role
from catalog_schema.user.schemas import UserCreate
from catalog_schema.validation import problems_from

out = Console()
err = Console(stderr=True)

db_app = typer.Typer(help="数据库迁移 / database migrations", no_args_is_help=True)
catalog_app = typer.Typer(help="资源目录导入导出 / catalog import and export", no_args_is_help=True)
user_app = typer.Typer(help="用户管理 / users", no_args_is_help=True)


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
    print_import(report)
    if dry_run:
        out.print("[yellow]试运行：未保存任何变化 / dry run: nothing was saved[/]")


def print_import(report: exchange.ImportReport) -> None:
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
