"""Canonical JSON built in Arrow is byte for byte pandas' (stored row digests depend on it)."""

import random

import pandas as pd

from ingest.bulk import canonical_json, canonical_json_pandas

# Everything JSON escapes (control characters, quote, backslash), pandas' "\/", and what it does not.
ALPHABET = [chr(i) for i in range(0x80)] + ["中", "\u2028", "\u0085", "\U0001f600", "\xa0"]


def random_text(rng: random.Random) -> str | None:
    roll = rng.random()
    if roll < 0.1:
        return None
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 8)))


def test_text_columns_give_pandas_json_byte_for_byte():
    rng = random.Random(2026)
    frame = pd.DataFrame(
        {c: pd.Series([random_text(rng) for _ in range(3000)], dtype="string") for c in ["b", "a/x", 'c"d']}
    )
    frame["population.constant"] = "常量"

    assert canonical_json(frame) == canonical_json_pandas(frame)


def test_clean_text_takes_the_arrow_path_and_matches():
    frame = pd.DataFrame({"z": ["地址 1 号", None], "a": pd.Series(["130", "x"], dtype="string")})

    assert canonical_json(frame) == ['{"a":"130","z":"地址 1 号"}', '{"a":"x","z":null}']
    assert canonical_json(frame) == canonical_json_pandas(frame)


def test_columns_holding_other_than_text_fall_back_to_pandas():
    frame = pd.DataFrame({"n": [1, 2], "t": ["a", None]})

    assert canonical_json(frame) == canonical_json_pandas(frame) == ['{"n":1,"t":"a"}', '{"n":2,"t":null}']
