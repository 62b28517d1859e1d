"""Re-encrypt every ciphertext at rest under the active data key (``govdx keys rotate``).

Rotation adds a data key and makes it active; new writes use it at once (every process re-reads
the keyring file when it changes). It then walks each table that holds ciphertexts in primary-key
order, a batch of rows per transaction, and re-encrypts what is still under an older key. Run
again after an interruption it resumes: no further key is added while an older, unretired one is
still in use, and only rows still under an older key are rewritten. A key that no ciphertext uses
any more is marked retired (kept in the file, so a forgotten copy such as a backup still opens).

The blind-index and fingerprint keys are not rotated. They are HMAC keys with nothing to
re-encrypt: changing them would change every stored subject key (and with it every join and
lookup across the libraries) and every audit fingerprint, which the access log's hash chain and
its signed checkpoints cover, so old records could no longer be searched by subject nor the
chain be kept intact. They are guarded like the data keys instead.
"""

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import ColumnElement, Row, Select, Table, bindparam, case, func, or_, select, update
from sqlalchemy.orm import Session

from catalog_schema.database import for_writing
from catalog_schema.element.models import DataElement
from catalog_schema.keys import service as keys_service
from catalog_schema.keys.service import PREFIX, SEALED, Keyring, is_sealed, key_id_of
from catalog_schema.library import sealing, subjects
from catalog_schema.library.models import Discrepancy, LibraryRecord, QuarantinedRow

# Rows per transaction: short enough not to hold SQLite's write lock for long, large enough to
# amortise the round trips.
BATCH_ROWS = 5000


@dataclass(frozen=True)
class _Column:
    """A column holding one ciphertext, or (``embedded``) a JSON object with one under ``~sealed``."""

    name: str
    aad: Callable[[Row[Any]], str]
    embedded: bool = False


@dataclass(frozen=True)
class _Place:
    """A table holding ciphertexts: how to read each row's context, and which columns to reseal."""

    table: Table
    context: Callable[[Table], Select[Any]]
    columns: tuple[_Column, ...]


def _records_context(t: Table) -> Select[Any]:
    return select(t.c.id, t.c.subject_key, t.c["values"], t.c.subject_cipher)


def _quarantine_context(t: Table) -> Select[Any]:
    return select(t.c.id, t.c.subject_key, t.c.source, t.c.raw, t.c.subject_cipher)


def _tickets_context(t: Table) -> Select[Any]:
    return select(
        t.c.id,
        t.c.subject_key,
        DataElement.code.label("element"),
        t.c.subject_cipher,
        t.c.authoritative_value,
        t.c.other_value,
    ).join(DataElement, DataElement.id == t.c.element_id)


def _ticket_aad(row: Row[Any]) -> str:
    return sealing.ticket_aad(row.subject_key, row.element)


# Every place the storage contract seals something (the ingest engine writes them).
PLACES = (
    _Place(
        cast(Table, LibraryRecord.__table__),
        _records_context,
        (
            _Column("values", lambda r: r.subject_key, embedded=True),
            _Column("subject_cipher", lambda r: subjects.cipher_aad(r.subject_key)),
        ),
    ),
    _Place(
        cast(Table, QuarantinedRow.__table__),
        _quarantine_context,
        (
            _Column("raw", lambda r: sealing.quarantine_aad(r.source)),
            _Column("subject_cipher", lambda r: subjects.cipher_aad(r.subject_key)),
        ),
    ),
    _Place(
        cast(Table, Discrepancy.__table__),
        _tickets_context,
        (
            _Column("subject_cipher", lambda r: subjects.cipher_aad(r.subject_key)),
            _Column("authoritative_value", _ticket_aad),
            _Column("other_value", _ticket_aad),
        ),
    ),
)


@dataclass(frozen=True)
class RotationProgress:
    """After each committed batch: the table, and its rows re-encrypted so far in this run."""

    table: str
    rewritten: int


@dataclass
class RotationSummary:
    """What a rotation did."""

    active: str
    added: str | None  # the key this run added; None when it resumed an interrupted rotation
    rewritten: dict[str, int] = field(default_factory=dict)  # table -> rows re-encrypted
    retired: list[str] = field(default_factory=list)
    remaining: dict[str, int] = field(default_factory=dict)  # older key id -> ciphertexts still under it


def _pattern(kid: str) -> str:
    # The key id is followed by ':' in every ciphertext, so k1 never matches k10's.
    return f"%{PREFIX}:{kid}:%"


def _under(table: Table, columns: tuple[_Column, ...], kids: list[str]) -> ColumnElement[bool]:
    return or_(*(table.c[c.name].like(_pattern(kid)) for c in columns for kid in kids))


