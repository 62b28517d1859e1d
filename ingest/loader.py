"""The loader of one batch, chunk by chunk, inside the load's transaction (``ingest.flows``).

Per chunk, everything is column-wise. A chunk arrives prepared (``ingest.prepare``, in a worker
process for a batch of many chunks): its rules' masks, keys, digests of canonical JSON and sealed
values computed without the database. Here is what needs the transaction: lookups go to the
database by key in slices (``ingest.bulk``), and a chunk's rows go three ways, all in the one
transaction that commits only when the batch reconciles: rows that fail a rule, lack a key or
repeat an earlier key are quarantined (``ingest.quarantine_writer``); the others are upserted
here, a new version (SCD2) only where the row's digest changed; then those loaded rows are
cross-checked against the authoritative sources of the elements the source only verifies, opening
discrepancy tickets (``ingest.tickets``).

The same loader fills a base library or a resource's dataset (库表交换); ``ingest.targets`` holds
what differs: how a chunk is named and checked, what identifies a row, where its versions live.
"""

from dataclasses import dataclass, field, fields
from datetime import datetime

import numpy as np
from sqlalchemy import Column, Integer, MetaData, String, Table, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from catalog_schema.database import utcnow
from catalog_schema.keys.service import Keyring
from connectors.config import SourceSpec
from ingest.batch import BatchSummary, BatchWriter
from ingest.bulk import insert_tuples, matching, slices
from ingest.prepare import Prepared
from ingest.quarantine_writer import QuarantineWriter
from ingest.registry import Registry
from ingest.targets import target_of
from ingest.tickets import TicketWriter


@dataclass
class Loader:
    """One batch's prepared chunks: duplicates, the upsert into its target; quarantine, tickets by writers."""

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
        # Blind indexes, not keys: a temporary table still lands in the database's temp files, and
        # every loaded row needs its index anyway (equal keys, equal indexes). A dataset row's
        # identity adds its record key's digest.
        self.seen = Table(
            f"govdx_seen_{self.batch_id}",
            MetaData(),
            Column("subject_key", String(200), primary_key=True),
            Column("source_row", Integer),
            prefixes=["TEMPORARY"],
            # SQLite: the key is the table's one B-tree, not a rowid table and an index beside it.
            sqlite_with_rowid=False,
        )
        self.seen.create(self.conn)
        # The quarantine and the tickets write in this loader's transaction, for the same batch.
        shared = {f.name: getattr(self, f.name) for f in fields(BatchWriter)}
        self.quarantine = QuarantineWriter(**shared)
        self.tickets = TicketWriter(**shared)

    def close(self) -> None:
        self.seen.drop(self.conn)

    # -- one chunk --------------------------------------------------------------------------

    def load(self, chunk: Prepared) -> None:
        """Write one prepared chunk (``ingest.prepare``): quarantine, change detection, SCD2, tickets."""
        c = chunk
        verdicts = c.verdicts
        duplicate = c.within | self._earlier(c.identities, c.rows, c.candidates & ~c.within)
        verdicts.add("duplicate_key", self.key[0], duplicate)
        quarantined = c.failed | duplicate | ~c.has_key
        self.summary.rows_read += len(c.frame)
        self.quarantine.write(
            c.raw,
            c.rows,
            c.keys,
            c.stored,
            verdicts,
            quarantined,
            review=verdicts.review & ~verdicts.rejected & ~duplicate,
        )
        good = np.flatnonzero(~quarantined)
        if len(good):
            self._upsert(c, good)
            if self.target.crosschecks:
                loaded = c.frame.iloc[good].set_index(c.keys.iloc[good].to_numpy())
                self.tickets.crosscheck(loaded, c.stored[good].tolist())

    def _earlier(self, identities: np.ndarray, rows: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Rows whose identity came in an earlier chunk of this batch; ``first`` ones are remembered."""
        duplicate = np.zeros(len(identities), bool)
        positions = np.flatnonzero(first)
        first_keys = identities[positions].tolist()
        seen = self.seen.c.subject_key
        earlier = {k for (k,) in matching(self.conn, select(seen), seen, first_keys)}
        if earlier:
            duplicate[positions[np.isin(first_keys, list(earlier))]] = True
        fresh = sorted(
            (k, r) for k, r in zip(first_keys, rows[positions].tolist(), strict=True) if k not in earlier
        )
        insert_tuples(self.conn, self.seen, ["subject_key", "source_row"], fresh)
        return duplicate

    # -- change detection and SCD2 ------------------------------------------------------------

    def _upsert(self, chunk: Prepared, good: np.ndarray) -> None:
        identities: list[str] = chunk.identities[good].tolist()
        hashes: list[str] = chunk.hashes[good].tolist()
        existing = self.target.current(self.conn, identities)
        changed, closing = [], []
        for position, identity, row_hash in zip(good.tolist(), identities, hashes, strict=True):
            current = existing.get(identity)
            if current is not None and current[1] == row_hash:
                self.summary.unchanged += 1
                continue
            if current is not None:
                closing.append(current[0])
            changed.append(position)
        # In key order: both indexes of the versions lead with the key, so sorted rows fill their
        # pages one after another instead of touching a random page each (half the insert's time).
        written = np.array(changed, dtype=np.int64)
        written = written[np.argsort(chunk.stored[written].astype(str), kind="stable")]
        own = self.target.row_columns(chunk.identities[written].tolist())
        table = self.target.table
        for part in slices(closing):
            self.conn.execute(update(table).where(table.c.id.in_(part)).values(valid_to=self.now))
        columns = [chunk.stored, chunk.ciphers, chunk.values, chunk.hashes, chunk.rows]
        insert_tuples(
            self.conn,
            table,
            ["subject_key", "subject_cipher", "values", "row_hash", "source_row", *own],
            list(zip(*(c[written].tolist() for c in columns), *own.values(), strict=True)),
            constants={
                **self.target.shared_columns(),
                "valid_from": self.now,
                "valid_to": None,
                "batch_id": self.batch_id,
            },
        )
        self.summary.updated += len(closing)
        self.summary.inserted += len(changed) - len(closing)
