"""Client API keys: `agk_<8 hex prefix>_<32 random bytes, URL-safe>`, shown once and stored as a bcrypt hash
found by its prefix (the FAQ: "API keys are hashed (bcrypt) and cannot be retrieved")."""

from __future__ import annotations

import secrets

KEY_SCHEME = "agk"


def new_client_key() -> tuple[str, str]:
    """(key, prefix): a fresh key and the prefix that finds its stored hash."""
    prefix = secrets.token_hex(4)
    return f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(32)}", prefix


def key_prefix(key: str) -> str | None:
    """The lookup prefix of a key of that form, or None."""
    parts = key.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_SCHEME or len(parts[1]) != 8 or not parts[2]:
        return None
    return parts[1]
