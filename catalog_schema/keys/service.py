"""The keyring: AES-256-GCM data keys with key ids, HMAC-SHA256 index keys, an Ed25519 signing key.

- **Encryption at rest** (NIST SP 800-38D): a value is sealed as ``gx1:<key id>:<base64url(nonce ‖
  ciphertext ‖ tag)>`` with a fresh 96-bit nonce. The associated data binds a ciphertext to where
  it is stored (e.g. the subject's blind index), so a ciphertext copied to another row fails to open.
  New values use the active key; older key ids stay readable until ``govdx keys rotate`` has
  re-encrypted everything under the new one.
- **Blind index** (RFC 2104): a subject key is stored as HMAC-SHA256 of each canonical key part under
  the index key, so equal keys join and look up without the plaintext in the database.
- **Audit fingerprint**: the same construction under a separate key, so the access log can be
  searched by subject without sharing a join key with the libraries.
- **Signing** (RFC 8032 Ed25519): audit checkpoints are signed with the platform key; every
  signing key id ever used stays in the keyring so old checkpoints still verify.

The keyring is a JSON file (mode 0600) named by ``GOVDX_KEYS_FILE``. The demo profile creates one
on first use; a production deployment creates it once with ``govdx keys init`` and guards it like
the database password.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from catalog_schema.errors import GovdxError
from catalog_schema.keys.settings import KeySettings

FORMAT = "govdx-keyring/1"
PREFIX = "gx1"
# The key of the sealed part of a JSON object whose other members are stored in the clear.
SEALED = "~sealed"
INDEX_HEX = 32  # 128 bits of HMAC-SHA256 per key part
NONCE_BYTES = 12


class KeyringError(GovdxError):
    """The keyring is missing or malformed, or a ciphertext does not open."""

    status = 500
    code = "keyring_error"


class KeyringMissing(KeyringError):
    """No keyring file where the settings say."""


class CannotDecrypt(KeyringError):
    """A ciphertext that does not open: unknown key id, wrong place, or altered."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def is_sealed(value: object) -> bool:
    """Whether ``value`` is a ciphertext this module wrote."""
    return isinstance(value, str) and value.startswith(PREFIX + ":")


def key_id_of(token: str) -> str:
    """The key id a ciphertext was sealed with."""
    return token.split(":", 2)[1]


