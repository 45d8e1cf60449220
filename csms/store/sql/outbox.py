"""What makes an outbox entry due, shared by the outboxes on SQL (webhook deliveries, OCPI pushes): both
deliver in order per object, retry with back-off and let several processes claim entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists
from sqlalchemy.orm import aliased

from csms.domain.clock import to_utc


def due(row_type: Any, entry: Any, owner: str, pending: str, now: datetime) -> list[ColumnElement[bool]]:
    """Conditions of a due entry of the outbox table `row_type` as `entry` (the table or an alias of it):
    status `pending`, its retry time come, unclaimed or its claim run out, and no earlier pending entry
    of its (`owner` column, object_key), claimed or not: entries of one object go in order."""
    at = to_utc(now)
    earlier = aliased(row_type)
    blocked = exists().where(
        getattr(earlier, owner) == getattr(entry, owner),
        earlier.object_key == entry.object_key,
        earlier.status == pending,
        earlier.id < entry.id,
    )
    return [
        entry.status == pending,
        entry.next_attempt_at.is_(None) | (entry.next_attempt_at <= at),
        entry.claimed_until.is_(None) | (entry.claimed_until <= at),
        ~blocked,
    ]
