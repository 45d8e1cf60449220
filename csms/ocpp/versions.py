"""The OCPP versions this CSMS speaks, by websocket subprotocol name (OCPP-J 1.6, 2.0.1 Part 4)."""

from __future__ import annotations

from enum import StrEnum


class OcppVersion(StrEnum):
    """An OCPP version; the value is its websocket subprotocol name."""

    V16 = "ocpp1.6"
    V201 = "ocpp2.0.1"

    @property
    def number(self) -> str:
        """The version in the domain's words and the REST API's: "1.6" or "2.0.1"."""
        return self.value.removeprefix("ocpp")