@dataclass
class Keyring:
    """The platform's keys, loaded from the keyring file; see the module docstring."""

    active: str
    data_keys: dict[str, bytes]
    index_key: bytes
    fingerprint_key: bytes
    active_signing: str
    signing_keys: dict[str, bytes]
    retired: dict[str, str] = field(default_factory=dict)

    def __getstate__(self) -> dict[str, Any]:
        # The cipher and signer objects are rebuilt from the keys; they do not pickle (the ingest
        # worker process receives the keyring of its batch).
        return {k: v for k, v in self.__dict__.items() if k not in ("_ciphers", "_signers")}

    @cached_property
    def _ciphers(self) -> dict[str, AESGCM]:
        return {kid: AESGCM(key) for kid, key in self.data_keys.items()}

    @cached_property
    def _signers(self) -> dict[str, Ed25519PrivateKey]:
        return {kid: Ed25519PrivateKey.from_private_bytes(k) for kid, k in self.signing_keys.items()}

    # -- encryption at rest ---------------------------------------------------------------------

    def encrypt(self, plaintext: str, *, aad: str) -> str:
        """``plaintext`` sealed under the active key, bound to ``aad``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.active].encrypt(nonce, plaintext.encode("utf-8"), aad.encode("utf-8"))
        return f"{PREFIX}:{self.active}:{_b64(nonce + sealed)}"

    def encrypt_many(self, plaintexts: Sequence[str], *, aads: Sequence[str]) -> list[str]:
        """:meth:`encrypt` of each plaintext with its own ``aad``, in one loop; the same tokens' format.

        The nonces are still 96 random bits each, drawn by one call for the lot instead of one call
        per value: a system call per row cost more than the encryption at a million rows.
        """
        encrypt = self._ciphers[self.active].encrypt
        head = f"{PREFIX}:{self.active}:"
        nonces = os.urandom(NONCE_BYTES * len(plaintexts))
        b64 = base64.urlsafe_b64encode
        out = []
        for start, plaintext, aad in zip(range(0, len(nonces), NONCE_BYTES), plaintexts, aads, strict=True):
            nonce = nonces[start : start + NONCE_BYTES]
            body = b64(nonce + encrypt(nonce, plaintext.encode("utf-8"), aad.encode("utf-8")))
            out.append(head + body.decode("ascii").rstrip("="))
        return out

    def decrypt(self, token: str, *, aad: str) -> str:
        """The plaintext of ``token``; raises CannotDecrypt when it does not open with ``aad``."""
        try:
            prefix, kid, body = token.split(":", 2)
            cipher = self._ciphers[kid]
            raw = _unb64(body)
            if prefix != PREFIX or len(raw) < NONCE_BYTES + 16:
                raise ValueError(prefix)
            return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad.encode("utf-8")).decode("utf-8")
        except KeyError:
            raise CannotDecrypt(
                f"密文使用的密钥 {token.split(':')[1] if token.count(':') >= 2 else '?'} 不在密钥环中",
                "the ciphertext's key id is not in the keyring",
                code="unknown_key_id",
            ) from None
        except (InvalidTag, ValueError, binascii.Error, UnicodeDecodeError):
            raise CannotDecrypt(
                "密文校验失败：数据被改动，或不属于此位置",
                "ciphertext failed authentication: altered, or not stored where it was sealed",
                code="ciphertext_invalid",
            ) from None

    def seal(self, values: Mapping[str, Any], *, sensitive: Collection[str], aad: str) -> dict[str, Any]:
        """``values`` with the members named in ``sensitive`` replaced by one ciphertext under ``SEALED``."""
        clear = {k: v for k, v in values.items() if k not in sensitive}
        hidden = {k: v for k, v in values.items() if k in sensitive}
        if hidden:
            clear[SEALED] = self.encrypt(json.dumps(hidden, ensure_ascii=False, sort_keys=True), aad=aad)
        return clear

    def unseal(self, stored: Mapping[str, Any], *, aad: str) -> dict[str, Any]:
        """The full mapping back from :meth:`seal`'s output."""
        values = dict(stored)
        token = values.pop(SEALED, None)
        if token is not None:
            values.update(json.loads(self.decrypt(token, aad=aad)))
        return values

    def reseal(self, token: str, *, aad: str) -> str:
        """``token`` re-encrypted under the active key (unchanged when it already is)."""
        if key_id_of(token) == self.active:
            return token
        return self.encrypt(self.decrypt(token, aad=aad), aad=aad)

    # -- keyed digests --------------------------------------------------------------------------

    def subject_index(self, library: str, parts: Sequence[str]) -> str:
        """The blind index of a canonical subject key: HMAC per part, joined by ':' (range-searchable)."""
        return ":".join(
            hmac.digest(self.index_key, f"{library}\x1f{part}".encode(), "sha256").hex()[:INDEX_HEX]
            for part in parts
        )

    def digest(self, text: str) -> str:
        """A keyed digest for change detection: equal rows give equal digests, and none can be guessed."""
        return hmac.digest(self.index_key, b"row\x1f" + text.encode("utf-8"), "sha256").hex()[:INDEX_HEX]

    def digest_many(self, texts: Sequence[str]) -> list[str]:
        """:meth:`digest` of each text, in one loop."""
        mac = self._index_mac()
        return [mac(b"row\x1f" + t.encode("utf-8"))[:INDEX_HEX] for t in texts]

    def subject_index_many(self, library: str, keys: Sequence[Sequence[str]]) -> list[str]:
        """:meth:`subject_index` of each key's parts, in one loop."""
        mac, prefix = self._index_mac(), f"{library}\x1f"
        if all(len(parts) == 1 for parts in keys):
            return [mac((prefix + parts[0]).encode())[:INDEX_HEX] for parts in keys]
        return [":".join(mac((prefix + part).encode())[:INDEX_HEX] for part in parts) for parts in keys]

    def _index_mac(self) -> Callable[[bytes], str]:
        """HMAC-SHA256 under the index key as a function of the message, giving hex (RFC 2104 §2).

        The same digest as ``hmac.digest``, with the padded keys hashed once: the one-shot call
        sets up OpenSSL's HMAC afresh each time, which costs more than hashing a short row.
        """
        key = self.index_key if len(self.index_key) <= 64 else hashlib.sha256(self.index_key).digest()
        inner = hashlib.sha256(bytes(b ^ 0x36 for b in key.ljust(64, b"\0"))).copy
        outer = hashlib.sha256(bytes(b ^ 0x5C for b in key.ljust(64, b"\0"))).copy

        def mac(message: bytes) -> str:
            i = inner()
            i.update(message)
            o = outer()
            o.update(i.digest())
            return o.hexdigest()

        return mac

    def fingerprint(self, subject: str) -> str:
        """The audit log's keyed fingerprint of a canonical subject key (ID number, credit code…)."""
        return hmac.digest(self.fingerprint_key, subject.encode("utf-8"), "sha256").hex()

    # -- signatures -----------------------------------------------------------------------------

    def sign(self, message: bytes) -> tuple[str, str]:
        """(signing key id, base64 Ed25519 signature) of ``message`` under the active signing key."""
        return self.active_signing, base64.b64encode(
            self._signers[self.active_signing].sign(message)
        ).decode()

    def public_keys(self) -> dict[str, str]:
        """Every signing key id with its public key in PEM, for verifiers."""
        return {
            kid: key.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
            .decode("ascii")
            for kid, key in self._signers.items()
        }


