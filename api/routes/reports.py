"""Feedback-clock reports: on-time rates and open stages, as JSON or CSV."""

from fastapi import APIRouter

router = APIRouter(tags=["reports 限期反馈统计"])
