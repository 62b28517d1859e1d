"""Electronic certificates (电子证照): issuers' public keys, and verification of a certificate's signature.

A certificate in the 电子证照 library carries its issuer's signature over its canonical content
(``catalog_schema.certificate.signing``: Ed25519 standing in for SM2). :func:`verify` reads the
certificate the way every reader of the libraries does (THE STORAGE CONTRACT): the blind index of
[type code, number] finds the current rows (``valid_to IS NULL``), one per department, whose
unsealed values merge into the record; the key parts themselves are added back, since the library
keeps them only as the index.

Verdicts, the first that applies winning (a forged record says nothing reliable about its status):

1. ``not_found``: no current record under that type code and number.
2. ``tampered``, with a reason: ``record_unreadable`` (a stored ciphertext fails authentication
   or the JSON does not parse), ``signature_missing``, ``signature_malformed``, ``unknown_key``
   (no registered key has that id), ``wrong_issuer`` (the key is not the key of the department
   whose credit code begins the type code — type codes are the issuer's 统一社会信用代码 + a
   3-digit sequence), ``key_revoked`` (the key was revoked on or before the issue date, Asia/
   Shanghai; a certificate with no readable issue date cannot show it was signed earlier), and
   ``signature_invalid`` (the signature does not verify over the canonical content).
3. ``revoked``: the status (unsigned, so that revoking does not break the signature) is 02 注销,
   03 吊销 or 05 撤销 (or those words); ``status_unrecognised`` when it is neither one of these nor
   01 有效 / 04 过期 — a verification service does not call a certificate valid on a status it
   cannot read.
4. ``expired``: the status is 04 过期, or the expiry date is before ``today`` (Asia/Shanghai), or
   the expiry date cannot be read. A certificate with no expiry date (长期有效) does not expire.
5. ``valid``.

A verdict names the issuing department (from the type code), the key id and the time of the
check; it never returns the holder's code or name, the face data or the number.
"""

import json
import logging
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog_schema.certificate import signing
from catalog_schema.certificate.models import IssuerKey
from catalog_schema.certificate.schemas import CertificateVerdict, IssuerRead, Verdict
from catalog_schema.database import utcnow
from catalog_schema.department import service as department_service
from catalog_schema.department.models import Department
from catalog_schema.errors import Conflict, InvalidInput, NotFound
from catalog_schema.keys.service import CannotDecrypt, Keyring
from catalog_schema.library import subjects
from catalog_schema.library.models import LibraryRecord
from catalog_schema.types import Library
from catalog_schema.user.models import User

log = logging.getLogger("govdx.certificate")

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
TYPE_CODE, NUMBER = subjects.LOOKUP_KEY[Library.certificate]
ISSUE_DATE = "certificate.issue_date"
EXPIRY_DATE = "certificate.expiry_date"
CREDIT_CODE_LENGTH = 18

# 证照状态 (certificate.status): 01 有效, 02 注销, 03 吊销, 04 过期, 05 撤销; the words are accepted too.
VALID_STATUSES = frozenset({"01", "有效"})
EXPIRED_STATUSES = frozenset({"04", "过期"})
REVOKED_STATUSES = {"02": "注销", "03": "吊销", "05": "撤销", "注销": "注销", "吊销": "吊销", "撤销": "撤销"}

_TAMPERED = {
    "record_unreadable": (
        "库中的证照记录无法解密或解析，已被改动",
        "the stored record does not decrypt or parse: it was altered at rest",
    ),
    "signature_missing": ("证照没有颁发机构的签名", "the certificate carries no issuer signature"),
    "signature_malformed": (
        "签名格式不正确（应为“密钥标识:Base64 签名值”）",
        "the signature is not of the form <key id>:<base64 signature>",
    ),
    "unknown_key": ("签名所用的密钥未登记", "the signature names a key that is not registered"),
    "wrong_issuer": (
        "签名密钥不属于证照类型代码所示的颁发部门",
        "the signing key is not a key of the department the type code names",
    ),
    "key_revoked": (
        "签名密钥在颁发日期当日或之前已吊销",
        "the signing key was revoked on or before the certificate's issue date",
    ),
    "signature_invalid": (
        "签名与证照内容不符：内容在签名后被改动",
        "the signature does not match the content: it was altered after signing",
    ),
}


def today() -> date:
    """Today's date in Asia/Shanghai, the day verification judges expiry against."""
    return datetime.now(LOCAL_TZ).date()


# -- issuer keys ------------------------------------------------------------------------------


def get_key(*, db: Session, key_id: str) -> IssuerKey:
    """The issuer key with this id, or NotFound."""
    key = db.scalar(select(IssuerKey).where(IssuerKey.key_id == key_id))
    if key is None:
        raise NotFound(
            f"颁发机构密钥 {key_id!r} 未登记",
            f"issuer key {key_id!r} is not registered",
            code="issuer_key_not_found",
        )
    return key


def list_keys(*, db: Session) -> list[IssuerKey]:
    """Every registered issuer key, by department and key id."""
    return list(
        db.scalars(select(IssuerKey).join(IssuerKey.department).order_by(Department.slug, IssuerKey.key_id))
    )