def verify_signature(public_key_pem: str, message: bytes, signature_b64: str) -> bool:
    """Whether ``signature_b64`` is a valid Ed25519 signature of ``message`` under the PEM public key."""
    try:
        key = serialization.load_pem_public_key(public_key_pem.encode("ascii"))
        if not isinstance(key, Ed25519PublicKey):
            return False
        key.verify(base64.b64decode(signature_b64, validate=True), message)
        return True
    except (InvalidSignature, ValueError, binascii.Error, TypeError):
        return False


# -- the keyring file ---------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _fresh_document() -> dict[str, Any]:
    signing = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return {
        "format": FORMAT,
        "active": "k1",
        "data_keys": {"k1": {"key": _b64(AESGCM.generate_key(bit_length=256)), "created_at": _now()}},
        "index_key": _b64(secrets.token_bytes(32)),
        "fingerprint_key": _b64(secrets.token_bytes(32)),
        "active_signing": "s1",
        "signing_keys": {"s1": {"key": _b64(signing), "created_at": _now()}},
    }


def _write(path: Path, document: dict[str, Any]) -> None:
    """Write the keyring atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(document, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _parse(path: Path, document: dict[str, Any]) -> Keyring:
    try:
        if document.get("format") != FORMAT:
            raise ValueError(f"format is {document.get('format')!r}, expected {FORMAT!r}")
        ring = Keyring(
            active=document["active"],
            data_keys={kid: _unb64(k["key"]) for kid, k in document["data_keys"].items()},
            index_key=_unb64(document["index_key"]),
            fingerprint_key=_unb64(document["fingerprint_key"]),
            active_signing=document["active_signing"],
            signing_keys={kid: _unb64(k["key"]) for kid, k in document["signing_keys"].items()},
            retired={kid: k["retired_at"] for kid, k in document["data_keys"].items() if k.get("retired_at")},
        )
        if ring.active not in ring.data_keys or ring.active_signing not in ring.signing_keys:
            raise ValueError("the active key id is not among the keys")
        if any(len(k) != 32 for k in ring.data_keys.values()) or len(ring.index_key) < 32:
            raise ValueError("data keys must be 256-bit and the index key at least 256-bit")
        return ring
    except (KeyError, TypeError, ValueError, binascii.Error, AttributeError) as exc:
        raise KeyringError(
            f"密钥环文件 {path} 格式错误：{exc}",
            f"keyring file {path} is malformed: {exc}",
            code="keyring_malformed",
        ) from None


def read_document(path: Path) -> dict[str, Any]:
    """The raw keyring document at ``path``."""
    try:
        document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise KeyringMissing(
            f"找不到密钥环文件 {path}：请先运行 govdx keys init（演示环境为 govdx demo seed），"
            "或设置 GOVDX_HOME / GOVDX_KEYS_FILE 指向已有的密钥环；不会自动创建新的密钥环",
            f"keyring file {path} not found: run `govdx keys init` (`govdx demo seed` in the demo), or set "
            "GOVDX_HOME / GOVDX_KEYS_FILE to the existing keyring; a new one is never created on the fly",
            code="keyring_missing",
        ) from None
    except json.JSONDecodeError as exc:
        raise KeyringError(
            f"密钥环文件 {path} 不是有效的 JSON：{exc}",
            f"keyring file {path} is not valid JSON: {exc}",
            code="keyring_malformed",
        ) from None
    return document


def create(path: Path) -> Keyring:
    """Create a new keyring at ``path``; refuses to overwrite one (that would orphan every ciphertext)."""
    if path.exists():
        raise KeyringError(
            f"密钥环文件 {path} 已存在，拒绝覆盖（覆盖将使全部密文无法解密）",
            f"keyring file {path} already exists; refusing to overwrite it (every ciphertext would be lost)",
            code="keyring_exists",
        )
    document = _fresh_document()
    _write(path, document)
    return _parse(path, document)


def load(path: Path) -> Keyring:
    """The keyring at ``path``."""
    return _parse(path, read_document(path))


def parse(document: dict[str, Any], *, origin: str) -> Keyring:
    """A keyring from a document read elsewhere (a backup), checked as the file's would be."""
    return _parse(Path(origin), document)


