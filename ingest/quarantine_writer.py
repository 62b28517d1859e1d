"""Rows that cannot load, written to ``quarantined_rows`` inside the load's transaction (``ingest.flows``).

A quarantined row is part of the batch's reconciliation (rows read = inserted + updated +
unchanged + quarantined), so it is written in the same transaction as the library rows: a killed
load leaves neither. Its raw text is sealed when the source can carry personal data, and a re-run
meeting the same bad row again keeps the open entry instead of repeating it. Resubmitting
quarantined rows is a batch of its own, above the loader: ``ingest.quarantine``.
"""

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select

from catalog_schema.library import subjects
from catalog_schema.library.models import QuarantinedRow
from catalog_schema.library.sealing import open_raw, quarantine_aad
from catalog_schema.types import QuarantineQueue
from connectors.base import RejectedRecord
from ingest.batch import BatchWriter
from ingest.bulk import canonical_json, slices
from quality import rules

# Elements whose values can be a citizen's ID number whatever their grading (a credit subject,
# a certificate holder): a quarantined raw row carrying one is sealed too.
_ID_BEARING = frozenset({rules.ID_ELEMENT, *rules.SUBJECT_CODE_ELEMENTS})


@dataclass
class QuarantineWriter(BatchWriter):
    """The quarantine entries of one batch, written in the loader's transaction."""

    def __post_init__(self) -> None:
        # Open entries this batch met again unchanged: a resubmission leaves them open.
        self.kept_open: set[int] = set()
        self.seal_raw = bool(
            self.registry.sealed(self.spec.elements) or _ID_BEARING.intersection(self.registry.carried)
        )

    def write(
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
        """Quarantine a chunk's ``quarantined`` rows with their reasons; ``review`` ones wait for review."""
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
                    {
                        "rule": "required_missing",
                        "element": self.registry.key[0],
                        "message": zh,
                        "message_en": en,
                    }
                ]
            subject_key = stored[position]
            entries.append(
                {
                    "batch_id": self.batch_id,
                    "source": self.spec.name,
                    "library": self.registry.library,
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
        self._insert(entries)

    def unparsed(self, records: list[RejectedRecord]) -> None:
        """Records the source format could not parse: quarantined with their raw text."""
        if not records:
            return
        zh, en = rules.message("truncated_record")
        entries = [
            {
                "batch_id": self.batch_id,
                "source": self.spec.name,
                "library": self.registry.library,
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
        self._insert(entries)
        self.summary.rows_read += len(records)
        self.summary.quarantined += len(records)

    def _insert(self, entries: list[dict[str, Any]]) -> None:
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
