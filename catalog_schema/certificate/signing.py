"""What an issuer signs of an electronic certificate (电子证照), and how the signature is written and checked.

**Algorithm.** The catalog's ``certificate.signature`` element describes an SM2 signature
(GB/T 32918, as the national 电子证照 standards GB/T 36901–36905 use). ``cryptography`` has no
SM2, so issuers sign with Ed25519 (RFC 8032) and ``IssuerKey.algorithm`` says so. To switch to
SM2, replace :func:`sign`, :func:`check` and :func:`load_public_key` (e.g. with ``gmssl``) and
register keys with ``algorithm="SM2"``; the canonical content and the stored form stay as they are.

**Canonical content** (:func:`canonical_content`), the bytes an issuer signs: the certificate's
elements as the library stores them — the key (``certificate.type_code``, ``certificate.number``)
and every other element — except ``certificate.status`` (a revocation changes the status and
must not break the signature) and ``certificate.signature`` itself; null (absent) elements are
left out. Values are the text the loader stores after its normalisation (trimmed, empty as
null, codes compacted and upper-cased, dates as the source wrote them). The bytes are JSON:
keys sorted, no whitespace between tokens, non-ASCII characters as themselves, UTF-8.

**Stored form** of ``certificate.signature``: ``"<key id>:<base64 signature>"``, the key id
naming an ``IssuerKey`` (``[A-Za-z0-9][A-Za-z0-9._-]{0,63}``, so it holds no colon) and the
signature in standard Base64 with padding (RFC 4648 §4; 64 bytes for Ed25519).
"""

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from catalog_schema.errors import InvalidInput

ALGORITHM = "Ed25519"
STATUS = "certificate.status"
SIGNATURE = "certificate.signature"
UNSIGNED = frozenset({STATUS, SIGNATURE})
KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
SIGNATURE_BYTES = 64


def canonical_content(values: Mapping[str, str | None]) -> bytes:
    """The bytes an issuer signs: every non-null element but status and signature, as canonical JSON."""
    signed = {code: value for code, value in values.items() if code not in UNSIGNED and value is not None}
    return json.dumps(signed, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def sign(private_key: Ed25519PrivateKey, key_id: str, values: Mapping[str, str | None]) -> str:
    """The ``certificate.signature`` value of ``values`` signed with ``private_key``, named ``key_id``."""
    if not KEY_ID.match(key_id):
        raise ValueError(f"key id {key_id!r} does not match {KEY_ID.pattern}")
    signature = private_key.sign(canonical_content(values))
    return f"{key_id}:{base64.b64encode(signature).decode('ascii')}"


def parse(value: str) -> tuple[str, bytes] | None:
    """(key id, signature bytes) of a stored signature, or None when it is not in the stored form."""
    key_id, colon, encoded = value.partition(":")
    if not colon or not KEY_ID.match(key_id):
        return None
    try:
        signature = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        return None
    return (key_id, signature) if len(signature) == SIGNATURE_BYTES else None


def check(public_key_pem: str, signature: bytes, values: Mapping[str, str | None]) -> bool:
    """Whether ``signature`` is the issuer's signature of ``values``' canonical content."""
    try:
        load_public_key(public_key_pem).verify(signature, canonical_content(values))
    except (InvalidSignature, InvalidInput):
        return False
    return True


def load_public_key(pem: str) -> Ed25519PublicKey:
    """The Ed25519 public key in ``pem`` (SubjectPublicKeyInfo); InvalidInput for anything else."""
    if "PRIVATE KEY" in pem:
        raise InvalidInput(
            "提交的是私钥：只需登记颁发机构的公钥，私钥不得离开颁发机构",
            "this is a private key: register the issuer's public key only; the private key never leaves it",
            code="public_key_invalid",
        )
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, TypeError, UnicodeEncodeError, UnsupportedAlgorithm):
        raise InvalidInput(
            "公钥不是有效的 PEM 格式（应为 -----BEGIN PUBLIC KEY----- 开头的 SubjectPublicKeyInfo）",
            "the public key is not valid PEM (expected a SubjectPublicKeyInfo, -----BEGIN PUBLIC KEY-----)",
            code="public_key_invalid",
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput(
            f"公钥算法须为 {ALGORITHM}，提交的是 {type(key).__name__.removeprefix('_')}",
            f"the public key must be {ALGORITHM}, not {type(key).__name__.removeprefix('_')}",
            code="public_key_not_ed25519",
        )
    return key


def public_pem(key: Ed25519PublicKey) -> str:
    """``key`` as PEM SubjectPublicKeyInfo, the form ``issuer_keys.public_key`` stores."""
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, hex: what an issuer reads out to confirm a registration."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()