def count_ciphertexts(*, db: Session, key_ids: list[str]) -> dict[str, int]:
    """How many stored ciphertexts each data key id seals (one scan per table)."""
    counts = dict.fromkeys(key_ids, 0)
    if not key_ids:
        return counts
    for place in PLACES:
        cells = [(kid, place.table.c[c.name]) for c in place.columns for kid in key_ids]
        sums = db.execute(
            select(*(func.sum(case((cell.like(_pattern(kid)), 1), else_=0)) for kid, cell in cells))
        ).one()
        for (kid, _), found in zip(cells, sums, strict=True):
            counts[kid] += found or 0
    return counts


def _resealed(keyring: Keyring, value: str | None, *, aad: str, embedded: bool) -> str | None:
    """``value`` with its ciphertext under the active key; None when it already is, or holds none."""
    if value is None:
        return None
    token = json.loads(value).get(SEALED) if embedded else value
    if not is_sealed(token) or key_id_of(token) == keyring.active:
        return None
    fresh = keyring.reseal(token, aad=aad)
    # A ciphertext is base64url text: it appears verbatim in the JSON, so the rest stays byte-identical.
    return value.replace(token, fresh) if embedded else fresh


def _reencrypt_place(
    session_factory: Callable[[], Session],
    keyring: Keyring,
    place: _Place,
    *,
    batch_rows: int,
    progress: Callable[[RotationProgress], None] | None,
) -> int:
    table = place.table
    older = [kid for kid in keyring.data_keys if kid != keyring.active]
    names = [c.name for c in place.columns]
    # Only rows nobody changed since they were read: a loader refreshing an open ticket wins.
    rewrite = (
        update(table)
        .where(
            table.c.id == bindparam("_id"),
            *(table.c[n].is_not_distinct_from(bindparam(f"_old_{n}")) for n in names),
        )
        .values({n: bindparam(f"_new_{n}") for n in names})
    )
    last, rewritten = 0, 0
    while older:
        with session_factory() as db:
            for_writing(db)
            rows = db.execute(
                place.context(table)
                .where(table.c.id > last, _under(table, place.columns, older))
                .order_by(table.c.id)
                .limit(batch_rows)
            ).all()
            if not rows:
                break
            params = []
            for row in rows:
                old = {n: getattr(row, n) for n in names}
                new = {
                    c.name: _resealed(keyring, old[c.name], aad=c.aad(row), embedded=c.embedded)
                    for c in place.columns
                }
                if any(v is not None for v in new.values()):
                    params.append(
                        {
                            "_id": row.id,
                            **{f"_old_{n}": old[n] for n in names},
                            **{f"_new_{n}": old[n] if new[n] is None else new[n] for n in names},
                        }
                    )
            if params:
                db.execute(rewrite, params)
            db.commit()
        last = rows[-1].id
        rewritten += len(params)
        if progress is not None:
            progress(RotationProgress(table=table.name, rewritten=rewritten))
    return rewritten


def reencrypt(
    *,
    session_factory: Callable[[], Session],
    keyring: Keyring,
    progress: Callable[[RotationProgress], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> dict[str, int]:
    """Re-encrypt every ciphertext not under the active key, a batch per transaction; rows per table."""
    return {
        place.table.name: _reencrypt_place(
            session_factory, keyring, place, batch_rows=batch_rows, progress=progress
        )
        for place in PLACES
    }


def rotate(
    *,
    session_factory: Callable[[], Session],
    keyring_path: Path,
    progress: Callable[[RotationProgress], None] | None = None,
    batch_rows: int = BATCH_ROWS,
) -> RotationSummary:
    """Add a data key (unless resuming), re-encrypt everything under it, retire the unused older keys."""
    keyring = keys_service.load(keyring_path)
    unfinished = [k for k in keyring.data_keys if k != keyring.active and k not in keyring.retired]
    added = None
    if not unfinished:
        added = keys_service.add_data_key(keyring_path)
        keyring = keys_service.load(keyring_path)
    summary = RotationSummary(active=keyring.active, added=added)
    summary.rewritten = reencrypt(
        session_factory=session_factory, keyring=keyring, progress=progress, batch_rows=batch_rows
    )
    with session_factory() as db:
        left = count_ciphertexts(db=db, key_ids=[k for k in keyring.data_keys if k != keyring.active])
    # A key still in use (a loader that started before the rotation wrote with it) stays unretired,
    # so the next run picks its rows up.
    summary.retired = sorted(k for k, n in left.items() if n == 0 and k not in keyring.retired)
    summary.remaining = {k: n for k, n in left.items() if n}
    if summary.retired:
        keys_service.retire_data_keys(keyring_path, summary.retired)
    return summary
