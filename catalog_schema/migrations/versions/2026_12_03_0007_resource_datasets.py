"""resource datasets

A ``dataset`` resource (库表交换) is its provider's table, collected by a pipeline into
``dataset_records``: versioned (SCD2), keyed by the resource, the blind index of its query key
and the keyed digest of its record key. Ingest batches and quarantined rows may now belong to a
dataset source: a batch names the resource it loads (``resource_id``) instead of a library, so
``library`` becomes nullable; existing batches keep their library.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import catalog_schema.database

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIBRARY = sa.Enum(
    "population", "legal_person", "certificate", "credit", name="library", native_enum=False, length=32
)


def upgrade() -> None:
    op.create_table(
        "dataset_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Integer(), nullable=False),
        sa.Column("subject_key", sa.String(length=200), nullable=False),
        sa.Column("record_key", sa.String(length=64), nullable=False),
        sa.Column("subject_cipher", sa.Text(), nullable=True),
        sa.Column("values", sa.Text(), nullable=False),
        sa.Column("row_hash", sa.String(length=32), nullable=False),
        sa.Column("valid_from", catalog_schema.database.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_to", catalog_schema.database.UTCDateTime(timezone=True), nullable=True),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("source_row", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["ingest_batches.id"], name=op.f("fk_dataset_records_batch_id_ingest_batches")
        ),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_dataset_records_resource_id_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_records")),
    )
    with op.batch_alter_table("dataset_records", schema=None) as batch_op:
        batch_op.create_index(
            "ix_dataset_records_subject", ["resource_id", "subject_key", "valid_from"], unique=False
        )
        batch_op.create_index(
            "uq_dataset_records_current",
            ["resource_id", "subject_key", "record_key"],
            unique=True,
            sqlite_where=sa.text("valid_to IS NULL"),
            postgresql_where=sa.text("valid_to IS NULL"),
        )
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resource_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_ingest_batches_resource_id_resources"),
            "resources",
            ["resource_id"],
            ["id"],
            ondelete="RESTRICT",
        )
        batch_op.alter_column("library", existing_type=_LIBRARY, nullable=True)
    with op.batch_alter_table("quarantined_rows", schema=None) as batch_op:
        batch_op.alter_column("library", existing_type=_LIBRARY, nullable=True)


def downgrade() -> None:
    conn = op.get_bind()
    conn.execute(sa.text("DELETE FROM quarantined_rows WHERE library IS NULL"))
    conn.execute(sa.text("DELETE FROM dataset_records"))
    with op.batch_alter_table("quarantined_rows", schema=None) as batch_op:
        batch_op.alter_column("library", existing_type=_LIBRARY, nullable=False)
    op.drop_table("dataset_records")
    conn.execute(sa.text("DELETE FROM ingest_batches WHERE library IS NULL"))
    with op.batch_alter_table("ingest_batches", schema=None) as batch_op:
        batch_op.alter_column("library", existing_type=_LIBRARY, nullable=False)
        batch_op.drop_constraint(batch_op.f("fk_ingest_batches_resource_id_resources"), type_="foreignkey")
        batch_op.drop_column("resource_id")
