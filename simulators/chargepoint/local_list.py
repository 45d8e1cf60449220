"""The simulated station's local authorization list (1.6 and 2.0.1 SendLocalList / GetLocalListVersion).

What happens next: the version handlers answer GetLocalListVersion with `version` and apply SendLocalList
with `apply_update`; while the station has no websocket connection, `authorize_offline` decides a start
from the list (1.6 LocalAuthorizeOffline + LocalAuthListEnabled, 2.0.1 LocalAuthListCtrlr Enabled).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class LocalList:
    """Entries by id token: the idTagInfo / idTokenInfo the CSMS sent, or absent."""

    version: int = 0
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    enabled: bool = True

    def apply_update(
        self, version: int, update_type: str, items: list[tuple[str, dict[str, Any] | None]]
    ) -> str:
        """Apply one SendLocalList; the answer's status. A Differential update whose version is not
        above the list's is VersionMismatch (1.6 §5.15; 2.0.1 D01.FR.19); a Full update replaces the
        list; an entry without info is removed from it."""
        if not self.enabled:
            return "Failed"
        if update_type == "Differential" and version <= self.version:
            return "VersionMismatch"
        entries = {} if update_type == "Full" else dict(self.entries)
        for id_token, info in items:
            if info is None:
                entries.pop(id_token, None)
            else:
                entries[id_token] = info
        self.entries = entries
        self.version = version
        return "Accepted"

    def authorize_offline(self, id_token: str) -> bool:
        """Whether a start with `id_token` is allowed while disconnected: only an Accepted entry."""
        info = self.entries.get(id_token)
        return self.enabled and info is not None and info.get("status") == "Accepted"