def add_data_key(path: Path) -> str:
    """Add a new data key and make it the active one; returns its key id (older keys stay readable)."""
    document = read_document(path)
    _parse(path, document)
    numbers = [int(k[1:]) for k in document["data_keys"] if k[1:].isdigit()]
    kid = f"k{max(numbers, default=0) + 1}"
    document["data_keys"][kid] = {"key": _b64(AESGCM.generate_key(bit_length=256)), "created_at": _now()}
    document["active"] = kid
    _write(path, document)
    return kid


def retire_data_keys(path: Path, kids: Collection[str]) -> None:
    """Mark data keys as retired (kept, so a forgotten ciphertext can still be found and opened)."""
    document = read_document(path)
    for kid in kids:
        if kid != document["active"]:
            document["data_keys"][kid].setdefault("retired_at", _now())
    _write(path, document)


_cache: dict[tuple[Path, int], Keyring] = {}


@lru_cache(maxsize=8)
def _settings_for(_file: str | None, _home: str | None, _profile: str | None) -> KeySettings:
    return KeySettings()


def get_keyring(settings: KeySettings | None = None) -> Keyring:
    """The configured keyring, re-read when the file changes; KeyringMissing if there is none.

    Never created here, in any profile: a worker that looked in the wrong place would otherwise
    seal data under a key nobody else has. `govdx keys init` creates it (`govdx demo seed` in the
    demo profile).
    """
    # Reading settings from the environment costs more than a lookup; keyed by the variables
    # that decide them, the cache still follows a changed environment.
    settings = settings or _settings_for(
        os.environ.get("GOVDX_KEYS_FILE"), os.environ.get("GOVDX_HOME"), os.environ.get("GOVDX_PROFILE")
    )
    path = settings.file
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        read_document(path)  # raises KeyringMissing with the fix
        raise
    ring = _cache.get((path, stamp))
    if ring is None:
        ring = load(path)
        _cache.clear()
        _cache[(path, stamp)] = ring
    return ring
