"""The `/ui` sub-application: sign-in, pages, the station commands and the live event stream.

Mounted by the composition root (`csms.app`) next to `/api/v1`; it reads the shared `Domain` from the root
app (`UI_DOMAIN`) and renders Jinja2 templates shipped in `csms/ui/templates`. The only script is
`static/ui.js` (plain JavaScript, no toolkit, nothing fetched from the internet).

Every page but `/ui/login` needs the session cookie (`csms.ui.signin`): without it a page redirects to
the login form and `/ui/events` or a command answers 401.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
import orjson
import structlog
from aiohttp import web

from csms.domain.core import Domain
from csms.ui import admin_pages, pages
from csms.ui.app_keys import PRINCIPAL, UI_DOMAIN, UI_HUB, UI_ROAMING, UI_SESSIONS, UI_TEMPLATES, render
from csms.ui.commands import COMMANDS, json_answer, run_command
from csms.ui.live import CLOSE, LiveHub, LiveMessage
from csms.ui.paging import cursor_of, first_page, next_url
from csms.ui.roaming import Roaming
from csms.ui.signin import COOKIE, UiSessions

log = structlog.get_logger("csms.ui")

UI_PREFIX = "/ui"
KEEPALIVE_SECONDS = 15.0  # an SSE comment this often keeps proxies from closing an idle stream

HERE = Path(__file__).parent
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def session_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Put the signed-in principal on the request; without one, pages redirect to the login form and the
    JSON endpoints answer 401. Every answer forbids framing and caching of operator data."""
    public = request.path in (f"{UI_PREFIX}/login",) or request.path.startswith(f"{UI_PREFIX}/static/")
    principal = await request.app[UI_SESSIONS].principal(request.cookies.get(COOKIE))
    if principal is None and not public:
        if request.method == "GET" and request.path != f"{UI_PREFIX}/events":
            raise web.HTTPSeeOther(f"{UI_PREFIX}/login")
        return web.json_response({"ok": False, "code": "unauthorized", "message": "sign in"}, status=401)
    if principal is not None:
        request[PRINCIPAL] = principal
    response = await handler(request)
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


async def handle_login_form(request: web.Request) -> web.Response:
    """`GET /ui/login`: the sign-in form (API key, or email and password)."""
    return render(request, "login.html", error=None)


async def handle_login(request: web.Request) -> web.Response:
    """`POST /ui/login`: sign in and go to the overview, or show the form again with an error (401)."""
    form = await request.post()
    sessions = request.app[UI_SESSIONS]
    api_key = str(form.get("api_key", "")).strip()
    email, password = str(form.get("email", "")).strip(), str(form.get("password", ""))
    cookie: str | None = None
    if api_key:
        cookie = await sessions.sign_in_with_key(api_key)
    elif email and password:
        cookie = await sessions.sign_in_with_password(email, password)
    if cookie is None:
        log.info("ui_sign_in_refused")
        return render(request, "login.html", status=401, error="Wrong API key or email and password.")
    log.info("ui_signed_in", method="api_key" if api_key else "password")
    response = web.HTTPSeeOther(f"{UI_PREFIX}/")
    response.set_cookie(
        COOKIE, cookie, httponly=True, samesite="Strict", path=UI_PREFIX, max_age=sessions.seconds,
        secure=request.secure,
    )  # fmt: skip
    raise response


async def handle_logout(request: web.Request) -> web.Response:
    """`POST /ui/logout`: forget the session and go back to the login form."""
    await request.app[UI_SESSIONS].sign_out(request.cookies.get(COOKIE))
    response = web.HTTPSeeOther(f"{UI_PREFIX}/login")
    response.del_cookie(COOKIE, path=UI_PREFIX)
    raise response


def _domain(request: web.Request) -> Domain:
    return request.app[UI_DOMAIN]


async def _overview_data(request: web.Request) -> dict[str, Any]:
    """The overview's figures for the signed-in organization, with `revenue` (incl. VAT, by currency)."""
    org_id = request[PRINCIPAL].org_id
    data = await pages.overview(_domain(request), org_id)
    hook = request.app.get(UI_ROAMING)
    revenue: dict[str, Decimal] = {}
    if hook is not None:
        failed = [e for e in await hook.outbox(org_id) if e["status"] == "failed"]
        if failed:
            data["alerts"].append(f"{len(failed)} OCPI push(es) failed: retry them under Roaming")
        for tx in data.pop("today"):
            cost = await hook.cost_breakdown(tx)
            total = Decimal(cost["total"]["incl_vat"])
            revenue[cost["currency"]] = revenue.get(cost["currency"], Decimal(0)) + total
    data.pop("today", None)
    return {**data, "revenue": revenue}


async def handle_overview(request: web.Request) -> web.Response:
    """`GET /ui/`: counts, active sessions, today's energy, the 24-hour chart and alerts."""
    return render(request, "overview.html", **await _overview_data(request))


