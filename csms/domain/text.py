"""Text rules every edge applies to what it receives before storing it (ADR 0017)."""

from __future__ import annotations

from typing import Any

__all__ = ["NUL_ESCAPE", "contains_nul"]

#: How JSON text carries U+0000 (the only way it can: raw control characters are invalid JSON). A frame or
#: body without it holds no NUL, so `contains_nul` need not walk its parsed value.
NUL_ESCAPE = "\\u0000"


def contains_nul(value: Any) -> bool:
    """True if a string anywhere in *value* (a key or a value, at any depth) contains U+0000.

    PostgreSQL `text` and `jsonb` cannot store U+0000, so each edge refuses such input with its own error
    (OCPP PropertyConstraintViolation, OCPI 2001, REST 400 `invalid_request`) before anything is stored.
    """
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in key or contains_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(contains_nul(item) for item in value)
    return False
