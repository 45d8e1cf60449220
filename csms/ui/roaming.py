"""What the dashboard reads from the OCPI bridge (locations, tariffs, partners, the push outbox, session
costs), as a `Roaming` hook the composition root installs (`ocpi.admin_api.dashboard`), the way the REST
API gets its `Related` hook: `csms.ui` never imports `ocpi`. Without the hook those pages say roaming is
not configured and sessions show no cost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from csms.domain.models import Transaction

JsonObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Roaming:
    """The bridge's records for one organization (`org_id` arguments), as the REST API's JSON objects."""

    # A session's cost breakdown (`GET /sessions/{id}/cost-breakdown`'s body).
    cost_breakdown: Callable[[Transaction], Awaitable[JsonObject]]
    # One page of locations or tariffs from an offset: (rows, the next page's offset or None at the end).
    locations: Callable[[str, int], Awaitable[tuple[list[JsonObject], int | None]]]
    tariffs: Callable[[str, int], Awaitable[tuple[list[JsonObject], int | None]]]
    partners: Callable[[str], Awaitable[list[JsonObject]]]
    outbox: Callable[[str], Awaitable[list[JsonObject]]]
    # Send a failed push again: None when done, else why not (`not_found`, `outbox_entry_not_failed`).
    retry_push: Callable[[str, int], Awaitable[str | None]]
    # Create (True) or replace (False) a tariff or location from the REST body: None when saved, else
    # what is wrong, in words for the page.
    save_tariff: Callable[[str, JsonObject, bool], Awaitable[str | None]]
    save_location: Callable[[str, JsonObject, bool], Awaitable[str | None]]
