"""`/charge-points/{charge_point_id}/messages`: a charge point's OCPP-J frame log, newest first."""

from __future__ import annotations

from aiohttp import web

from csms.api import models
from csms.api.auth import org_of
from csms.api.params import cursor_errors, get_services, page_params, registered_charge_point
from csms.api.responses import page_response
from csms.api.routes import PAGE, Operations, Route
from csms.api.serialize import frame_json

api = Operations()


@api("GET", "/charge-points/{charge_point_id}/messages", {200: models.FramePage}, errors=(400, 404),
     query=PAGE)
async def handle_list_messages(request: web.Request) -> web.Response:
    """The charge point's OCPP-J frame log, newest first.

    `GET /charge-points/{charge_point_id}/messages?limit=&cursor=`: logged frames; 404 if unknown."""
    services = get_services(request)
    charge_point_id = request.match_info["charge_point_id"]
    page = page_params(request)
    await services.writer.sync()
    await registered_charge_point(services, charge_point_id, org_id=org_of(request))
    with cursor_errors(page):
        frames, next_cursor = await services.store.list_frames(
            charge_point_id, limit=page.limit, cursor=page.cursor
        )
    return page_response(request, [frame_json(f) for f in frames], next_cursor, page.limit)


ROUTES: tuple[Route, ...] = tuple(api.routes)
