"""The OCPI bridge's storage: the `OcpiStore` protocol, its SQL implementation on the CSMS database, the
tables, and how JSON values are kept."""

from __future__ import annotations

from csms.domain.ports import Pagination
from ocpi.store.protocol import FIRST_PAGE, OcpiStore

__all__ = ["FIRST_PAGE", "OcpiStore", "Pagination"]
