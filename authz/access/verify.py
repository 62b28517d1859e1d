"""核验: whether what a caller claims about a subject matches the record, without handing the record over.

A 核验 call names a subject and claims the values of some items ("this name goes with this ID
number", "this enterprise name with this credit code"). It passes every check a keyed lookup
passes, under a grant whose access modes include ``verify`` and whose items include the claimed
ones; it is read like a lookup and logged per subject, with the claimed items and no rows
returned. The answer says per item whether the claim matches, and overall whether every claim
matches one and the same current record (a subject with several records, such as credit
decisions, matches when one of them does). Values are compared as normalised text (NFKC,
surrounding spaces, letter case), never as the masked values a lookup would show.
"""

import unicodedata
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from authz.access import guard, lookup
from authz.access.exceptions import SubjectNotFound
from authz.access.schemas import Call, Record, VerifyIn, VerifyOut
from authz.types import AccessMode
from catalog_schema.keys.service import Keyring

MATCH, MISMATCH = "一致", "不一致"


def normal(value: Any) -> str | None:
    """A value as compared: NFKC, no surrounding spaces, upper case (an ID number's x is X)."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", str(value)).strip().upper()
    return text or None


def verify(
    *,
    db: Session,
    secret: str,
    call: Call,
    data: VerifyIn,
    keyring: Keyring | None = None,
    now: datetime | None = None,
) -> VerifyOut:
    """一致 or 不一致 per claimed item and overall; raises a logged Denial or SubjectNotFound."""
    claims = {name: normal(value) for name, value in data.claims.items()}

    def verdicts(terms: guard.Terms, resource: guard.SharedResource, values: dict[str, Any]) -> Record:
        return {
            name: MATCH
            if claimed is not None and normal(lookup.value_of(resource, values, name)) == claimed
            else MISMATCH
            for name, claimed in claims.items()
        }

    authorised, served = lookup.serve_keyed(
        db=db,
        secret=secret,
        call=call,
        mode=AccessMode.verify,
        resource_code=data.resource,
        keys=[data.key],
        wanted=list(claims),
        keyring=keyring,
        settings=None,
        now=now,
        present=verdicts,
    )
    records = served[authorised.subjects[0].stored]
    if not records:
        raise SubjectNotFound(
            "没有该主体的记录，无法核验",
            "no record of this subject to verify against",
            extra={"request_id": call.request_id},
        )
    best = max(records, key=lambda r: sum(v == MATCH for v in r.values()))
    agreed = all(v == MATCH for v in best.values())
    return VerifyOut(
        request_id=call.request_id,
        resource=authorised.resource.code,
        grant=authorised.terms.request_number,
        result=MATCH if agreed else MISMATCH,
        items=best,
    )
