"""The operator REST API (aiohttp) under `/api/v1`: charge points and their commands, configuration and
charging profiles, sessions, reservations, id tokens and message logs, described by `/api/v1/openapi.json`."""

from csms.api.app import create_app

__all__ = ["create_app"]
