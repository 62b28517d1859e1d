"""The subjects a bulk export served, kept compact: what the subject search finds an export by.

A traced record (an export's row group) lists each subject by its trace id, taken from the key
the subject is stored and read by: the first 16 hex digits (64 bits) of its blind index (a keyed
HMAC, ``catalog_schema.keys``), or of a SHA-256 of it when the key has several parts (a
certificate's type and number). The export reads that index with every row, so tracing a subject
costs no cryptography; the search computes the same id for the subject it is asked about, in
each library and dataset namespace (``authz.audit.search``).

The ids are stored sorted, in 256 buckets by their first byte, one row per bucket and record
(``access_subjects``): a row group of thousands of subjects costs at most 256 small inserts into
a table that stays small, where a row per subject made every export pay a random insert per
person into an index that only grows (``make bench-export`` measured both). A search reads the
one bucket its subject falls in. Two subjects share an id with a chance of 2^-64 a pair, so a
search could name an export a subject was not in with that chance, and never misses one it was in.

The record's ``subjects_digest`` (chained) is taken over these ids (``chain.subjects_digest``).
"""

import hashlib
from bisect import bisect_left
from collections.abc import Iterable

TRACE_HEX = 16


def trace_id(stored: str) -> str:
    """A subject's trace id from its stored key: the blind index's first 64 bits, in hex."""
    if ":" not in stored:
        return stored[:TRACE_HEX]
    return hashlib.sha256(stored.encode("ascii")).hexdigest()[:TRACE_HEX]


def bucket_of(trace: str) -> int:
    """The bucket a trace id is stored in: its first byte."""
    return int(trace[:2], 16)


def buckets(ids: Iterable[str]) -> list[tuple[int, bytes]]:
    """The distinct ids, sorted, as (bucket, packed ids) rows."""
    grouped: dict[int, list[str]] = {}
    for trace in sorted(set(ids)):
        grouped.setdefault(bucket_of(trace), []).append(trace)
    return [(bucket, bytes.fromhex("".join(traces))) for bucket, traces in grouped.items()]


def unpack(packed: bytes) -> list[str]:
    """The ids of one stored row, in stored order."""
    text = packed.hex()
    return [text[i : i + TRACE_HEX] for i in range(0, len(text), TRACE_HEX)]


def contains(packed: bytes, trace: str) -> bool:
    """Whether a stored row lists ``trace`` (its ids are sorted)."""
    ids = unpack(packed)
    at = bisect_left(ids, trace)
    return at < len(ids) and ids[at] == trace
