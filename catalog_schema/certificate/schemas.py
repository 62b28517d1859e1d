"""Certificate verification and issuer keys in and out; a verdict never carries the holder's data."""

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from catalog_schema.certificate import signing
from catalog_schema.certificate.models import IssuerKey
from catalog_schema.department.models import Department
from catalog_schema.types import DepartmentKey, LabelledEnum

# 证照类型代码: the issuing department's 统一社会信用代码 (18) and a 3-digit sequence.
TypeCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[0-9A-Za-z]{18}[0-9]{3}$"),
    Field(description="证照类型代码：颁发部门统一社会信用代码 + 3 位顺序号 / certificate type code"),
]
# 证照编号 (certificate.number is C 64): one line of text, no control characters.
CertificateNumber = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$"),
    Field(description="证照编号 / certificate number"),
]
KeyId = Annotated[
    str,
    StringConstraints(strip_whitespace=True, pattern=signing.KEY_ID.pattern),
    Field(description="密钥标识 / key id"),
]


class Verdict(LabelledEnum):
    """What verification says; ``tampered`` wins over ``revoked``, which wins over ``expired``."""

    valid = "valid", "有效"
    revoked = "revoked", "已注销或吊销"
    expired = "expired", "已过期"
    tampered = "tampered", "签名无效（疑似篡改）"
    not_found = "not_found", "未找到"


class CertificateQuery(BaseModel):
    """A certificate named by type code and number (in a body: the number is personal data)."""

    model_config = ConfigDict(extra="forbid")

    type_code: TypeCode
    number: CertificateNumber


class IssuerRead(BaseModel):
    department: str
    department_name: str
    credit_code: str

    @classmethod
    def of(cls, department: Department) -> "IssuerRead":
        return cls(
            department=department.slug, department_name=department.name, credit_code=department.credit_code
        )


class CertificateVerdict(BaseModel):
    """The answer: verdict and why, who issued it and with which key; no holder, number or face data."""

    verdict: Verdict
    verdict_label: str
    # Stable reason: signature_missing, signature_malformed, unknown_key, wrong_issuer, key_revoked,
    # signature_invalid, record_unreadable, status_revoked, status_unrecognised, status_expired,
    # expiry_passed, expiry_unreadable; None when valid or not found.
    reason: str | None
    message: str
    message_en: str
    type_code: str
    # The department the type code names (None when no registered department has that code).
    issuer: IssuerRead | None
    # The key the signature names (None when there is no readable signature).
    key_id: str | None
    # Status code and expiry as the library holds them; None for tampered and not found records.
    status: str | None = None
    expiry_date: str | None = None
    checked_at: datetime


class IssuerKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    department: DepartmentKey
    key_id: KeyId
    public_key: str = Field(min_length=1, max_length=10_000, description="PEM 公钥 / PEM public key")


class IssuerKeyRead(BaseModel):
    key_id: str
    department: str
    department_name: str
    algorithm: str
    fingerprint: str
    registered_at: datetime
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: IssuerKey) -> "IssuerKeyRead":
        return cls(
            key_id=key.key_id,
            department=key.department.slug,
            department_name=key.department.name,
            algorithm=key.algorithm,
            fingerprint=signing.fingerprint(signing.load_public_key(key.public_key)),
            registered_at=key.registered_at,
            revoked_at=key.revoked_at,
        )
