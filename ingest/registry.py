"""What the catalog says about one source's elements, read once per batch, and what it refuses.

A library source's columns carry data elements of its library; a dataset source's columns carry
the items of one resource whose delivery is a dataset (库表交换), provided by the source's own
department. Either way the registry names the loaded frame's columns (element codes, or item
names) with their data types and sensitivities, and the columns of the subject key.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_schema.dataset import subjects as dataset_subjects
from catalog_schema.department.models import Department
from catalog_schema.element import service as element_service
from catalog_schema.element.models import DataElement
from catalog_schema.errors import InvalidInput
from catalog_schema.library import subjects
from catalog_schema.library.sealing import (
    SEALED_SENSITIVITY,
)
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import DatasetDelivery, DeliveryAdapter
from catalog_schema.settings import platform_department
from catalog_schema.types import (
    DataType,
    DeliveryKind,
    Library,
    Sensitivity,
)
from connectors.config import SourceSpec

SessionFactory = Callable[[], Session]
T = TypeVar("T")


CERTIFICATE_TYPE = "certificate.type_code"
CREDIT_KIND = "credit.kind"


class SourceConfigError(InvalidInput):
    code = "source_config_invalid"


@dataclass(frozen=True)
class Dataset:
    """The resource a dataset source loads, and its binding's keys (item names)."""

    resource_id: int
    code: str
    query_key: tuple[str, ...]
    record_key: tuple[str, ...]
    # Item name -> the element it carries, for the items that carry one (their checks and key forms).
    elements: dict[str, str]

    @property
    def namespace(self) -> str:
        return dataset_subjects.namespace(self.code)


@dataclass(frozen=True)
class Registry:
    """What the catalog says about one source's columns (elements or items), read once per batch."""

    department_id: int
    types: dict[str, DataType]
    element_ids: dict[str, int]
    owners: dict[str, int]  # element code -> authoritative department id
    sensitivity: dict[str, Sensitivity]
    # The target: a base library, or a resource's dataset; and the frame columns of the subject key.
    library: Library | None = None
    dataset: Dataset | None = None
    key: tuple[str, ...] = ()
    # Element codes the source's columns carry (a dataset's items' elements), for sealing what it quarantines.
    carried: frozenset[str] = field(default_factory=frozenset)

    @property
    def resource_id(self) -> int | None:
        return self.dataset.resource_id if self.dataset is not None else None

    @property
    def namespace(self) -> str:
        """The blind-index namespace of the subject keys this source writes."""
        if self.dataset is not None:
            return self.dataset.namespace
        assert self.library is not None
        return self.library.value

    def sealed(self, codes: Iterable[str]) -> list[str]:
        """Those of ``codes`` that are encrypted at rest."""
        return sorted(c for c in codes if self.sensitivity.get(c) in SEALED_SENSITIVITY)

    def authoritative(self, spec: SourceSpec) -> list[str]:
        """Non-key columns this source is the authoritative source of: what it writes.

        A dataset is its provider's own table: every item but the query key (sealed as the key).
        """
        if self.dataset is not None:
            return sorted(c for c in spec.columns.values() if c not in self.key)
        # Key parts a lookup does not name (a credit record's decision or case number) are stored
        # with the values too, so a lookup by subject can show which record is which.
        named = set(spec.key[: len(subjects.LOOKUP_KEY[spec.library])]) if spec.library else set(spec.key)
        return sorted(e for e in spec.elements if self.owners.get(e) == self.department_id and e not in named)

    def verified(self, spec: SourceSpec) -> list[str]:
        """Non-key elements this source only verifies (none of a dataset's)."""
        if self.dataset is not None:
            return []
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
    if spec.resource is not None:
        return _dataset_registry(db, spec, department)
    assert spec.library is not None
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
    keeper = _keeper_id(db)
    kept = sorted(code for code, owner in owners.items() if owner == keeper != department.id)
    if kept:
        holder = _record_holder(db, spec, department)
        owners.update(dict.fromkeys(kept, holder))
    registry = Registry(
        department_id=department.id,
        types={e.code: e.data_type for e in elements},
        element_ids={e.code: e.id for e in elements},
        owners=owners,
        sensitivity={e.code: e.sensitivity for e in elements},
        library=spec.library,
        key=tuple(spec.key),
        carried=frozenset(spec.elements),
    )
    if not registry.authoritative(spec):
        raise SourceConfigError(
            f"{department.name} 不是数据源 {spec.name} 任何数据元的权威源，不能写入基础库（一数一源）",
            f"{spec.department} is not the authoritative source of any element of {spec.name}; "
            "only an authoritative source writes into a base library",
        )
    return registry


def _keeper_id(db: Session) -> int | None:
    """The platform department's id: it keeps the elements common to a partitioned library."""
    return db.scalar(select(Department.id).where(Department.slug == platform_department()))


