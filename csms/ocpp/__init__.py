"""OCPP-J transport: Sans-I/O framing core, schema validation, the websocket server and the
per-version adapters."""
