"""Catalog files in and out: YAML import and export, and DCAT (JSON-LD) for harvesters.

Import is idempotent and all-or-nothing: every entry is checked and applied inside the
caller's transaction, each under its own savepoint so one bad entry does not hide the next
one's problems; if any entry has a problem, :func:`import_catalog` raises with all of them,
located by their path in the file, and the caller rolls the whole file back.
"""

import json
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_schema.department import service as department_service
from catalog_schema.department.models import Department
from catalog_schema.department.schemas import DepartmentCreate, DepartmentUpdate
from catalog_schema.element import service as element_service
from catalog_schema.element.models import DataElement, RecordPartition
from catalog_schema.element.schemas import ElementCreate, ElementUpdate, PartitionCreate
from catalog_schema.errors import GovdxError, InvalidInput, PayloadTooLarge, Problem
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import ResourceImport, ResourceUpdate
from catalog_schema.types import ResourceStatus, SourceRole, UpdateCycle
from catalog_schema.validation import problems_from

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_INT_CHARS = 20  # a sign and 19 digits: any 64-bit integer
FORMAT_VERSION = 1
SECTIONS = ("departments", "elements", "partitions", "resources")

Outcome = Literal["created", "updated", "unchanged"]


@dataclass
class ImportReport:
    """How many entries of each section were created, updated or left unchanged."""

    counts: dict[str, dict[str, int]] = field(
        default_factory=lambda: {s: {"created": 0, "updated": 0, "unchanged": 0} for s in SECTIONS}
    )

    def add(self, section: str, outcome: Outcome) -> None:
        self.counts[section][outcome] += 1

    def total(self, section: str) -> int:
        return sum(self.counts[section].values())


CATALOG_KEYS = "version, departments, elements, partitions, resources"


def read_file(path: Path, *, keys: str = CATALOG_KEYS) -> dict[str, Any]:
    """Parse a catalog YAML (or JSON) file; too large, unreadable or malformed files are refused."""
    try:
        is_regular = stat.S_ISREG(path.stat().st_mode)
        if is_regular:
            # Read one byte past the limit, whatever stat said: a file may grow while it is read.
            with path.open("rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InvalidInput(
            f"无法读取文件 {path}：{exc.strerror}",
            f"cannot read {path}: {exc.strerror}",
            code="file_unreadable",
        ) from exc
    if not is_regular:
        # A device, pipe or folder: /dev/zero would be read for ever.
        raise InvalidInput(
            f"{path} 不是普通文件，请给出目录文件的路径",
            f"{path} is not a regular file; give the path of a catalog file",
            code="file_not_regular",
        )
    if len(raw) > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"文件 {path.name} 超过 {MAX_FILE_BYTES} 字节上限，请拆分为多个文件",
            f"{path.name} is above the {MAX_FILE_BYTES}-byte limit; split it",
            code="file_too_large",
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"文件 {path.name} 不是 UTF-8 编码，请另存为 UTF-8",
            f"{path.name} is not UTF-8; save it as UTF-8",
            code="file_encoding",
        ) from exc
    return parse_text(text, name=path.name, keys=keys)