def register_key(
    *, db: Session, department: str, key_id: str, public_key_pem: str, user: User | None
) -> IssuerKey:
    """Register an issuing department's Ed25519 public key under ``key_id`` (ids are never reused)."""
    if not signing.KEY_ID.match(key_id):
        raise InvalidInput(
            f"密钥标识 {key_id!r} 格式不正确：字母或数字开头，仅含字母、数字、点、下划线和连字符，最长 64 位",
            f"key id {key_id!r} must match {signing.KEY_ID.pattern}",
            code="key_id_invalid",
        )
    public_key = signing.load_public_key(public_key_pem)
    dept = department_service.get_by_ref(db=db, ref=department)
    if db.scalar(select(IssuerKey.id).where(IssuerKey.key_id == key_id)) is not None:
        raise Conflict(
            f"密钥标识 {key_id} 已登记；新密钥请使用新的标识",
            f"key id {key_id} is already registered; give a new key a new id",
            code="issuer_key_exists",
        )
    pem = signing.public_pem(public_key)
    # One key, one holder: the same key under a second id (or department) would let one issuer's
    # signatures pass as another's.
    holder = db.scalar(select(IssuerKey).where(IssuerKey.public_key == pem))
    if holder is not None:
        raise Conflict(
            f"该公钥已以标识 {holder.key_id} 登记（{holder.department.name}），不能重复登记",
            f"this public key is already registered as {holder.key_id} ({holder.department.slug})",
            code="public_key_exists",
        )
    key = IssuerKey(
        key_id=key_id,
        department_id=dept.id,
        algorithm=signing.ALGORITHM,
        public_key=pem,
        registered_at=utcnow(),
    )
    db.add(key)
    db.flush()
    db.refresh(key)
    log.info(
        "issuer key %s registered for %s by %s", key_id, dept.slug, user.username if user else "command line"
    )
    return key


