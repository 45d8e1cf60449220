"""How the OCPI store keeps JSON values in Text columns (and the test fake keeps copies): exact Decimals."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise TypeError(f"{value} is not a JSON number")
        # A JSON number with exactly the Decimal's digits (no detour through float on the way in).
        return orjson.Fragment(str(value))
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dump_json(value: Any) -> str:
    """Serialize an OCPI JSON value for storage.

    Strings stay strings (a price given as "0.25" comes back as "0.25"); a Decimal is written as a JSON number
    with exactly its digits and is read back by `load_json` as the float whose repr is those digits, so
    `Decimal(str(x))` gives the same value back (OCPI numbers have at most 4 decimals: no precision is lost).

    Raises:
        TypeError: the value holds something that is not JSON (or a NaN/infinite Decimal).
    """
    return orjson.dumps(value, default=_json_default).decode()


def load_json(text: str) -> Any:
    """Parse what `dump_json` wrote: JSON-native types only (dict, list, str, int, float, bool, None)."""
    return orjson.loads(text)


def load_optional_json(text: str | None) -> Any:
    """`load_json`, with NULL as None."""
    return None if text is None else load_json(text)


def dump_optional_json(value: Any) -> str | None:
    """`dump_json`, with None as NULL."""
    return None if value is None else dump_json(value)


def load_json_list(text: str | None) -> Any:
    """`load_json` of a list column, with NULL as []."""
    return [] if text is None else load_json(text)
