"""The demo city's department systems: 人社's 社保业务系统, with a published secret (demo only)."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from authz.clients import service as clients_service
from authz.clients.models import ApiClient

# (client id, department slug, name, secret) — published in README, like the demo passwords.
DEMO_CLIENTS: tuple[tuple[str, str, str, str], ...] = (
    ("renshe-00000001", "renshe", "社会保险业务系统", "gxs_demo-renshe-shebao-2026"),
)


def seed(db: Session) -> int:
    """Register the demo clients that are missing; returns how many were added."""
    existing = set(db.scalars(select(ApiClient.client_id)))
    added = 0
    for client_id, department, name, secret in DEMO_CLIENTS:
        if client_id not in existing:
            clients_service.create(
                db=db, department=department, name=name, user=None, client_id=client_id, secret=secret
            )
            added += 1
    return added
