"""The loader of one batch, chunk by chunk, inside the load's transaction (``ingest.flows``).

Per chunk, everything is column-wise: rules give masks (``quality.rules``), change detection
compares digests of canonical JSON, and lookups go to the database by key in slices
(``ingest.bulk``). A chunk's rows go three ways, all in the one transaction that commits only when
the batch reconciles: rows that fail a rule, lack a key or repeat an earlier key are quarantined
(``ingest.quarantine_writer``); the others are upserted here, a new version (SCD2) only where the
row's digest changed; then those loaded rows are cross-checked against the authoritative sources
of the elements the source only verifies, opening discrepancy tickets (``ingest.tickets``).

The same loader fills a base library or a resource's dataset (库表交换); ``ingest.targets`` holds
what differs: how a chunk is named and checked, what identifies a row, where its versions live.
"""

from dataclasses import dataclass, field, fields
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from catalog_schema.database import utcnow
from catalog_schema.keys.service import SEALED, Keyring
from catalog_schema.library import subjects
from catalog_schema.library.subjects import KEY_SEPARATOR, MAX_KEY_LENGTH
from connectors.base import ROW_COLUMN
from connectors.config import SourceSpec
from ingest.batch import BatchSummary, BatchWriter
from ingest.bulk import canonical_json, insert_tuples, json_columns, json_objects, matching, slices
from ingest.quarantine_writer import QuarantineWriter
from ingest.registry import Registry
from ingest.targets import target_of
from ingest.tickets import TicketWriter


