"""Headers every `/api/v1` answer carries, errors included: what the middlewares decided for a request is
noted on it (`add_response_header`) and written by an `on_response_prepare` hook of the API app, which
aiohttp runs for every response of the app, whichever middleware or handler produced it."""

from __future__ import annotations

from aiohttp import web

RESPONSE_HEADERS = web.RequestKey("response_headers", dict[str, str])


def add_response_header(request: web.Request, name: str, value: str) -> None:
    """Send `name: value` with whatever answer this request gets."""
    if RESPONSE_HEADERS not in request:
        request[RESPONSE_HEADERS] = {}
    request[RESPONSE_HEADERS][name] = value


async def write_response_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The `on_response_prepare` hook: add the headers noted on the request."""
    for name, value in request.get(RESPONSE_HEADERS, {}).items():
        response.headers[name] = value
