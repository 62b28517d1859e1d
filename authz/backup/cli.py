"""``govdx backup create|verify|restore``: a sealed, verifiable copy of the platform's state, and back.

Exit codes as ``govdx audit verify``'s: 0 done; 1 the backup does not verify (wrong passphrase, a
changed manifest or file, a broken chain), and nothing was changed; 2 a usage problem (no passphrase,
a missing tool, a target in the way), and nothing was changed either.
"""

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from authz.audit.schemas import VerifyReport
from authz.backup import flows, service
from authz.backup.exceptions import BackupError, BackupRefused
from authz.backup.settings import BackupSettings
from catalog_schema.cli import err, fail, out
from catalog_schema.errors import GovdxError
from catalog_schema.keys.settings import KeySettings
from catalog_schema.settings import DatabaseSettings

backup_app = typer.Typer(help="备份与恢复 / backup and restore", no_args_is_help=True)

STEPS = {
    "database": "复制数据库 / copying the database",
    "keyring": "封存密钥环 / sealing the keyring",
    "manifest": "写入清单 / writing the manifest",
    "open": "核验口令、清单与文件 / checking the passphrase, manifest and files",
    "chain": "核验访问日志链与行数 / verifying the audit chain and row counts",
    "migrate": "迁移到本版本 / migrating to this version",
}
PassphraseFile = Annotated[
    Path | None,
    typer.Option(
        "--passphrase-file",
        help="从文件读取备份口令（首行）；否则读 GOVDX_BACKUP_PASSPHRASE，再否则提示输入 / "
        "read the passphrase from a file; else GOVDX_BACKUP_PASSPHRASE; else a prompt",
    ),
]


def _fail(error: GovdxError) -> NoReturn:
    """A backup that does not verify exits 1 (as `govdx audit verify` does); other errors exit 2."""
    if not isinstance(error, BackupRefused):
        fail(error)
    err.print(f"[bold red]拒绝 / refused[/] {escape(error.message)}", soft_wrap=True)
    err.print(f"[dim]error ({error.code}): {escape(error.message_en)}[/]", soft_wrap=True)
    err.print("未做任何更改 / nothing was changed", soft_wrap=True)
    raise typer.Exit(1)


def _unreachable(exc: SQLAlchemyError) -> NoReturn:
    err.print(
        "[bold red]错误[/] 数据库无法连接：请检查 GOVDX_DATABASE_URL / the database is unreachable",
        soft_wrap=True,
    )
    err.print(f"[dim]{type(exc).__name__}: {escape(str(exc).splitlines()[0])}[/]", soft_wrap=True)
    raise typer.Exit(2)


def _passphrase(file: Path | None, *, confirm: bool) -> str:
    if file is not None:
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            fail(
                BackupError(
                    f"无法读取口令文件 {file}：{exc}",
                    f"cannot read {file}: {exc}",
                    code="backup_passphrase_missing",
                )
            )
        return lines[0] if lines else ""
    configured = BackupSettings().passphrase
    if configured is not None:
        return configured.get_secret_value()
    if not sys.stdin.isatty():
        fail(
            BackupError(
                "没有备份口令：请用 --passphrase-file 或 GOVDX_BACKUP_PASSPHRASE 提供，或在终端中运行以输入",
                "no backup passphrase: give --passphrase-file or GOVDX_BACKUP_PASSPHRASE, or use a terminal",
                code="backup_passphrase_missing",
            )
        )
    return str(
        typer.prompt(
            "备份口令 / backup passphrase",
            hide_input=True,
            confirmation_prompt="再输入一次 / repeat it" if confirm else False,
        )
    )


