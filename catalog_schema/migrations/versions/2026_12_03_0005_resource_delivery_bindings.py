"""resource delivery bindings

Every resource declares how a grant's rows are delivered: a base-library view (``library``), the
provider's collected dataset (``dataset``) or the provider's service behind the platform
(``proxy``). Existing resources were served as library views: they become ``library`` bindings
over the library they were read from (the one whose key element they carry, else their items'
only library), so existing grants keep working. Elements that can hold a person's ID number are
graded 高度敏感, as the data plane masks them.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 13:50:00
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# catalog_schema.library.subjects.LOOKUP_KEY as of this revision: the key element of each library.
_KEY_ELEMENTS = {
    "population.id_number": "population",
    "legal_person.credit_code": "legal_person",
    "certificate.type_code": "certificate",
    "credit.subject_code": "credit",
}
# catalog_schema.types.ID_CARRYING_ELEMENTS as of this revision.
_ID_CARRYING = ("population.id_number", "credit.subject_code", "certificate.holder_code")


def _library_of(rows: list[tuple[str, str]]) -> str | None:
    codes = {code for code, _library in rows}
    for element, library in _KEY_ELEMENTS.items():
        if element in codes:
            return library
    libraries = {library for _code, library in rows}
    return libraries.pop() if len(libraries) == 1 else None


def upgrade() -> None:
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "delivery_kind",
                sa.Enum("library", "dataset", "proxy", name="deliverykind", native_enum=False, length=32),
                nullable=False,
                server_default="library",
            )
        )
        batch_op.add_column(sa.Column("delivery", sa.JSON(), nullable=False, server_default="{}"))
    conn = op.get_bind()
    items = conn.execute(
        sa.text(
            "SELECT i.resource_id, e.code, e.library FROM resource_items i "
            "JOIN data_elements e ON e.id = i.element_id"
        )
    ).all()
    by_resource: dict[int, list[tuple[str, str]]] = {}
    for resource_id, code, library in items:
        by_resource.setdefault(resource_id, []).append((code, library))
    for (resource_id,) in conn.execute(sa.text("SELECT id FROM resources")).all():
        delivery: dict[str, object] = {
            "kind": "library",
            "library": _library_of(by_resource.get(resource_id, [])),
            "where": {},
        }
        conn.execute(
            sa.text("UPDATE resources SET delivery = :delivery WHERE id = :id"),
            {"delivery": json.dumps(delivery), "id": resource_id},
        )
    conn.execute(
        sa.text("UPDATE data_elements SET sensitivity = 'highly_sensitive' WHERE code IN :codes").bindparams(
            sa.bindparam("codes", expanding=True)
        ),
        {"codes": list(_ID_CARRYING)},
    )
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resources_delivery_kind"), ["delivery_kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resources_delivery_kind"))
        batch_op.drop_column("delivery")
        batch_op.drop_column("delivery_kind")
