"""Routes of clients 业务系统凭证 (filled in by issue 5)."""

from fastapi import APIRouter

router = APIRouter(tags=["clients 业务系统凭证"])