class _CatalogLoader(yaml.SafeLoader):
    """Safe YAML without aliases (no alias bombs) and without repeated keys (no silent last-wins)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(
                None, None, "目录文件不允许使用别名(*name) / aliases are not allowed", mark
            )
        return super().compose_node(parent, index)

    def construct_yaml_int(self, node: Any) -> Any:
        # No number in a catalog needs more than 64 bits; Python refuses to parse one of more than
        # 4,300 digits with a bare ValueError, and a 4,000-digit one costs time for nothing.
        if len(node.value) > MAX_INT_CHARS:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"整数超过 {MAX_INT_CHARS} 位 / an integer longer than {MAX_INT_CHARS} characters",
                node.start_mark,
            )
        return super().construct_yaml_int(node)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[str | int] = set()
        for key_node, _value in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int):
                continue  # the base class reports unhashable keys
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"键 {key!r} 重复 / duplicate key {key!r}", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def parse_text(text: str, *, name: str = "(input)", keys: str = CATALOG_KEYS) -> dict[str, Any]:
    """Parse catalog YAML text (JSON is YAML too) into a mapping."""
    try:
        data = yaml.load(text, Loader=_CatalogLoader)
    except RecursionError as exc:
        raise InvalidInput(
            f"{name} 嵌套层次过深，不是有效的目录文件",
            f"{name} is nested too deeply to be a catalog file",
            code="malformed_file",
        ) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行第 {mark.column + 1} 列" if mark else ""
        where_en = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or str(exc)
        raise InvalidInput(
            f"{name} 不是有效的 YAML：{where} {reason}",
            f"{name} is not valid YAML{where_en}: {reason}",
            code="malformed_file",
        ) from exc
    if not isinstance(data, dict):
        raise InvalidInput(
            f"{name} 顶层应为包含 {keys.replace(', ', '、')} 的映射",
            f"{name} must be a mapping with {keys}",
            code="malformed_file",
        )
    return data


def _prefixed(prefix: str, error: GovdxError) -> list[Problem]:
    if not error.problems:
        return [Problem(prefix, error.message, error.message_en)]
    return [Problem(f"{prefix}.{p.path}", p.message, p.message_en) for p in error.problems]


def _entries(document: dict[str, Any], section: str, problems: list[Problem]) -> list[Any]:
    entries = document.get(section) or []
    if not isinstance(entries, list):
        problems.append(Problem(section, "应为列表", "must be a list"))
        return []
    return entries


def _apply_each(
    db: Session,
    section: str,
    entries: list[Any],
    schema: type[BaseModel],
    apply: Callable[[Any], Outcome | None],
    report: ImportReport,
    problems: list[Problem],
    skip: set[tuple[str, int]],
) -> list[tuple[int, Any]]:
    """Validate and apply each entry under a savepoint; return the entries that applied."""
    applied = []
    for index, raw in enumerate(entries):
        if (section, index) in skip:
            continue  # a repeat of an earlier entry: already reported
        prefix = f"{section}[{index}]"
        try:
            entry = schema.model_validate(raw)
        except ValidationError as exc:
            problems.extend(problems_from(exc, prefix))
            continue
        try:
            with db.begin_nested():
                outcome = apply(entry)
            if outcome is not None:
                report.add(section, outcome)
            applied.append((index, entry))
        except GovdxError as exc:
            problems.extend(_prefixed(prefix, exc))
    return applied


def _department_entry(db: Session, data: DepartmentCreate) -> Outcome:
    dept = db.scalar(select(Department).where(Department.slug == data.slug))
    if dept is None:
        department_service.create(db=db, data=data)
        return "created"
    if _department_doc(dept) == resource_service.drop_empty(data.model_dump(mode="json")):
        return "unchanged"
    update = DepartmentUpdate(**data.model_dump(exclude={"slug"}))
    department_service.update(db=db, dept=dept, data=update)
    return "updated"


def _element_entry(db: Session, data: ElementCreate, actor_id: int | None) -> Outcome:
    element = db.scalar(select(DataElement).where(DataElement.code == data.code))
    if element is None:
        element_service.create(db=db, data=data, actor_id=actor_id)
        return "created"
    # Departments may be named by slug or credit code, verification sources in any order.
    owner = department_service.get_by_ref(db=db, ref=data.authoritative)
    verifiers = {d.id: d for d in (department_service.get_by_ref(db=db, ref=r) for r in data.verification)}
    incoming = data.model_dump(mode="json")
    incoming.update(authoritative=owner.slug, verification=sorted(d.slug for d in verifiers.values()))
    if _element_doc(element) == resource_service.drop_empty(incoming):
        return "unchanged"
    current = element.authoritative_source
    if current is not None and current.department_id != owner.id:
        # A file never moves ownership silently: this raises the 409 that names the remedy.
        element_service.register_source(
            db=db, element=element, department=owner, role=SourceRole.authoritative, actor_id=actor_id
        )
    # The file states the element's verification sources in full: add the new, withdraw the rest.
    for source in element.verification_sources:
        if source.department_id not in verifiers:
            element_service.remove_source(db=db, element=element, department=source.department)
    registered = {s.department_id for s in element.sources}
    for dept_id, dept in verifiers.items():
        if dept_id not in registered:
            element_service.register_source(
                db=db, element=element, department=dept, role=SourceRole.verification, actor_id=actor_id
            )
    # Every field is given explicitly, so one the file leaves out is cleared.
    fields = data.model_dump(include=set(ElementUpdate.model_fields))
    element_service.update(db=db, element=element, data=ElementUpdate(**fields))
    return "updated"


def _partition_entry(db: Session, data: PartitionCreate) -> Outcome:
    existed = db.scalar(
        select(RecordPartition.id).where(
            RecordPartition.library == data.library, RecordPartition.code == data.code
        )
    )
    _, changed = element_service.register_partition(db=db, data=data)
    return "unchanged" if not changed else "updated" if existed is not None else "created"


@dataclass
class _Placed:
    resource: Resource
    created: bool
    was_draft: bool  # created now or a draft before: it takes its content without keeping versions
    before: dict[str, Any]


def _changes(data: ResourceImport, *, related: bool) -> ResourceUpdate:
    """The entry as an update that states every field, so one the file leaves out is cleared.

    A publication date the file does not state is kept, since publishing sets one.
    """
    excluded = {"change_note"} | ({"published_on"} if data.published_on is None else set())
    if not related:
        excluded.add("related")
    fields = data.model_dump(include=set(ResourceUpdate.model_fields) - excluded)
    return ResourceUpdate(**fields, change_note="目录文件导入 / catalog import")


def _place_resource(db: Session, data: ResourceImport, actor_id: int | None) -> _Placed:
    """First pass: find or register the resource, and bring drafts to their final content and status.

    Publication happens here, for every entry, so relations set in the second pass see the
    statuses the whole file asks for, whatever the order of its entries.
    """
    provider = department_service.get_by_ref(db=db, ref=data.provider)
    if data.code is not None:
        resource = db.scalar(select(Resource).where(Resource.code == data.code))
    else:
        resource = db.scalar(
            select(Resource).where(Resource.provider_id == provider.id, Resource.name == data.name)
        )
    if resource is None:
        created = resource_service.create(
            db=db, data=data.model_copy(update={"related": []}), actor_id=actor_id, status=data.status
        )
        return _Placed(created, created=True, was_draft=True, before={})
    before = resource_service.to_document(resource)
    if (
        data.category.classification_code != resource.classification_code
        or provider.id != resource.provider_id
    ):
        raise InvalidInput(
            f"资源 {resource.code} 的分类和提供方登记后不能修改；如需调整请登记新资源并撤销原资源",
            f"the category and provider of {resource.code} cannot change; register a new resource "
            "and retire this one",
            code="resource_identity_change",
        )
    if resource.status is not ResourceStatus.draft:
        if data.status is ResourceStatus.draft:
            raise InvalidInput(
                f"资源 {resource.code} 已{resource.status.label}，不能改回草稿",
                f"{resource.code} is {resource.status.value} and cannot return to draft",
                code="resource_unpublish",
            )
        return _Placed(resource, created=False, was_draft=False, before=before)
    resource_service.update(db=db, resource=resource, actor_id=actor_id, data=_changes(data, related=False))
    if data.status is ResourceStatus.published:
        resource_service.publish(db=db, resource=resource, actor_id=actor_id)
    return _Placed(resource, created=False, was_draft=True, before=before)


def _settle_resource(
    db: Session, data: ResourceImport, placed: _Placed, actor_id: int | None
) -> Outcome | None:
    """Second pass, once every resource of the file exists with its final status: relations, changes."""
    resource = placed.resource
    if placed.was_draft:
        if list(resource.related_codes or []) != data.related:
            resource_service.attach_related(db=db, resource=resource, codes=data.related)
    else:
        resource_service.update(
            db=db, resource=resource, actor_id=actor_id, data=_changes(data, related=True)
        )
    if placed.created:
        return None  # counted as created in the first pass
    return "unchanged" if resource_service.to_document(resource) == placed.before else "updated"


_UNIQUE_IN_FILE: dict[str, tuple[tuple[str, ...], ...]] = {
    "departments": (("slug",), ("name",), ("credit_code",)),
    "elements": (("code",),),
    "partitions": (("library", "code"),),
    "resources": (("code",), ("provider", "name")),
}


def _duplicates_in_file(document: dict[str, Any]) -> tuple[list[Problem], set[tuple[str, int]]]:
    """Entries of one section that name the same thing twice (the file must say it once), and where."""
    problems = []
    repeated: set[tuple[str, int]] = set()
    for section, keys in _UNIQUE_IN_FILE.items():
        entries = document.get(section)
        if not isinstance(entries, list):
            continue
        for key in keys:
            seen: dict[tuple[Any, ...], int] = {}
            for index, entry in enumerate(entries):
                if not isinstance(entry, dict) or any(entry.get(k) in (None, "") for k in key):
                    continue
                value = tuple(str(entry[k]).strip() for k in key)
                if value in seen:
                    repeated.add((section, index))
                    label = "+".join(key)
                    problems.append(
                        Problem(
                            f"{section}[{index}].{key[-1]}",
                            f"{label} {'/'.join(value)} 与 {section}[{seen[value]}] 重复",
                            f"{label} {'/'.join(value)} repeats {section}[{seen[value]}]",
                        )
                    )
                else:
                    seen[value] = index
    return problems, repeated


def import_catalog(db: Session, document: dict[str, Any], *, actor_id: int | None = None) -> ImportReport:
    """Apply a catalog document; raise InvalidInput listing every problem if any entry is wrong."""
    problems: list[Problem] = []
    version = document.get("version")
    if version != FORMAT_VERSION:
        problems.append(Problem("version", f"应为 {FORMAT_VERSION}", f"must be {FORMAT_VERSION}"))
    for key in document:
        if key not in (*SECTIONS, "version"):
            problems.append(Problem(str(key), "未知的顶层字段", "unknown top-level key"))
    duplicate_problems, repeated = _duplicates_in_file(document)
    problems.extend(duplicate_problems)
    report = ImportReport()
    _apply_each(
        db, "departments", _entries(document, "departments", problems), DepartmentCreate,
        lambda d: _department_entry(db, d), report, problems, repeated,
    )  # fmt: skip
    _apply_each(
        db, "elements", _entries(document, "elements", problems), ElementCreate,
        lambda e: _element_entry(db, e, actor_id), report, problems, repeated,
    )  # fmt: skip
    _apply_each(
        db, "partitions", _entries(document, "partitions", problems), PartitionCreate,
        lambda p: _partition_entry(db, p), report, problems, repeated,
    )  # fmt: skip
    placed: dict[int, _Placed] = {}

    def place(entry: ResourceImport) -> Outcome | None:
        placed[id(entry)] = _place_resource(db, entry, actor_id)
        return "created" if placed[id(entry)].created else None

    applied = _apply_each(
        db, "resources", _entries(document, "resources", problems), ResourceImport, place, report, problems,
        repeated,
    )  # fmt: skip
    # Related codes may name resources further down the file, so each entry is settled after all
    # of them exist.
    for index, entry in applied:
        try:
            with db.begin_nested():
                outcome = _settle_resource(db, entry, placed[id(entry)], actor_id)
            if outcome is not None:
                report.add("resources", outcome)
        except GovdxError as exc:
            problems.extend(_prefixed(f"resources[{index}]", exc))
    if problems:
        raise InvalidInput(
            f"目录文件有 {len(problems)} 处问题，未导入任何内容",
            f"the catalog file has {len(problems)} problem(s); nothing was imported",
            code="import_failed",
            problems=problems,
        )
    return report


def _department_doc(d: Department) -> dict[str, Any]:
    return resource_service.drop_empty(
        {
            "slug": d.slug,
            "name": d.name,
            "credit_code": d.credit_code,
            "region_code": d.region_code,
            "kind": d.kind.value,
            "supervisor": {
                "name": d.supervisor_name,
                "phone": d.supervisor_phone,
                "email": d.supervisor_email,
            },
        }
    )


def _element_doc(e: DataElement) -> dict[str, Any]:
    owner = e.authoritative_source
    return resource_service.drop_empty(
        {
            "code": e.code,
            "name": e.name,
            "library": e.library.value,
            "data_type": e.data_type.value,
            "length": e.length,
            "standard": e.standard,
            "sensitivity": e.sensitivity.value,
            "description": e.description,
            "authoritative": owner.department.slug if owner else None,
            "verification": sorted(s.department.slug for s in e.verification_sources),
        }
    )


def _partition_doc(p: RecordPartition) -> dict[str, Any]:
    return {"library": p.library.value, "code": p.code, "name": p.name, "authoritative": p.department.slug}


def export_document(db: Session) -> dict[str, Any]:
    """The whole catalog (drafts and published resources) as an importable document."""
    departments = department_service.list_(db=db)
    elements = db.scalars(select(DataElement).order_by(DataElement.code))
    resources = db.scalars(
        select(Resource).where(Resource.status != ResourceStatus.retired).order_by(Resource.code)
    )
    return {
        "version": FORMAT_VERSION,
        "departments": [_department_doc(d) for d in departments],
        "elements": [_element_doc(e) for e in elements],
        "partitions": [_partition_doc(p) for p in element_service.list_partitions(db=db)],
        "resources": [resource_service.to_document(r) for r in resources],
    }


def export_yaml(db: Session) -> str:
    """The catalog as YAML text that :func:`import_catalog` accepts unchanged."""
    return yaml.safe_dump(export_document(db), allow_unicode=True, sort_keys=False, width=100)


# Dublin Core frequency vocabulary, as DCAT-AP uses for dct:accrualPeriodicity.
_FREQUENCY = {
    UpdateCycle.realtime: "http://purl.org/cld/freq/continuous",
    UpdateCycle.daily: "http://purl.org/cld/freq/daily",
    UpdateCycle.weekly: "http://purl.org/cld/freq/weekly",
    UpdateCycle.monthly: "http://purl.org/cld/freq/monthly",
    UpdateCycle.quarterly: "http://purl.org/cld/freq/quarterly",
    UpdateCycle.semiannual: "http://purl.org/cld/freq/semiannual",
    UpdateCycle.yearly: "http://purl.org/cld/freq/annual",
    UpdateCycle.irregular: "http://purl.org/cld/freq/irregular",
}
_ACCESS_RIGHTS = {
    "unconditional": "http://publications.europa.eu/resource/authority/access-right/PUBLIC",
    "conditional": "http://publications.europa.eu/resource/authority/access-right/RESTRICTED",
    "none": "http://publications.europa.eu/resource/authority/access-right/NON_PUBLIC",
}


def export_dcat(db: Session, *, base_uri: str = "urn:govdx:") -> str:
    """Published resources as a DCAT catalog in JSON-LD, for CKAN-style harvesters."""
    resources = db.scalars(
        select(Resource).where(Resource.status == ResourceStatus.published).order_by(Resource.code)
    )
    datasets = []
    for r in resources:
        datasets.append(
            {
                "@id": f"{base_uri}resource:{r.code}",
                "@type": "dcat:Dataset",
                "dct:identifier": r.code,
                "dct:title": {"@language": "zh", "@value": r.name},
                "dct:description": {"@language": "zh", "@value": r.abstract},
                "dct:publisher": {
                    "@id": f"{base_uri}department:{r.provider.credit_code}",
                    "@type": "foaf:Organization",
                    "foaf:name": {"@language": "zh", "@value": r.provider.name},
                    "dct:identifier": r.provider.credit_code,
                },
                "dct:issued": {"@type": "xsd:date", "@value": r.published_on.isoformat()}
                if r.published_on
                else None,
                "dct:accrualPeriodicity": {"@id": _FREQUENCY[r.update_cycle]},
                "dct:accessRights": {"@id": _ACCESS_RIGHTS[r.share_type.value]},
                "dcat:theme": {"@language": "zh", "@value": r.resource_class.label},
                "dct:subject": r.classification_code,
                "dcat:keyword": [{"@language": "zh", "@value": i.name} for i in r.items],
                "dct:relation": [{"@id": f"{base_uri}resource:{c}"} for c in r.related_codes or []],
                "owl:versionInfo": str(r.version),
                "dcat:distribution": [
                    {
                        "@type": "dcat:Distribution",
                        "dct:format": {"@language": "zh", "@value": r.format.label},
                        "dct:title": {"@language": "zh", "@value": r.share_method.label},
                    }
                ],
            }
        )
    document = {
        "@context": {
            "dcat": "http://www.w3.org/ns/dcat#",
            "dct": "http://purl.org/dc/terms/",
            "foaf": "http://xmlns.com/foaf/0.1/",
            "owl": "http://www.w3.org/2002/07/owl#",
            "xsd": "http://www.w3.org/2001/XMLSchema#",
        },
        "@id": f"{base_uri}catalog",
        "@type": "dcat:Catalog",
        "dct:title": {"@language": "zh", "@value": "政务信息资源目录"},
        "dcat:dataset": [resource_service.drop_empty(d) for d in datasets],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)


_CatalogLoader.add_constructor("tag:yaml.org,2002:int", _CatalogLoader.construct_yaml_int)
