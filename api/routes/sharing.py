"""Sharing requests and grants: submit, read within scope, act through the state machine."""

from fastapi import APIRouter

router = APIRouter(tags=["sharing 共享申请"])
