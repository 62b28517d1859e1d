"""The keyring's batch twins give what the one-at-a-time functions give."""

import secrets

import pytest

from catalog_schema.keys.service import NONCE_BYTES, Keyring, _unb64

TEXTS = ["", "a", '中文 / "引号" \\ 反斜杠', "x" * 300, "\u2028\x00"]


def ring(index_bytes: int = 32) -> Keyring:
    return Keyring(
        active="k1",
        data_keys={"k1": secrets.token_bytes(32)},
        index_key=secrets.token_bytes(index_bytes),
        fingerprint_key=secrets.token_bytes(32),
        active_signing="s1",
        signing_keys={},
    )


@pytest.mark.parametrize("index_bytes", [32, 64, 65, 128])
def test_digest_many_equals_digest(index_bytes):
    keyring = ring(index_bytes)

    assert keyring.digest_many(TEXTS) == [keyring.digest(t) for t in TEXTS]


@pytest.mark.parametrize("index_bytes", [32, 100])
def test_subject_index_many_equals_subject_index(index_bytes):
    keyring = ring(index_bytes)
    single, composite = [[t] for t in TEXTS], [[t, "决定书 7"] for t in TEXTS]

    assert keyring.subject_index_many("population", single) == [
        keyring.subject_index("population", p) for p in single
    ]
    assert keyring.subject_index_many("credit", composite) == [
        keyring.subject_index("credit", p) for p in composite
    ]


def test_encrypt_many_opens_with_decrypt_each_under_its_own_aad():
    keyring = ring()
    aads = [f"subject|{i}" for i in range(len(TEXTS))]

    tokens = keyring.encrypt_many(TEXTS, aads=aads)

    assert [keyring.decrypt(t, aad=a) for t, a in zip(tokens, aads, strict=True)] == TEXTS


def test_encrypt_many_draws_a_fresh_nonce_per_value():
    keyring = ring()

    tokens = keyring.encrypt_many(["same"] * 1000, aads=["same"] * 1000)

    nonces = {_unb64(t.split(":", 2)[2])[:NONCE_BYTES] for t in tokens}
    assert len(nonces) == 1000
