"""``govdx certificate …``: register issuer keys and verify a certificate."""

import typer

certificate_app = typer.Typer(help="电子证照 / certificates", no_args_is_help=True)
