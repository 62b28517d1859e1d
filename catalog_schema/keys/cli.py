"""``govdx keys …``: create the keyring, show which keys seal how much, rotate data keys and re-encrypt."""

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from catalog_schema.cli import fail
from catalog_schema.database import get_sessionmaker, session_scope
from catalog_schema.errors import GovdxError
from catalog_schema.keys import rotation
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.settings import KeySettings

keys_app = typer.Typer(help="密钥管理 / keys", no_args_is_help=True)
out = Console(width=max(Console().width, 120))


@keys_app.command("init")
def init() -> None:
    """Create the keyring at GOVDX_KEYS_FILE; an existing one is never overwritten."""
    path = KeySettings().file
    try:
        keyring = keys_service.create(path)
    except GovdxError as exc:
        fail(exc)
    out.print(
        f"已创建密钥环 / keyring created: {path}（数据密钥 data key {keyring.active}，"
        f"签名密钥 signing key {keyring.active_signing}）"
    )
    out.print("请像数据库口令一样保管并备份此文件 / guard and back it up like the database password")


@keys_app.command("show")
def show() -> None:
    """Key ids, which is active, and how many stored ciphertexts each data key seals (no key material)."""
    path = KeySettings().file
    try:
        document = keys_service.read_document(path)
        keyring = keys_service.load(path)
        with session_scope(write=False) as db:
            counts = rotation.count_ciphertexts(db=db, key_ids=sorted(keyring.data_keys))
    except GovdxError as exc:
        fail(exc)
    table = Table(
        "key id",
        "用途 use",
        "状态 state",
        "创建 created",
        "密文数 ciphertexts",
        title=f"密钥环 / keyring {path}",
    )
    for kid in sorted(keyring.data_keys, key=lambda k: (len(k), k)):
        state = "active" if kid == keyring.active else ("retired" if kid in keyring.retired else "readable")
        table.add_row(
            kid, "数据加密 data", state, document["data_keys"][kid].get("created_at", ""), f"{counts[kid]:,}"
        )
    for kid in sorted(keyring.signing_keys, key=lambda k: (len(k), k)):
        state = "active" if kid == keyring.active_signing else "verify only"
        table.add_row(kid, "签名 signing", state, document["signing_keys"][kid].get("created_at", ""), "")
    table.add_row("index", "盲索引 blind index", "not rotated", "", "")
    table.add_row("fingerprint", "审计指纹 audit fingerprint", "not rotated", "", "")
    out.print(table)


@keys_app.command("rotate")
def rotate() -> None:
    """Add a data key, re-encrypt every ciphertext under it, retire unused keys; resumes if interrupted."""
    path = KeySettings().file
    with Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=out
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def show(step: rotation.RotationProgress) -> None:
            if step.table not in tasks:
                tasks[step.table] = progress.add_task(step.table)
            progress.update(
                tasks[step.table],
                description=f"{step.table}: 已重新加密 re-encrypted {step.rewritten:,}",
            )

        try:
            summary = rotation.rotate(session_factory=get_sessionmaker(), keyring_path=path, progress=show)
        except GovdxError as exc:
            progress.stop()
            fail(exc)
    started = (
        f"新增数据密钥 added data key {summary.added}"
        if summary.added
        else f"继续上次中断的轮换 / resumed the interrupted rotation to {summary.active}"
    )
    out.print(f"{started}；当前 active: {summary.active}")
    table = Table("表 table", "重新加密行数 rows re-encrypted", title="密钥轮换 / rotation")
    for name, rows in summary.rewritten.items():
        table.add_row(name, f"{rows:,}")
    out.print(table)
    if summary.retired:
        out.print(f"已停用 retired: {', '.join(summary.retired)}")
    if summary.remaining:
        left = ", ".join(f"{k}={n:,}" for k, n in summary.remaining.items())
        out.print(
            f"[yellow]仍有密文使用旧密钥（轮换期间有写入），请再次运行 govdx keys rotate[/] / "
            f"ciphertexts still under older keys (written during the rotation), run it again: {left}"
        )
        raise typer.Exit(1)
