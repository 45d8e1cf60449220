"""JSON answers (written by their route's model) and paginated list answers with an RFC 8288
`Link: rel="next"` header."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web


class JsonReply(web.Response):
    """A JSON answer whose body is not written yet: the route serving it (`csms.api.routes.Route.serve`)
    writes `data` with the model it documents for the status, so what is sent is what is documented."""

    def __init__(self, data: Any, *, status: int, headers: Mapping[str, str] | None) -> None:
        super().__init__(status=status, content_type="application/json", headers=headers)
        self.data = data


def json_response(data: Any, *, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    """A JSON answer with `data` (keys and values already JSON types), written by the serving route with
    its response model for `status`."""
    return JsonReply(data, status=status, headers=headers)


def created(request: web.Request, data: Any, route_name: str, **path: str) -> web.Response:
    """201 with `data` and a `Location` header: the URL of the route named `route_name`, `path` filled in."""
    url = request.app.router[route_name].url_for(**path)
    return json_response(data, status=201, headers={"Location": str(url)})


def page_response(
    request: web.Request, items: list[dict[str, Any]], next_cursor: str | None, limit: int
) -> web.Response:
    """`{"items": [...], "next_cursor": str|null}`, plus a `Link` header to the next page when there is one.

    The link keeps the request's other query parameters (filters) and is relative to the server, so it stays
    right behind a reverse proxy (RFC 8288 resolves it against the request URL).
    """
    headers: dict[str, str] = {}
    if next_cursor is not None:
        url = request.rel_url.update_query(cursor=next_cursor, limit=str(limit))
        headers["Link"] = f'<{url}>; rel="next"'
    return json_response({"items": items, "next_cursor": next_cursor}, headers=headers)
