"""export subjects

A bulk export is traced per person: each row group it streams is an access record listing the
fingerprints of the subjects in it (``access_subjects``, keyed by the record's seq, searched by
fingerprint), bound into the record's hash by ``access_records.subjects_digest``. Existing
records have no digest and keep their hashes (the chain hashes the digest only when set).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_subjects",
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.Column("record_seq", sa.BigInteger(), nullable=False),
        sa.Column("ids", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "record_seq", name=op.f("pk_access_subjects")),
        sqlite_with_rowid=False,
    )
    with op.batch_alter_table("access_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subjects_digest", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_records", schema=None) as batch_op:
        batch_op.drop_column("subjects_digest")
    op.drop_table("access_subjects")
