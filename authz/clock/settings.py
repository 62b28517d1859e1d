"""Settings of the sharing workflow and its clock: calendar region, platform department, outbound channels."""

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClockSettings(BaseSettings):
    """Read from GOVDX_* variables; outbound notification channels are off unless configured."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_", extra="ignore")

    # GB/T 2260 code whose regional calendar overrides apply on top of the national calendar.
    calendar_region: str = Field(default="", pattern=r"^([0-9]{6})?$")
    # SMTP relay for 督办 and warning mail; empty host disables mail.
    smtp_host: str = ""
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_sender: str = "govdx@localhost"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_starttls: bool = False
    # HTTP endpoint receiving every warning and escalation as JSON; empty disables it.
    notify_webhook_url: str = ""
    notify_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    # Outbound messages are retried this many times across clock runs before they are marked failed.
    notify_max_attempts: int = Field(default=5, ge=1, le=50)
