"""A resource's access_modes 管控参数 in the sharing workflow: no request, acceptance or grant of a
mode the resource forbids, whether it forbade it at submission or since."""

import pytest
from sqlalchemy import func, select

from authz.sharing import service as sharing_service
from authz.sharing.models import SharingRequest
from authz.sharing.schemas import RequestCreate, TransitionIn
from authz.types import RequestAction, RequestStatus
from catalog_schema.errors import InvalidInput
from catalog_schema.resource import service as resource_service
from catalog_schema.resource.schemas import ResourceUpdate
from catalog_schema.user import service as user_service
from tests import factories
from tests.factories import DEPARTMENT_RESOURCE, DIRECT_RESOURCE

LOOKUP_ONLY = [{"kind": "access_modes", "value": "单条查询"}]


def _user(db, username):
    return user_service.get_by_username(db=db, username=username)


def _submit(db, **overrides):
    document = RequestCreate(**factories.sharing_request(**overrides))
    return sharing_service.submit(db=db, data=document, user=_user(db, "requester"))


def _act(db, request, action, who, **terms):
    return sharing_service.act(
        db=db, request=request, action=action, data=TransitionIn(**terms), user=_user(db, who)
    )


def _forbid_batch(db, code):
    resource = resource_service.get_by_code(db=db, code=code)
    resource_service.update(db=db, resource=resource, data=ResourceUpdate(control_params=LOOKUP_ONLY))


def test_requesting_batch_of_a_lookup_only_resource_is_refused_naming_mode_and_condition(db):
    before = db.scalar(select(func.count()).select_from(SharingRequest))

    with pytest.raises(InvalidInput) as refused:
        _submit(db, access_modes=["lookup", "batch"])

    assert refused.value.code == "access_mode_not_allowed"
    assert "不允许“批量查询”" in refused.value.message
    assert (
        "须以公民身份号码逐条查询" in refused.value.message
        and "允许的访问方式：单条查询" in refused.value.message
    )
    assert "does not allow batch" in refused.value.message_en
    assert [p.path for p in refused.value.problems] == ["access_modes[1]"]
    assert refused.value.extra == {"allowed_modes": ["lookup", "verify"]}
    assert db.scalar(select(func.count()).select_from(SharingRequest)) == before


def test_requesting_only_allowed_modes_is_accepted(db):
    request = _submit(db, access_modes=["lookup"])

    assert request.status is RequestStatus.submitted


def test_acceptance_is_refused_when_the_resource_has_since_forbidden_a_requested_mode(db):
    code = factories.people_resource(db)
    request = _submit(db, resource=code, access_modes=["lookup", "batch"])
    _forbid_batch(db, code)

    with pytest.raises(InvalidInput) as refused:
        _act(db, request, RequestAction.accept, "catalog_admin")

    assert refused.value.code == "access_mode_not_allowed"
    assert refused.value.message.endswith("；请驳回申请")
    assert request.status is RequestStatus.submitted


def test_approval_cannot_grant_a_mode_the_resource_has_since_forbidden(db):
    code = factories.people_resource(db)
    request = _submit(db, resource=code, access_modes=["lookup", "batch"])
    _act(db, request, RequestAction.accept, "catalog_admin")
    _forbid_batch(db, code)

    with pytest.raises(InvalidInput) as refused:
        _act(db, request, RequestAction.approve, "approver")

    assert refused.value.code == "access_mode_not_allowed"
    assert "请在审批时缩小访问方式" in refused.value.message
    assert request.grant is None and request.status is RequestStatus.pending_approval


def test_approval_narrowed_to_the_allowed_modes_is_granted(db):
    code = factories.people_resource(db)
    request = _submit(db, resource=code, access_modes=["lookup", "batch"])
    _act(db, request, RequestAction.accept, "catalog_admin")
    _forbid_batch(db, code)

    _act(db, request, RequestAction.approve, "approver", access_modes=["lookup"])

    assert request.grant is not None and request.grant.access_modes == ["lookup"]


def test_the_platform_cannot_provide_a_mode_the_resource_has_since_forbidden(db):
    request = _submit(
        db, resource=DIRECT_RESOURCE, items=["统一社会信用代码", "名称"], access_modes=["lookup", "batch"]
    )
    _act(db, request, RequestAction.accept, "catalog_admin")
    _forbid_batch(db, DIRECT_RESOURCE)

    with pytest.raises(InvalidInput) as refused:
        _act(db, request, RequestAction.provide, "catalog_admin")

    assert refused.value.code == "access_mode_not_allowed"
    assert request.grant is None and request.status is RequestStatus.provisioning


def test_a_forbidden_mode_is_a_422_over_the_api(client, as_user):
    document = factories.sharing_request(resource=DEPARTMENT_RESOURCE, access_modes=["bulk_export"])

    response = client.post("/api/v1/requests", headers=as_user("requester"), json=document)

    body = response.json()
    assert (response.status_code, body["code"]) == (422, "access_mode_not_allowed")
    assert "批量导出" in body["message"] and body["message_en"]
    assert body["allowed_modes"] == ["lookup", "verify"]