@dataclass
class Loader:
    """One batch's chunks: keys, duplicates, the upsert into its target; quarantine and tickets by writers."""

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
        self.conn: Connection = self.db.connection()
        if self.conn.dialect.name == "sqlite":
            # SQLite's default 2 MB page cache thrashes on a million random-key index inserts; a
            # fixed 128 MB keeps the indexes' upper levels in memory (bounded, whatever the table size).
            self.conn.exec_driver_sql("PRAGMA cache_size = -131072")
        self.target = target_of(self.spec, self.registry, self.keyring)
        self.key = self.registry.key
        self.writes = self.registry.authoritative(self.spec)
        self.sealed_writes = self.registry.sealed(self.writes)
        self.clear_writes = [e for e in self.writes if e not in self.sealed_writes]
        # Blind indexes, not keys: a temporary table still lands in the database's temp files, and
        # every loaded row needs its index anyway (equal keys, equal indexes). A dataset row's
        # identity adds its record key's digest.
        self.seen = Table(
            f"govdx_seen_{self.batch_id}",
            MetaData(),
            Column("subject_key", String(200), primary_key=True),
            Column("source_row", Integer),
            prefixes=["TEMPORARY"],
        )
        self.seen.create(self.conn)
        # The quarantine and the tickets write in this loader's transaction, for the same batch.
        shared = {f.name: getattr(self, f.name) for f in fields(BatchWriter)}
        self.quarantine = QuarantineWriter(**shared)
        self.tickets = TicketWriter(**shared)

    def close(self) -> None:
        self.seen.drop(self.conn)

    # -- one chunk --------------------------------------------------------------------------

    def load(self, chunk: pa.RecordBatch) -> None:
        raw = chunk.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
        rows = chunk.column(ROW_COLUMN).to_numpy(zero_copy_only=False)
        frame, verdicts = self.target.check(raw)
        # normalise() already gave every key part its canonical form (subjects.canonical_part).
        keys = frame[self.key[0]].astype("string")
        for column in self.key[1:]:
            keys = keys + KEY_SEPARATOR + frame[column].astype("string")
        verdicts.add("key_too_long", self.key[0], (keys.str.len() > MAX_KEY_LENGTH).fillna(False).to_numpy())
        has_key = keys.notna().to_numpy()
        stored = self._stored_keys(frame, has_key)
        failed = verdicts.rejected | (np.zeros(len(frame), bool) if self.accept_review else verdicts.review)
        candidates = ~failed & has_key
        identities = self.target.identities(frame, stored, np.flatnonzero(candidates))
        duplicate = self._duplicates(identities, rows, candidates)
        verdicts.add("duplicate_key", self.key[0], duplicate)
        quarantined = failed | duplicate | ~has_key
        self.summary.rows_read += len(frame)
        self.quarantine.write(
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
            self._upsert(loaded, stored_keys, identities[good].tolist(), rows[good])
            if self.target.crosschecks:
                self.tickets.crosscheck(loaded, stored_keys)

    def _stored_keys(self, frame: pd.DataFrame, has_key: np.ndarray) -> np.ndarray:
        """The blind index of each row's key (None where the key is missing): one HMAC per part."""
        stored = np.full(len(frame), None, dtype=object)
        positions = np.flatnonzero(has_key)
        if len(positions):
            parts = list(zip(*(frame[c].iloc[positions].tolist() for c in self.key), strict=True))
            stored[positions] = self.keyring.subject_index_many(self.registry.namespace, parts)
        return stored

    def _duplicates(self, stored: np.ndarray, rows: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """Rows whose identity came earlier in this batch (this chunk or an earlier one); the first loads."""
        duplicate = np.zeros(len(stored), bool)
        positions = np.flatnonzero(candidates)
        within = pd.Series(stored[positions]).duplicated(keep="first").to_numpy()
        duplicate[positions[within]] = True
        first = positions[~within]
        first_keys = stored[first].tolist()
        seen = self.seen.c.subject_key
        earlier = {k for (k,) in matching(self.conn, select(seen), seen, first_keys)}
        if earlier:
            duplicate[first[np.isin(first_keys, list(earlier))]] = True
        fresh = [
            (k, r) for k, r in zip(first_keys, rows[first].tolist(), strict=True) if k not in earlier
        ]
        insert_tuples(self.conn, self.seen, ["subject_key", "source_row"], fresh)
        return duplicate

    # -- change detection and SCD2 ------------------------------------------------------------

    def _sealed_values(self, escaped: dict[str, pa.Array] | None, frame: pd.DataFrame, stored: list[str]) -> list[str]:
        """What a record's ``values`` holds for each row: clear members, then one ``~sealed``.

        The same object as ``json.dumps(keyring.seal(...), sort_keys=True)`` gives, built column-wise:
        ``"~sealed"`` sorts after every element code, so it is appended to the clear members' JSON
        (a dataset's item names sort after it; readers parse the object, whatever its order).
        ``escaped`` is ``frame``'s columns from :func:`json_columns`, when they all hold text.
        """

        def objects(columns: list[str]) -> list[str]:
            if escaped is None:
                return canonical_json(frame[columns])
            return json_objects({c: escaped[c] for c in columns})

        if not self.sealed_writes:
            return objects(self.clear_writes)
        clear = objects(self.clear_writes) if self.clear_writes else ["{}"] * len(frame)
        hidden = self.keyring.encrypt_many(objects(self.sealed_writes), aads=stored)
        return [
            f'{c[:-1]},"{SEALED}":"{h}"}}' if len(c) > 2 else f'{{"{SEALED}":"{h}"}}'
            for c, h in zip(clear, hidden, strict=True)
        ]

    def _upsert(
        self, loaded: pd.DataFrame, stored: list[str], identities: list[str], rows: np.ndarray
    ) -> None:
        written = loaded[self.writes]
        escaped = json_columns(written)
        lines = canonical_json(written) if escaped is None else json_objects(escaped)
        hashes = self.keyring.digest_many(lines)
        existing = self.target.current(self.conn, identities)
        changed, closing = [], []
        for position, (identity, row_hash) in enumerate(zip(identities, hashes, strict=True)):
            current = existing.get(identity)
            if current is not None and current[1] == row_hash:
                self.summary.unchanged += 1
                continue
            if current is not None:
                closing.append(current[0])
            changed.append(position)
        # Sealing costs an encryption per row: only rows that are written pay it.
        if len(changed) < len(identities):
            take = pa.array(changed, pa.int64())
            escaped = None if escaped is None else {c: v.take(take) for c, v in escaped.items()}
            written = written.iloc[changed]
            keys = [stored[p] for p in changed]
            plain = loaded.index[changed].tolist()
            hashes = [hashes[p] for p in changed]
            identities = [identities[p] for p in changed]
            source_rows = rows[changed].tolist()
        else:
            keys, plain, source_rows = stored, loaded.index.tolist(), rows.tolist()
        values = self._sealed_values(escaped, written, keys)
        ciphers = self.keyring.encrypt_many(plain, aads=[subjects.cipher_aad(k) for k in keys])
        own = self.target.row_columns(identities)
        table = self.target.table
        for part in slices(closing):
            self.conn.execute(update(table).where(table.c.id.in_(part)).values(valid_to=self.now))
        insert_tuples(
            self.conn,
            table,
            ["subject_key", "subject_cipher", "values", "row_hash", "source_row", *own],
            list(zip(keys, ciphers, values, hashes, source_rows, *own.values(), strict=True)),
            constants={
                **self.target.shared_columns(),
                "valid_from": self.now,
                "valid_to": None,
                "batch_id": self.batch_id,
            },
        )
        self.summary.updated += len(closing)
        self.summary.inserted += len(changed) - len(closing)
