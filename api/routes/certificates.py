"""Routes of certificates 电子证照核验 (filled in by issue 5)."""

from fastapi import APIRouter

router = APIRouter(tags=["certificates 电子证照核验"])
