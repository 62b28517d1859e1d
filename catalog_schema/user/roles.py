"""The roles of DESIGN.md "Who uses it"; every user has exactly one."""

from catalog_schema.types import LabelledEnum


class Role(LabelledEnum):
    catalog_admin = "catalog_admin", "平台数据管理员"
    dept_requester = "dept_requester", "使用部门经办人"
    dept_approver = "dept_approver", "提供部门审批人"
    dept_system = "dept_system", "部门业务系统"
    auditor = "auditor", "审计人员"
    platform_admin = "platform_admin", "平台管理员"
