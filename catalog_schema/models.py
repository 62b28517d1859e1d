"""Every table of the platform, imported in one place for Alembic and for tests."""

from authz.access.models import GrantUsage, RateWindow
from authz.audit.models import AccessRecord, AccessSubject, AuditCheckpoint, AuditHead
from authz.calendar.models import CalendarArrangement
from authz.clients.models import ApiClient
from authz.clock.models import ClockStage, Notification, NotificationReceipt, OutboundMessage, SlaProfile
from authz.sharing.models import Grant, OwnerDecision, RequestEvent, SharingRequest
from catalog_schema.certificate.models import IssuerKey
from catalog_schema.database import Base
from catalog_schema.dataset.models import DatasetRecord
from catalog_schema.department.models import Department
from catalog_schema.element.models import DataElement, ElementSource, OwnershipTransfer
from catalog_schema.library.models import (
    Discrepancy,
    IngestBatch,
    LibraryRecord,
    QuarantinedRow,
    ResourceFreshness,
)
from catalog_schema.resource.models import Resource, ResourceItem, ResourceVersion
from catalog_schema.user.models import User

__all__ = [
    "AccessRecord",
    "AccessSubject",
    "ApiClient",
    "AuditCheckpoint",
    "AuditHead",
    "Base",
    "CalendarArrangement",
    "ClockStage",
    "DataElement",
    "DatasetRecord",
    "Department",
    "Discrepancy",
    "ElementSource",
    "Grant",
    "GrantUsage",
    "IngestBatch",
    "IssuerKey",
    "LibraryRecord",
    "Notification",
    "NotificationReceipt",
    "OutboundMessage",
    "OwnerDecision",
    "OwnershipTransfer",
    "QuarantinedRow",
    "RateWindow",
    "RequestEvent",
    "Resource",
    "ResourceFreshness",
    "ResourceItem",
    "ResourceVersion",
    "SharingRequest",
    "SlaProfile",
    "User",
]
