"""Where a loader writes: a base library, or a resource's dataset (库表交换); what differs between them.

The loader (``ingest.loader``) is the same for both: keys, duplicates, quarantine, change detection
and SCD2. A target says how a chunk's columns are named and checked, what identifies a row among
the current versions, where the current versions are and which columns a new version carries.

- A library's row is one department's values about one subject: identified by the subject's
  blind index, checked by element code, cross-checked against the elements it only verifies.
- A dataset's row is one row of the provider's table: identified by the subject's blind index
  (in the resource's namespace) and the keyed digest of its record key, its columns the resource's
  items, each checked by the element it carries or else by its data type. No tickets: a dataset
  is its provider's own data.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from catalog_schema.dataset import subjects as dataset_subjects
from catalog_schema.dataset.models import DatasetRecord
from catalog_schema.keys.service import Keyring
from connectors.config import SourceSpec
from ingest.bulk import RECORDS, current_records, matching
from ingest.registry import Dataset, Registry
from quality import rules

DATASET_RECORDS = cast(Table, DatasetRecord.__table__)
# Between a row's subject key and its record key in its identity (neither contains it).
_IDENTITY_SEPARATOR = "|"


@dataclass
class LibraryTarget:
    """One department's values in a base library, one current version per subject."""

    spec: SourceSpec
    registry: Registry
    crosschecks = True
    table = RECORDS

    def check(self, raw: pd.DataFrame) -> tuple[pd.DataFrame, rules.Verdicts]:
        spec = self.spec
        frame = rules.normalise(raw[list(spec.columns)].rename(columns=spec.columns))
        for element, value in spec.constants.items():
            frame[element] = value
        verdicts = rules.evaluate(
            frame,
            types=self.registry.types,
            required=[*spec.key, *spec.required],
            registering_authority=spec.registering_authority,
            registration_date=spec.registration_date,
        )
        return frame, verdicts

    def has_current(self, conn: Connection) -> bool:
        """Whether the department has any current version in the library."""
        r = RECORDS.c
        assert self.registry.library is not None
        query = select(r.id).where(
            r.library == self.registry.library.value,
            r.department_id == self.registry.department_id,
            r.valid_to.is_(None),
        )
        return conn.execute(query.limit(1)).first() is not None

    def identities(self, frame: pd.DataFrame, stored: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """A library row is its subject's: the blind index is its identity."""
        return stored

    def current(self, conn: Connection, identities: Sequence[str]) -> dict[str, tuple[int, str, int]]:
        """id, row hash and batch of the current version of each row, by identity."""
        r = RECORDS.c
        assert self.registry.library is not None
        found = current_records(
            conn,
            self.registry.library.value,
            self.registry.department_id,
            identities,
            r.id,
            r.row_hash,
            r.batch_id,
        )
        return {k: (i, h, b) for k, i, h, b in found}

    def shared_columns(self) -> dict[str, Any]:
        """The target's own columns of a new version that every row of the batch shares."""
        assert self.registry.library is not None
        return {"library": self.registry.library.value, "department_id": self.registry.department_id}

    def row_columns(self, identities: Sequence[str]) -> dict[str, list[Any]]:
        """The target's own columns of new versions that differ by row: none in a library."""
        return {}


@dataclass
class DatasetTarget:
    """A resource's dataset: its provider's rows, one current version per (subject, record key)."""

    spec: SourceSpec
    registry: Registry
    keyring: Keyring
    crosschecks = False
    table = DATASET_RECORDS

    @property
    def dataset(self) -> Dataset:
        assert self.registry.dataset is not None
        return self.registry.dataset

    def check(self, raw: pd.DataFrame) -> tuple[pd.DataFrame, rules.Verdicts]:
        dataset = self.dataset
        frame = rules.normalise(
            raw[list(self.spec.columns)].rename(columns=self.spec.columns), dataset.elements
        )
        verdicts = rules.evaluate_carried(
            frame,
            elements=dataset.elements,
            types=self.registry.types,
            required=[*dataset.query_key, *dataset.record_key, *self.spec.required],
        )
        return frame, verdicts

    def has_current(self, conn: Connection) -> bool:
        """Whether the resource's dataset has any current row."""
        d = DATASET_RECORDS.c
        query = select(d.id).where(d.resource_id == self.dataset.resource_id, d.valid_to.is_(None))
        return conn.execute(query.limit(1)).first() is not None

    def identities(self, frame: pd.DataFrame, stored: np.ndarray, positions: np.ndarray) -> np.ndarray:
        """Subject key, separator, record-key digest (the bare subject key when there is no record key)."""
        record_key = self.dataset.record_key
        if not record_key:
            return stored
        identity = np.full(len(stored), None, dtype=object)
        values = zip(*(frame[c].iloc[positions].tolist() for c in record_key), strict=True)
        identity[positions] = [
            f"{stored[p]}{_IDENTITY_SEPARATOR}{dataset_subjects.record_key(self.keyring, v)}"
            for p, v in zip(positions, values, strict=True)
        ]
        return identity

    def current(self, conn: Connection, identities: Sequence[str]) -> dict[str, tuple[int, str, int]]:
        d = DATASET_RECORDS.c
        keys = list(dict.fromkeys(i.split(_IDENTITY_SEPARATOR, 1)[0] for i in identities))
        query = select(d.subject_key, d.record_key, d.id, d.row_hash, d.batch_id).where(
            d.resource_id == self.dataset.resource_id, d.valid_to.is_(None)
        )
        return {
            f"{subject}{_IDENTITY_SEPARATOR}{record}" if record else subject: (row_id, row_hash, batch)
            for subject, record, row_id, row_hash, batch in matching(conn, query, d.subject_key, keys)
        }

    def shared_columns(self) -> dict[str, Any]:
        return {"resource_id": self.dataset.resource_id}

    def row_columns(self, identities: Sequence[str]) -> dict[str, list[Any]]:
        return {"record_key": [i.partition(_IDENTITY_SEPARATOR)[2] for i in identities]}


Target = LibraryTarget | DatasetTarget


def target_of(spec: SourceSpec, registry: Registry, keyring: Keyring) -> Target:
    """The target ``spec`` loads, as the registry found it in the catalog."""
    if registry.dataset is not None:
        return DatasetTarget(spec, registry, keyring)
    return LibraryTarget(spec, registry)
