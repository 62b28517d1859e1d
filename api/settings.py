"""API settings, read from GOVDX_* environment variables and checked at start-up."""

import ipaddress
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "govdx-demo-secret-do-not-use-in-production-0000"


class ApiSettings(BaseSettings):
    """How the API signs tokens and where it listens; refuses the demo secret outside the demo."""

    model_config = SettingsConfigDict(env_prefix="GOVDX_")

    profile: Literal["demo", "production"] = "production"
    secret_key: str = Field(default=DEV_SECRET, min_length=32)
    token_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Machine clients fetch a new token often; a short life bounds what a leaked one can do.
    client_token_ttl_minutes: int = Field(default=10, ge=1, le=60)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Mounts the unguarded baseline lookup of `make bench-api` (api/routes/bench.py); demo only.
    bench_baseline: bool = False
    # Proxies (addresses or CIDR networks, comma-separated) whose X-Forwarded-For is believed:
    # the load balancers in front of the API. Empty: the peer's address is the client's.
    trusted_proxies: str = ""

    @property
    def trusted_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """``trusted_proxies`` parsed (validated at start-up)."""
        return [
            ipaddress.ip_network(part.strip(), strict=False)
            for part in self.trusted_proxies.split(",")
            if part.strip()
        ]

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(
                        f"GOVDX_TRUSTED_PROXIES: {part.strip()!r} is not an IP address or network "
                        "(e.g. 10.0.0.0/8)"
                    ) from None
        return value

    @model_validator(mode="after")
    def _no_dev_secret_in_production(self) -> "ApiSettings":
        if self.profile != "demo" and self.secret_key == DEV_SECRET:
            raise ValueError(
                "GOVDX_SECRET_KEY is the development secret; set a random secret of at least 32 "
                "characters (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`), "
                "or run with GOVDX_PROFILE=demo"
            )
        if self.profile != "demo" and self.bench_baseline:
            raise ValueError(
                "GOVDX_BENCH_BASELINE mounts an unguarded lookup; it is allowed only with GOVDX_PROFILE=demo"
            )
        return self
