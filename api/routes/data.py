"""Routes of data 数据服务 (filled in by issue 5)."""

from fastapi import APIRouter

router = APIRouter(tags=["data 数据服务"])
