"""Subject keys: their canonical form, and how a library stores them (a blind index, never plaintext).

A subject key is one or more parts (公民身份号码; 统一社会信用代码; 证照类型代码 + 证照编号;
主体代码 + 决定文书号). Code-like parts are compacted the way the validators compact them, so
``11010519491231002x`` and ``110105 19491231 002X`` are the same subject. The library stores
the HMAC blind index of each part (``Keyring.subject_index``) and the key itself only sealed
(``subject_cipher``), so an ID number never reaches the database in the clear.
"""

import re
from collections.abc import Sequence

from catalog_schema.keys.service import Keyring
from catalog_schema.types import CREDIT_CODE_ELEMENTS, ID_ELEMENT, SUBJECT_CODE_ELEMENTS, Library

# How the pipelines join key parts in the plaintext key (sealed in subject_cipher).
KEY_SEPARATOR = ":"
MAX_KEY_LENGTH = 200
_CODE_ELEMENTS = frozenset({ID_ELEMENT, *CREDIT_CODE_ELEMENTS, *SUBJECT_CODE_ELEMENTS})
_SQUEEZE = re.compile(r"[\s\-]")

# What a data call names a subject by, per library: the parts of the key, in order.
LOOKUP_KEY: dict[Library, tuple[str, ...]] = {
    Library.population: (ID_ELEMENT,),
    Library.legal_person: ("legal_person.credit_code",),
    Library.certificate: ("certificate.type_code", "certificate.number"),
    # Credit records are keyed (subject, decision); a lookup names the subject and gets them all.
    Library.credit: ("credit.subject_code",),
}


def canonical_part(element: str, value: str) -> str:
    """One key part in canonical form: trimmed, and compacted and upper-cased when it is a code."""
    value = value.strip()
    if element in _CODE_ELEMENTS:
        value = _SQUEEZE.sub("", value).upper()
    return value


def canonical(elements: Sequence[str], values: Sequence[str]) -> tuple[str, ...]:
    """Every part of a key in canonical form."""
    return tuple(canonical_part(e, v) for e, v in zip(elements, values, strict=True))


def plaintext_key(parts: Sequence[str]) -> str:
    """The plaintext key as the pipelines join it (only ever stored sealed)."""
    return KEY_SEPARATOR.join(parts)


def stored_key(keyring: Keyring, library: Library, parts: Sequence[str]) -> str:
    """What ``library_records.subject_key`` holds for this key: the blind index of each part."""
    return keyring.subject_index(library.value, parts)


def cipher_aad(stored: str) -> str:
    """What a sealed key is bound to: its stored key, in a domain of its own.

    A record's sealed values are bound to the bare stored key; the prefix keeps one from being
    passed off as the other (a row's sealed address copied into a ticket's subject_cipher fails).
    """
    return f"subject|{stored}"


def subject_cipher(keyring: Keyring, library: Library, parts: Sequence[str]) -> str:
    """The plaintext key sealed, bound to its stored key, for display to those allowed to see it."""
    return keyring.encrypt(plaintext_key(parts), aad=cipher_aad(stored_key(keyring, library, parts)))


def stored_prefix_range(keyring: Keyring, library: Library, first: str) -> tuple[str, str]:
    """[low, high) of stored keys whose first part is ``first``: a B-tree range, on every database."""
    head = keyring.subject_index(library.value, [first])
    return head, head + ";"  # ';' follows ':' in ASCII
