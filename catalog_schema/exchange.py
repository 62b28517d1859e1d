"""Catalog files in and out: YAML import and export, and DCAT (JSON-LD) for harvesters.

Import is idempotent and all-or-nothing: every entry is checked and applied inside the
caller's transaction, each under its own savepoint so one bad entry does not hide the next
one's problems; if any entry has a problem, :func:`import_catalog` raises with all of them,
located by their path in the file, and the caller rolls the whole file back.
"""

import json
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
from catalog_schema.element.models import DataElement
from catalog_schema.element.schemas import ElementCreate, ElementUpdate
from catalog_schema.errors import GovdxError, InvalidInput, PayloadTooLarge, Problem
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import ResourceImport, ResourceUpdate
from catalog_schema.types import ResourceStatus, SourceRole, UpdateCycle
from catalog_schema.validation import problems_from

MAX_FILE_BYTES = 5 * 1024 * 1024
FORMAT_VERSION = 1
SECTIONS = ("departments", "elements", "resources")

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


def read_file(path: Path) -> dict[str, Any]:
    """Parse a catalog YAML (or JSON) file; too large, unreadable or malformed files are refused."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InvalidInput(
            f"无法读取文件 {path}：{exc.strerror}",
            f"cannot read {path}: {exc.strerror}",
            code="file_unreadable",
        ) from exc
    if size > MAX_FILE_BYTES:
        raise PayloadTooLarge(
            f"文件 {path.name} 大小 {size} 字节，超过 {MAX_FILE_BYTES} 字节上限，请拆分为多个文件",
            f"{path.name} is {size} bytes, above the {MAX_FILE_BYTES}-byte limit; split it",
            code="file_too_large",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"文件 {path.name} 不是 UTF-8 编码，请另存为 UTF-8",
            f"{path.name} is not UTF-8; save it as UTF-8",
            code="file_encoding",
        ) from exc
    return parse_text(text, name=path.name)


def parse_text(text: str, *, name: str = "(input)") -> dict[str, Any]:
    """Parse catalog YAML text (JSON is YAML too) into a mapping."""
    try:
        data = yaml.safe_load(text)
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
            f"{name} 顶层应为包含 version、departments、elements、resources 的映射",
            f"{name} must be a mapping with version, departments, elements, resources",
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
    apply: Callable[[Any], Outcome],
    report: ImportReport,
    problems: list[Problem],
) -> list[tuple[int, Any]]:
    """Validate and apply each entry under a savepoint; return the entries that applied."""
    applied = []
    for index, raw in enumerate(entries):
        prefix = f"{section}[{index}]"
        try:
            entry = schema.model_validate(raw)
        except ValidationError as exc:
            problems.extend(problems_from(exc, prefix))
            continue
        try:
            with db.begin_nested():
                report.add(section, apply(entry))
            applied.append((index, entry))
        except GovdxError as exc:
            problems.extend(_prefixed(prefix, exc))
    return applied


def _department_entry(db: Session, data: DepartmentCreate) -> Outcome:
    dept = db.scalar(select(Department).where(Department.slug == data.slug))
    if dept is None:
        department_service.create(db=db, data=data)
        return "created"
    if _department_doc(dept) == _drop_none(data.model_dump(mode="json")):
        return "unchanged"
    update = DepartmentUpdate(**data.model_dump(exclude={"slug"}))
    department_service.update(db=db, dept=dept, data=update)
    return "updated"


def _element_entry(db: Session, data: ElementCreate, actor_id: int | None) -> Outcome:
    element = db.scalar(select(DataElement).where(DataElement.code == data.code))
    if element is None:
        element_service.create(db=db, data=data, actor_id=actor_id)
        return "created"
    if _element_doc(element) == _drop_none(data.model_dump(mode="json")):
        return "unchanged"
    owner = department_service.get_by_ref(db=db, ref=data.authoritative)
    current = element.authoritative_source
    if current is not None and current.department_id != owner.id:
        # A file never moves ownership silently: that is an explicit, recorded transfer.
        element_service.register_source(
            db=db,
            element=element,
            department=owner,
            role=SourceRole.authoritative,
            actor_id=actor_id,
        )
    registered = {s.department_id for s in element.sources}
    for ref in data.verification:
        dept = department_service.get_by_ref(db=db, ref=ref)
        if dept.id not in registered:
            element_service.register_source(
                db=db,
                element=element,
                department=dept,
                role=SourceRole.verification,
                actor_id=actor_id,
            )
    fields = data.model_dump(include=set(ElementUpdate.model_fields))
    element_service.update(db=db, element=element, data=ElementUpdate(**fields))
    return "updated"


_RESOURCE_COMPARED_OUT = {"status", "published_on", "related"}


def _resource_entry(db: Session, data: ResourceImport, actor_id: int | None) -> tuple[Outcome, Resource]:
    if data.code is not None:
        resource = db.scalar(select(Resource).where(Resource.code == data.code))
    else:
        provider = department_service.get_by_ref(db=db, ref=data.provider)
        resource = db.scalar(
            select(Resource).where(Resource.provider_id == provider.id, Resource.name == data.name)
        )
    if resource is None:
        created = resource_service.create(
            db=db,
            data=data.model_copy(update={"related": []}),
            actor_id=actor_id,
            status=data.status,
        )
        return "created", created
    incoming = resource_service.normalise_document(data.model_copy(update={"code": resource.code}))
    current = resource_service.to_document(resource)
    if incoming["category"] != current["category"] or incoming["provider"] != current["provider"]:
        raise InvalidInput(
            f"资源 {resource.code} 的分类和提供方登记后不能修改；如需调整请登记新资源并撤销原资源",
            f"the category and provider of {resource.code} cannot change; register a new resource "
            "and retire this one",
            code="resource_identity_change",
        )
    if resource.status is ResourceStatus.published and data.status is ResourceStatus.draft:
        raise InvalidInput(
            f"资源 {resource.code} 已发布，不能改回草稿",
            f"{resource.code} is published and cannot return to draft",
            code="resource_unpublish",
        )
    outcome: Outcome = "unchanged"
    strip = _RESOURCE_COMPARED_OUT
    if {k: v for k, v in incoming.items() if k not in strip} != {
        k: v for k, v in current.items() if k not in strip
    }:
        changes = data.model_dump(include=set(ResourceUpdate.model_fields) - {"related", "change_note"})
        resource_service.update(
            db=db,
            resource=resource,
            actor_id=actor_id,
            data=ResourceUpdate(**changes, change_note="目录文件导入 / catalog import"),
        )
        outcome = "updated"
    if resource.status is ResourceStatus.draft and data.status is ResourceStatus.published:
        resource_service.publish(db=db, resource=resource, actor_id=actor_id)
        outcome = "updated"
    return outcome, resource


def import_catalog(db: Session, document: dict[str, Any], *, actor_id: int | None = None) -> ImportReport:
    """Apply a catalog document; raise InvalidInput listing every problem if any entry is wrong."""
    problems: list[Problem] = []
    version = document.get("version")
    if version != FORMAT_VERSION:
        problems.append(Problem("version", f"应为 {FORMAT_VERSION}", f"must be {FORMAT_VERSION}"))
    for key in document:
        if key not in (*SECTIONS, "version"):
            problems.append(Problem(str(key), "未知的顶层字段", "unknown top-level key"))
    report = ImportReport()
    _apply_each(
        db,
        "departments",
        _entries(document, "departments", problems),
        DepartmentCreate,
        lambda d: _department_entry(db, d),
        report,
        problems,
    )
    _apply_each(
        db,
        "elements",
        _entries(document, "elements", problems),
        ElementCreate,
        lambda e: _element_entry(db, e, actor_id),
        report,
        problems,
    )
    placed: dict[int, Resource] = {}

    def resource(entry: ResourceImport) -> Outcome:
        outcome, row = _resource_entry(db, entry, actor_id)
        placed[id(entry)] = row
        return outcome

    applied = _apply_each(
        db,
        "resources",
        _entries(document, "resources", problems),
        ResourceImport,
        resource,
        report,
        problems,
    )
    # Related codes may name resources further down the file, so they are set last.
    for index, entry in applied:
        row = placed[id(entry)]
        if list(row.related_codes or []) == entry.related:
            continue
        try:
            with db.begin_nested():
                resource_service.update(
                    db=db,
                    resource=row,
                    actor_id=actor_id,
                    data=ResourceUpdate(related=entry.related),
                )
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


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def _department_doc(d: Department) -> dict[str, Any]:
    return _drop_none(
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
    return _drop_none(
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
            "verification": [s.department.slug for s in e.verification_sources],
        }
    )


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
        "dcat:dataset": [_drop_none(d) for d in datasets],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)