def _record_holder(db: Session, spec: SourceSpec, department: Department) -> int:
    """Whose records a source of kept elements carries: its own, or one other department's it verifies.

    The platform department keeps the elements common to a library whose records are split among
    departments; a source writes them for the records it is the authoritative source of (the
    certificate type it issues, the registering authority or credit kind it holds) and only
    cross-checks them against the one department that holds the records it declares otherwise.
    """
    assert spec.library is not None
    if spec.library is Library.certificate:
        _check_issuer(spec, department)
        return department.id
    declared, how = _declared_partitions(spec)
    if not declared:
        raise SourceConfigError(
            f"数据源 {spec.name} 映射了平台部门维护的{spec.library.label}公共数据元，"
            f"须以 {how} 声明所归集记录的分区",
            f"source {spec.name} maps elements the platform keeps for the {spec.library.value} library; "
            f"declare the partition of its records with {how}",
        )
    holders = element_service.partition_holders(db=db, library=spec.library, codes=declared)
    unregistered = [code for code in declared if code not in holders]
    if unregistered:
        raise SourceConfigError(
            f"数据源 {spec.name} 声明的{spec.library.label}记录分区 {'、'.join(unregistered)} "
            "未登记权威源部门",
            f"source {spec.name}: partition(s) {', '.join(unregistered)} of the {spec.library.value} "
            "library have no registered authoritative department",
        )
    distinct = set(holders.values())
    if len(distinct) > 1 and department.id in distinct:
        raise SourceConfigError(
            f"数据源 {spec.name} 声明的分区分属不同部门：只声明{department.name}作为权威源的分区",
            f"source {spec.name} declares partitions held by different departments; declare only those "
            f"{spec.department} holds",
        )
    if len(distinct) > 1:
        raise SourceConfigError(
            f"数据源 {spec.name} 声明的分区分属不同权威源部门，校核只能对照一个部门：请按部门拆分数据源",
            f"source {spec.name} declares partitions held by different departments; a verification source "
            "is compared with one, so split it by department",
        )
    return distinct.pop()


def _declared_partitions(spec: SourceSpec) -> tuple[list[str], str]:
    """The record partitions a source declares, and how it declares them."""
    if spec.library is Library.credit:
        kind = spec.constants.get(CREDIT_KIND)
        return ([kind] if kind else []), f"常量 {CREDIT_KIND} / the constant {CREDIT_KIND}"
    return list(spec.registering_authority or []), "registering_authority"


def _check_issuer(spec: SourceSpec, department: Department) -> None:
    """A certificate source loads one type, a constant, that its department issues (its code begins it)."""
    type_code = spec.constants.get(CERTIFICATE_TYPE)
    if type_code is None:
        raise SourceConfigError(
            f"电子证照数据源 {spec.name} 须以常量 {CERTIFICATE_TYPE} 声明所归集的证照类型",
            f"certificate source {spec.name} must declare its type as the constant {CERTIFICATE_TYPE}",
        )
    if not type_code.startswith(department.credit_code):
        raise SourceConfigError(
            f"谁发证、谁负责：证照类型 {type_code} 不是{department.name}颁发的（类型代码以颁发部门的统一社会"
            f"信用代码开头），只有颁发部门可以归集该类证照",
            f"certificate type {type_code} is not issued by {spec.department} (a type code begins with its "
            "issuer's credit code); only the issuer loads its certificates",
        )


def _dataset_registry(db: Session, spec: SourceSpec, department: Department) -> Registry:
    """A dataset source: its resource is a dataset of this department, its columns the resource's items."""
    resource = db.scalar(select(Resource).where(Resource.code == spec.resource))
    if resource is None:
        raise SourceConfigError(
            f"数据源 {spec.name} 的目标资源 {spec.resource} 未登记",
            f"source {spec.name}: resource {spec.resource} is not registered",
        )
    if resource.delivery_kind is not DeliveryKind.dataset:
        raise SourceConfigError(
            f"资源 {resource.code}（{resource.name}）的交付方式是“{resource.delivery_kind.label}”，"
            f"不是库表交换，数据源 {spec.name} 不能写入",
            f"resource {resource.code} is delivered as a {resource.delivery_kind.value}, not a dataset; "
            f"source {spec.name} cannot load it",
        )
    if resource.provider_id != department.id:
        raise SourceConfigError(
            f"数据源 {spec.name} 的提供部门 {department.name} 不是资源 {resource.code}（{resource.name}）"
            f"的提供方 {resource.provider.name}：库表交换只归集提供方自己的数据",
            f"source {spec.name}: {spec.department} is not the provider ({resource.provider.slug}) of "
            f"resource {resource.code}; a dataset collects its provider's own table",
        )
    binding = DeliveryAdapter.validate_python(resource.delivery)
    assert isinstance(binding, DatasetDelivery)
    items = {i.name: i for i in resource.items}
    mapped = set(spec.columns.values())
    unknown = sorted(mapped - set(items))
    unmapped = [k for k in [*binding.query_key, *binding.record_key] if k not in mapped]
    if unknown or unmapped:
        raise SourceConfigError(
            f"数据源 {spec.name} 的列须对应资源 {resource.code} 的信息项，并包含其查询键和记录键："
            f"{'、'.join(unknown + unmapped)}",
            f"source {spec.name}: columns map to items of resource {resource.code}, keys included: "
            f"{', '.join(unknown + unmapped)}",
        )
    carried = {name: items[name].element for name in mapped if items[name].element is not None}
    return Registry(
        department_id=department.id,
        types={name: items[name].data_type for name in mapped},
        element_ids={},
        owners={},
        sensitivity={name: e.sensitivity for name, e in carried.items() if e is not None},
        dataset=Dataset(
            resource_id=resource.id,
            code=resource.code,
            query_key=tuple(binding.query_key),
            record_key=tuple(binding.record_key),
            elements={name: e.code for name, e in carried.items() if e is not None},
        ),
        key=tuple(binding.query_key),
        carried=frozenset(e.code for e in carried.values() if e is not None),
    )
