"""login failures

Failed sign-ins, by the name tried and the address, for locking an account or an address that
fails too often (GB/T 22239 登录失败处理). A successful sign-in clears its account's failures.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 21:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import catalog_schema.database

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("at", catalog_schema.database.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_username", "login_failures", ["username", "at"])
    op.create_index("ix_login_failures_address", "login_failures", ["address", "at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_address", table_name="login_failures")
    op.drop_index("ix_login_failures_username", table_name="login_failures")
    op.drop_table("login_failures")
