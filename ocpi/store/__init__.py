"""The OCPI bridge's storage: the `OcpiStore` protocol, its SQL implementation on the CSMS database, the
tables, and how JSON values are kept."""

from __future__ import annotations

from ocpi.store.protocol import OcpiStore

__all__ = ["OcpiStore"]
