"""The central system: OCPP server and per-version adapters, version-neutral domain core, persistence, REST API."""

__version__ = "0.1.0"
