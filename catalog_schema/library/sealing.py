"""The storage contract's sealing: what each sealed value is bound to, and opening it again.

What the ingest engine seals (a quarantined row's raw text, a discrepancy ticket's values, a
subject key's cipher) is opened here, by the readers the routes admit and by key rotation,
without importing the engine.
"""

from catalog_schema.keys.service import Keyring, is_sealed
from catalog_schema.library import subjects
from catalog_schema.types import Sensitivity

# Elements encrypted at rest (DESIGN "Data access and audit").
SEALED_SENSITIVITY = frozenset({Sensitivity.sensitive, Sensitivity.highly_sensitive})


def quarantine_aad(source: str) -> str:
    """What a quarantined row's sealed raw text is bound to."""
    return f"quarantine:{source}"


def ticket_aad(subject_key: str, element: str) -> str:
    """What a discrepancy ticket's sealed values are bound to: the stored key and the element."""
    return f"{subject_key}|{element}"


def open_raw(keyring: Keyring, raw: str, *, source: str) -> str:
    """A quarantined row's raw JSON text, unsealed when it was sealed."""
    return keyring.decrypt(raw, aad=quarantine_aad(source)) if is_sealed(raw) else raw


def open_subject(keyring: Keyring, subject_key: str | None, subject_cipher: str | None) -> str | None:
    """The plaintext subject key of a stored row (the stored key when no cipher was kept)."""
    if subject_key is None or subject_cipher is None:
        return subject_key
    return keyring.decrypt(subject_cipher, aad=subjects.cipher_aad(subject_key))


def open_ticket_value(keyring: Keyring, value: str | None, *, subject_key: str, element: str) -> str | None:
    """A discrepancy ticket's value, unsealed when it was sealed."""
    if value is None or not is_sealed(value):
        return value
    return keyring.decrypt(value, aad=ticket_aad(subject_key, element))
