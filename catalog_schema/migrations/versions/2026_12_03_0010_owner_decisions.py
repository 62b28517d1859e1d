"""owner decisions

A platform-kept composite resource is decided by the owners of its items: each owner department
that must decide has one row (its items, its decision stage, what it decided), the platform's
part one more. Existing requests have no rows and keep their route (direct or department).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 20:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import catalog_schema.database

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "owner_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=True),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("basis", sa.JSON(), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "pending",
                "approved",
                "denied",
                "platform",
                "cancelled",
                name="owneroutcome",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("approved_items", sa.JSON(), nullable=False),
        sa.Column("masking", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", catalog_schema.database.UTCDateTime(), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_owner_decisions_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["department_id"], ["departments.id"], name=op.f("fk_owner_decisions_department_id_departments")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["sharing_requests.id"],
            name=op.f("fk_owner_decisions_request_id_sharing_requests"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["stage_id"],
            ["clock_stages.id"],
            name=op.f("fk_owner_decisions_stage_id_clock_stages"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_owner_decisions")),
        sa.UniqueConstraint(
            "request_id", "department_id", name=op.f("uq_owner_decisions_request_id_department_id")
        ),
    )
    with op.batch_alter_table("owner_decisions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_owner_decisions_request_id"), ["request_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_owner_decisions_department_id"), ["department_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("owner_decisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_owner_decisions_department_id"))
        batch_op.drop_index(batch_op.f("ix_owner_decisions_request_id"))
    op.drop_table("owner_decisions")
