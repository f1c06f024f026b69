"""API-key generation, parsing and hashing."""

from __future__ import annotations

import base64
import re

import pytest

from inkeep_runtime.keys import check_api_key, generate_api_key, hash_api_key, parse_api_key


def test_generated_key_has_the_original_format() -> None:
    key, public_id = generate_api_key()
    assert re.fullmatch(r"[0-9a-zA-Z-]{12}", public_id)
    prefix, secret = key.split(".")
    assert prefix == f"sk_{public_id}"
    assert len(base64.urlsafe_b64decode(secret + "=")) == 32


def test_generated_keys_differ() -> None:
    assert len({generate_api_key()[0] for _ in range(20)}) == 20


def test_parse_returns_the_public_id() -> None:
    key, public_id = generate_api_key()
    assert parse_api_key(key) == public_id


def test_parse_accepts_an_environment_segment() -> None:
    assert parse_api_key("sk_live_abc123DEF-45.c2VjcmV0") == "abc123DEF-45"


@pytest.mark.parametrize(
    "key",
    [
        "",
        "sk_abc.def",  # shorter than 16 characters
        "sk_abc123def456",  # no secret
        "sk_abc123def456.",  # empty secret
        "sk_abc123def456.a.b",  # two dots
        "pk_abc123def456.secret",  # wrong scheme
        "sk_abc123def45.secretsecret",  # public id of 11 characters
        "sk_abc123def4567.secret",  # public id of 13 characters
        "sk_abc123def45!.secret",  # character outside the alphabet
        "sk_a_b_abc123def456.secret",  # two environment segments
        "sk__abc123def456.secret",  # empty environment segment
        "sk_abc123def456.sec ret",  # space in the secret
    ],
)
def test_parse_rejects_malformed_keys(key: str) -> None:
    assert parse_api_key(key) is None


def test_hash_is_salted_scrypt_of_the_whole_key() -> None:
    key, _ = generate_api_key()
    first, second = hash_api_key(key), hash_api_key(key)
    assert first != second  # fresh salt each time
    assert key not in first
    scheme, n, r, p, salt, digest = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(2**14), "8", "1")
    assert len(base64.b64decode(salt)) == 32
    assert len(base64.b64decode(digest)) == 64


def test_check_accepts_the_key_and_rejects_others() -> None:
    key, _ = generate_api_key()
    stored = hash_api_key(key)
    assert check_api_key(key, stored)
    assert not check_api_key(key[:-1] + ("A" if key[-1] != "A" else "B"), stored)
    assert not check_api_key(generate_api_key()[0], stored)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "bcrypt$1$2$3$AA==$AA==",
        "scrypt$x$8$1$AA==$AA==",
        "scrypt$16384$8$1$!!$AA==",
        "scrypt$16384$8$1$AA==$",
        "scrypt$3$8$1$AA==$AA==",
    ],
)
def test_check_never_matches_a_malformed_stored_hash(stored: str) -> None:
    assert not check_api_key("sk_abc123def456.secret", stored)
