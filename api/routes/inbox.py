"""The in-app inbox: workflow messages, yellow and red warnings, 督办."""

from fastapi import APIRouter

router = APIRouter(tags=["inbox 消息"])
