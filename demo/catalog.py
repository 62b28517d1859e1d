"""The demo city: its catalog (catalog.yaml beside this file) and one user per role."""

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from catalog_schema.resource import exchange
from catalog_schema.user import service as user_service
from catalog_schema.user.roles import Role
from catalog_schema.user.schemas import UserCreate

CATALOG_FILE = Path(__file__).with_name("catalog.yaml")
DEMO_PASSWORD = "govdx-demo-2026"

# (username, full name, role, department slug)
DEMO_USERS: tuple[tuple[str, str, Role, str], ...] = (
    ("catalog_admin", "林数管", Role.catalog_admin, "shujuju"),
    ("requester", "陈经办", Role.dept_requester, "renshe"),
    ("approver", "王审批", Role.dept_approver, "gongan"),
    ("weijian_approver", "李卫审", Role.dept_approver, "weijian"),
    ("minzheng_approver", "周民审", Role.dept_approver, "minzheng"),
    ("renshe_system", "人社业务系统", Role.dept_system, "renshe"),
    ("auditor", "赵审计", Role.auditor, "shujuju"),
    ("platform_admin", "吴平台", Role.platform_admin, "shujuju"),
)


@dataclass
class DemoReport:
    catalog: exchange.ImportReport
    users_created: int


def seed(db: Session) -> DemoReport:
    """Load the demo catalog and add any missing demo user; running it again changes nothing."""
    report = exchange.import_catalog(db, exchange.read_file(CATALOG_FILE))
    created = 0
    for username, full_name, role, dept in DEMO_USERS:
        if user_service.get_by_username(db=db, username=username) is None:
            user_service.create(
                db=db,
                data=UserCreate(
                    username=username,
                    full_name=full_name,
                    role=role,
                    department=dept,
                    password=DEMO_PASSWORD,
                ),
            )
            created += 1
    return DemoReport(catalog=report, users_created=created)
