"""Who may do what: each rule is named once and attached to routes with ``dependencies=[...]``.

A rule is a :class:`Permission`; ``check`` raises :class:`Forbidden` with a bilingual reason.
Routes never test roles themselves (STYLE.md §3).
"""

from dataclasses import dataclass

from catalog_schema.errors import Forbidden
from catalog_schema.types import ResourceStatus
from catalog_schema.user.models import User
from catalog_schema.user.roles import Role


@dataclass(frozen=True)
class Permission:
    """A named action and the roles allowed to take it."""

    name: str
    label: str
    roles: frozenset[Role]

    def allows(self, user: User) -> bool:
        return user.is_active and user.role in self.roles

    def check(self, user: User) -> User:
        """Return ``user`` if allowed, else raise Forbidden naming the action and the roles."""
        if not self.allows(user):
            allowed = "、".join(r.label for r in sorted(self.roles))
            raise Forbidden(
                f"无权执行“{self.label}”：需要角色 {allowed}",
                f"not allowed to {self.name}: requires role {', '.join(sorted(r.value for r in self.roles))}",
                code="permission_denied",
            )
        return user


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


HUMAN_ROLES = _roles(
    Role.catalog_admin, Role.dept_requester, Role.dept_approver, Role.auditor, Role.platform_admin
)

CatalogBrowse = Permission("browse the catalog", "浏览资源目录", HUMAN_ROLES | {Role.dept_system})
CatalogManage = Permission("manage the catalog", "管理资源目录", _roles(Role.catalog_admin))
ElementManage = Permission(
    "manage data elements and their sources", "管理数据元及来源", _roles(Role.catalog_admin)
)
DepartmentManage = Permission(
    "manage departments", "管理部门", _roles(Role.catalog_admin, Role.platform_admin)
)
UserManage = Permission("manage users", "管理用户", _roles(Role.platform_admin))
ClientManage = Permission(
    "manage machine clients and their credentials", "管理业务系统凭证", _roles(Role.platform_admin)
)
AuditRead = Permission("read and verify the access log", "查阅和核验访问日志", _roles(Role.auditor))
CertificateVerify = Permission("verify certificates", "核验电子证照", HUMAN_ROLES | {Role.dept_system})

_ALL_STATUSES = frozenset(ResourceStatus)
_PUBLIC_STATUSES = frozenset({ResourceStatus.published})


def visible_resource_statuses(user: User) -> frozenset[ResourceStatus]:
    """Drafts and retired resources are the catalog administrator's; others see what is published."""
    return _ALL_STATUSES if CatalogManage.allows(user) else _PUBLIC_STATUSES


PipelineRead = Permission(
    "read pipeline batches and quarantine",
    "查看归集批次与隔离区",
    _roles(Role.catalog_admin, Role.auditor, Role.platform_admin),
)
QuarantineManage = Permission(
    "correct and resubmit quarantined rows", "处理隔离数据", _roles(Role.catalog_admin)
)
LibraryRead = Permission("read base-library records", "查询基础库记录", _roles(Role.catalog_admin))
DiscrepancyRead = Permission(
    "read discrepancy tickets",
    "查看校核差异工单",
    _roles(Role.catalog_admin, Role.auditor, Role.platform_admin, Role.dept_approver, Role.dept_requester),
)
DiscrepancyResolve = Permission(
    "resolve discrepancy tickets", "处理校核差异工单", _roles(Role.catalog_admin, Role.dept_approver)
)
_ALL_DEPARTMENTS_ROLES = _roles(Role.catalog_admin, Role.auditor, Role.platform_admin)


def sees_every_department(user: User) -> bool:
    """Platform-wide roles see every department's tickets; department staff see their own."""
    return user.role in _ALL_DEPARTMENTS_ROLES


def department_scope(user: User) -> int | None:
    """The department whose rows ``user`` is limited to, or None for platform-wide roles."""
    return None if sees_every_department(user) else user.department_id


RequestSubmit = Permission("submit sharing requests", "提交共享申请", _roles(Role.dept_requester))
# Reading requests is scoped by department in ``authz.sharing.service``; machine clients read grants only.
RequestRead = Permission("read sharing requests", "查看共享申请", HUMAN_ROLES)
# Who may take which action on a request is the transition table in ``authz.sharing.flows``;
# this only keeps roles that can never act (auditor, platform admin, machine clients) away.
RequestAct = Permission(
    "act on sharing requests",
    "办理共享申请",
    _roles(Role.catalog_admin, Role.dept_requester, Role.dept_approver),
)
# Whose queue a request waits in, for the portal's work bench; who may take which action is
# still the transition table in ``authz.sharing.flows``.
RequestReview = Permission("review sharing requests", "审查共享申请", _roles(Role.catalog_admin))
RequestDecide = Permission(
    "decide requests for the department's resources", "审批本部门资源的共享申请", _roles(Role.dept_approver)
)
GrantRead = Permission("read grants", "查看共享授权", HUMAN_ROLES | {Role.dept_system})
CalendarRead = Permission("read the working-day calendar", "查看工作日历", HUMAN_ROLES)
CalendarManage = Permission(
    "load calendar arrangements and set the SLA profile",
    "维护工作日历与时限配置",
    _roles(Role.platform_admin),
)
ClockReportRead = Permission(
    "read feedback-clock reports",
    "查看限期反馈统计",
    _roles(Role.catalog_admin, Role.auditor, Role.platform_admin),
)
InboxRead = Permission("read the inbox", "查看消息", HUMAN_ROLES)
