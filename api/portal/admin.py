"""The catalog administrator's pages (being written)."""

from fastapi import APIRouter

router = APIRouter()