async def handle_overview_summary(request: web.Request) -> web.Response:
    """`GET /ui/overview/summary`: the overview's counts, today's energy (kWh) and revenue and the alerts
    as JSON; the overview page fetches it when the live channel reports a change, so its figures follow
    the network without a reload (issue 15)."""
    data = await _overview_data(request)
    return web.json_response({
        "online": data["online"], "offline": data["offline"], "faulted": data["faulted"],
        "active_sessions": data["active_sessions"],
        "energy_today_kwh": f"{data['energy_today_wh'] / 1000:.1f}",
        "revenue": {currency: f"{amount:.2f}" for currency, amount in data["revenue"].items()},
        "alerts": data["alerts"],
    })  # fmt: skip


async def handle_charge_points(request: web.Request) -> web.Response:
    """`GET /ui/charge-points?q=`: the searchable station list with live connection state."""
    search = request.query.get("q", "")
    try:
        rows, after = await pages.station_list(
            _domain(request), request[PRINCIPAL].org_id, search, cursor_of(request)
        )
    except ValueError:
        raise first_page(request) from None
    return render(request, "charge_points.html", rows=rows, q=search, next_url=next_url(request, after))


async def handle_charge_point(request: web.Request) -> web.Response:
    """`GET /ui/charge-points/{charge_point_id}`: connectors, boot info, configuration, message log and
    command buttons (not for viewers); 404 for an unknown station or another organization's."""
    data = await pages.station_page(
        _domain(request), request[PRINCIPAL].org_id, request.match_info["charge_point_id"]
    )
    if data is None:
        return render(request, "not_found.html", status=404, what="charge point")
    return render(request, "charge_point.html", commands=COMMANDS, **data)


async def handle_command(request: web.Request) -> web.Response:
    """`POST /ui/charge-points/{charge_point_id}/commands/{command}` (form fields): JSON result."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    answer = await run_command(
        _domain(request),
        request[PRINCIPAL],
        request.match_info["charge_point_id"],
        request.match_info["command"],
        form,
    )
    log.info("ui_command", command=request.match_info["command"],
             charge_point_id=request.match_info["charge_point_id"], status=answer[0])  # fmt: skip
    return json_answer(answer)


async def handle_sessions(request: web.Request) -> web.Response:
    """`GET /ui/sessions?status=`: sessions with live energy and power."""
    wanted = request.query.get("status", "")
    try:
        rows, after = await pages.session_rows(
            _domain(request), request[PRINCIPAL].org_id, wanted, cursor_of(request)
        )
    except ValueError:
        raise first_page(request) from None
    return render(
        request, "sessions.html", sessions=rows, filter_status=wanted, next_url=next_url(request, after)
    )


async def handle_session(request: web.Request) -> web.Response:
    """`GET /ui/sessions/{session_id}`: the energy and power chart of one session."""
    raw = request.match_info["session_id"]
    data = None
    if raw.isdigit() and len(raw) < 18:
        data = await pages.session_page(_domain(request), request[PRINCIPAL].org_id, int(raw))
    if data is None:
        return render(request, "not_found.html", status=404, what="session")
    hook = request.app.get(UI_ROAMING)
    cost = None if hook is None else await hook.cost_breakdown(data.pop("transaction"))
    data.pop("transaction", None)
    return render(request, "session.html", cost=cost, **data)


async def handle_session_cost(request: web.Request) -> web.Response:
    """`GET /ui/sessions/{session_id}/cost`: the session's cost so far, JSON `{"currency", "total"}` (the
    sessions page refreshes its cost column with it as energy arrives); 404 without pricing."""
    raw = request.match_info["session_id"]
    hook = request.app.get(UI_ROAMING)
    tx = None
    if raw.isdigit() and len(raw) < 18:
        tx = await _domain(request).store.get_transaction(int(raw), org_id=request[PRINCIPAL].org_id)
    if tx is None or hook is None:
        return web.json_response({"code": "not_found"}, status=404)
    cost = await hook.cost_breakdown(tx)
    return web.json_response({"currency": cost["currency"], "total": cost["total"]["incl_vat"]})


async def handle_reservations(request: web.Request) -> web.Response:
    """`GET /ui/reservations`: the organization's reservations, newest first, with a form to make one."""
    try:
        rows, after = await pages.reservation_rows(
            _domain(request), request[PRINCIPAL].org_id, cursor_of(request)
        )
    except ValueError:
        raise first_page(request) from None
    stations = await pages.station_rows(_domain(request), request[PRINCIPAL].org_id)
    return render(
        request, "reservations.html", reservations=rows, stations=stations,
        notice=request.query.get("notice"), next_url=next_url(request, after),
    )  # fmt: skip


async def handle_reservation_command(request: web.Request) -> web.Response:
    """`POST /ui/reservations` (reserve: the form names the charge point) and
    `POST /ui/reservations/{reservation_id}/cancel` and `.../edit` (new id token and/or minutes from now):
    the reserve, cancel-reservation and change-reservation commands, then back to the list with the
    outcome."""
    form = {k: str(v) for k, v in (await request.post()).items()}
    domain, principal = _domain(request), request[PRINCIPAL]
    reservation_id = request.match_info.get("reservation_id")
    if reservation_id is None:
        answer = await run_command(domain, principal, form.get("charge_point_id", ""), "reserve", form)
    else:
        found = None
        if reservation_id.isdigit() and len(reservation_id) < 18:
            found = await domain.store.get_reservation(int(reservation_id), org_id=principal.org_id)
        cp = found.charge_point_id if found is not None else ""
        form = {**form, "reservation_id": reservation_id}
        command = "change-reservation" if request.path.endswith("/edit") else "cancel-reservation"
        answer = await run_command(domain, principal, cp, command, form)
    status, body = answer
    if status == 403:
        return render(request, "forbidden.html", status=403)
    raise web.HTTPSeeOther("/ui/reservations?" + urlencode({"notice": body["message"]}))


def sse_frame(message: LiveMessage) -> bytes:
    """One server-sent event (WHATWG HTML §9.2): `event:` the kind, `data:` the JSON on one line."""
    return b"event: " + message.kind.encode() + b"\ndata: " + orjson.dumps(message.data) + b"\n\n"


async def handle_events(request: web.Request) -> web.StreamResponse:
    """`GET /ui/events`: the live channel (text/event-stream) of the signed-in organization's stations."""
    domain = _domain(request)
    org_id = request[PRINCIPAL].org_id
    hub = request.app[UI_HUB]
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    await response.write(b": connected\n\n")
    queue = hub.listen()
    try:
        while True:
            try:
                message = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                await response.write(b": keepalive\n\n")
                continue
            if message is CLOSE:
                break
            # Another organization's station never reaches this stream (ADR 0012).
            if await domain.stations.org_of(message.charge_point_id) != org_id:
                continue
            await response.write(sse_frame(message))
    except ConnectionResetError:
        pass  # the browser went away
    finally:
        hub.forget(queue)
    return response


def create_ui_app(domain: Domain) -> web.Application:
    """The `/ui` sub-application for `domain`; mount it with `root.add_subapp(UI_PREFIX, ...)`.

    Its `LiveHub` subscribes to `domain.events` here, so station events are streamed from the start.
    """
    app = web.Application(middlewares=[session_middleware])
    app[UI_DOMAIN] = domain
    app[UI_SESSIONS] = UiSessions(domain.services)
    hub = LiveHub(domain.clock)
    hub.subscribe(domain.events)
    app[UI_HUB] = hub

    async def close_streams(_: web.Application) -> None:
        hub.close()

    app.on_shutdown.append(close_streams)
    app[UI_TEMPLATES] = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    app.router.add_get("/login", handle_login_form)
    app.router.add_post("/login", handle_login)
    app.router.add_post("/logout", handle_logout)
    app.router.add_get("/", handle_overview)
    app.router.add_get("/overview/summary", handle_overview_summary)
    app.router.add_get("/charge-points", handle_charge_points)
    app.router.add_get("/charge-points/{charge_point_id}", handle_charge_point)
    app.router.add_post("/charge-points/{charge_point_id}/commands/{command}", handle_command)
    app.router.add_get("/sessions", handle_sessions)
    app.router.add_get("/sessions/{session_id}", handle_session)
    app.router.add_get("/sessions/{session_id}/cost", handle_session_cost)
    app.router.add_get("/reservations", handle_reservations)
    app.router.add_post("/reservations", handle_reservation_command)
    app.router.add_post("/reservations/{reservation_id}/cancel", handle_reservation_command)
    app.router.add_post("/reservations/{reservation_id}/edit", handle_reservation_command)
    app.router.add_get("/events", handle_events)
    admin_pages.add_routes(app)
    app.router.add_static("/static", HERE / "static")
    return app


def mount_ui(root: web.Application, domain: Domain, roaming: Roaming | None = None) -> web.Application:
    """Serve the dashboard of `domain` under `/ui` on `root` (`/ui` itself redirects to `/ui/`); `roaming`
    (from the composition root) feeds the locations, tariffs, roaming pages and session costs.

    Returns:
        The `/ui` sub-application.
    """

    async def to_overview(_: web.Request) -> web.Response:
        raise web.HTTPPermanentRedirect(f"{UI_PREFIX}/")

    root.router.add_get(UI_PREFIX, to_overview)
    ui = create_ui_app(domain)
    if roaming is not None:
        ui[UI_ROAMING] = roaming
    root.add_subapp(UI_PREFIX, ui)
    return ui
