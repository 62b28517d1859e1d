"""One data, one source: the registry of elements and their providers."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from catalog_schema.department import service as department_service
from catalog_schema.element import service as element_service
from catalog_schema.element.models import ElementSource, OwnershipTransfer
from catalog_schema.element.schemas import ElementCreate
from catalog_schema.errors import Conflict, InvalidInput, NotFound
from catalog_schema.types import SourceRole
from tests import factories


def _dept(db, slug):
    return department_service.get_by_ref(db=db, ref=slug)


def _sources(db, code):
    element = element_service.get_by_code(db=db, code=code)
    db.refresh(element)
    return {(s.department.slug, s.role.value) for s in element.sources}


def test_element_is_registered_with_its_authoritative_and_verification_sources(db):
    data = ElementCreate(**factories.element(verification=["renshe", "minzheng"]))

    element_service.create(db=db, data=data)

    assert _sources(db, data.code) == {
        ("gongan", "authoritative"),
        ("renshe", "verification"),
        ("minzheng", "verification"),
    }


def test_second_authoritative_source_is_refused(db):
    element = element_service.get_by_code(db=db, code="population.name")
    before = _sources(db, "population.name")

    with pytest.raises(Conflict) as refused:
        element_service.register_source(
            db=db, element=element, department=_dept(db, "shichang"), role=SourceRole.authoritative
        )

    assert refused.value.code == "second_authoritative_source"
    assert refused.value.status == 409
    assert "population.name" in refused.value.message_en
    assert "榕城市公安局" in refused.value.message  # the current owner
    assert "校核源" in refused.value.message and "移交" in refused.value.message  # what to do
    assert refused.value.extra == {"element": "population.name", "current_owner": "gongan"}
    assert _sources(db, "population.name") == before


def test_verification_source_cannot_become_authoritative_by_registration(db):
    element = element_service.get_by_code(db=db, code="population.name")

    with pytest.raises(Conflict) as refused:
        element_service.register_source(
            db=db, element=element, department=_dept(db, "renshe"), role=SourceRole.authoritative
        )

    assert refused.value.code == "second_authoritative_source"


def test_database_refuses_a_second_authoritative_row_written_around_the_service(db):
    element = element_service.get_by_code(db=db, code="population.name")
    db.add(
        ElementSource(
            element_id=element.id,
            department_id=_dept(db, "shichang").id,
            role=SourceRole.authoritative,
        )
    )

    with pytest.raises(IntegrityError):
        db.flush()


def test_another_provider_registers_as_verification_source(db):
    element = element_service.get_by_code(db=db, code="population.name")

    element_service.register_source(
        db=db, element=element, department=_dept(db, "shichang"), role=SourceRole.verification
    )

    assert ("shichang", "verification") in _sources(db, "population.name")


def test_registering_the_same_source_twice_is_refused(db):
    element = element_service.get_by_code(db=db, code="population.name")

    with pytest.raises(Conflict) as refused:
        element_service.register_source(
            db=db, element=element, department=_dept(db, "renshe"), role=SourceRole.verification
        )

    assert refused.value.code == "source_already_registered"


def test_ownership_transfer_moves_the_authority_and_is_recorded(db):
    element = element_service.get_by_code(db=db, code="population.name")

    element_service.transfer_ownership(
        db=db,
        element=element,
        to_department=_dept(db, "renshe"),
        reason="职责调整：姓名登记职责划转",
        actor_id=None,
    )

    sources = _sources(db, "population.name")
    assert ("renshe", "authoritative") in sources
    assert ("gongan", "verification") in sources
    transfer = db.scalar(select(OwnershipTransfer).where(OwnershipTransfer.element_id == element.id))
    assert (transfer.from_department.slug, transfer.to_department.slug) == ("gongan", "renshe")
    assert transfer.reason == "职责调整：姓名登记职责划转"


def test_ownership_transfer_without_a_reason_is_refused(db):
    element = element_service.get_by_code(db=db, code="population.name")

    with pytest.raises(InvalidInput) as refused:
        element_service.transfer_ownership(
            db=db, element=element, to_department=_dept(db, "renshe"), reason="  "
        )

    assert refused.value.code == "reason_required"
    assert ("gongan", "authoritative") in _sources(db, "population.name")


def test_authoritative_source_cannot_be_removed(db):
    element = element_service.get_by_code(db=db, code="population.name")

    with pytest.raises(Conflict) as refused:
        element_service.remove_source(db=db, element=element, department=_dept(db, "gongan"))

    assert refused.value.code == "authoritative_source_removal"


def test_verification_source_can_be_withdrawn(db):
    element = element_service.get_by_code(db=db, code="population.name")

    element_service.remove_source(db=db, element=element, department=_dept(db, "renshe"))

    assert ("renshe", "verification") not in _sources(db, "population.name")


def test_element_with_unknown_authoritative_department_is_refused(db):
    with pytest.raises(NotFound) as refused:
        element_service.create(db=db, data=ElementCreate(**factories.element(authoritative="nowhere")))

    assert refused.value.code == "department_not_found"


def test_duplicate_element_code_is_refused(db):
    with pytest.raises(Conflict) as refused:
        element_service.create(db=db, data=ElementCreate(**factories.element(code="population.name")))

    assert refused.value.code == "element_duplicate"


def test_data_type_of_a_bound_element_cannot_change(db):
    from catalog_schema.element.schemas import ElementUpdate
    from catalog_schema.types import DataType

    element = element_service.get_by_code(db=db, code="population.name")

    with pytest.raises(Conflict) as refused:
        element_service.update(db=db, element=element, data=ElementUpdate(data_type=DataType.M))

    assert refused.value.code == "element_type_in_use"
