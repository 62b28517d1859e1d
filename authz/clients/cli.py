"""``govdx client …``: register department systems and rotate or revoke their credentials."""

import typer

client_app = typer.Typer(help="业务系统凭证 / machine clients", no_args_is_help=True)
