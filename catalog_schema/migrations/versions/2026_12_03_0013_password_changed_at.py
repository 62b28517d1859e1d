"""password changed at

When each user's password was last set, for the optional password age limit (GB/T 22239 定期更换,
``GOVDX_PASSWORD_MAX_AGE_DAYS``). Existing users count from the migration.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 22:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import catalog_schema.database

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column(
                "password_changed_at",
                catalog_schema.database.UTCDateTime(timezone=True),
                nullable=False,
                server_default=sa.func.current_timestamp(),
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("password_changed_at")
