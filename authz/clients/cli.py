"""``govdx client …``: register department systems and rotate or revoke their credentials."""

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from authz.clients import service as clients_service
from catalog_schema.cli import fail
from catalog_schema.database import session_scope
from catalog_schema.errors import GovdxError

client_app = typer.Typer(help="业务系统凭证 / machine clients", no_args_is_help=True)
out = Console()


def _show_secret(client_id: str, secret: str) -> None:
    out.print(f"client_id     {client_id}")
    out.print(f"client_secret {secret}")
    out.print("[yellow]密钥只显示这一次，请立即妥善保存 / the secret is shown only this once[/]")


@client_app.command("add")
def add(
    department: Annotated[str, typer.Option(help="部门简码或统一社会信用代码 / department")],
    name: Annotated[str, typer.Option(help="业务系统名称 / system name")],
) -> None:
    """Register a department system and print its client id and secret."""
    try:
        with session_scope() as db:
            client, secret = clients_service.create(db=db, department=department, name=name, user=None)
            out.print(f"已登记业务系统 {client.name}（{client.department.name}）")
            _show_secret(client.client_id, secret)
    except GovdxError as exc:
        fail(exc)


@client_app.command("list")
def list_clients() -> None:
    """List every client with its department and status."""
    with session_scope(write=False) as db:
        table = Table("client_id", "名称 name", "部门 department", "状态 status", "凭证版本 version")
        for c in clients_service.list_(db=db):
            table.add_row(c.client_id, c.name, c.department.name, c.status.label, str(c.credential_version))
        out.print(table)


@client_app.command("rotate")
def rotate(client_id: str) -> None:
    """Give a client a new secret; the old secret and its tokens stop working at once."""
    try:
        with session_scope() as db:
            existing = clients_service.get(db=db, client_id=client_id)
            client, secret = clients_service.rotate(db=db, client=existing)
            out.print(f"已轮换 {client.client_id} 的密钥（凭证版本 {client.credential_version}）")
            _show_secret(client.client_id, secret)
    except GovdxError as exc:
        fail(exc)


@client_app.command("revoke")
def revoke(
    client_id: str,
    reason: Annotated[str, typer.Option(help="吊销原因 / why")],
) -> None:
    """Revoke a client for good."""
    try:
        with session_scope() as db:
            client = clients_service.revoke(
                db=db, client=clients_service.get(db=db, client_id=client_id), reason=reason
            )
            out.print(f"已吊销 {client.client_id}：{reason}")
    except GovdxError as exc:
        fail(exc)
