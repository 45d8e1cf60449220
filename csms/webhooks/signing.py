"""How a delivery is signed, and how a receiver checks it (ADR 0011).

Each POST carries

- `X-Webhook-Id`: the event id (the same on every retry of the delivery: receivers drop repeats by it);
- `X-Webhook-Timestamp`: when this attempt was sent, in unix seconds;
- `X-Webhook-Signature: sha256=<hex>`: HMAC-SHA256, keyed with the webhook's secret, of the bytes
  `<timestamp>.<body>` (the timestamp header's decimal text, a full stop, the raw request body).

A receiver recomputes the HMAC over the body exactly as received, compares it in constant time and
rejects timestamps too far from its own clock (replays). Signing the timestamp with the body means an old
delivery cannot be replayed with a fresh timestamp.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_PREFIX = "sha256="


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Webhook-Signature` value of `body` sent at `timestamp` (unix seconds) with `secret`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify(secret: str, timestamp: str, body: bytes, given: str) -> bool:
    """True if `given` is the signature of `body` at `timestamp` (the header texts) with `secret`."""
    if not timestamp.isascii() or not timestamp.isdigit():
        return False
    return hmac.compare_digest(signature(secret, int(timestamp), body), given)
