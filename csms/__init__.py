"""The central system: OCPP server and adapters, version-neutral domain core, persistence, REST API, CLI."""

__version__ = "0.1.0"
