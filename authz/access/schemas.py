"""Data calls in and out: which subject (or subjects) of which resource, and the masked records served.

A subject key is the ID number (人口库), the unified social credit code (法人库), the subject
code, an ID number or a credit code, for credit records (公共信用库), or for certificates
(电子证照库) an object ``{"type_code": ..., "number": ...}``. Keys are checked by the data plane,
not here, so that a malformed key is refused with ``invalid_key`` and recorded like any refusal.
"""

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

ResourceCodeIn = Annotated[str, StringConstraints(min_length=1, max_length=40)]
ItemName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Items = Annotated[
    list[ItemName] | None,
    Field(default=None, min_length=1, max_length=200, description="信息项；缺省为授权的全部信息项 / items"),
]
# Values served: item name → masked text, or None when there is no value (or it is hidden).
Record = dict[str, str | None]


@dataclass(frozen=True)
class Call:
    """Who asks and on what grounds, from the request: token, purpose, operator, request id, address."""

    token: str | None
    purpose: str | None
    operator: str | None
    request_id: str
    client_ip: str | None


class CertificateKey(BaseModel):
    """A certificate: its type code (issuing department's credit code + sequence) and its number."""

    model_config = ConfigDict(extra="forbid")

    type_code: str = Field(description="证照类型代码 / certificate type code")
    number: str = Field(description="证照编号 / certificate number")


SubjectKey = str | CertificateKey


class LookupIn(BaseModel):
    """One subject of one resource."""

    model_config = ConfigDict(extra="forbid")

    resource: ResourceCodeIn = Field(description="信息资源代码 / resource code")
    key: SubjectKey = Field(description="主体标识 / subject key")
    items: Items = None


class BatchIn(BaseModel):
    """Several subjects of one resource (at most GOVDX_DATA_MAX_BATCH keys)."""

    model_config = ConfigDict(extra="forbid")

    resource: ResourceCodeIn = Field(description="信息资源代码 / resource code")
    keys: list[SubjectKey] = Field(min_length=1, description="主体标识 / subject keys")
    items: Items = None


class Served(BaseModel):
    """What every answer says about itself: the call, the grant it was served under, and how items show."""

    request_id: str
    resource: str
    grant: str = Field(description="授权对应的申请单号 / the grant's request number")
    items: list[str]
    masking: dict[str, str] = Field(description="信息项 → 脱敏规则 / item → masking rule")


class LookupOut(Served):
    # Most libraries hold one record per subject; the credit library one per decision about it.
    records: list[Record]


class BatchResult(BaseModel):
    index: int = Field(description="在请求 keys 中的位置 / position in the request's keys")
    found: bool
    records: list[Record]


class BatchOut(Served):
    results: list[BatchResult]


class VerifyIn(BaseModel):
    """核验: a subject and the values claimed for some of its items."""

    model_config = ConfigDict(extra="forbid")

    resource: ResourceCodeIn = Field(description="信息资源代码 / resource code")
    key: SubjectKey = Field(description="主体标识 / subject key")
    claims: dict[ItemName, Annotated[str, StringConstraints(max_length=2000)]] = Field(
        min_length=1, max_length=50, description="信息项 → 声称的值 / item → the value claimed"
    )


class VerifyOut(BaseModel):
    """一致 or 不一致, per claimed item and overall; no value of the record is handed over."""

    request_id: str
    resource: str
    grant: str = Field(description="授权对应的申请单号 / the grant's request number")
    result: Literal["一致", "不一致"]
    items: dict[str, Literal["一致", "不一致"]]
