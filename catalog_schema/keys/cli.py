"""``govdx keys …``: create the keyring, rotate data keys and re-encrypt."""

import typer

keys_app = typer.Typer(help="密钥管理 / keys", no_args_is_help=True)
