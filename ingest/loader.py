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
        # What this batch has met, to find a later row of the same identity: the versions it wrote
        # (current, of this batch) and, in this table, the identities it found unchanged. Blind
        # indexes, not keys: a temporary table still lands in the database's temp files, and every
        # loaded row needs its index anyway (equal keys, equal indexes). A dataset row's identity
        # adds its record key's digest.
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
        self.maybe_seen = SeenFilter()
        # A target with no current version when the batch begins (a department's first load) has
        # none to compare later either: a version this batch writes is of an identity it has met,
        # and a second row of that identity is a duplicate, never compared. The load's lock on the
        # source and the unique index on current versions stand behind this, as behind a lookup.
        self.had_current = self.target.has_current(self.conn)
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
        duplicate = c.within | self._earlier(c.identities, c.candidates & ~c.within)
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

    def _earlier(self, identities: np.ndarray, first: np.ndarray) -> np.ndarray:
        """Rows whose identity came in an earlier chunk of this batch, among the ``first`` of the chunk."""
        duplicate = np.zeros(len(identities), bool)
        positions = np.flatnonzero(first)
        first_keys = identities[positions].tolist()
        maybe = self.maybe_seen.check_and_add(first_keys)
        asked = [k for k, m in zip(first_keys, maybe.tolist(), strict=True) if m]
        if asked:
            seen = self.seen.c.subject_key
            earlier = {k for (k,) in matching(self.conn, select(seen), seen, asked)}
            current = self.target.current(self.conn, asked)
            earlier.update(k for k, (_, _, batch) in current.items() if batch == self.batch_id)
            duplicate[positions[np.isin(first_keys, list(earlier))]] = True
        return duplicate

    # -- change detection and SCD2 ------------------------------------------------------------

    def _upsert(self, chunk: Prepared, good: np.ndarray) -> None:
        identities: list[str] = chunk.identities[good].tolist()
        hashes: list[str] = chunk.hashes[good].tolist()
        existing = self.target.current(self.conn, identities) if self.had_current else {}
        changed, closing, unchanged = [], [], []
        for position, identity, row_hash in zip(good.tolist(), identities, hashes, strict=True):
            current = existing.get(identity)
            if current is not None and current[1] == row_hash:
                unchanged.append((identity, int(chunk.rows[position])))
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
        # Unchanged identities leave no version of this batch: the seen table remembers them.
        insert_tuples(self.conn, self.seen, ["subject_key", "source_row"], sorted(unchanged))
        self.summary.unchanged += len(unchanged)
        self.summary.updated += len(closing)
        self.summary.inserted += len(changed) - len(closing)


class SeenFilter:
    """A Bloom filter of the identities a batch has seen, fixed at 8 MB whatever the batch's size.

    The seen table decides; this only spares asking it about identities certainly not in it,
    which is nearly all of them. At a million identities about one in ten thousand is asked in
    vain; at ten million one in twenty (Bloom, 1970: (1 - e^(-kn/m))^k with k = 3, m = 2^26).
    """

    BITS = 1 << 26

    def __init__(self) -> None:
        self.bits = np.zeros(self.BITS // 8, dtype=np.uint8)

    def check_and_add(self, identities: list[str]) -> np.ndarray:
        """Whether each identity may have been added before (by an earlier call); adds them all."""
        # hash() of a str is SipHash, keyed per process: uniform, and this filter lives in one.
        h = np.array([hash(i) for i in identities], dtype=np.int64).view(np.uint64)
        mask = np.uint64(self.BITS - 1)
        positions = [h & mask, (h >> np.uint64(21)) & mask, (h >> np.uint64(38)) & mask]
        maybe = np.ones(len(identities), bool)
        for p in positions:
            byte, bit = (p >> np.uint64(3)).astype(np.int64), (p & np.uint64(7)).astype(np.uint8)
            maybe &= (self.bits[byte] >> bit) & 1 == 1
        for p in positions:
            byte, bit = (p >> np.uint64(3)).astype(np.int64), (p & np.uint64(7)).astype(np.uint8)
            np.bitwise_or.at(self.bits, byte, np.left_shift(np.uint8(1), bit))
        return maybe
