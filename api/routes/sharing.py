"""Sharing requests and grants: submit, read within scope, act through the state machine."""

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Query

from api.deps import CurrentUser, DbSession, Paging, RowId, requires
from authz.permissions import GrantRead as GrantReadPermission
from authz.permissions import RequestAct, RequestRead, RequestSubmit, visible_resource_statuses
from authz.sharing import grants as sharing_grants
from authz.sharing import service as sharing_service
from authz.sharing.models import Grant, SharingRequest
from authz.sharing.schemas import GrantRead, RequestCreate, RequestSummary, TransitionIn
from authz.sharing.schemas import RequestRead as RequestOut
from authz.types import GrantStatus, RequestAction, RequestStatus
from catalog_schema.pagination import Page, page_of
from catalog_schema.resource import service as resource_service

router = APIRouter(tags=["sharing 共享申请"])

Box = Literal["mine", "to_review", "to_decide"]


def _request(db: DbSession, user: CurrentUser, request_id: RowId) -> SharingRequest:
    return sharing_service.get(db=db, request_id=request_id, user=user)


def _locked_request(db: DbSession, user: CurrentUser, request_id: RowId) -> SharingRequest:
    # Locked, so two people acting on the same request at once are serialised, not both applied.
    return sharing_service.get(db=db, request_id=request_id, user=user, lock=True)


def _grant(db: DbSession, user: CurrentUser, grant_id: RowId) -> Grant:
    return sharing_grants.get(db=db, grant_id=grant_id, user=user)


def _resource_id(
    db: DbSession,
    user: CurrentUser,
    resource: Annotated[
        str | None, Query(min_length=1, max_length=40, description="信息资源代码 / resource code")
    ] = None,
) -> int | None:
    if resource is None:
        return None
    found = resource_service.get_by_code(db=db, code=resource)
    if found.status not in visible_resource_statuses(user):
        raise resource_service.not_found(resource)  # a draft reads like a missing resource
    return found.id


PathRequest = Annotated[SharingRequest, Depends(_request)]
LockedRequest = Annotated[SharingRequest, Depends(_locked_request)]
ResourceFilter = Annotated[int | None, Depends(_resource_id)]


def _read(request: SharingRequest, user: CurrentUser) -> RequestOut:
    return RequestOut.of(request, sharing_service.allowed_actions(request, user))


@router.post(
    "/requests",
    response_model=RequestOut,
    status_code=201,
    dependencies=[requires(RequestSubmit)],
    summary="提交共享申请（统一受理） / submit a sharing request to the platform",
)
def submit_request(db: DbSession, user: CurrentUser, data: RequestCreate) -> RequestOut:
    return _read(sharing_service.submit(db=db, data=data, user=user), user)


@router.get(
    "/requests",
    response_model=Page[RequestSummary],
    dependencies=[requires(RequestRead)],
    summary="共享申请列表（本部门及待办） / sharing requests in the user's scope, newest first",
)
def list_requests(
    db: DbSession,
    user: CurrentUser,
    paging: Paging,
    resource_id: ResourceFilter,
    status: RequestStatus | None = None,
    box: Annotated[
        Box | None, Query(description="mine 本部门申请 / to_review 待审查 / to_decide 待审批")
    ] = None,
) -> Page[RequestSummary]:
    requests, total = sharing_service.list_(
        db=db, user=user, params=paging, status=status, resource_id=resource_id, box=box
    )
    items = [RequestSummary.of(r, sharing_service.allowed_actions(r, user)) for r in requests]
    return page_of(items, total, paging)


@router.get(
    "/requests/{request_id}",
    response_model=RequestOut,
    dependencies=[requires(RequestRead)],
    summary="共享申请详情：办理环节、时限与记录 / one request with its stages, deadlines and events",
)
def get_request(user: CurrentUser, request: PathRequest) -> RequestOut:
    return _read(request, user)


@router.post(
    "/requests/{request_id}/{action}",
    response_model=RequestOut,
    dependencies=[requires(RequestAct)],
    summary="办理共享申请（受理、审批、补正、撤回、撤销等） / take an action on a request",
)
def act_on_request(
    db: DbSession,
    user: CurrentUser,
    request: LockedRequest,
    action: RequestAction,
    # No body at all is fine: most actions (accept, provide, supplement, withdraw) need nothing.
    data: Annotated[TransitionIn, Body()] = TransitionIn(),
) -> RequestOut:
    return _read(sharing_service.act(db=db, request=request, action=action, data=data, user=user), user)


@router.get(
    "/grants",
    response_model=Page[GrantRead],
    dependencies=[requires(GrantReadPermission)],
    summary="共享授权列表 / grants in the user's scope, newest first",
)
def list_grants(
    db: DbSession, user: CurrentUser, paging: Paging, status: GrantStatus | None = None
) -> Page[GrantRead]:
    grants, total = sharing_grants.list_(db=db, user=user, params=paging, status=status)
    return page_of([GrantRead.of(g) for g in grants], total, paging)


@router.get(
    "/grants/{grant_id}",
    response_model=GrantRead,
    dependencies=[requires(GrantReadPermission)],
    summary="一项共享授权 / one grant",
)
def get_grant(grant: Annotated[Grant, Depends(_grant)]) -> GrantRead:
    return GrantRead.of(grant)
