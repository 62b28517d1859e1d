"""``govdx audit …``: verify the access log, sign checkpoints, export a range."""

import typer

audit_app = typer.Typer(help="访问日志审计 / access log audit", no_args_is_help=True)
