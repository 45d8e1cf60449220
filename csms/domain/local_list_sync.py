"""Keeping stations' local authorization lists in sync (issue 14, item 5; ADR 0016): the per-station record
the CSMS keeps, its store port, and `LocalListService`, which sends SendLocalList / GetLocalListVersion.

What happens next: `LocalListService.sync(charge_point_id)` plans the messages that bring the station from
what it last accepted to its organization's id tokens now (`csms.domain.local_list.plan_update`), sends them
and stores what the station accepted. Token changes (`IdTokensChanged`) mark the organization's connected
stations for a Differential update, sent by a background task after a short debounce; a station that
connects is asked GetLocalListVersion and gets a Full update when its version is not ours.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from csms.domain.local_list import LocalListEntry, LocalListState


@dataclass(slots=True)
class StationLocalList:
    """What the CSMS knows of one station's local list.

    Attributes:
        version: the version of the last list the station accepted (0: none).
        entries: that list's entries, by id token.
        status: the station's answer to the last SendLocalList (Accepted, Failed, NotSupported,
            VersionMismatch), or how the last sync ended otherwise (e.g. `offline`); None before any.
        synced_at: when the last sync ended (UTC).
    """

    charge_point_id: str
    version: int = 0
    entries: dict[str, LocalListEntry] = field(default_factory=dict)
    status: str | None = None
    synced_at: datetime | None = None

    @property
    def state(self) -> LocalListState:
        """The planning state (`plan_update`) of this record."""
        return LocalListState(self.version, dict(self.entries))


class LocalListStore(Protocol):
    """Per-station local list records (table `local_lists`)."""

    async def get_local_list(self, charge_point_id: str) -> StationLocalList | None:
        """The station's record, or None when nothing was ever synced."""
        ...

    async def put_local_list(self, local_list: StationLocalList, org_id: str) -> None:
        """Create or replace the station's record (owned by `org_id`, the station's organization)."""
        ...
