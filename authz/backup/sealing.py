"""Sealing a backup with a passphrase: scrypt, then AES-256-GCM for the keyring and HMAC for the manifest.

- **Key derivation** (RFC 7914 scrypt): N = 2^17, r = 8, p = 1 by default (128 MiB of memory, about a
  second on this machine; OWASP's password storage cheat sheet names these parameters), with a fresh
  16-byte salt per backup. The salt and parameters are stored in the manifest; on reading, parameters
  outside N = 2^14…2^20, r = 8, p = 1 are refused before any work, so a changed manifest cannot make
  the verifier allocate gigabytes.
- **Two keys** from the one secret with HKDF-SHA256 (RFC 5869), each under its own label, so the
  cipher key and the MAC key are independent.
- **The keyring** (NIST SP 800-38D): AES-256-GCM with a fresh 96-bit nonce, the manifest's identity
  (format, backup id, creation time) as associated data: a keyring sealed for another backup does not
  open in this one.
- **The manifest** (RFC 2104): HMAC-SHA256 over its canonical JSON (keys sorted, no spaces, UTF-8),
  which lists every file's SHA-256, so a changed field or file is refused. A check value (the HMAC of
  a fixed label) tells a wrong passphrase from a changed manifest; it reveals nothing the MAC does not.

The passphrase is normalised to Unicode NFC first: the same Chinese passphrase typed on two systems
may arrive composed or decomposed.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import unicodedata
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from authz.backup.exceptions import BackupError, BackupRefused

FORMAT = "govdx-backup/1"
MIN_PASSPHRASE = 16
SALT_BYTES = 16
NONCE_BYTES = 12
LOG2_N_RANGE = (14, 20)
R, P = 8, 1
MAC_FIELD = "mac"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True)
class KdfParams:
    """scrypt's salt and cost, as the manifest stores them."""

    salt: bytes
    log2_n: int
    r: int = R
    p: int = P

    @classmethod
    def fresh(cls, log2_n: int) -> "KdfParams":
        return cls(salt=os.urandom(SALT_BYTES), log2_n=log2_n)

    def as_dict(self) -> dict[str, Any]:
        return {"name": "scrypt", "salt": _b64(self.salt), "n": 2**self.log2_n, "r": self.r, "p": self.p}

    @classmethod
    def from_dict(cls, document: Any) -> "KdfParams":
        """The parameters a manifest names; refused unless scrypt within the bounds above."""
        try:
            n, r, p = document["n"], document["r"], document["p"]
            salt = base64.b64decode(document["salt"], validate=True)
            if document["name"] != "scrypt" or not all(isinstance(v, int) for v in (n, r, p)):
                raise ValueError(document["name"])
            log2_n = n.bit_length() - 1
            if n != 2**log2_n or not LOG2_N_RANGE[0] <= log2_n <= LOG2_N_RANGE[1] or (r, p) != (R, P):
                raise ValueError(f"n={n} r={r} p={p}")
            if len(salt) < SALT_BYTES:
                raise ValueError("salt")
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise BackupRefused(
                f"备份清单的密钥派生参数无效（{exc}）：清单被改动或不是本平台的备份",
                f"the manifest's key derivation parameters are invalid ({exc}): it was changed, "
                "or it is not a govdx backup",
                code="backup_manifest_invalid",
            ) from None
        return cls(salt=salt, log2_n=log2_n, r=r, p=p)


@dataclass(frozen=True)
class BackupKeys:
    """The keys one passphrase gives one backup: AES-256-GCM for the keyring, HMAC for the manifest."""

    cipher: bytes
    mac: bytes


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase shorter than MIN_PASSPHRASE characters (it guards every key offline)."""
    if len(unicodedata.normalize("NFC", passphrase)) < MIN_PASSPHRASE:
        raise BackupError(
            f"备份口令过短：至少 {MIN_PASSPHRASE} 个字符（它在离线状态下保护全部密钥）",
            f"the backup passphrase is too short: at least {MIN_PASSPHRASE} characters "
            "(it guards every key offline)",
            code="backup_passphrase_too_short",
        )


def derive(passphrase: str, params: KdfParams) -> BackupKeys:
    """The backup's keys from ``passphrase`` under ``params`` (scrypt, then HKDF per use)."""
    secret = unicodedata.normalize("NFC", passphrase).encode("utf-8")
    master = Scrypt(salt=params.salt, length=32, n=2**params.log2_n, r=params.r, p=params.p).derive(secret)

    def expand(label: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)

    return BackupKeys(cipher=expand(f"{FORMAT} keyring".encode()), mac=expand(f"{FORMAT} manifest".encode()))


def check_value(keys: BackupKeys) -> str:
    """What the manifest stores to tell a wrong passphrase from a changed manifest."""
    return hmac.new(keys.mac, f"{FORMAT} passphrase check".encode(), hashlib.sha256).hexdigest()


def canonical(document: dict[str, Any]) -> bytes:
    """The bytes the manifest's MAC covers: every field but the MAC, as canonical JSON."""
    body = {k: v for k, v in document.items() if k != MAC_FIELD}
    return json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def mac(keys: BackupKeys, document: dict[str, Any]) -> str:
    """HMAC-SHA256 (hex) of the manifest's canonical form."""
    return hmac.new(keys.mac, canonical(document), hashlib.sha256).hexdigest()


def authenticate(keys: BackupKeys, document: dict[str, Any]) -> None:
    """Refuse the manifest unless the passphrase is right and its MAC matches."""
    if not hmac.compare_digest(str(document.get("passphrase_check", "")), check_value(keys)):
        raise BackupRefused(
            "备份口令错误（或清单的密钥派生参数被改动）",
            "wrong passphrase for this backup (or the manifest's key derivation parameters were changed)",
            code="backup_wrong_passphrase",
        )
    if not hmac.compare_digest(str(document.get(MAC_FIELD, "")), mac(keys, document)):
        raise BackupRefused(
            "备份清单校验失败：清单被改动",
            "the manifest does not authenticate: it was changed",
            code="backup_manifest_tampered",
        )


def identity(*, backup_id: str, created_at: str) -> bytes:
    """The manifest's identity, bound into the sealed keyring as associated data."""
    return f"{FORMAT}\n{backup_id}\n{created_at}".encode()


def seal(keys: BackupKeys, plaintext: bytes, *, aad: bytes) -> bytes:
    """nonce ‖ AES-256-GCM(ciphertext ‖ tag) of ``plaintext``, bound to ``aad``."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(keys.cipher).encrypt(nonce, plaintext, aad)


def unseal(keys: BackupKeys, sealed: bytes, *, aad: bytes) -> bytes:
    """The plaintext :func:`seal` sealed; BackupRefused when it does not open."""
    try:
        return AESGCM(keys.cipher).decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except (InvalidTag, ValueError):
        raise BackupRefused(
            "备份中的密钥环无法解封：文件被改动，或属于另一份备份",
            "the backup's keyring does not open: it was changed, or belongs to another backup",
            code="backup_keyring_invalid",
        ) from None
