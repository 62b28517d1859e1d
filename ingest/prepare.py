"""The CPU-bound half of loading a chunk, prepared one chunk ahead in a worker process.

Loading a chunk is two kinds of work. Preparing it needs no database: the rules' masks
(``quality.rules``), the keys and their blind indexes, duplicates within the chunk, each row's
canonical JSON and keyed digest, and the sealing of values and keys. Writing it needs the load's
transaction: duplicates across chunks, quarantine, change detection against current versions,
SCD2 inserts and tickets (``ingest.loader``). At a million rows each half is about half the time,
so while the loader writes chunk N a worker process prepares chunk N+1.

Nothing about the transaction changes: the worker never touches the database, every write still
happens in the loader's one transaction, and the batch commits only when it reconciles
(``ingest.flows``). A chunk the worker fails to prepare, or a worker that dies, raises in the
loader at that chunk, and the batch fails and rolls back as it would for any other error.
Memory stays bounded by the chunk: at most four are in flight, two in the worker's hands (one
being prepared, one waiting), one prepared and waiting for the loader's writer thread
(``ingest.flows``), and the one it writes. Plaintext crosses the process boundary
only through a pipe between two processes of the same load, as it lived in one process before.

A batch of one chunk is prepared in the loader's own process: starting an interpreter costs more
than it saves. So is every batch run by a daemonic process (a Celery prefork worker), which
may not start children.

Values and keys are sealed for every row that may load, before change detection has said which
rows changed: the worker does it in parallel with the writes, and the unchanged rows' ciphertexts
are dropped unwritten.
"""

import multiprocessing
import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np
import pandas as pd
import pyarrow as pa

from catalog_schema.keys.service import SEALED, Keyring
from catalog_schema.library import subjects
from catalog_schema.library.subjects import KEY_SEPARATOR, MAX_KEY_LENGTH
from connectors.base import ROW_COLUMN
from connectors.config import SourceSpec
from ingest.bulk import canonical_json, json_columns, json_objects
from ingest.registry import Registry
from ingest.targets import target_of
from quality import rules

# How often a worker checks that its loader is still alive.
ORPHAN_POLL_S = 1.0


@dataclass
class Prepared:
    """One chunk, checked, keyed and sealed; arrays are by position in the chunk."""

    raw: pd.DataFrame
    rows: np.ndarray
    frame: pd.DataFrame
    keys: pd.Series
    stored: np.ndarray
    identities: np.ndarray
    verdicts: rules.Verdicts
    failed: np.ndarray
    has_key: np.ndarray
    candidates: np.ndarray
    # Repeats an identity earlier in the same chunk (across chunks is the loader's to find).
    within: np.ndarray
    # For the rows that may load (candidates, first of their identity in the chunk), else None.
    hashes: np.ndarray
    values: np.ndarray
    ciphers: np.ndarray


