"""Hashing and verifying secrets (API keys, charge point passwords) with bcrypt, off the event loop.

bcrypt is slow on purpose (~250 ms at cost 12), which a boot storm of thousands of stations or an API
client making many requests cannot pay each time. `SecretVerifier` pays it once per distinct secret: after a
successful bcrypt check it remembers a keyed SHA-256 digest of (hash, secret) in memory, so later checks of
the same secret against the same stored hash cost microseconds. The digest key is random per process, so
the cache is useless to anyone who reads memory dumps of another process, and a changed stored hash never
matches an old cache entry.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets

import bcrypt


def hash_secret(secret: str, rounds: int = 12) -> str:
    """Return the bcrypt hash of `secret` (blocking: call through `hash_secret_async` on the loop).

    bcrypt only reads the first 72 bytes; longer secrets are pre-hashed with SHA-256 so that no part of a
    long secret is ignored.
    """
    return bcrypt.hashpw(_prepare(secret), bcrypt.gensalt(rounds)).decode("ascii")


async def hash_secret_async(secret: str, rounds: int = 12) -> str:
    """`hash_secret` in the default executor, so the event loop keeps serving while bcrypt works."""
    return await asyncio.get_running_loop().run_in_executor(None, hash_secret, secret, rounds)


def _prepare(secret: str) -> bytes:
    raw = secret.encode("utf-8")
    if len(raw) > 72:
        return hashlib.sha256(raw).hexdigest().encode("ascii")
    return raw


def _check(secret: str, stored_hash: str) -> bool:
    try:
        return bcrypt.checkpw(_prepare(secret), stored_hash.encode("ascii"))
    except ValueError:  # not a bcrypt hash
        return False


class SecretVerifier:
    """Verifies secrets against bcrypt hashes, remembering successes (see the module docstring)."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._key = secrets.token_bytes(32)
        self._ok: dict[bytes, None] = {}
        self._max_entries = max_entries

    def _digest(self, secret: str, stored_hash: str) -> bytes:
        return hmac.new(self._key, stored_hash.encode() + b"\0" + secret.encode(), hashlib.sha256).digest()

    async def verify(self, secret: str, stored_hash: str) -> bool:
        """True if `secret` matches `stored_hash`; bcrypt runs in the executor only on a cache miss."""
        digest = self._digest(secret, stored_hash)
        if digest in self._ok:
            return True
        ok = await asyncio.get_running_loop().run_in_executor(None, _check, secret, stored_hash)
        if ok:
            if len(self._ok) >= self._max_entries:
                self._ok.pop(next(iter(self._ok)))
            self._ok[digest] = None
        return ok


def new_api_key() -> tuple[str, str]:
    """Return (key, prefix): the key is shown once to the operator; the prefix finds its stored hash."""
    prefix = secrets.token_hex(4)
    return f"csms_{prefix}_{secrets.token_urlsafe(24)}", prefix


def api_key_prefix(key: str) -> str | None:
    """The lookup prefix of a key in `new_api_key` form, or None if it is not in that form."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != "csms" or len(parts[1]) != 8:
        return None
    return parts[1]
