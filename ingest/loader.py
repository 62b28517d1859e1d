"""The loader of one batch, chunk by chunk, inside the load's transaction (``ingest.flows``).

Per chunk, everything is column-wise: rules give masks (``quality.rules``), change detection
compares digests of canonical JSON, and lookups go to the database by key in slices.
"""

import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from catalog_schema.database import utcnow
from catalog_schema.element.models import DataElement, ElementSource
from catalog_schema.keys.service import SEALED, Keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import Discrepancy, LibraryRecord, QuarantinedRow
from catalog_schema.library.sealing import (
    SEALED_SENSITIVITY,
    open_raw,
    open_ticket_value,
    quarantine_aad,
    ticket_aad,
)
from catalog_schema.library.subjects import KEY_SEPARATOR, MAX_KEY_LENGTH
from catalog_schema.types import (
    DiscrepancyKind,
    DiscrepancyStatus,
    QuarantineQueue,
    SourceRole,
)
from connectors.base import ROW_COLUMN, RejectedRecord
from connectors.config import SourceSpec
from ingest.batch import BatchSummary
from ingest.registry import Registry
from quality import crosscheck, rules

SessionFactory = Callable[[], Session]
T = TypeVar("T")

# Keys per IN (...) lookup: below SQLite's variable limit, large enough to amortise round trips.
LOOKUP_SLICE = 5000
# Elements whose values can be a citizen's ID number whatever their grading (a credit subject,
# a certificate holder): a quarantined raw row carrying one is sealed too.
_ID_BEARING = frozenset({rules.ID_ELEMENT, *rules.SUBJECT_CODE_ELEMENTS})


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """executemany straight to the driver, each column's bind processing done once per value kind.

    SQLAlchemy's per-row parameter processing costs more than the insert itself at a million
    rows; the values here are already plain text, numbers and one timestamp per batch.
    """
    if not rows:
        return
    columns = list(rows[0])
    dialect = conn.dialect
    processors = {}
    for name in columns:
        processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            # Memoised for this call: the processed columns hold a handful of distinct values
            # (the library, the batch's timestamp), so each is processed once, not once per row.
            processors[name] = functools.cache(processor)
    placeholder = "?" if dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    values = ", ".join([placeholder] * len(columns))
    sql = f"INSERT INTO {dialect.identifier_preparer.format_table(table)} ({names}) VALUES ({values})"
    params = [tuple(processors[c](row[c]) if c in processors else row[c] for c in columns) for row in rows]
    conn.exec_driver_sql(sql, params)


def slices(values: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), LOOKUP_SLICE):
        yield values[start : start + LOOKUP_SLICE]


def canonical_json(frame: pd.DataFrame) -> list[str]:
    """One canonical JSON object per row: keys in sorted column order, nulls kept, UTF-8 text."""
    if frame.empty:
        return []
    ordered = frame[sorted(frame.columns)]
    ordered = ordered.astype(object).where(ordered.notna(), None)
    text = ordered.to_json(orient="records", lines=True, force_ascii=False)
    # Split on "\n" only: JSON escapes it inside strings, but not U+0085 or U+2028, which
    # str.splitlines() would also split on.
    return text.removesuffix("\n").split("\n")


