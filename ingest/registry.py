"""What the catalog says about one source's elements, read once per batch, and what it refuses."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement
from catalog_schema.errors import InvalidInput
from catalog_schema.library.sealing import (
    SEALED_SENSITIVITY,
)
from catalog_schema.types import (
    DataType,
    Sensitivity,
)
from connectors.config import SourceSpec

SessionFactory = Callable[[], Session]
T = TypeVar("T")


class SourceConfigError(InvalidInput):
    code = "source_config_invalid"


@dataclass(frozen=True)
class Registry:
    """What the catalog says about one source's elements, read once per batch."""

    department_id: int
    types: dict[str, DataType]
    element_ids: dict[str, int]
    owners: dict[str, int]  # element code -> authoritative department id
    sensitivity: dict[str, Sensitivity]

    def sealed(self, codes: Iterable[str]) -> list[str]:
        """Those of ``codes`` that are encrypted at rest."""
        return sorted(c for c in codes if self.sensitivity.get(c) in SEALED_SENSITIVITY)

    def authoritative(self, spec: SourceSpec) -> list[str]:
        """Non-key elements this source is the authoritative source of: what it writes."""
        return sorted(
            e for e in spec.elements if self.owners.get(e) == self.department_id and e not in spec.key
        )

    def verified(self, spec: SourceSpec) -> list[str]:
        """Non-key elements this source only verifies."""
        return sorted(
            e
            for e in spec.elements
            if self.owners.get(e) not in (None, self.department_id) and e not in spec.key
        )


def registry_for(db: Session, spec: SourceSpec) -> Registry:
    """Check ``spec`` against the catalog and read what the loader needs; refuse what cannot load."""
    department = db.scalar(select(Department).where(Department.slug == spec.department))
    if department is None:
        raise SourceConfigError(
            f"数据源 {spec.name} 的提供部门 {spec.department} 未登记",
            f"source {spec.name}: department {spec.department} is not registered",
        )
    elements = db.scalars(select(DataElement).where(DataElement.code.in_(spec.elements))).all()
    by_code = {e.code: e for e in elements}
    problems = [code for code in spec.elements if code not in by_code]
    wrong_library = [e.code for e in elements if e.library != spec.library]
    if problems or wrong_library:
        raise SourceConfigError(
            f"数据源 {spec.name} 引用了未登记或不属于 {spec.library.label} 的数据元："
            f"{', '.join(problems + wrong_library)}",
            f"source {spec.name} maps elements that are unregistered or not in the {spec.library.value} "
            f"library: {', '.join(problems + wrong_library)}",
        )
    owners = {}
    for element in elements:
        source = element.authoritative_source
        if source is not None:
            owners[element.code] = source.department_id
    registry = Registry(
        department_id=department.id,
        types={e.code: e.data_type for e in elements},
        element_ids={e.code: e.id for e in elements},
        owners=owners,
        sensitivity={e.code: e.sensitivity for e in elements},
    )
    if not registry.authoritative(spec):
        raise SourceConfigError(
            f"{department.name} 不是数据源 {spec.name} 任何数据元的权威源，不能写入基础库（一数一源）",
            f"{spec.department} is not the authoritative source of any element of {spec.name}; "
            "only an authoritative source writes into a base library",
        )
    return registry
