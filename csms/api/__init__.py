"""The operator REST API (aiohttp): charge points, sessions, id tokens and message logs under `/api/v1`."""

from csms.api.app import create_app

__all__ = ["create_app"]
