"""session generation

A user's tokens carry the generation of the user's sessions they were issued in; signing out,
a password change or deactivation moves it on, which ends every token of the user at once, in
every API worker (each request reads the user's row anyway). Existing users start at 0, as do
tokens issued before the claim existed.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("session_generation", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