# A key manifest (``govdx demo sources`` writes one under issuer-keys/): JSON {"keys": [{"department":
# slug or credit code, "key_id", "public_key": PEM file name relative to the manifest}, ...]}.
def import_keys(*, db: Session, manifest: Path, user: User | None) -> list[tuple[IssuerKey, bool]]:
    """Register a key manifest's keys, keeping those already registered identically; (key, new) each."""
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))["keys"]
        listed = [
            (str(e["department"]), str(e["key_id"]), manifest.parent / str(e["public_key"])) for e in entries
        ]
    except FileNotFoundError:
        raise NotFound(
            f"找不到密钥清单 {manifest}", f"key manifest {manifest} not found", code="key_manifest_missing"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(
            f"密钥清单 {manifest} 格式错误：{exc}",
            f"key manifest {manifest} is malformed: {exc}",
            code="key_manifest_invalid",
        ) from None
    done = []
    for department, key_id, pem_file in listed:
        try:
            pem = pem_file.read_text(encoding="utf-8")
        except OSError:
            raise NotFound(
                f"找不到公钥文件 {pem_file}",
                f"public key file {pem_file} not found",
                code="public_key_missing",
            ) from None
        existing = db.scalar(select(IssuerKey).where(IssuerKey.key_id == key_id))
        if existing is not None and _same_key(existing, department, pem):
            done.append((existing, False))
        else:
            done.append(
                (
                    register_key(db=db, department=department, key_id=key_id, public_key_pem=pem, user=user),
                    True,
                )
            )
    return done


def _same_key(key: IssuerKey, department: str, pem: str) -> bool:
    same_key = signing.public_pem(signing.load_public_key(pem)) == key.public_key
    return same_key and department in (key.department.slug, key.department.credit_code)


def revoke_key(*, db: Session, key_id: str, at: datetime | None = None) -> IssuerKey:
    """Revoke an issuer key: certificates issued from the day of revocation on no longer verify."""
    key = get_key(db=db, key_id=key_id)
    if key.revoked_at is not None:
        raise Conflict(
            f"密钥 {key_id} 已于 {key.revoked_at.astimezone(LOCAL_TZ):%Y-%m-%d %H:%M} 吊销",
            f"key {key_id} was already revoked at {key.revoked_at.isoformat()}",
            code="issuer_key_revoked",
        )
    key.revoked_at = at or utcnow()
    db.flush()
    return key


# -- verification -----------------------------------------------------------------------------


def verify(
    *, db: Session, keyring: Keyring, type_code: str, number: str, today: date, operator: str | None = None
) -> CertificateVerdict:
    """Whether the certificate ``type_code`` + ``number`` is valid, revoked, expired, tampered or absent."""
    verdict = _verify(db, keyring, type_code, number, today)
    # The number is personal data: the log names the type, the verdict and who asked, never the number.
    log.info(
        "certificate of type %s verified by %s: %s%s",
        verdict.type_code,
        operator or "command line",
        verdict.verdict.value,
        f" ({verdict.reason})" if verdict.reason else "",
    )
    return verdict


def _verify(db: Session, keyring: Keyring, type_code: str, number: str, today: date) -> CertificateVerdict:
    parts = subjects.canonical((TYPE_CODE, NUMBER), (type_code, number))
    checked_at = utcnow()
    issuer = _issuer(db, parts[0])
    answer: dict[str, Any] = {
        "type_code": parts[0],
        "issuer": issuer,
        "checked_at": checked_at,
        "key_id": None,
    }

    stored = subjects.stored_key(keyring, Library.certificate, parts)
    found = db.scalars(
        select(LibraryRecord.values)
        .where(
            LibraryRecord.library == Library.certificate,
            LibraryRecord.subject_key == stored,
            LibraryRecord.valid_to.is_(None),
        )
        .order_by(LibraryRecord.department_id)
    ).all()
    if not found:
        return _verdict(
            Verdict.not_found, None, "电子证照库中没有该证照", "no such certificate in the library", **answer
        )
    try:
        values = _merge(keyring, found, aad=stored)
    except _Unreadable:
        return _tampered("record_unreadable", **answer)
    values[TYPE_CODE], values[NUMBER] = parts

    signature = values.get(signing.SIGNATURE)
    if not signature:
        return _tampered("signature_missing", **answer)
    parsed = signing.parse(signature)
    if parsed is None:
        return _tampered("signature_malformed", **answer)
    answer["key_id"], signature_bytes = parsed
    key = db.scalar(select(IssuerKey).where(IssuerKey.key_id == answer["key_id"]))
    if key is None:
        return _tampered("unknown_key", **answer)
    if issuer is None or key.department.credit_code != issuer.credit_code:
        return _tampered("wrong_issuer", **answer)
    if key.revoked_at is not None:
        issued = _date(values.get(ISSUE_DATE))
        if issued is None or issued >= key.revoked_at.astimezone(LOCAL_TZ).date():
            return _tampered("key_revoked", **answer)
    if not signing.check(key.public_key, signature_bytes, values):
        return _tampered("signature_invalid", **answer)

    status, expiry = values.get(signing.STATUS), values.get(EXPIRY_DATE)
    answer.update(status=status, expiry_date=expiry)
    if status in REVOKED_STATUSES:
        word = REVOKED_STATUSES[status]
        return _verdict(
            Verdict.revoked,
            "status_revoked",
            f"证照已{word}",
            f"the certificate is revoked ({status})",
            **answer,
        )
    if status is not None and status not in VALID_STATUSES | EXPIRED_STATUSES:
        return _verdict(
            Verdict.revoked,
            "status_unrecognised",
            f"证照状态 {status!r} 无法识别，不能确认有效",
            f"unknown status {status!r}: the certificate cannot be confirmed valid",
            **answer,
        )
    if status in EXPIRED_STATUSES:
        return _verdict(
            Verdict.expired, "status_expired", "证照已过期", "the certificate has expired", **answer
        )
    if expiry is not None:
        ends = _date(expiry)
        if ends is None:
            return _verdict(
                Verdict.expired,
                "expiry_unreadable",
                f"有效期截止日期 {expiry!r} 无法识别，不能确认有效",
                f"the expiry date {expiry!r} cannot be read; the certificate cannot be confirmed valid",
                **answer,
            )
        if ends < today:
            return _verdict(
                Verdict.expired,
                "expiry_passed",
                f"证照有效期已于 {ends.isoformat()} 届满",
                f"the certificate expired on {ends.isoformat()}",
                **answer,
            )
    return _verdict(
        Verdict.valid,
        None,
        "证照有效：颁发机构签名验证通过，未注销、未过期",
        "valid: the issuer's signature verifies, and it is neither revoked nor expired",
        **answer,
    )


class _Unreadable(Exception):
    """A stored row that does not open or parse."""


def _merge(keyring: Keyring, rows: Sequence[str], *, aad: str) -> dict[str, str | None]:
    """The union of a subject's current rows, one per department, unsealed."""
    values: dict[str, str | None] = {}
    for row in rows:
        try:
            stored = json.loads(row)
            if not isinstance(stored, dict):
                raise _Unreadable
            values.update(keyring.unseal(stored, aad=aad))
        except CannotDecrypt as exc:
            # An unknown key id is the platform's keyring problem, not evidence against the record.
            if exc.code == "unknown_key_id":
                raise
            raise _Unreadable from None
        except ValueError:
            raise _Unreadable from None
    return values


def _issuer(db: Session, type_code: str) -> IssuerRead | None:
    dept = db.scalar(select(Department).where(Department.credit_code == type_code[:CREDIT_CODE_LENGTH]))
    return IssuerRead.of(dept) if dept is not None else None


def _date(value: str | None) -> date | None:
    """A stored date (YYYY-MM-DD or YYYYMMDD), or None when absent or unreadable."""
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _tampered(reason: str, **answer: Any) -> CertificateVerdict:
    zh, en = _TAMPERED[reason]
    return _verdict(Verdict.tampered, reason, zh, en, **answer)


def _verdict(
    verdict: Verdict, reason: str | None, message: str, message_en: str, **answer: Any
) -> CertificateVerdict:
    return CertificateVerdict(
        verdict=verdict,
        verdict_label=verdict.label,
        reason=reason,
        message=message,
        message_en=message_en,
        **answer,
    )
