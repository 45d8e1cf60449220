"""`/sessions`: charging sessions (transactions) newest first, and one session with its meter samples."""

from __future__ import annotations

from aiohttp import web

from csms.api.errors import invalid_request, not_found
from csms.api.params import cursor_errors, get_services, int_path_param, page_params
from csms.api.responses import json_response, page_response
from csms.api.serialize import meter_sample_json, session_json
from csms.domain.models import TransactionStatus

# Largest id a 64-bit signed integer column holds; a larger one cannot exist.
_MAX_ID = 2**63 - 1


def _status_filter(request: web.Request) -> TransactionStatus | None:
    raw = request.query.get("status")
    if raw is None:
        return None
    try:
        return TransactionStatus(raw)
    except ValueError:
        choices = ", ".join(s.value for s in TransactionStatus)
        raise invalid_request("status", f"must be one of {choices}") from None


async def handle_list_sessions(request: web.Request) -> web.Response:
    """`GET /sessions?charge_point_id=&status=active|completed&limit=&cursor=`: a page of sessions."""
    services = get_services(request)
    page = page_params(request)
    status = _status_filter(request)
    charge_point_id = request.query.get("charge_point_id") or None
    await services.writer.sync()
    with cursor_errors(page):
        sessions, next_cursor = await services.store.list_transactions(
            charge_point_id=charge_point_id, status=status, limit=page.limit, cursor=page.cursor
        )
    return page_response(request, [session_json(tx) for tx in sessions], next_cursor, page.limit)


async def handle_get_session(request: web.Request) -> web.Response:
    """`GET /sessions/{session_id}`: one session with `meter_samples` in time order; 404 when unknown."""
    services = get_services(request)
    session_id = int_path_param(request, "session_id")
    await services.writer.sync()
    tx = await services.store.get_transaction(session_id) if session_id <= _MAX_ID else None
    if tx is None:
        raise not_found(f"session {session_id}")
    body = session_json(tx)
    body["meter_samples"] = [meter_sample_json(s) for s in await services.store.list_meter_samples(tx.id)]
    return json_response(body)


def add_routes(app: web.Application) -> None:
    """Register the session routes on the API sub-application."""
    app.router.add_get("/sessions", handle_list_sessions, name="sessions")
    app.router.add_get("/sessions/{session_id}", handle_get_session, name="session")
