"""Delivery bindings and grading: what a grant of a resource hands out, and the rules that keep it honest.

A resource is a dataset of its provider, delivered one of three ways (``schemas.Delivery``):

- ``library``, a view over base-library elements. 一数一源: each element's values come from its
  one authoritative department, so a department's view may carry only elements it is the
  authoritative source of, plus the library's key, which is the caller's own. A department that
  only verifies an element delivers its own values through a ``dataset``. The platform department,
  as keeper of the libraries, may compose any department's elements; a request for such a
  composite is decided by the owners (``authz.sharing``). Where a library's records are split
  among departments (法人库, 公共信用库: ``RecordPartition``), the platform keeps the common elements
  and a partition's department delivers them from its own records.
- ``dataset`` (库表交换), the provider's own table collected by a pipeline, queried by its key.
- ``proxy`` (接口共享), the provider's own service, reached through the platform.

Grading (分级分类): a resource's grade is that of its most sensitive item; a resource that is not
shared, or that carries 高度敏感 elements, is never 向社会开放.
"""

from typing import Any

from sqlalchemy.orm import Session

from catalog_schema.element import service as element_service
from catalog_schema.element.models import DataElement
from catalog_schema.errors import Conflict, InvalidInput, Problem
from catalog_schema.resource.models import Resource
from catalog_schema.resource.schemas import Delivery, DeliveryAdapter, LibraryDelivery, check_delivery_keys
from catalog_schema.settings import platform_department
from catalog_schema.types import ID_ELEMENT, DeliveryKind, Library, Sensitivity, ShareType
from catalog_schema.validation import BilingualValueError

# The element a library's subjects are named by (catalog_schema.library.subjects.LOOKUP_KEY's first
# parts): a view echoes the caller's key, it does not hand over the owner's data.
KEY_ELEMENTS: dict[Library, frozenset[str]] = {
    Library.population: frozenset({ID_ELEMENT}),
    Library.legal_person: frozenset({"legal_person.credit_code"}),
    Library.certificate: frozenset({"certificate.type_code", "certificate.number"}),
    Library.credit: frozenset({"credit.subject_code"}),
}


# A certificate's type code is its issuer's 统一社会信用代码 + a sequence (catalog_schema.certificate).
TYPE_ELEMENT = "certificate.type_code"


def library_of(elements: list[DataElement]) -> Library | None:
    """The library a view addresses: the one whose key element it carries, or its items' only library."""
    codes = {e.code for e in elements}
    for library, keys in KEY_ELEMENTS.items():
        if keys & codes:
            return library
    libraries = {e.library for e in elements}
    return libraries.pop() if len(libraries) == 1 else None


def is_platform(resource: Resource) -> bool:
    """Whether the platform department (the library keeper) provides the resource."""
    return resource.provider.slug == platform_department()


def bind(resource: Resource, delivery: Delivery) -> None:
    """Set the resource's binding, inferring a view's library from its items when not given."""
    if isinstance(delivery, LibraryDelivery) and delivery.library is None:
        found = library_of([i.element for i in resource.items if i.element is not None])
        if found is None:
            raise InvalidInput(
                "无法从信息项判断基础库视图对应哪个基础库，请在 delivery.library 中指明",
                "cannot tell which base library this view addresses; name it in delivery.library",
                code="delivery_library_unknown",
                problems=[Problem("delivery.library", "请指明基础库", "name the library")],
            )
        delivery = delivery.model_copy(update={"library": found})
    resource.delivery_kind = DeliveryKind.of(delivery.kind)
    resource.delivery = delivery.model_dump(mode="json")


def check(resource: Resource, *, db: Session) -> None:
    """Refuse what the binding or the grade does not allow; run on registration, change and publication."""
    binding = DeliveryAdapter.validate_python(resource.delivery)
    if isinstance(binding, LibraryDelivery):
        _check_view(db, resource, binding)
    try:
        check_delivery_keys(binding, [i.name for i in resource.items])
    except BilingualValueError as exc:
        raise InvalidInput(exc.message, exc.message_en, code="delivery_key_unknown") from exc
    _check_open(resource)


