"""The working-day calendar and the SLA profile."""

from fastapi import APIRouter

router = APIRouter(tags=["calendar 工作日历与时限"])
