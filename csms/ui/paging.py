"""Paging of the dashboard's lists (issue 15): each list shows `LIST_LIMIT` rows and a "Next page" link
that carries the store's cursor (or, for the OCPI bridge's lists, an offset) with the page's other query
arguments (search, filters), so a network of any size can be walked page by page."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

CURSOR = "cursor"  # the query argument that continues a list


def cursor_of(request: web.Request) -> str | None:
    """The page's `cursor` query argument, or None on the first page."""
    return request.query.get(CURSOR) or None


def next_url(request: web.Request, cursor: str | int | None) -> str | None:
    """The link to the next page (this path, the same query with `cursor` replaced), or None at the end."""
    if cursor is None:
        return None
    query = {k: v for k, v in request.query.items() if k != CURSOR}
    return f"{request.path}?{urlencode({**query, CURSOR: str(cursor)})}"


def first_page(request: web.Request) -> web.HTTPSeeOther:
    """The redirect for a cursor the store did not hand out (stale or edited by hand): the first page,
    with the other query arguments kept."""
    query = {k: v for k, v in request.query.items() if k != CURSOR}
    return web.HTTPSeeOther(request.path + (f"?{urlencode(query)}" if query else ""))
