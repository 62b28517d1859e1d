"""The manifest: every demo source written, and every injected fault with the outcome it must reach.

An expected outcome (``EXPECTED``) is one of:

* ``quarantined:<check>``    the record is held back by the named check;
* ``discrepancy:<element>``  the record loads but contradicts the authoritative source;
* ``review:<check>``         the record goes to manual review (pilot-era credit codes);
* ``verdict:<verdict>``      a certificate that loads, and that ``govdx certificate verify`` calls
                             ``tampered``, ``revoked`` or ``expired``.
"""

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from demo.sources.city import TODAY

EXPECTED = {
    "id_checksum": "quarantined:id_checksum",
    "id_birth_date_mismatch": "quarantined:id_birth_date_mismatch",
    "id_sex_mismatch": "quarantined:id_sex_mismatch",
    "region_unknown_code": "quarantined:region_unknown_code",
    "ethnicity_unknown_code": "quarantined:ethnicity_unknown_code",
    "duplicate_key": "quarantined:duplicate_key",
    "name_mismatch": "discrepancy:population.name",
    "deceased_insured": "discrepancy:population.insurance_status",
    "unknown_subject": "discrepancy:population.id_number",
    "uscc_checksum": "quarantined:uscc_checksum",
    "uscc_authority": "quarantined:uscc_authority",
    "uscc_pilot": "review:uscc_pilot_review",
    "required_missing": "quarantined:required_missing",
    "subject_code_invalid": "quarantined:subject_code_invalid",
    "truncated_file": "quarantined:truncated_record",
    "certificate_tampered": "verdict:tampered",
    "certificate_revoked": "verdict:revoked",
    "certificate_expired": "verdict:expired",
}


@dataclass(frozen=True)
class Fault:
    """One injected fault: where it is, the subject key the pipeline forms, and the expected outcome."""

    source: str
    row: int
    key: str
    fault: str
    expected: str


@dataclass
class SourceOutput:
    """What was written for one source."""

    format: str
    rows: int
    path: str | None = None
    table: str | None = None


@dataclass
class Manifest:
    """Everything written under one output directory, and every fault injected into it."""

    seed: int
    people: int
    orgs: int
    sources: dict[str, SourceOutput] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    broken: dict[str, dict[str, str]] = field(default_factory=dict)
    # Records that are valid but awkward (生僻字 names outside GBK): they must load.
    edge_cases: list[Fault] = field(default_factory=list)
    generated_for: str = TODAY.isoformat()

    def faults_of(self, source: str, fault: str | None = None) -> list[Fault]:
        """The faults injected into ``source``, optionally of one kind."""
        return [f for f in self.faults if f.source == source and (fault is None or f.fault == fault)]

    def as_dict(self) -> dict[str, Any]:
        """The manifest as written to ``manifest.json``."""
        return {
            "seed": self.seed,
            "generated_for": self.generated_for,
            "people": self.people,
            "orgs": self.orgs,
            "sources": {
                name: {k: v for k, v in asdict(out).items() if v is not None}
                for name, out in self.sources.items()
            },
            "faults": [asdict(f) for f in self.faults],
            "edge_cases": [asdict(f) for f in self.edge_cases],
            "broken": self.broken,
        }

    @classmethod
    def load(cls, path: Path) -> "Manifest":
        """Read a ``manifest.json``."""
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            seed=data["seed"],
            people=data["people"],
            orgs=data["orgs"],
            sources={name: SourceOutput(**out) for name, out in data["sources"].items()},
            faults=[Fault(**f) for f in data["faults"]],
            broken=data["broken"],
            edge_cases=[Fault(**f) for f in data["edge_cases"]],
            generated_for=data["generated_for"],
        )


def fault_count(n: int) -> int:
    """How many records of each fault a source of ``n`` subjects gets: a handful, growing slowly."""
    return max(2, round(math.sqrt(n) / 12))
