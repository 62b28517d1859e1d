"""Who a request waits for is told: a new stage's department, the requester of a decision or a 补正."""

from datetime import datetime

from sqlalchemy.orm import Session

from authz.clock import notify
from authz.clock import service as clock_service
from authz.clock.models import ClockStage
from authz.sharing import flows
from authz.sharing.flows import Actor, Transition
from authz.sharing.models import SharingRequest
from authz.sharing.schemas import TransitionIn
from authz.types import NotificationKind, RequestAction, RequestStatus, StageKind
from catalog_schema.user.roles import Role


def next_party(
    db: Session, request: SharingRequest, stage: ClockStage, at: datetime, *, supplemented: bool = False
) -> None:
    """Tell whoever the stage waits for: a new stage, or one whose 补正 has just come in."""
    kind = {
        StageKind.review: NotificationKind.to_review,
        StageKind.provision: NotificationKind.to_provide,
        StageKind.decision: NotificationKind.to_decide,
    }[stage.kind]
    notify.post(
        db=db,
        department_id=stage.department_id,
        role=clock_service.RESPONSIBLE_ROLE[stage.kind],
        kind=kind,
        title=f"【{'补正材料已提交，' if supplemented else ''}{kind.label}】{stage.subject}",
        body=f"{request.department.name} 申请《{request.resource.name}》，请于 {stage.due_on} 前办理。",
        at=at,
        stage_id=stage.id,
        request_id=request.id,
    )


def after(
    db: Session,
    request: SharingRequest,
    transition: Transition,
    next_stages: list[ClockStage],
    data: TransitionIn,
    at: datetime,
) -> None:
    """After a transition: the new stages' departments, then the requester of a decision or a 补正."""
    if next_stages:
        db.flush()
        for stage in next_stages:
            next_party(db, request, stage, at)
    action = transition.action
    if action is RequestAction.request_supplement:
        kind, title = NotificationKind.supplement_needed, f"【需补正】共享申请 {request.number}"
    elif action is RequestAction.supplement:
        for stage in request.stages:
            if stage.state.is_open:
                next_party(db, request, stage, at, supplemented=True)
        return
    elif (
        # The status reached, not the table's target: a composite owner's decision that leaves
        # others to decide changes nothing the requester waits for.
        request.status in flows.TERMINAL | {RequestStatus.granted} and transition.actor is not Actor.requester
    ):
        kind, title = NotificationKind.decided, f"【{request.status.label}】共享申请 {request.number}"
    else:
        return
    notify.post(
        db=db,
        department_id=request.department_id,
        role=Role.dept_requester,
        kind=kind,
        title=title,
        body=f"《{request.resource.name}》：{data.reason or request.status.label}",
        at=at,
        request_id=request.id,
    )
