"""A dataset's keys: the blind index of its query key, and the keyed digest of its record key.

A dataset is queried by its binding's ``query_key`` items. Their values are canonicalised as the
libraries' key parts are (by the element the item carries, ``catalog_schema.library.subjects``)
and stored as the keyring's blind index in a namespace of the resource's own, so a dataset's
index never joins another's or a library's. The record key (``record_key`` items) only tells a
subject's rows apart: a keyed digest of its values, never searched by value.
"""

from collections.abc import Sequence

from catalog_schema.keys.service import Keyring
from catalog_schema.library import subjects

RECORD_SEPARATOR = "\x1f"


def namespace(resource_code: str) -> str:
    """The blind-index namespace of a resource's dataset."""
    return f"dataset:{resource_code}"


def stored_key(keyring: Keyring, resource_code: str, parts: Sequence[str]) -> str:
    """What ``dataset_records.subject_key`` holds for canonical query-key ``parts``."""
    return keyring.subject_index(namespace(resource_code), parts)


def subject_cipher(keyring: Keyring, resource_code: str, parts: Sequence[str]) -> str:
    """The plaintext query key sealed, bound to its stored key (as a library record's key is)."""
    return keyring.encrypt(
        subjects.plaintext_key(parts), aad=subjects.cipher_aad(stored_key(keyring, resource_code, parts))
    )


def record_key(keyring: Keyring, values: Sequence[str]) -> str:
    """The keyed digest of a row's record-key values; "" when the binding has no record key."""
    if not values:
        return ""
    return keyring.digest("record" + RECORD_SEPARATOR + RECORD_SEPARATOR.join(values))
