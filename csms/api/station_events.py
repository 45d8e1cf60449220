"""`/charge-points/{charge_point_id}/events`: the events a station reported (SecurityEventNotification,
NotifyEvent), newest first, filtered by kind, type and time."""

from __future__ import annotations

from aiohttp import web

from csms.api import models
from csms.api.auth import org_of
from csms.api.params import (
    choice_query,
    cursor_errors,
    get_services,
    page_params,
    registered_charge_point,
    time_query,
)
from csms.api.responses import page_response
from csms.api.routes import PAGE, STRING, Operations, Route, param
from csms.api.serialize import model_json
from csms.domain.models import StationEvent, StationEventKind

TIME = {"type": "string", "format": "date-time"}
Q_KIND = param(
    "kind",
    "query",
    {"type": "string", "enum": [k.value for k in StationEventKind]},
    "only events reported by this message",
)
Q_TYPE = param(
    "type", "query", STRING, "only this SecurityEventNotification type or NotifyEvent eventNotificationType"
)
Q_SINCE = param("since", "query", TIME, "only events that happened at or after this time (RFC 3339)")
Q_UNTIL = param("until", "query", TIME, "only events that happened before this time (RFC 3339)")
api = Operations()


def station_event_json(event: StationEvent) -> dict[str, object]:
    """One station event as the API shows it."""
    return model_json(models.StationEvent, event)


@api("GET", "/charge-points/{charge_point_id}/events", {200: models.StationEventPage}, errors=(400, 404),
     query=(Q_KIND, Q_TYPE, Q_SINCE, Q_UNTIL, *PAGE))
async def handle_list_station_events(request: web.Request) -> web.Response:
    """The events the charge point reported, newest first.

    `GET /charge-points/{charge_point_id}/events?kind=&type=&since=&until=&limit=&cursor=`: security events
    and NotifyEvent events, newest first; `since` ≤ timestamp < `until`; 404 if the charge point is unknown.
    """
    services = get_services(request)
    charge_point_id = request.match_info["charge_point_id"]
    page = page_params(request)
    kind = choice_query(request, "kind", StationEventKind)
    since, until = time_query(request, "since"), time_query(request, "until")
    await services.writer.sync()
    await registered_charge_point(services, charge_point_id, org_id=org_of(request))
    with cursor_errors(page):
        events, next_cursor = await services.store.list_station_events(
            charge_point_id,
            limit=page.limit,
            cursor=page.cursor,
            kind=kind,
            type=request.query.get("type") or None,
            since=since,
            until=until,
        )
    return page_response(request, [station_event_json(e) for e in events], next_cursor, page.limit)


ROUTES: tuple[Route, ...] = tuple(api.routes)
