"""Machine clients in and out; a secret is shown once, when it is created or rotated."""

from datetime import datetime

from pydantic import BaseModel, Field

from authz.clients.models import ApiClient
from authz.types import ClientStatus


class ClientCreate(BaseModel):
    department: str = Field(min_length=2, max_length=32, description="部门简码 / department slug")
    name: str = Field(min_length=1, max_length=100, description="业务系统名称 / system name")


class ClientRevoke(BaseModel):
    reason: str = Field(min_length=2, max_length=500, description="吊销原因 / why")


class ClientRead(BaseModel):
    client_id: str
    name: str
    department: str
    department_name: str
    status: ClientStatus
    status_label: str
    credential_version: int
    created_at: datetime
    rotated_at: datetime | None
    revoked_at: datetime | None
    revoked_reason: str | None

    @classmethod
    def of(cls, client: ApiClient) -> "ClientRead":
        return cls(
            client_id=client.client_id,
            name=client.name,
            department=client.department.slug,
            department_name=client.department.name,
            status=client.status,
            status_label=client.status.label,
            credential_version=client.credential_version,
            created_at=client.created_at,
            rotated_at=client.rotated_at,
            revoked_at=client.revoked_at,
            revoked_reason=client.revoked_reason,
        )


class ClientSecret(ClientRead):
    """A client with its new secret: the only time the secret is ever shown."""

    client_secret: str


class ClientToken(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
