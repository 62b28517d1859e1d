"""Routes of audit 审计 (filled in by issue 5)."""

from fastapi import APIRouter

router = APIRouter(tags=["audit 审计"])
