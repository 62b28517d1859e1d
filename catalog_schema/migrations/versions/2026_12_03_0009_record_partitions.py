"""record partitions

一数一源 by record: the 法人库's records are split among registering authorities (the first
character of a credit code) and the 公共信用库's among the departments that decide each kind of
record. ``record_partitions`` names the one authoritative department of each partition. A
deployment without partitions loads as before (elements keep their owners); the catalog file
declares them.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


_LIBRARY = sa.Enum(
    "population", "legal_person", "certificate", "credit", name="library", native_enum=False, length=32
)


_LIBRARY = sa.Enum(
    "population", "legal_person", "certificate", "credit", name="library", native_enum=False, length=32
)


def upgrade() -> None:
    op.create_table(
        "record_partitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("library", _LIBRARY, nullable=False),
        sa.Column("code", sa.String(length=8), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_record_partitions_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_partitions")),
        sa.UniqueConstraint("library", "code", name=op.f("uq_record_partitions_library_code")),
    )
    op.create_index(
        op.f("ix_record_partitions_department_id"), "record_partitions", ["department_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_record_partitions_department_id"), table_name="record_partitions")
    op.drop_table("record_partitions")
