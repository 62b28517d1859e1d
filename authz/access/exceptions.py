"""What a data call can be refused or fail with: a stable code, the reason in Chinese and English."""

from typing import Any

from authz.clients import service as clients_service
from authz.types import AccessOutcome, AccessReason
from catalog_schema.errors import Forbidden, GovdxError, NotFound, Problem, Unauthorized

REASON_EN: dict[AccessReason, str] = {
    AccessReason.invalid_token: "invalid, expired or revoked credentials",
    AccessReason.purpose_missing: (
        "no purpose reference (header X-Govdx-Purpose: the request number or business reference)"
    ),
    AccessReason.purpose_unknown: "the purpose reference does not match the grant",
    AccessReason.no_grant: "your department has no grant for this resource",
    AccessReason.grant_expired: "the grant has expired",
    AccessReason.grant_revoked: "the grant has been revoked",
    AccessReason.grant_not_yet_valid: "the grant is not valid yet",
    AccessReason.mode_not_granted: "the grant does not allow this access mode",
    AccessReason.items_beyond_grant: "the requested items go beyond the grant",
    AccessReason.over_quota: "the grant's daily quota is used up",
    AccessReason.batch_too_large: "too many keys in one batch",
    AccessReason.invalid_key: "malformed subject key",
    AccessReason.resource_unavailable: "no such resource, or it is not shared",
    AccessReason.mode_not_allowed: "the resource does not allow this access mode",
    AccessReason.query_key_required: "the resource is read by its query key only, not exported in bulk",
    AccessReason.outside_time_window: "outside the hours the resource takes calls",
    AccessReason.address_not_allowed: "the calling address is not one the resource allows",
    AccessReason.rate_limited: "the resource's rate limit is reached",
    AccessReason.provider_unavailable: "the providing department's service did not answer",
    AccessReason.provider_error: "the providing department's service answered with an error",
}
# A refusal is a 403, but for a rate limit: 429 with Retry-After (extra["retry_after"], seconds).
# A provider's service that fails a proxy call: 504 when it cannot be reached in time, else 502.
STATUS: dict[AccessReason, int] = {
    AccessReason.rate_limited: 429,
    AccessReason.provider_unavailable: 504,
    AccessReason.provider_error: 502,
}


class Refused(Forbidden):
    """A refused data call (403, or its ``STATUS``) with its stable reason; in the access log when seen."""

    outcome = AccessOutcome.refused

    def __init__(
        self,
        reason: AccessReason,
        detail: str = "",
        detail_en: str = "",
        *,
        problems: list[Problem] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            reason.label + (f"：{detail}" if detail else ""),
            REASON_EN[reason] + (f": {detail_en}" if detail_en else ""),
            code=reason.value,
            problems=problems,
            extra=extra,
        )
        self.reason = reason
        self.status = STATUS.get(reason, self.status)


class Unauthenticated(Unauthorized):
    """No valid client token (401 ``invalid_token``); recorded with outcome ``unauthenticated``."""

    outcome = AccessOutcome.unauthenticated
    reason = AccessReason.invalid_token

    def __init__(self) -> None:
        super().__init__(*clients_service.INVALID_CLIENT, code=AccessReason.invalid_token.value)


class ProviderFailed(GovdxError):
    """A proxy call the provider's service failed (504 ``provider_unavailable``, 502 ``provider_error``).

    Recorded with outcome ``provider_failed``, one record per subject named, like a refusal.
    """

    outcome = AccessOutcome.provider_failed

    def __init__(
        self, reason: AccessReason, detail: str, detail_en: str, *, extra: dict[str, Any] | None = None
    ) -> None:
        super().__init__(
            f"{reason.label}：{detail}", f"{REASON_EN[reason]}: {detail_en}", code=reason.value, extra=extra
        )
        self.reason = reason
        self.status = STATUS[reason]


Denial = Refused | Unauthenticated | ProviderFailed


class SubjectNotFound(NotFound):
    """A lookup of a subject the library does not hold (404); recorded as ``not_found``."""

    code = "subject_not_found"
