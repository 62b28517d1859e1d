"""The `govdx` command line: one entry point that gathers each package's commands."""

from importlib.metadata import entry_points
from typing import Annotated

import typer
import uvicorn
from pydantic import ValidationError

from api.settings import ApiSettings
from authz.audit import cli as audit_cli
from authz.backup import cli as backup_cli
from authz.calendar import cli as calendar_cli
from authz.clients import cli as clients_cli
from authz.clock import cli as clock_cli
from catalog_schema import cli as catalog_cli
from catalog_schema import migrate
from catalog_schema.certificate import cli as certificate_cli
from catalog_schema.database import get_engine
from catalog_schema.keys import cli as keys_cli
from catalog_schema.user import passwords
from ingest import cli as ingest_cli

app = typer.Typer(
    help="govdx 政务数据共享交换平台 / government data-sharing exchange platform",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(catalog_cli.db_app, name="db")
app.add_typer(catalog_cli.catalog_app, name="catalog")
app.add_typer(catalog_cli.user_app, name="user")
app.add_typer(ingest_cli.library_app, name="library")
ingest_cli.library_app.command("resolve")(clock_cli.resolve_ticket)
app.add_typer(calendar_cli.calendar_app, name="calendar")
app.add_typer(clock_cli.clock_app, name="clock")
app.add_typer(keys_cli.keys_app, name="keys")
app.add_typer(audit_cli.audit_app, name="audit")
app.add_typer(backup_cli.backup_app, name="backup")
app.add_typer(clients_cli.client_app, name="client")
app.add_typer(certificate_cli.certificate_app, name="certificate")
# Command groups of packages that nothing may import (the demo city) register themselves in
# setup.cfg under ``govdx.commands``.
for command_group in entry_points(group="govdx.commands"):
    app.add_typer(command_group.load(), name=command_group.name)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="默认 GOVDX_HOST 或 127.0.0.1")] = None,
    port: Annotated[int | None, typer.Option(help="默认 GOVDX_PORT 或 8000")] = None,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn 进程数 / worker processes")] = 1,
) -> None:
    """Serve the API (and OpenAPI docs at /docs) until Ctrl-C."""
    try:
        settings = ApiSettings()
        passwords.check_settings()
    except ValidationError as exc:
        catalog_cli.err.print(f"[bold red]配置错误 / configuration error[/]\n{exc}")
        raise typer.Exit(2) from exc
    try:
        with get_engine().connect() as connection:
            migrate.ensure_current(connection)
    except migrate.SchemaOutOfDate as exc:
        catalog_cli.err.print(f"[bold red]{exc}[/]")
        raise typer.Exit(2) from exc
    host = host or settings.host
    port = port or settings.port
    catalog_cli.out.print(
        f"门户 portal: http://{host}:{port}/   API: http://{host}:{port}/api/v1   文档 docs: http://{host}:{port}/docs"
    )
    # uvicorn's own proxy headers would believe X-Forwarded-For from 127.0.0.1 whatever
    # GOVDX_TRUSTED_PROXIES says; api.middleware.ClientAddress decides instead.
    uvicorn.run(
        "api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        proxy_headers=False,
    )


if __name__ == "__main__":
    app()
