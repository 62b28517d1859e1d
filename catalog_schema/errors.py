"""Errors every layer raises: a stable code, a Chinese message and an English one.

The API turns them into JSON with the same fields; the CLI prints them and exits 2.
"""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One problem with one field of an input, located by its path (``resources[3].items[1].element``)."""

    path: str
    message: str
    message_en: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message, "message_en": self.message_en}


class GovdxError(Exception):
    """Base of every error a user can cause; carries what the user needs to fix it."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        message: str,
        message_en: str,
        *,
        code: str | None = None,
        problems: list[Problem] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message_en)
        self.message = message
        self.message_en = message_en
        if code is not None:
            self.code = code
        self.problems = problems or []
        self.extra = extra or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "message_en": self.message_en,
        }
        if self.problems:
            body["problems"] = [p.as_dict() for p in self.problems]
        body.update(self.extra)
        return body


class InvalidInput(GovdxError):
    status = 422
    code = "invalid_input"


class NotFound(GovdxError):
    status = 404
    code = "not_found"


class Conflict(GovdxError):
    status = 409
    code = "conflict"


class Unauthorized(GovdxError):
    status = 401
    code = "unauthorized"


class Forbidden(GovdxError):
    status = 403
    code = "forbidden"


class PayloadTooLarge(GovdxError):
    status = 413
    code = "payload_too_large"
