"""Reading a resource's dataset (库表交换): the current rows of the subjects a call names, or all of them.

A dataset row is one row of its provider's table (``catalog_schema.dataset``), its values keyed by
item name, sensitive items sealed bound to the row's stored key. A subject has one row or many
(one per record key: each 认定 of a 低保 family, each case of a 失信被执行人); a call gets them all.
The query key is not among the values (it is sealed as the row's key): a lookup fills it in from
the caller's key, an export from the sealed key.
"""

import json
from collections.abc import Generator
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, distinct, func, select
from sqlalchemy.orm import Session

from authz.access import guard
from catalog_schema.dataset.models import DatasetRecord
from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects

_ROWS = cast(Table, DatasetRecord.__table__)
_CURRENT_OF_KEYS = (
    select(_ROWS.c.subject_key, _ROWS.c["values"])
    .where(
        _ROWS.c.resource_id == bindparam("resource"),
        _ROWS.c.subject_key.in_(bindparam("keys", expanding=True)),
        _ROWS.c.valid_to.is_(None),
    )
    .order_by(_ROWS.c.subject_key, _ROWS.c.id)
)


def _query_key(resource: guard.SharedResource) -> tuple[str, ...]:
    assert resource.query_key is not None
    return resource.query_key.items


def records(
    conn: Connection, keyring: Keyring, resource: guard.SharedResource, wanted: list[guard.Subject]
) -> dict[str, list[dict[str, Any]]]:
    """Current rows of each subject (by stored key), values by item name, the query key filled in."""
    found: dict[str, list[dict[str, Any]]] = {s.stored: [] for s in wanted}
    params = {"resource": resource.id, "keys": [s.stored for s in wanted]}
    for row in conn.execute(_CURRENT_OF_KEYS, params):
        found[row.subject_key].append(keyring.unseal(json.loads(row.values), aad=row.subject_key))
    names = _query_key(resource)
    for subject in wanted:
        for values in found[subject.stored]:
            values.update(zip(names, subject.parts, strict=True))
    return found


def count(db: Session, resource: guard.SharedResource) -> int:
    """How many subjects the dataset holds current rows of."""
    r = DatasetRecord
    return int(
        db.scalar(
            select(func.count(distinct(r.subject_key))).where(
                r.resource_id == resource.id, r.valid_to.is_(None)
            )
        )
        or 0
    )


def rows(
    db: Session, keyring: Keyring, resource: guard.SharedResource, size: int
) -> Generator[tuple[str, dict[str, Any]], None, None]:
    """Every current row of the dataset, by subject: its stored key, and its values by item name with
    the query key unsealed."""
    r = DatasetRecord
    names = _query_key(resource)
    result = db.execute(
        select(r.subject_key, r.subject_cipher, r.values)
        .where(r.resource_id == resource.id, r.valid_to.is_(None))
        .order_by(r.subject_key, r.id)
        .execution_options(yield_per=size)
    )
    key: dict[str, Any] = {}
    last: str | None = None
    try:
        for row in result:
            if row.subject_key != last:
                last, key = row.subject_key, {}
                if row.subject_cipher is not None:
                    plain = keyring.decrypt(row.subject_cipher, aad=subjects.cipher_aad(row.subject_key))
                    key = dict(zip(names, plain.split(subjects.KEY_SEPARATOR, len(names) - 1), strict=False))
            yield row.subject_key, {**keyring.unseal(json.loads(row.values), aad=row.subject_key), **key}
    finally:
        result.close()
