"""The benchmark's baseline: the same keyed lookup as ``/data/lookup`` with no guard around it.

Mounted only when ``GOVDX_BENCH_BASELINE=true`` (``make bench-api`` sets it); it has no
authentication, authorization, masking, decryption or access log, so it must never be on in
production — the settings refuse it outside the demo profile.
"""

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import select

from api.deps import ReadDb
from catalog_schema.keys.service import get_keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import LibraryRecord
from catalog_schema.types import Library

router = APIRouter(tags=["bench 基准"], include_in_schema=False)
BASELINE_PATH = "/bench/lookup"


class BaselineLookup(BaseModel):
    key: str = Field(max_length=64)


@router.post(BASELINE_PATH)
def baseline_lookup(db: ReadDb, body: BaselineLookup) -> dict[str, Any]:
    """The stored (sealed) rows of one population subject, as they are in the database."""
    parts = [subjects.canonical_part(subjects.LOOKUP_KEY[Library.population][0], body.key)]
    stored = subjects.stored_key(get_keyring(), Library.population, parts)
    rows = db.scalars(
        select(LibraryRecord.values).where(
            LibraryRecord.library == Library.population,
            LibraryRecord.subject_key == stored,
            LibraryRecord.valid_to.is_(None),
        )
    ).all()
    return {"found": bool(rows), "values": list(rows)}