def _check_view(db: Session, resource: Resource, view: LibraryDelivery) -> None:
    library = view.library
    outside = [
        Problem(
            f"items[{i.position}].element",
            f"信息项“{i.name}”的数据元 {i.element.code} 属于{i.element.library.label}，"
            f"不在{library.label}视图中",
            f"item {i.name!r} carries {i.element.code} of the {i.element.library.value} library, "
            f"not {library.value}",
        )
        for i in resource.items
        if i.element is not None and library is not None and i.element.library is not library
    ]
    filtered = [code for code in view.where if library is None or not code.startswith(f"{library.value}.")]
    outside += [
        Problem(f"delivery.where.{code}", "筛选的数据元不在本基础库", "not an element of the view's library")
        for code in filtered
    ]
    if outside:
        raise InvalidInput(
            "基础库视图只能包含同一基础库的数据元",
            "a library view carries elements of one base library only",
            code="delivery_library_mismatch",
            problems=outside,
        )
    if is_platform(resource):
        return
    if library is Library.certificate:
        _check_issuer(resource, view)
        return
    keys = KEY_ELEMENTS.get(library, frozenset()) if library else frozenset()
    # The elements the platform keeps for a library split by record: a view of a partition holder
    # reads its own records only (the data plane's department filter), so it carries them.
    if library is not None and element_service.holds_partition(
        db=db, library=library, department_id=resource.provider.id
    ):
        keys = keys | {
            i.element.code
            for i in resource.items
            if i.element is not None
            and (owner := i.element.authoritative_source) is not None
            and owner.department.slug == platform_department()
        }
    foreign = [
        (i, e.authoritative_source)
        for i in resource.items
        if (e := i.element) is not None
        and e.code not in keys
        and (e.authoritative_source is None or e.authoritative_source.department_id != resource.provider.id)
    ]
    if foreign:
        raise Conflict(
            f"{resource.provider.name}的基础库视图只能提供本部门为权威源的数据元（一数一源）。"
            "请删去这些信息项；如需提供本部门自己采集的数据，改用库表交换（delivery.kind: dataset）；"
            "如需组合多个部门的数据元，由平台部门登记组合资源",
            "a department's library view carries only elements it is the authoritative source of; remove "
            "these items, deliver your own collected data as a dataset, or have the platform department "
            "register a composite resource",
            code="element_not_owned",
            problems=[_foreign_item(i.position, i.name, i.element, owner) for i, owner in foreign],
        )


def _check_issuer(resource: Resource, view: LibraryDelivery) -> None:
    """谁发证、谁负责: a department's certificate view names the types it issues (its code begins them)."""
    types = view.where.get(TYPE_ELEMENT, [])
    own = resource.provider.credit_code
    foreign = [t for t in types if not t.startswith(own)]
    if not types or foreign:
        raise Conflict(
            f"{resource.provider.name}的电子证照视图只能提供本部门颁发的证照：请在 delivery.where 的 "
            f"{TYPE_ELEMENT} 中列出以本部门统一社会信用代码 {own} 开头的证照类型代码",
            f"a department's certificate view delivers the types it issues: list, under delivery.where "
            f"{TYPE_ELEMENT}, type codes that begin with its credit code {own}",
            code="certificate_type_not_issued",
            problems=[
                Problem(f"delivery.where.{TYPE_ELEMENT}", f"{t} 不是本部门颁发", "not issued here")
                for t in foreign
            ],
        )


def _foreign_item(position: int, name: str, element: Any, owner: Any) -> Problem:
    if owner is None:
        zh, en = "未登记权威源", "has no authoritative source"
    else:
        zh, en = f"的权威源是{owner.department.name}", f"is owned by {owner.department.slug}"
    return Problem(
        f"items[{position}].element",
        f"信息项“{name}”的数据元 {element.code}（{element.name}）{zh}",
        f"item {name!r}: {element.code} {en}",
    )


def _check_open(resource: Resource) -> None:
    if not resource.open_to_public:
        return
    if resource.share_type is ShareType.none:
        raise InvalidInput(
            "不予共享的信息资源不能向社会开放",
            "a resource that is not shared cannot be open to the public",
            code="open_not_allowed",
            problems=[Problem("open.open", "不予共享的资源不能开放", "not shared, so not open")],
        )
    sensitive = [
        i
        for i in resource.items
        if i.element is not None and i.element.sensitivity is Sensitivity.highly_sensitive
    ]
    if sensitive:
        raise InvalidInput(
            "含有高度敏感数据元的信息资源不能向社会开放",
            "a resource carrying highly sensitive elements cannot be open to the public",
            code="open_not_allowed",
            problems=[
                Problem(
                    f"items[{i.position}].element",
                    f"信息项“{i.name}”的数据元 {i.element.code} 为高度敏感",
                    f"item {i.name!r} carries the highly sensitive {i.element.code}",
                )
                for i in sensitive
                if i.element is not None
            ],
        )
