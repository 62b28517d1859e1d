"""``govdx certificate …``: register issuer keys and verify a certificate.

``verify`` exits 0 when the certificate is valid, 1 for any other verdict (revoked, expired,
tampered, not found) and 2 for bad input, so scripts can test it.
"""

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from catalog_schema.certificate import service as certificate_service
from catalog_schema.certificate.schemas import CertificateQuery, IssuerKeyCreate, IssuerKeyRead, Verdict
from catalog_schema.cli import fail
from catalog_schema.database import session_scope
from catalog_schema.errors import GovdxError, InvalidInput
from catalog_schema.keys.service import get_keyring
from catalog_schema.settings import home
from catalog_schema.validation import problems_from

certificate_app = typer.Typer(help="电子证照 / certificates", no_args_is_help=True)
out = Console()

_COLOURS = {Verdict.valid: "green", Verdict.not_found: "yellow"}


@certificate_app.command("add-key")
def add_key(
    department: Annotated[str, typer.Option(help="颁发部门简码或统一社会信用代码 / issuing department")],
    key_id: Annotated[str, typer.Option("--key-id", help="密钥标识 / key id")],
    public_key: Annotated[Path, typer.Option("--public-key", help="PEM 公钥文件 / PEM public key file")],
) -> None:
    """Register an issuing department's Ed25519 public key."""
    try:
        try:
            pem = public_key.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(
                f"无法读取公钥文件 {public_key}：{exc}",
                f"cannot read the public key file {public_key}: {exc}",
                code="public_key_invalid",
            ) from None
        try:
            data = IssuerKeyCreate(department=department, key_id=key_id, public_key=pem)
        except ValidationError as exc:
            raise InvalidInput("密钥信息有误", "invalid issuer key", problems=problems_from(exc)) from None
        with session_scope() as db:
            key = certificate_service.register_key(
                db=db,
                department=data.department,
                key_id=data.key_id,
                public_key_pem=data.public_key,
                user=None,
            )
            shown = IssuerKeyRead.of(key)
    except GovdxError as exc:
        fail(exc)
    out.print(f"已登记 {shown.department_name} 的密钥 {shown.key_id}（{shown.algorithm}）")
    out.print(f"指纹 fingerprint (SHA-256): {shown.fingerprint}")


@certificate_app.command("import-keys")
def import_keys(
    manifest: Annotated[
        Path | None,
        typer.Argument(help="密钥清单 / key manifest (默认 GOVDX_HOME/sources/issuer-keys/manifest.json)"),
    ] = None,
) -> None:
    """Register every key a key manifest lists; keys already registered are kept (safe to run again)."""
    manifest = manifest or home() / "sources" / "issuer-keys" / "manifest.json"
    try:
        with session_scope() as db:
            done = certificate_service.import_keys(db=db, manifest=manifest, user=None)
            shown = [(IssuerKeyRead.of(key), new) for key, new in done]
    except GovdxError as exc:
        fail(exc)
    for key, new in shown:
        state = "新登记 registered" if new else "已存在 already registered"
        out.print(f"{key.key_id}  {key.department_name}  {state}")


@certificate_app.command("keys")
def keys() -> None:
    """List the registered issuer keys."""
    with session_scope(write=False) as db:
        shown = [IssuerKeyRead.of(k) for k in certificate_service.list_keys(db=db)]
    table = Table(title="颁发机构密钥 / issuer keys")
    table.add_column("密钥标识 key id", no_wrap=True)
    for header in (
        "部门 department",
        "算法 algorithm",
        "指纹 fingerprint",
        "登记 registered",
        "吊销 revoked",
    ):
        table.add_column(header)
    for k in shown:
        table.add_row(
            k.key_id,
            f"{k.department_name} ({k.department})",
            k.algorithm,
            k.fingerprint[:16],
            f"{k.registered_at.astimezone(certificate_service.LOCAL_TZ):%Y-%m-%d}",
            f"{k.revoked_at.astimezone(certificate_service.LOCAL_TZ):%Y-%m-%d %H:%M}"
            if k.revoked_at
            else "-",
        )
    out.print(table)


@certificate_app.command("revoke-key")
def revoke_key(key_id: Annotated[str, typer.Option("--key-id", help="密钥标识 / key id")]) -> None:
    """Revoke an issuer key: certificates issued from today on under it no longer verify."""
    try:
        with session_scope() as db:
            key = certificate_service.revoke_key(db=db, key_id=key_id)
            name = key.department.name
    except GovdxError as exc:
        fail(exc)
    out.print(f"已吊销 {name} 的密钥 {key_id}")


@certificate_app.command("verify")
def verify(
    type_code: Annotated[str, typer.Option("--type", help="证照类型代码 / certificate type code")],
    number: Annotated[str, typer.Option("--number", help="证照编号 / certificate number")],
) -> None:
    """Verify a certificate's issuer signature, status and expiry; exit 0 only when it is valid."""
    try:
        try:
            query = CertificateQuery(type_code=type_code, number=number)
        except ValidationError as exc:
            raise InvalidInput(
                "证照类型代码或编号有误", "invalid type code or number", problems=problems_from(exc)
            ) from None
        with session_scope(write=False) as db:
            verdict = certificate_service.verify(
                db=db,
                keyring=get_keyring(),
                type_code=query.type_code,
                number=query.number,
                today=certificate_service.today(),
            )
    except GovdxError as exc:
        fail(exc)
    colour = _COLOURS.get(verdict.verdict, "red")
    out.print(f"[bold {colour}]{verdict.verdict_label}[/] ({verdict.verdict.value})  {verdict.message}")
    out.print(f"[dim]{verdict.message_en}[/]")
    if verdict.issuer is not None:
        out.print(f"颁发部门 issuer: {verdict.issuer.department_name} ({verdict.issuer.credit_code})")
    if verdict.key_id is not None:
        out.print(f"签名密钥 key: {verdict.key_id}")
    checked = verdict.checked_at.astimezone(certificate_service.LOCAL_TZ)
    out.print(f"核验时间 checked at: {checked:%Y-%m-%d %H:%M:%S}")
    if verdict.verdict is not Verdict.valid:
        raise typer.Exit(1)
