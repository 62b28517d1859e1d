"""Vocabularies of the sharing workflow and its clock, each member with its Chinese label."""

from catalog_schema.types import LabelledEnum


class RequestStatus(LabelledEnum):
    """Where a sharing request stands (DESIGN.md "Sharing workflow and the feedback clock")."""

    submitted = "submitted", "待审查"
    review_supplement = "review_supplement", "审查补正中"
    rejected = "rejected", "不予受理"
    provisioning = "provisioning", "待平台提供"
    pending_approval = "pending_approval", "待部门审批"
    approval_supplement = "approval_supplement", "审批补正中"
    denied = "denied", "审批未通过"
    withdrawn = "withdrawn", "已撤回"
    granted = "granted", "已授权"
    revoked = "revoked", "授权已撤销"
    expired = "expired", "授权已到期"


class RequestAction(LabelledEnum):
    """What can happen to a request; which action is legal in which state is in ``authz.sharing.flows``."""

    accept = "accept", "受理"
    reject = "reject", "不予受理"
    request_supplement = "request_supplement", "要求补正"
    supplement = "supplement", "提交补正材料"
    provide = "provide", "平台提供"
    approve = "approve", "审批同意"
    deny = "deny", "审批不同意"
    withdraw = "withdraw", "撤回申请"
    revoke = "revoke", "撤销授权"
    expire = "expire", "授权到期"


class Route(LabelledEnum):
    """统一受理、平台授权: who provides the data once the platform accepts the request."""

    direct = "direct", "平台直接提供"
    department = "department", "推送提供部门审批"


class AccessMode(LabelledEnum):
    lookup = "lookup", "单条查询"
    batch = "batch", "批量查询"
    bulk_export = "bulk_export", "批量导出"


class GrantStatus(LabelledEnum):
    active = "active", "有效"
    revoked = "revoked", "已撤销"
    expired = "expired", "已到期"


class StageKind(LabelledEnum):
    """A clocked stage; the SLA profile gives each its working-day limit."""

    review = "review", "规范性审查"
    provision = "provision", "平台提供"
    decision = "decision", "部门审批"
    discrepancy = "discrepancy", "校核差异处理"


class StageState(LabelledEnum):
    on_time = "on_time", "办理中"
    due_soon = "due_soon", "即将到期（黄牌预警）"
    overdue = "overdue", "已超期（红牌督办）"
    paused = "paused", "补正暂停"
    met = "met", "按期办结"
    met_late = "met_late", "超期办结"
    cancelled = "cancelled", "已终止"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES

    @property
    def is_running(self) -> bool:
        return self in RUNNING_STATES


RUNNING_STATES = frozenset({StageState.on_time, StageState.due_soon, StageState.overdue})
OPEN_STATES = RUNNING_STATES | {StageState.paused}


class NotificationKind(LabelledEnum):
    due_soon = "due_soon", "黄牌预警"
    overdue = "overdue", "红牌预警"
    escalation = "escalation", "督办"
    to_review = "to_review", "待审查"
    to_decide = "to_decide", "待审批"
    to_provide = "to_provide", "待提供"
    supplement_needed = "supplement_needed", "需补正"
    decided = "decided", "办理结果"


class OutboundStatus(LabelledEnum):
    pending = "pending", "待发送"
    sent = "sent", "已发送"
    failed = "failed", "发送失败"


class Channel(LabelledEnum):
    smtp = "smtp", "邮件"
    webhook = "webhook", "Webhook"