@dataclass
class Preparer:
    """What preparing one source's chunks needs, and nothing of the database: picklable."""

    spec: SourceSpec
    registry: Registry
    keyring: Keyring
    accept_review: bool = False
    writes: list[str] = field(init=False)
    sealed_writes: list[str] = field(init=False)
    clear_writes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.writes = self.registry.authoritative(self.spec)
        self.sealed_writes = self.registry.sealed(self.writes)
        self.clear_writes = [e for e in self.writes if e not in self.sealed_writes]

    def prepare(self, chunk: pa.RecordBatch) -> Prepared:
        """Check, key, digest and seal one chunk."""
        target = target_of(self.spec, self.registry, self.keyring)
        key = self.registry.key
        raw = chunk.to_pandas(types_mapper=pd.ArrowDtype).astype("string")
        rows = chunk.column(ROW_COLUMN).to_numpy(zero_copy_only=False)
        frame, verdicts = target.check(raw)
        # normalise() already gave every key part its canonical form (subjects.canonical_part).
        keys = frame[key[0]].astype("string")
        for column in key[1:]:
            keys = keys + KEY_SEPARATOR + frame[column].astype("string")
        verdicts.add("key_too_long", key[0], (keys.str.len() > MAX_KEY_LENGTH).fillna(False).to_numpy())
        has_key = keys.notna().to_numpy()
        stored = self._stored_keys(frame, has_key)
        failed = verdicts.rejected | (np.zeros(len(frame), bool) if self.accept_review else verdicts.review)
        candidates = ~failed & has_key
        identities = target.identities(frame, stored, np.flatnonzero(candidates))
        positions = np.flatnonzero(candidates)
        within = np.zeros(len(frame), bool)
        within[positions[pd.Series(identities[positions]).duplicated(keep="first").to_numpy()]] = True
        hashes = np.full(len(frame), None, dtype=object)
        values = np.full(len(frame), None, dtype=object)
        ciphers = np.full(len(frame), None, dtype=object)
        possible = np.flatnonzero(candidates & ~within)
        if len(possible):
            h, v, c = self._sealed(
                frame.iloc[possible], keys.iloc[possible].tolist(), stored[possible].tolist()
            )
            hashes[possible], values[possible], ciphers[possible] = h, v, c
        return Prepared(
            raw, rows, frame, keys, stored, identities, verdicts, failed, has_key, candidates, within,
            hashes, values, ciphers,
        )  # fmt: skip

    def _stored_keys(self, frame: pd.DataFrame, has_key: np.ndarray) -> np.ndarray:
        """The blind index of each row's key (None where the key is missing): one HMAC per part."""
        stored = np.full(len(frame), None, dtype=object)
        positions = np.flatnonzero(has_key)
        if len(positions):
            parts = list(zip(*(frame[c].iloc[positions].tolist() for c in self.registry.key), strict=True))
            stored[positions] = self.keyring.subject_index_many(self.registry.namespace, parts)
        return stored

    def _sealed(
        self, frame: pd.DataFrame, plain: list[str], stored: list[str]
    ) -> tuple[list[str], list[str], list[str]]:
        """Each row's keyed digest, its record ``values`` and its sealed key.

        ``values`` is the same object as ``json.dumps(keyring.seal(...), sort_keys=True)`` gives,
        built column-wise: ``"~sealed"`` sorts after every element code, so it is appended to the
        clear members' JSON (a dataset's item names sort after it; readers parse the object,
        whatever its order).
        """
        written = frame[self.writes]
        escaped = json_columns(written)

        def objects(columns: list[str]) -> list[str]:
            if escaped is None:
                return canonical_json(written[columns])
            return json_objects({c: escaped[c] for c in columns})

        hashes = self.keyring.digest_many(objects(self.writes))
        if not self.sealed_writes:
            values = objects(self.clear_writes)
        else:
            clear = objects(self.clear_writes) if self.clear_writes else ["{}"] * len(frame)
            hidden = self.keyring.encrypt_many(objects(self.sealed_writes), aads=stored)
            values = [
                f'{c[:-1]},"{SEALED}":"{h}"}}' if len(c) > 2 else f'{{"{SEALED}":"{h}"}}'
                for c, h in zip(clear, hidden, strict=True)
            ]
        ciphers = self.keyring.encrypt_many(plain, aads=[subjects.cipher_aad(k) for k in stored])
        return hashes, values, ciphers


# The worker process's preparer, set once by the pool's initializer.
_worker: Preparer | None = None


def _start_worker(preparer: Preparer, loader: int) -> None:
    global _worker
    _worker = preparer
    threading.Thread(target=_exit_with, args=(loader,), name="govdx-orphan-watch", daemon=True).start()


def _exit_with(parent: int) -> None:
    """End this worker once its loader is gone (killed: SIGKILL runs no clean-up).

    The pool's pipes stay open in the worker itself, so it would wait for work forever, holding
    a chunk's plaintext in memory. The loader's pid comes from the loader: it may be dead before
    this worker has imported enough to ask. Polled, not PR_SET_PDEATHSIG: the same everywhere.
    """
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_S)
    os._exit(1)


def _prepare_in_worker(chunk: pa.RecordBatch) -> Prepared:
    assert _worker is not None
    return _worker.prepare(chunk)


class PreparedChunks:
    """``chunks`` prepared in order, one ahead in a worker process; a context manager that stops it."""

    def __init__(self, preparer: Preparer, chunks: Iterator[pa.RecordBatch]) -> None:
        self.preparer = preparer
        self.chunks = chunks
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> "PreparedChunks":
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.pool is not None:
            # A failed load stops the worker at once; what it was preparing is dropped unwritten.
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def __iter__(self) -> Iterator[Prepared]:
        first = next(self.chunks, None)
        if first is None:
            return
        second = next(self.chunks, None)
        if second is None or multiprocessing.current_process().daemon:
            yield self.preparer.prepare(first)
            for chunk in self.chunks if second is None else _prepend(second, self.chunks):
                yield self.preparer.prepare(chunk)
            return
        # spawn, not fork: the loader holds database connections and threads a fork would copy.
        self.pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(self.preparer, os.getpid()),
        )
        ahead: deque[Future[Prepared]] = deque([self.pool.submit(_prepare_in_worker, second)])
        # The first chunk here, while the worker starts (an interpreter, pandas, the rules' tables).
        yield self.preparer.prepare(first)
        for chunk in self.chunks:
            ahead.append(self.pool.submit(_prepare_in_worker, chunk))
            yield ahead.popleft().result()
        while ahead:
            yield ahead.popleft().result()


def _prepend(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest
