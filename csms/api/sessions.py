"""`/sessions`: charging sessions (transactions) newest first, one session with its meter samples, and
remote start / stop.

A remote start answers 202 once the station accepted it: the transaction follows when the driver plugs
in. The answer carries `remote_start_id`; the session that follows carries the same id, so
`GET /sessions?remote_start_id=N` finds it (2.0.1 sends it in TransactionEvent; for 1.6 the CSMS matches
the StartTransaction by station, id token and connector).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from aiohttp import web

from csms.api import models
from csms.api.auth import Role, org_of
from csms.api.errors import ApiError, found, invalid_request
from csms.api.expand import SESSION_EXPANSIONS, expand, expand_query, expansions, location_charge_points
from csms.api.params import (
    MAX_ID,
    SESSION_COST,
    PageParams,
    choice_query,
    cursor_errors,
    get_domain,
    get_services,
    id_token_type_for,
    int_path_param,
    int_query,
    page_params,
    pick_evse,
    read_model,
    registered_charge_point,
    time_query,
)
from csms.api.responses import json_response, page_response
from csms.api.results import command_failure, command_rejected, command_response, reservation_failure
from csms.api.routes import COMMAND_ERRORS, PAGE, Q_CHARGE_POINT, STRING, JsonSchema, Operations, Route, param
from csms.api.schemas import SessionClose, SessionStart
from csms.api.serialize import command_json, meter_sample_json, session_json
from csms.domain.clock import isoformat_z
from csms.domain.models import Transaction, TransactionStatus
from csms.domain.ports import NotFound, StationQuery
from csms.domain.reservations import ReservationError
from csms.domain.services import Services
from csms.domain.sessions import StationConnected
from csms.domain.transactions import TransactionCompleted

Q_STATUS = param("status", "query", {"type": "string", "enum": ["active", "completed"]}, "only these")
SESSION_SORTS = ["-started_at", "started_at", "-id", "id"]
Q_SORT = param(
    "sort", "query", {"type": "string", "enum": SESSION_SORTS, "default": "-id"},
    "order: `started_at` or `id`, `-` first for descending (ties by id)",
)
TIME: JsonSchema = {"type": "string", "format": "date-time"}
Q_FROM = param("from", "query", TIME, "only sessions started at or after")
Q_TO = param("to", "query", TIME, "only sessions started before")
Q_LOCATION = param("location_id", "query", STRING, "only sessions at this location's charge points")
Q_EXPAND = expand_query(SESSION_EXPANSIONS)
Q_REMOTE_START = param(
    "remote_start_id",
    "query",
    {"type": "integer", "minimum": 0},
    "the session a remote start led to; a page may then hold fewer than `limit` items",
)
api = Operations()

# With `remote_start_id`, the store is read in pages of this size and filtered here (the store has no such
# filter). The transaction of a remote start is among the newest, so the first page nearly always has it;
# one request reads at most SCAN_BUDGET rows and hands back a cursor to continue from.
SCAN_PAGE = 500
SCAN_BUDGET = 5000


async def _list_by_remote_start(
    services: Services,
    remote_start_id: int,
    query: StationQuery[TransactionStatus],
    page: PageParams,
) -> tuple[list[Transaction], str | None]:
    """Sessions with `remote_start_id` in the order `query` sorts, and the store cursor right after the last
    row read."""
    found: list[Transaction] = []
    cursor = page.cursor
    scanned = 0
    while True:
        rows, next_cursor = await services.store.list_transactions(limit=SCAN_PAGE, **at(query, cursor))
        scanned += len(rows)
        hits = [i for i, tx in enumerate(rows) if tx.remote_start_id == remote_start_id]
        need = page.limit - len(found)
        if len(hits) >= need:
            cut = hits[need - 1] + 1
            if cut < len(rows):
                # Read the same rows again up to the last match, so the cursor resumes right after it.
                rows, next_cursor = await services.store.list_transactions(limit=cut, **at(query, cursor))
            found += [tx for tx in rows if tx.remote_start_id == remote_start_id][:need]
            return found, next_cursor
        found += [rows[i] for i in hits]
        if next_cursor is None or scanned >= SCAN_BUDGET:
            return found, next_cursor
        cursor = next_cursor


def at(query: StationQuery[TransactionStatus], cursor: str | None) -> StationQuery[TransactionStatus]:
    """`query` continued from `cursor`."""
    continued = query.copy()
    continued["cursor"] = cursor
    return continued


async def session_query(request: web.Request) -> StationQuery[TransactionStatus]:
    """The filters and sort of a session listing: `charge_point_id`, `status`, `from`, `to`,
    `location_id`, `sort`.

    Raises:
        ApiError: 400 naming a bad parameter; 404 for an unknown location.
    """
    sort = request.query.get("sort") or None
    if sort is not None and sort not in SESSION_SORTS:
        raise invalid_request("sort", f"must be one of {', '.join(SESSION_SORTS)}")
    return {
        "charge_point_id": request.query.get("charge_point_id") or None,
        "status": choice_query(request, "status", TransactionStatus),
        "time_from": time_query(request, "from"),
        "time_to": time_query(request, "to"),
        "charge_point_ids": await location_charge_points(request),
        "sort": sort,
        "org_id": org_of(request),  # only the caller's organization's sessions (tenancy)
    }


@api("GET", "/sessions", {200: models.SessionPage}, errors=(400, 404),
     query=(Q_CHARGE_POINT, Q_STATUS, Q_FROM, Q_TO, Q_LOCATION, Q_SORT, Q_REMOTE_START, Q_EXPAND, *PAGE))
async def handle_list_sessions(request: web.Request) -> web.Response:
    """List sessions, newest first.

    `GET /sessions?charge_point_id=&status=active|completed&from=&to=&location_id=&sort=&remote_start_id=
    &expand=&limit=&cursor=`: a page of sessions, newest first unless `sort` says otherwise (`started_at`,
    `-started_at`, `id`, `-id`); `from`/`to` bound `started_at` (from inclusive, to exclusive); 404 for an
    unknown `location_id`.

    With `remote_start_id` a page may hold fewer than `limit` items (even none) while `next_cursor` is
    set: the filter reads at most a bounded number of sessions per request.
    """
    services = get_services(request)
    page = page_params(request)
    query = await session_query(request)
    wanted = expansions(request, SESSION_EXPANSIONS)
    remote_start_id = int_query(request, "remote_start_id", maximum=2**31 - 1)
    await services.writer.sync()
    with cursor_errors(page):
        if remote_start_id is None:
            sessions, next_cursor = await services.store.list_transactions(
                limit=page.limit, **at(query, page.cursor)
            )
        else:
            sessions, next_cursor = await _list_by_remote_start(services, remote_start_id, query, page)
    items = [session_json(tx) for tx in sessions]
    await expand(request, items, wanted, session_ids=True)
    return page_response(request, items, next_cursor, page.limit)


CSV_COLUMNS = (
    "id", "charge_point_id", "evse_id", "connector_id", "transaction_id", "status", "id_token", "started_at",
    "stopped_at", "energy_wh", "meter_start_wh", "meter_stop_wh", "stop_reason", "cost_excl_vat",
    "cost_incl_vat", "currency",
)
CSV_PAGE = 500


def _csv_time(value: datetime | None) -> str:
    return "" if value is None else isoformat_z(value)


def _csv_line(values: Iterable[object]) -> bytes:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(["" if v is None else v for v in values])
    return out.getvalue().encode()


@api("GET", "/sessions/export.csv", {200: None}, errors=(400, 404), media_type="text/csv",
     query=(Q_FROM, Q_TO, Q_CHARGE_POINT, Q_STATUS, Q_LOCATION),
     description="RFC 4180 CSV, streamed: a header row (" + ", ".join(CSV_COLUMNS) + "), then one row per "
                 "session in `started_at` order; times ISO 8601 UTC (`Z`), energy in integer Wh, costs as "
                 "exact decimals (empty when this server prices no sessions).")
async def handle_export_sessions(request: web.Request) -> web.StreamResponse:
    """Export sessions as CSV.

    `GET /sessions/export.csv?from=&to=`: every session started in [from, to), oldest first, streamed page
    by page (the whole export is never held in memory)."""
    services = get_services(request)
    query = await session_query(request)
    query["sort"] = "started_at"
    cost_of = request.config_dict.get(SESSION_COST)
    await services.writer.sync()
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="sessions.csv"',
        }
    )
    await response.prepare(request)
    await response.write(_csv_line(CSV_COLUMNS))
    cursor: str | None = None
    while True:
        rows, cursor = await services.store.list_transactions(limit=CSV_PAGE, **at(query, cursor))
        lines = []
        for tx in rows:
            body = session_json(tx)
            cost = await cost_of(tx) if cost_of is not None else None
            lines.append(_csv_line((
                tx.id, tx.charge_point_id, tx.evse_id, tx.connector_id, tx.ocpp_transaction_id,
                str(tx.status), tx.id_token, _csv_time(tx.started_at), _csv_time(tx.stopped_at),
                body["energy_wh"], tx.meter_start_wh, tx.meter_stop_wh, tx.stop_reason,
                None if cost is None else format(cost.excl_vat, "f"),
                None if cost is None else format(cost.incl_vat, "f"),
                None if cost is None else cost.currency,
            )))
        await response.write(b"".join(lines))
        if cursor is None:
            break
    await response.write_eof()
    return response


def session_completed(tx: Transaction) -> ApiError:
    """409 `session_completed`: the session already ended, so it cannot be stopped or given a profile."""
    return ApiError(409, "session_completed", f"session {tx.id} is already completed", {"session_id": tx.id})


async def _get_transaction(services: Services, session_id: int, org_id: str) -> Transaction:
    await services.writer.sync()
    tx = await services.store.get_transaction(session_id, org_id=org_id) if session_id <= MAX_ID else None
    return found(tx, f"session {session_id}")


@api("GET", "/sessions/{session_id}", {200: models.SessionDetail}, errors=(400, 404), query=(Q_EXPAND,))
async def handle_get_session(request: web.Request) -> web.Response:
    """One session with its meter samples and cost.

    `GET /sessions/{session_id}`: one session with `meter_samples` in time order and `cost` so far (priced
    now while it runs, the CDR's once it ended; `SESSION_COST`); 404 when unknown."""
    services = get_services(request)
    wanted = expansions(request, SESSION_EXPANSIONS)
    tx = await _get_transaction(services, int_path_param(request, "session_id"), org_of(request))
    body = session_json(tx)
    await expand(request, [body], wanted, session_ids=True)
    body["meter_samples"] = [meter_sample_json(s) for s in await services.store.list_meter_samples(tx.id)]
    cost_of = request.config_dict.get(SESSION_COST)
    cost = await cost_of(tx) if cost_of is not None else None
    body["cost"] = None if cost is None else {
        "excl_vat": format(cost.excl_vat, "f"),
        "incl_vat": format(cost.incl_vat, "f"),
        "currency": cost.currency,
        "final": cost.final,
    }
    return json_response(body)


@api("POST", "/sessions", {202: models.SessionStarted}, errors=COMMAND_ERRORS, body=SessionStart,
     description="202 once the station accepted; 409 `command_rejected` (the station's result in "
                 "`details.command`) when it did not, `connector_reserved` when the EVSE is reserved "
                 "for another id token.")
async def handle_start_session(request: web.Request) -> web.Response:
    """Remote start.

    `POST /sessions`: remote start; 202 `{"command", "remote_start_id", "session_id"}` once the station
    accepted (`session_id` is null until the station reports the transaction).

    Errors: 400, 404 unknown charge point, 409 `connector_reserved` (reserved for another id token),
    `command_rejected` (the station said no; its result is in details), `charge_point_offline`,
    `not_supported`; 502 CALLERROR; 504 no answer.
    """
    domain = get_domain(request)
    services = domain.services
    body = await read_model(request, SessionStart)
    evse_id = pick_evse(body.evse_id, body.connector_id) or None
    org_id = org_of(request)
    await registered_charge_point(services, body.charge_point_id, org_id=org_id)
    id_token_type = await id_token_type_for(services, body.id_tag, body.id_token_type, org_id=org_id)
    try:
        await domain.reservations.check_start(body.charge_point_id, evse_id, body.id_tag, body.group_id_token)
    except ReservationError as exc:
        raise reservation_failure(exc) from None
    started = await domain.sessions.start(
        body.charge_point_id,
        body.id_tag,
        evse_id=evse_id,
        id_token_type=id_token_type,
        group_id_token=body.group_id_token,
    )
    failure = command_failure(started.result, body.charge_point_id)
    if failure is not None:
        raise failure
    if not started.result.accepted:
        raise command_rejected(started.result, body.charge_point_id, remote_start_id=started.remote_start_id)
    return json_response(
        {
            "command": command_json(started.result),
            "remote_start_id": started.remote_start_id,
            "session_id": started.transaction.id if started.transaction is not None else None,
        },
        status=202,
    )


@api("POST", "/sessions/{session_id}/stop", {202: models.CommandResponse}, errors=COMMAND_ERRORS,
     description="409 `session_completed` for a completed session, `command_rejected` when the station "
                 "refused.")
async def handle_stop_session(request: web.Request) -> web.Response:
    """Remote stop.

    `POST /sessions/{session_id}/stop`: remote stop; 202 `{"command"}` once the station accepted (the
    session completes when the station reports the stop).

    Errors: 404 unknown session, 409 `session_completed`, `command_rejected` (the station said no),
    `charge_point_offline`, `not_supported`; 502 CALLERROR; 504 no answer.
    """
    domain = get_domain(request)
    tx = await _get_transaction(domain.services, int_path_param(request, "session_id"), org_of(request))
    if tx.status is TransactionStatus.COMPLETED:
        raise session_completed(tx)
    try:
        result = await domain.sessions.stop(tx)
    except ValueError:  # completed between the read above and the stop
        raise session_completed(tx) from None
    failure = command_failure(result, tx.charge_point_id)
    if failure is not None:
        raise failure
    if not result.accepted:
        raise command_rejected(result, tx.charge_point_id, session_id=tx.id)
    return command_response(result, tx.charge_point_id, status=202)


@api("POST", "/sessions/{session_id}/close", {200: models.Session}, errors=(400, 404, 409),
     role=Role.ADMIN, body=SessionClose,
     description="409 `session_completed` for a completed session, `charge_point_connected` while the "
                 "station is connected (unless `force`).")
async def handle_close_session(request: web.Request) -> web.Response:
    """Close a stale session (operator).

    `POST /sessions/{session_id}/close` `{"reason", "force"}`: the session is stopped now with `reason`,
    its energy up to the last meter value the station sent, and ends like a station-reported stop (OCPI
    pushes it COMPLETED with a CDR); 200 with the closed session. For a station that went away for good
    right after starting a session, which a remote stop cannot reach.

    Errors: 404 unknown session, 409 `session_completed`, 409 `charge_point_connected` while the station is
    connected (it can still report the stop; ask it with a remote stop, or pass `force: true` when it lost
    track of the session).
    """
    domain = get_domain(request)
    session_id = int_path_param(request, "session_id")
    body = await read_model(request, SessionClose)
    # Another organization's session is as unknown as one that does not exist.
    if (
        session_id > MAX_ID
        or await domain.services.store.get_transaction(session_id, org_id=org_of(request)) is None
    ):
        raise found(None, f"session {session_id}")
    try:
        tx = await domain.sessions.close(session_id, body.reason, force=body.force)
    except NotFound:
        raise found(None, f"session {session_id}") from None
    except TransactionCompleted as exc:
        raise session_completed(exc.transaction) from None
    except StationConnected as exc:
        raise ApiError(
            409,
            "charge_point_connected",
            f"charge point {exc.args[0]!r} is connected: it can still report the end of session "
            f"{session_id}; stop it remotely, or close it with force",
            {"session_id": session_id, "charge_point_id": exc.args[0]},
        ) from None
    return json_response(session_json(tx))


ROUTES: tuple[Route, ...] = tuple(api.routes)
