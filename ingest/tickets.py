"""One data, one source: a chunk's loaded rows cross-checked against the authoritative sources.

A source writes only the elements it is authoritative for; the elements it only verifies are
compared with their authoritative department's current values, and each difference opens a
discrepancy ticket (``quality.crosscheck`` finds them). Tickets are written in the load's
transaction (``ingest.flows``), so a killed load opens none. A ticket's values are sealed when
the element is, and the latest ticket for the same element, subject and department decides
whether a difference is new or one already known.
"""

import json
from dataclasses import dataclass
from typing import Any, cast

import pandas as pd
from sqlalchemy import Table, insert, select, update

from catalog_schema.element.models import DataElement, ElementSource
from catalog_schema.library import subjects
from catalog_schema.library.models import Discrepancy
from catalog_schema.library.sealing import SEALED_SENSITIVITY, open_ticket_value, ticket_aad
from catalog_schema.types import DiscrepancyKind, DiscrepancyStatus, Library, SourceRole
from ingest.batch import BatchWriter
from ingest.bulk import RECORDS, current_records, slices
from quality import crosscheck


@dataclass
class TicketWriter(BatchWriter):
    """The discrepancy tickets of one batch, opened in the loader's transaction."""

    def __post_init__(self) -> None:
        self.writes = self.registry.authoritative(self.spec)
        self.verifies = self.registry.verified(self.spec)
        # Plaintext key <-> stored key of the rows of the chunk being cross-checked.
        self.stored_of: dict[str, str] = {}
        self.plain_of: dict[str, str] = {}

    @property
    def library(self) -> Library:
        """The library the tickets are about (a dataset source opens none)."""
        assert self.spec.library is not None
        return self.spec.library

    def crosscheck(self, loaded: pd.DataFrame, stored: list[str]) -> None:
        """Open tickets for ``loaded`` (by plaintext key): differences from the authoritative values."""
        self.stored_of = dict(zip(loaded.index, stored, strict=True))
        self.plain_of = dict(zip(stored, loaded.index, strict=True))
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
            known = {k for (k,) in current_records(self.conn, self.library.value, key_owner, stored)}
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

    def _authoritative_values(self, department_id: int, stored: list[str]) -> pd.DataFrame:
        """Another department's current values of these subjects, unsealed, by plaintext key."""
        found = current_records(self.conn, self.library.value, department_id, stored, RECORDS.c["values"])
        if not found:
            return pd.DataFrame(index=pd.Index([], dtype=object))
        unseal = self.keyring.unseal
        return pd.DataFrame(
            [unseal(json.loads(v), aad=k) for k, v in found], index=[self.plain_of[k] for k, _ in found]
        )

    def _cross_rules(self, loaded: pd.DataFrame, stored: list[str]) -> list[dict[str, Any]]:
        insurance, death = "population.insurance_status", "population.death_flag"
        owners = self.registry.owners
        if self.library.value != "population":
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
            "library": self.library,
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