@dataclass
class Loader:
    db: Session
    spec: SourceSpec
    registry: Registry
    keyring: Keyring
    batch_id: int
    accept_review: bool = False
    summary: BatchSummary = field(init=False)
    now: datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        self.summary = BatchSummary(batch_id=self.batch_id, source=self.spec.name)
        self.kept_open: set[int] = set()
        self.conn: Connection = self.db.connection()
        if self.conn.dialect.name == "sqlite":
            # SQLite's default 2 MB page cache thrashes on a million random-key index inserts; a
            # fixed 128 MB keeps the indexes' upper levels in memory (bounded, whatever the table size).
            self.conn.exec_driver_sql("PRAGMA cache_size = -131072")
        self.writes = self.registry.authoritative(self.spec)
        self.verifies = self.registry.verified(self.spec)
        self.sealed_writes = self.registry.sealed(self.writes)
        self.clear_writes = [e for e in self.writes if e not in self.sealed_writes]
        self.seal_raw = bool(
            self.registry.sealed(self.spec.elements) or _ID_BEARING.intersection(self.spec.elements)
        )
        # Blind indexes, not keys: a temporary table still lands in the database's temp files, and
        # every loaded row needs its index anyway (equal keys, equal indexes).
        self.seen = Table(
            f"govdx_seen_{self.batch_id}",
            MetaData(),
            Column("subject_key", String(200), primary_key=True),
            Column("source_row", Integer),
            prefixes=["TEMPORARY"],
        )
        self.seen.create(self.conn)
        self.records = cast(Table, LibraryRecord.__table__)
        # Plaintext key <-> stored key of the rows of the chunk being loaded, for the cross-checks.
        self.stored_of: dict[str, str] = {}
        self.plain_of: dict[str, str] = {}

    def close(self) -> None:
        self.seen.drop(self.conn)

    # -- one chunk --------------------------------------------------------------------------

    def load(self, chunk: pa.RecordBatch) -> None:
        raw = chunk.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
        rows = chunk.column(ROW_COLUMN).to_numpy(zero_copy_only=False)
        frame = rules.normalise(raw[list(self.spec.columns)].rename(columns=self.spec.columns))
        for element, value in self.spec.constants.items():
            frame[element] = value
        verdicts = rules.evaluate(
            frame,
            types=self.registry.types,
            required=[*self.spec.key, *self.spec.required],
            registering_authority=self.spec.registering_authority,
            registration_date=self.spec.registration_date,
        )
        # normalise() already gave every key part its canonical form (subjects.canonical_part).
        keys = frame[self.spec.key[0]].astype("string")
        for element in self.spec.key[1:]:
            keys = keys + KEY_SEPARATOR + frame[element].astype("string")
        verdicts.add(
            "key_too_long", self.spec.key[0], (keys.str.len() > MAX_KEY_LENGTH).fillna(False).to_numpy()
        )
        has_key = keys.notna().to_numpy()
        stored = self._stored_keys(frame, has_key)
        failed = verdicts.rejected | (np.zeros(len(frame), bool) if self.accept_review else verdicts.review)
        candidates = ~failed & has_key
        duplicate = self._duplicates(stored, rows, candidates)
        verdicts.add("duplicate_key", self.spec.key[0], duplicate)
        quarantined = failed | duplicate | ~has_key
        self.summary.rows_read += len(frame)
        self._quarantine(
            raw,
            rows,
            keys,
            stored,
            verdicts,
            quarantined,
            review=verdicts.review & ~verdicts.rejected & ~duplicate,
        )
        good = ~quarantined
        if good.any():
            loaded = frame[good].set_index(keys[good].to_numpy())
            stored_keys: list[str] = stored[good].tolist()
            self.stored_of = dict(zip(loaded.index, stored_keys, strict=True))
            self.plain_of = dict(zip(stored_keys, loaded.index, strict=True))
            self._upsert(loaded, stored_keys, rows[good])
            self._crosscheck(loaded, stored_keys)

    def _stored_keys(self, frame: pd.DataFrame, has_key: np.ndarray) -> np.ndarray:
        """The blind index of each row's key (None where the key is missing): one HMAC per part."""
        stored = np.full(len(frame), None, dtype=object)
        positions = np.flatnonzero(has_key)
        if len(positions):
            index, library = self.keyring.subject_index, self.spec.library.value
            parts = zip(*(frame[e].iloc[positions].tolist() for e in self.spec.key), strict=True)
            stored[positions] = [index(library, p) for p in parts]
        return stored

    def _duplicates(self, stored: np.ndarray, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Rows whose key came earlier in this batch (this chunk or an earlier one); the first one loads."""
        duplicate = np.zeros(len(stored), bool)
        positions = np.flatnonzero(candidates)
        within = pd.Series(stored[positions]).duplicated(keep="first").to_numpy()
        duplicate[positions[within]] = True
        first = positions[~within]
        first_keys = stored[first].tolist()
        earlier: set[str] = set()
        for part in slices(first_keys):
            earlier.update(
                self.conn.execute(
                    select(self.seen.c.subject_key).where(self.seen.c.subject_key.in_(part))
                ).scalars()
            )
        if earlier:
            duplicate[first[np.isin(first_keys, list(earlier))]] = True
        fresh = [
            {"subject_key": k, "source_row": int(r)}
            for k, r in zip(first_keys, rows[first], strict=True)
            if k not in earlier
        ]
        bulk_insert(self.conn, self.seen, fresh)
        return duplicate

    # -- quarantine -----------------------------------------------------------------------------

    def _quarantine(
        self,
        raw: pd.DataFrame,
        rows: np.ndarray,
        keys: pd.Series,
        stored: np.ndarray,
        verdicts: rules.Verdicts,
        quarantined: np.ndarray,
        *,
        review: np.ndarray,
    ) -> None:
        positions = np.flatnonzero(quarantined)
        if len(positions) == 0:
            return
        raws = canonical_json(raw.iloc[positions][list(self.spec.columns)])
        entries = []
        for position, raw_json in zip(positions, raws, strict=True):
            reasons = verdicts.reasons(int(position))
            if not reasons:
                zh, en = rules.message("required_missing")
                reasons = [
                    {"rule": "required_missing", "element": self.spec.key[0], "message": zh, "message_en": en}
                ]
            subject_key = stored[position]
            entries.append(
                {
                    "batch_id": self.batch_id,
                    "source": self.spec.name,
                    "library": self.spec.library,
                    "source_row": int(rows[position]),
                    "subject_key": subject_key,
                    "subject_cipher": None
                    if subject_key is None
                    else self.keyring.encrypt(str(keys.iloc[position]), aad=subjects.cipher_aad(subject_key)),
                    "raw": raw_json,
                    "reasons": json.dumps(reasons, ensure_ascii=False),
                    "queue": QuarantineQueue.review if review[position] else QuarantineQueue.rejected,
                    "created_at": self.now,
                }
            )
        self.summary.quarantined += len(entries)
        self.summary.held_for_review += int(review[positions].sum())
        self._insert_quarantined(entries)

    def _insert_quarantined(self, entries: list[dict[str, Any]]) -> None:
        """Insert the entries not already open, their raw text sealed when it can hold personal data."""
        fresh = self._not_yet_quarantined(entries)
        if self.seal_raw:
            aad = quarantine_aad(self.spec.name)
            for entry in fresh:
                entry["raw"] = self.keyring.encrypt(entry["raw"], aad=aad)
        if fresh:
            self.db.execute(insert(QuarantinedRow), fresh)

    def _not_yet_quarantined(self, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A re-run meets the same bad rows again: an identical open entry is kept, not repeated."""
        q = QuarantinedRow.__table__.c
        known: dict[tuple[int, str], int] = {}
        rows = [e["source_row"] for e in entries]
        for part in slices(rows):
            known.update(
                # Sealed raw text differs on every write (fresh nonce): compare what it says.
                ((r.source_row, open_raw(self.keyring, r.raw, source=self.spec.name)), r.id)
                for r in self.conn.execute(
                    select(q.id, q.source_row, q.raw).where(
                        q.source == self.spec.name,
                        q.status == "open",
                        q.source_row.in_(part),
                    )
                )
            )
        fresh = []
        for entry in entries:
            existing = known.get((entry["source_row"], entry["raw"]))
            if existing is None:
                fresh.append(entry)
            else:
                self.kept_open.add(existing)
        return fresh

    def quarantine_unparsed(self, records: list[RejectedRecord]) -> None:
        """Records the source format could not parse: quarantined with their raw text."""
        if not records:
            return
        zh, en = rules.message("truncated_record")
        entries = [
            {
                "batch_id": self.batch_id,
                "source": self.spec.name,
                "library": self.spec.library,
                "source_row": r.row,
                "subject_key": None,
                "subject_cipher": None,
                "raw": json.dumps({"_raw": r.raw}, ensure_ascii=False),
                "reasons": json.dumps(
                    [
                        {
                            "rule": "truncated_record",
                            "element": None,
                            "message": f"{zh}：{r.reason}",
                            "message_en": f"{en}: {r.reason_en}",
                        }
                    ],
                    ensure_ascii=False,
                ),
                "queue": QuarantineQueue.rejected,
                "created_at": self.now,
            }
            for r in records
        ]
        self._insert_quarantined(entries)
        self.summary.rows_read += len(records)
        self.summary.quarantined += len(records)

    # -- change detection and SCD2 ------------------------------------------------------------

    def _current(self, department_id: int, keys: Sequence[str], *columns: Any) -> list[Any]:
        r = self.records.c
        found: list[Any] = []
        for part in slices(keys):
            found.extend(
                self.conn.execute(
                    select(r.subject_key, *columns).where(
                        r.library == self.spec.library.value,
                        r.department_id == department_id,
                        r.subject_key.in_(part),
                        r.valid_to.is_(None),
                    )
                ).all()
            )
        return found

    def _sealed_values(self, frame: pd.DataFrame, stored: list[str]) -> list[str]:
        """What ``library_records.values`` holds for each row: clear members, then one ``~sealed``.

        The same object as ``json.dumps(keyring.seal(...), sort_keys=True)`` gives, built column-wise:
        ``"~sealed"`` sorts after every element code, so it is appended to the clear members' JSON.
        """
        if not self.sealed_writes:
            return canonical_json(frame[self.clear_writes])
        clear = canonical_json(frame[self.clear_writes]) if self.clear_writes else ["{}"] * len(frame)
        hidden = canonical_json(frame[self.sealed_writes])
        encrypt = self.keyring.encrypt
        return [
            f'{c[:-1]}{"," if len(c) > 2 else ""}"{SEALED}":"{encrypt(h, aad=key)}"}}'
            for c, h, key in zip(clear, hidden, stored, strict=True)
        ]

    def _upsert(self, loaded: pd.DataFrame, stored: list[str], rows: np.ndarray) -> None:
        digest = self.keyring.digest
        hashes = [digest(line) for line in canonical_json(loaded[self.writes])]
        existing = {
            k: (i, h)
            for k, i, h in self._current(
                self.registry.department_id, stored, self.records.c.id, self.records.c.row_hash
            )
        }
        changed, closing = [], []
        for position, (key, row_hash) in enumerate(zip(stored, hashes, strict=True)):
            current = existing.get(key)
            if current is not None and current[1] == row_hash:
                self.summary.unchanged += 1
                continue
            if current is not None:
                closing.append(current[0])
            changed.append(position)
        # Sealing costs an encryption per row: only rows that are written pay it.
        keys = [stored[p] for p in changed]
        plain = loaded.index[changed].tolist()
        values = self._sealed_values(loaded.iloc[changed], keys)
        encrypt = self.keyring.encrypt
        fresh = [
            {
                "library": self.spec.library.value,
                "subject_key": key,
                "subject_cipher": encrypt(subject, aad=subjects.cipher_aad(key)),
                "department_id": self.registry.department_id,
                "values": line,
                "row_hash": hashes[position],
                "valid_from": self.now,
                "valid_to": None,
                "batch_id": self.batch_id,
                "source_row": int(rows[position]),
            }
            for position, key, subject, line in zip(changed, keys, plain, values, strict=True)
        ]
        if closing:
            r = self.records.c
            for part in slices(closing):
                self.conn.execute(update(self.records).where(r.id.in_(part)).values(valid_to=self.now))
        bulk_insert(self.conn, self.records, fresh)
        self.summary.updated += len(closing)
        self.summary.inserted += len(fresh) - len(closing)

    # -- one data, one source -------------------------------------------------------------------

    def _authoritative_values(self, department_id: int, stored: list[str]) -> pd.DataFrame:
        """Another department's current values of these subjects, unsealed, by plaintext key."""
        found = self._current(department_id, stored, self.records.c["values"])
        if not found:
            return pd.DataFrame(index=pd.Index([], dtype=object))
        unseal = self.keyring.unseal
        return pd.DataFrame(
            [unseal(json.loads(v), aad=k) for k, v in found], index=[self.plain_of[k] for k, _ in found]
        )

    def _crosscheck(self, loaded: pd.DataFrame, stored: list[str]) -> None:
        tickets: list[dict[str, Any]] = []
        by_owner: dict[int, list[str]] = {}
        for element in self.verifies:
            by_owner.setdefault(self.registry.owners[element], []).append(element)
        for owner, elements in by_owner.items():
            theirs = self._authoritative_values(owner, stored)
            for d in crosscheck.differences(loaded, theirs, elements):
                tickets.append(
                    self._ticket(
                        d.element,
                        d.subject_key,
                        DiscrepancyKind.value_mismatch,
                        None,
                        owner,
                        d.authoritative_value,
                        d.other_value,
                    )
                )
        # A subject unknown to the key's authoritative source (only for single-element keys: a
        # composite key such as subject + decision number names a record, not a subject).
        key_owner = self.registry.owners.get(self.spec.key[0])
        if len(self.spec.key) == 1 and key_owner is not None and key_owner != self.registry.department_id:
            known = {k for (k,) in self._current(key_owner, stored)}
            for key, subject in zip(stored, loaded.index, strict=True):
                if key not in known:
                    tickets.append(
                        self._ticket(
                            self.spec.key[0],
                            subject,
                            DiscrepancyKind.missing_in_authoritative,
                            None,
                            key_owner,
                            None,
                            subject,
                        )
                    )
        tickets.extend(self._cross_rules(loaded, stored))
        self._open_tickets(tickets)

    def _cross_rules(self, loaded: pd.DataFrame, stored: list[str]) -> list[dict[str, Any]]:
        insurance, death = "population.insurance_status", "population.death_flag"
        owners = self.registry.owners
        if self.spec.library.value != "population":
            return []
        insurance_owner = owners.get(insurance) or self._owner_of(insurance)
        death_owner = owners.get(death) or self._owner_of(death)
        if insurance_owner is None or death_owner is None:
            return []
        if insurance in self.writes:
            insured = loaded[insurance]
            deaths = self._authoritative_values(death_owner, stored).get(death, pd.Series(dtype=object))
        elif death in self.writes:
            deaths = loaded[death]
            insured = self._authoritative_values(insurance_owner, stored).get(
                insurance, pd.Series(dtype=object)
            )
        else:
            return []
        hits = crosscheck.deceased_insured(insured.dropna(), deaths.dropna())
        return [
            self._ticket(
                insurance,
                str(key),
                DiscrepancyKind.rule_violation,
                "deceased_insured",
                insurance_owner,
                str(value),
                "死亡 / deceased",
                other_department=death_owner,
            )
            for key, value in hits.items()
        ]

    def _owner_of(self, code: str) -> int | None:
        return self.db.scalar(
            select(ElementSource.department_id)
            .join(DataElement, DataElement.id == ElementSource.element_id)
            .where(DataElement.code == code, ElementSource.role == SourceRole.authoritative)
        )

    def _element_id(self, code: str) -> int:
        if code not in self.registry.element_ids:
            found = self.db.execute(
                select(DataElement.id, DataElement.sensitivity).where(DataElement.code == code)
            ).one()
            self.registry.element_ids[code] = found.id
            self.registry.sensitivity[code] = found.sensitivity
        return self.registry.element_ids[code]

    def _ticket(
        self,
        element: str,
        subject: str,
        kind: DiscrepancyKind,
        rule: str | None,
        owner: int,
        authoritative_value: str | None,
        other_value: str | None,
        *,
        other_department: int | None = None,
    ) -> dict[str, Any]:
        """A ticket about ``subject`` (a plaintext key of this chunk), its values still in the clear."""
        return {
            "library": self.spec.library,
            "element_id": self._element_id(element),
            "subject_key": self.stored_of[subject],
            "kind": kind,
            "rule": rule,
            "authoritative_department_id": owner,
            "authoritative_value": authoritative_value,
            "other_department_id": other_department or self.registry.department_id,
            "other_value": other_value,
            "detected_at": self.now,
            "batch_id": self.batch_id,
            "status": DiscrepancyStatus.open,
            # Sealed by _sealed_ticket once the ticket is to be written.
            "_element": element,
            "_subject": subject,
        }

    def _seal_value(self, ticket: dict[str, Any], value: str | None) -> str | None:
        element = ticket["_element"]
        if value is None or self.registry.sensitivity.get(element) not in SEALED_SENSITIVITY:
            return value
        return self.keyring.encrypt(value, aad=ticket_aad(ticket["subject_key"], element))

    def _sealed_ticket(self, ticket: dict[str, Any]) -> dict[str, Any]:
        row = {k: v for k, v in ticket.items() if not k.startswith("_")}
        row["subject_cipher"] = self.keyring.encrypt(
            ticket["_subject"], aad=subjects.cipher_aad(ticket["subject_key"])
        )
        row["authoritative_value"] = self._seal_value(ticket, ticket["authoritative_value"])
        row["other_value"] = self._seal_value(ticket, ticket["other_value"])
        return row

    def _open_tickets(self, tickets: list[dict[str, Any]]) -> None:
        """Open a ticket per new difference.

        The latest ticket for the same element, subject and department decides: an open one is
        refreshed when the values moved; a resolved one with the same values stays resolved (a
        dismissed difference is not reopened every night); different values open a new ticket.
        """
        if not tickets:
            return
        tickets_table = cast(Table, Discrepancy.__table__)
        d = tickets_table.c
        latest: dict[tuple[int, str, int], tuple[int, str, str | None, str | None]] = {}
        for part in slices(sorted({t["subject_key"] for t in tickets})):
            for row in self.conn.execute(
                select(
                    d.id,
                    d.element_id,
                    d.subject_key,
                    d.other_department_id,
                    d.status,
                    d.authoritative_value,
                    d.other_value,
                )
                .where(d.subject_key.in_(part))
                .order_by(d.id)
            ):
                latest[(row.element_id, row.subject_key, row.other_department_id)] = (
                    row.id,
                    row.status,
                    row.authoritative_value,
                    row.other_value,
                )
        fresh = []
        for ticket in tickets:
            found = latest.get((ticket["element_id"], ticket["subject_key"], ticket["other_department_id"]))
            same = found is not None and tuple(
                # Sealed values differ on every write (fresh nonce): compare what they say.
                open_ticket_value(
                    self.keyring, value, subject_key=ticket["subject_key"], element=ticket["_element"]
                )
                for value in found[2:]
            ) == (ticket["authoritative_value"], ticket["other_value"])
            if found is None or (found[1] != DiscrepancyStatus.open.value and not same):
                fresh.append(self._sealed_ticket(ticket))
            elif found[1] == DiscrepancyStatus.open.value and not same:
                self.conn.execute(
                    update(tickets_table)
                    .where(d.id == found[0])
                    .values(
                        authoritative_value=self._seal_value(ticket, ticket["authoritative_value"]),
                        other_value=self._seal_value(ticket, ticket["other_value"]),
                        detected_at=self.now,
                        batch_id=self.batch_id,
                    )
                )
        self.summary.discrepancies += len(fresh)
        if fresh:
            self.db.execute(insert(Discrepancy), fresh)