@contextmanager
def _progress() -> Iterator[Callable[[str], None]]:
    """A step callback that shows each step with its elapsed time, the previous one marked done."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=out) as bar:
        tasks: list[TaskID] = []

        def step(name: str) -> None:
            if tasks:
                bar.update(tasks[-1], total=1, completed=1)
            tasks.append(bar.add_task(STEPS.get(name, name), total=None))

        yield step
        if tasks:
            bar.update(tasks[-1], total=1, completed=1)


def _summary(manifest: dict[str, Any], *, title: str) -> None:
    files = Table("文件 file", "字节 bytes", Column("SHA-256", overflow="fold"), title=title)
    for name, stated in sorted(manifest["files"].items()):
        files.add_row(name, f"{stated['bytes']:,}", stated["sha256"])
    out.print(files)
    database, audit, ring = manifest["database"], manifest["audit"], manifest["keyring"]
    checkpoint = audit["checkpoint"]
    tables = manifest["tables"]
    lines = [
        f"备份编号 backup id {manifest['backup_id']}，创建于 created {manifest['created_at']}，"
        f"govdx {manifest['govdx_version']}",
        f"数据库 database: {database['dialect']} {database['source']}，迁移版本 revision "
        f"{database['alembic_revision']}",
        f"访问日志链头 audit head: seq {audit['head']['seq']} hash {audit['head']['hash']}",
        "最近检查点 latest checkpoint: "
        + (
            f"seq {checkpoint['seq']} ({checkpoint['at']}, key {checkpoint['key_id']})"
            if checkpoint
            else "无 none"
        ),
        f"密钥环 keyring: 数据密钥 data keys {', '.join(ring['data_keys'])}（active {ring['active']}），"
        f"签名密钥 signing keys {', '.join(ring['signing_keys'])}（active {ring['active_signing']}）",
        f"表 tables: {len(tables)} 张，共 {sum(tables.values()):,} 行 rows；"
        f"access_records {tables.get('access_records', 0):,}",
    ]
    for line in lines:
        out.print(escape(line), soft_wrap=True)


def _verified(report: VerifyReport) -> None:
    out.print(
        f"[bold green]备份完整 / backup verified[/]：清单与文件摘要、口令、密钥环、行数均一致；访问日志 "
        f"{report.records_verified} 条记录、{report.checkpoints_verified} 个检查点已核验至链头 seq "
        f"{report.head_seq} / manifest, digests, passphrase, keyring and row counts match; "
        f"{report.records_verified} records, {report.checkpoints_verified} checkpoints verified to the head",
        soft_wrap=True,
    )


def _scratch_server(settings: BackupSettings) -> str:
    return settings.scratch_url.get_secret_value() if settings.scratch_url else DatabaseSettings().url


@backup_app.command("create")
def create(
    destination: Annotated[
        Path | None,
        typer.Argument(help="新的备份目录，默认 $GOVDX_HOME/backups/<UTC 时间> / a new folder"),
    ] = None,
    passphrase_file: PassphraseFile = None,
    verify: Annotated[
        bool, typer.Option("--verify", help="完成后立即核验（同 govdx backup verify） / verify it at once")
    ] = False,
) -> None:
    """Back up the database (online) and the keyring (sealed with a passphrase) into a new folder."""
    settings = BackupSettings()
    target = (destination or service.default_destination(settings)).resolve()
    passphrase = _passphrase(passphrase_file, confirm=True)
    try:
        with _progress() as step:
            manifest = service.create(
                database_url=DatabaseSettings().url,
                keyring_path=KeySettings().file,
                destination=target,
                passphrase=passphrase,
                settings=settings,
                step=step,
            )
    except GovdxError as error:
        _fail(error)
    except SQLAlchemyError as exc:
        _unreachable(exc)
    _summary(manifest, title=f"备份已完成 / backup complete: {target}")
    if verify:
        _opened, report = _verify(target, passphrase, settings)
        _verified(report)


@backup_app.command("verify")
def verify(
    path: Annotated[Path, typer.Argument(help="备份目录 / backup folder")],
    passphrase_file: PassphraseFile = None,
) -> None:
    """Check a backup without restoring it: passphrase, manifest, digests, keyring; the chain on a copy."""
    settings = BackupSettings()
    passphrase = _passphrase(passphrase_file, confirm=False)
    opened, report = _verify(path, passphrase, settings)
    _summary(opened.manifest, title=f"备份 / backup {path}")
    _verified(report)


def _verify(path: Path, passphrase: str, settings: BackupSettings) -> tuple[service.Opened, VerifyReport]:
    """``service.verify`` with progress; a refusal or an unreachable server ends the command."""
    try:
        with _progress() as step:
            return service.verify(
                path=path,
                passphrase=passphrase,
                settings=settings,
                server_url=_scratch_server(settings),
                step=step,
            )
    except GovdxError as error:
        _fail(error)
    except SQLAlchemyError as exc:
        _unreachable(exc)


@backup_app.command("restore")
def restore(
    path: Annotated[Path, typer.Argument(help="备份目录 / backup folder")],
    passphrase_file: PassphraseFile = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="覆盖非空数据库与已有密钥环，原件改名保留 / replace them, keeping the old aside"
        ),
    ] = False,
    create: Annotated[
        bool,
        typer.Option(
            "--create", help="PostgreSQL：目标数据库不存在时创建 / create a missing target database"
        ),
    ] = False,
) -> None:
    """Restore a backup into GOVDX_DATABASE_URL and GOVDX_KEYS_FILE, after it verifies; refuses otherwise."""
    settings = BackupSettings()
    passphrase = _passphrase(passphrase_file, confirm=False)
    database_url, keyring_path = DatabaseSettings().url, KeySettings().file
    try:
        with _progress() as step:
            restored = flows.restore(
                path=path,
                passphrase=passphrase,
                database_url=database_url,
                keyring_path=keyring_path,
                settings=settings,
                force=force,
                create=create,
                step=step,
            )
    except GovdxError as error:
        _fail(error)
    except SQLAlchemyError as exc:
        _unreachable(exc)
    _summary(restored.manifest, title=f"已恢复 / restored from {path}")
    _verified(restored.report)
    target = make_url(database_url).render_as_string(hide_password=True)
    out.print(f"数据库 database → {escape(target)}；密钥环 keyring → {keyring_path}", soft_wrap=True)
    if restored.database_aside or restored.keyring_aside:
        kept = [str(p) for p in (restored.database_aside, restored.keyring_aside) if p]
        out.print(f"原有的已改名保留 / the old ones are kept as: {escape(', '.join(kept))}", soft_wrap=True)
    if restored.migrated_from is not None:
        out.print(
            f"已从迁移版本 {restored.migrated_from} 升级到当前版本 / migrated to this version", soft_wrap=True
        )
    out.print("请重新启动平台的全部进程 / restart every process of the platform", soft_wrap=True)
