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
    # A platform-kept composite (library view over several departments' elements): each owner
    # department whose own entry shares its items conditionally decides them (authz.sharing.owners).
    composite = "composite", "推送各权属部门审批"


class OwnerOutcome(LabelledEnum):
    """How one owner department's part of a composite request stands."""

    pending = "pending", "待审批"
    approved = "approved", "同意"
    denied = "denied", "不同意"
    platform = "platform", "平台授权（无须权属部门审批）"
    cancelled = "cancelled", "已终止"


class AccessMode(LabelledEnum):
    lookup = "lookup", "单条查询"
    batch = "batch", "批量查询"
    bulk_export = "bulk_export", "批量导出"
    verify = "verify", "核验"


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
    update_missed = "update_missed", "数据未按期更新"
    task_alert = "task_alert", "流水线任务告警"


class OutboundStatus(LabelledEnum):
    pending = "pending", "待发送"
    sent = "sent", "已发送"
    failed = "failed", "发送失败"


class Channel(LabelledEnum):
    smtp = "smtp", "邮件"
    webhook = "webhook", "Webhook"


class ClientStatus(LabelledEnum):
    active = "active", "启用"
    revoked = "revoked", "已吊销"


class AccessOutcome(LabelledEnum):
    """How a data call ended; every one of them is in the access log."""

    served = "served", "已提供"
    not_found = "not_found", "无此主体"
    refused = "refused", "已拒绝"
    unauthenticated = "unauthenticated", "身份认证失败"
    # A proxy (接口共享) call the platform allowed, whose provider's service failed to answer it:
    # not a refusal (nothing was decided against the caller), kept apart so outages are visible.
    provider_failed = "provider_failed", "提供部门服务故障"


class AccessReason(LabelledEnum):
    """Why a data call was refused or failed: the stable ``code`` of its 4xx, 502 or 504 answer."""

    invalid_token = "invalid_token", "凭证无效、过期或已吊销"
    # Refused at the door, before the call could be read (api.routes.data.record_at_the_door).
    invalid_request = "invalid_request", "请求格式错误"
    body_too_large = "body_too_large", "请求内容超过上限"
    purpose_missing = "purpose_missing", "未提供用途依据（申请单号或业务办件号）"
    purpose_unknown = "purpose_unknown", "用途依据与授权不符"
    no_grant = "no_grant", "本部门对该资源没有授权"
    grant_expired = "grant_expired", "授权已过期"
    grant_revoked = "grant_revoked", "授权已撤销"
    grant_not_yet_valid = "grant_not_yet_valid", "授权尚未生效"
    mode_not_granted = "mode_not_granted", "授权不含此访问方式"
    items_beyond_grant = "items_beyond_grant", "请求的信息项超出授权范围"
    over_quota = "over_quota", "超出每日调用限额"
    batch_too_large = "batch_too_large", "批量查询超过单次上限"
    invalid_key = "invalid_key", "主体标识格式错误"
    resource_unavailable = "resource_unavailable", "资源不存在或已停止共享"
    # The resource's 管控参数 (catalog_schema.resource.controls), checked after the grant's terms.
    mode_not_allowed = "mode_not_allowed", "资源不允许此访问方式"
    query_key_required = "query_key_required", "资源须按查询条件逐条调用，不得批量导出"
    outside_time_window = "outside_time_window", "不在资源允许的调用时段内"
    address_not_allowed = "address_not_allowed", "来源地址不在资源允许的范围内"
    rate_limited = "rate_limited", "超出资源的调用频率限制"
    # A proxy resource's provider service (接口共享), outcome ``provider_failed``: 504 and 502.
    provider_unavailable = "provider_unavailable", "提供部门服务无响应"
    provider_error = "provider_error", "提供部门服务返回错误"


# The auditor's "outside approval" view: calls that tried to go beyond what a grant allows.
OUTSIDE_APPROVAL = frozenset(
    {
        AccessReason.grant_expired,
        AccessReason.grant_revoked,
        AccessReason.grant_not_yet_valid,
        AccessReason.items_beyond_grant,
        AccessReason.over_quota,
        AccessReason.purpose_unknown,
        AccessReason.purpose_missing,
        AccessReason.mode_not_granted,
        AccessReason.no_grant,
        AccessReason.mode_not_allowed,
        AccessReason.query_key_required,
        AccessReason.address_not_allowed,
    }
)


class MaskRule(LabelledEnum):
    """How the data plane shows a granted item (a grant's ``masking`` maps item name to rule)."""

    none = "none", "不脱敏"
    keep_ends = "keep_ends", "保留首尾各一位"
    id_number = "id_number", "身份证号保留前六后四位"
    year_only = "year_only", "日期仅保留年份"
    surname = "surname", "姓名仅保留姓氏"
    phone = "phone", "电话保留前三后四位"
    region = "region", "地址仅保留前六个字"
    hidden = "hidden", "完全隐藏"
