"""Answering a discrepancy ticket: the ticket's resolution and its feedback clock's stop, in one step."""

from sqlalchemy.orm import Session

from authz.clock import scheduled
from catalog_schema.database import utcnow
from catalog_schema.library import service as library_service
from catalog_schema.library.models import Discrepancy
from catalog_schema.library.schemas import DiscrepancyResolve
from catalog_schema.types import DiscrepancyStatus
from catalog_schema.user.models import User


def resolve(*, db: Session, ticket: Discrepancy, data: DiscrepancyResolve, user: User | None) -> Discrepancy:
    """Confirm, correct or dismiss a ticket; answering an open one stops its clock at once."""
    answered = ticket.status is DiscrepancyStatus.open
    at = utcnow()
    library_service.resolve(db=db, ticket=ticket, data=data, user=user, at=at)
    # A confirmed ticket's stage already stopped when it was confirmed.
    scheduled.close_discrepancy_stage(db=db, ticket=ticket, at=at, start_missing=answered)
    return ticket
