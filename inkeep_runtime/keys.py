"""API keys of the run API: generation, parsing and salted hashing (pure functions, no I/O).

A key reads `sk_<publicId>.<secret>`, as in the Inkeep framework: `publicId` is 12 characters from
`[0-9a-zA-Z-]` and names the stored row (so a lookup is one indexed read), and `secret` is 32 random bytes
in base64url. Only a salted scrypt hash of the whole key is stored, written
`scrypt$<n>$<r>$<p>$<base64 salt>$<base64 hash>` so the cost parameters can be raised later without
breaking existing keys. Divergence: the original stores `base64(salt ‖ hash)` with fixed parameters.

Hashing takes tens of milliseconds of CPU on purpose; callers on the event loop run `hash_api_key` and
`check_api_key` through `anyio.to_thread.run_sync`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from typing import Final

__all__ = [
    "KEY_PREFIX_LENGTH",
    "MIN_KEY_LENGTH",
    "PUBLIC_ID_LENGTH",
    "check_api_key",
    "generate_api_key",
    "hash_api_key",
    "parse_api_key",
]

PUBLIC_ID_LENGTH: Final = 12
KEY_PREFIX_LENGTH: Final = 12
"""How many leading characters of a key are stored for display (`keyPrefix`)."""
MIN_KEY_LENGTH: Final = 16

_PUBLIC_ID_ALPHABET: Final = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-"
_PUBLIC_ID_RE: Final = re.compile(r"[0-9a-zA-Z-]{12}")
_ENV_RE: Final = re.compile(r"[0-9a-zA-Z]+")
_SECRET_RE: Final = re.compile(r"[0-9a-zA-Z_-]+")
_SECRET_BYTES: Final = 32
_SALT_BYTES: Final = 32
_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_SCRYPT_DKLEN: Final = 64
_SCRYPT_MAXMEM: Final = 64 * 1024 * 1024
"""Above the 128·n·r bytes scrypt needs (16 MiB at the defaults); OpenSSL's own default is tighter."""


def generate_api_key() -> tuple[str, str]:
    """Make a new key.

    Returns:
        `(key, public_id)`: the full key, shown to the user once, and the id it is looked up by.
    """
    public_id = "".join(secrets.choice(_PUBLIC_ID_ALPHABET) for _ in range(PUBLIC_ID_LENGTH))
    secret = base64.urlsafe_b64encode(secrets.token_bytes(_SECRET_BYTES)).rstrip(b"=").decode("ascii")
    return f"sk_{public_id}.{secret}", public_id


def parse_api_key(key: str) -> str | None:
    """The public id of a well-formed key, or None.

    Accepts `sk_<publicId>.<secret>` and `sk_<env>_<publicId>.<secret>` (e.g. `sk_live_…`); anything
    shorter than 16 characters is rejected before any parsing.
    """
    if len(key) < MIN_KEY_LENGTH:
        return None
    head, dot, secret = key.partition(".")
    if not dot or not _SECRET_RE.fullmatch(secret):
        return None
    segments = head.split("_")
    if len(segments) not in (2, 3) or segments[0] != "sk":
        return None
    if len(segments) == 3 and not _ENV_RE.fullmatch(segments[1]):
        return None
    public_id = segments[-1]
    return public_id if _PUBLIC_ID_RE.fullmatch(public_id) else None


def _scrypt(key: str, salt: bytes, *, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(key.encode(), salt=salt, n=n, r=r, p=p, dklen=dklen, maxmem=_SCRYPT_MAXMEM)


def hash_api_key(key: str) -> str:
    """A salted scrypt hash of the whole key, in the stored form (CPU-heavy: run it in a thread)."""
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(key, salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_DKLEN)
    encoded = [base64.b64encode(part).decode("ascii") for part in (salt, digest)]
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${encoded[0]}${encoded[1]}"


def check_api_key(key: str, stored: str) -> bool:
    """Tell whether `key` hashes to `stored` (constant-time comparison; CPU-heavy: run it in a thread).

    A stored value that is not in the `scrypt$…` form never matches.
    """
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt" or not all(part.isdigit() for part in parts[1:4]):
        return False
    n, r, p = (int(part) for part in parts[1:4])
    try:
        salt = base64.b64decode(parts[4], validate=True)
        expected = base64.b64decode(parts[5], validate=True)
    except binascii.Error:
        return False
    if not expected:
        return False
    try:
        actual = _scrypt(key, salt, n=n, r=r, p=p, dklen=len(expected))
    except ValueError:  # parameters OpenSSL refuses (n not a power of two, too much memory)
        return False
    return hmac.compare_digest(actual, expected)
