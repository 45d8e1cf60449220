"""The dashboard's HTTP surface without a browser: sign-in and its cookie, role and organization checks of
pages and commands, and the organization filter of the live event stream. The real CSMS on free ports,
plain aiohttp clients."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from html import unescape
from pathlib import Path

import aiohttp
import orjson
import pytest

from csms.app import Csms
from csms.config import UiConfig
from csms.domain.clock import utcnow
from csms.domain.events import StationConnectionChanged, TransactionMeterAdvanced
from csms.domain.identity import Organization
from csms.domain.models import (
    ChargePoint,
    IdToken,
    NewTransaction,
    Reservation,
    ReservationStatus,
    Transaction,
    TransactionStatus,
)
from csms.domain.secrets import hash_secret, new_api_key
from csms.ui.live import LiveHub, session_energy_wh
from csms.ui.pages import LIST_LIMIT
from ocpi.models import Location, OutboxEntry, OutboxStatus, Partner, PartnerStatus, Tariff
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import StartCsms, e2e_config, ocpp_url
from tests.utils import MS


@pytest.fixture
async def csms(start_csms: StartCsms) -> Csms:
    """A CSMS with one station in org-a and one in org-b."""
    csms = await start_csms()
    await csms.domain.stations.register(ChargePoint("CP-A", org_id="org-a"))
    await csms.domain.stations.register(ChargePoint("CP-B", org_id="org-b"))
    return csms


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """A client that keeps cookies (also for 127.0.0.1) and does not follow redirects by itself."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


def base(csms: Csms) -> str:
    return f"http://127.0.0.1:{csms.http_port}/ui"


async def sign_in(
    http: aiohttp.ClientSession, csms: Csms, role: str, org_id: str = "org-a"
) -> aiohttp.ClientResponse:
    key, prefix = new_api_key()
    await csms.services.store.add_api_key(
        f"ui-{role}", prefix, hash_secret(key, rounds=4), role, org_id=org_id
    )
    async with http.post(f"{base(csms)}/login", data={"api_key": key}, allow_redirects=False) as resp:
        return resp


async def test_login_form_has_the_stable_hooks(csms: Csms, http: aiohttp.ClientSession) -> None:
    """`/ui/login` is a form with an `api_key` input, email and password, and a submit button."""
    async with http.get(f"{base(csms)}/login") as resp:
        assert resp.status == 200
        html = await resp.text()
    for hook in ('name="api_key"', 'name="email"', 'name="password"', 'type="submit"', 'action="/ui/login"'):
        assert hook in html


async def test_pages_need_a_session(csms: Csms, http: aiohttp.ClientSession) -> None:
    """Without the cookie a page redirects to the login form; the event stream and commands answer 401."""
    for path in ("/", "/charge-points", "/charge-points/CP-A", "/sessions", "/reservations"):
        async with http.get(base(csms) + path, allow_redirects=False) as resp:
            assert (resp.status, resp.headers["Location"]) == (303, "/ui/login"), path
    async with http.get(f"{base(csms)}/events") as resp:
        assert resp.status == 401
    async with http.post(f"{base(csms)}/charge-points/CP-A/commands/reset") as resp:
        assert resp.status == 401


async def test_wrong_key_is_refused(csms: Csms, http: aiohttp.ClientSession) -> None:
    """A wrong key shows the form again (401) and sets no cookie."""
    async with http.post(f"{base(csms)}/login", data={"api_key": "csms_nope_nope"}) as resp:
        assert resp.status == 401
        assert "Wrong API key" in await resp.text()
        assert "csms_ui" not in resp.cookies


async def test_session_cookie_is_http_only_strict_and_stored_as_digest(
    csms: Csms, http: aiohttp.ClientSession
) -> None:
    """Signing in sets an HttpOnly, SameSite=Strict cookie for /ui whose value is not kept in clear;
    signing out ends it."""
    resp = await sign_in(http, csms, "admin")
    assert (resp.status, resp.headers["Location"]) == (303, "/ui/")
    morsel = resp.cookies["csms_ui"]
    assert morsel["httponly"] and morsel["samesite"] == "Strict" and morsel["path"] == "/ui"
    # Signed, not stored: the value names the key by prefix and carries no secret.
    payload, _, signature = morsel.value.partition(".")
    assert signature and "csms_" not in morsel.value
    async with http.get(f"{base(csms)}/charge-points") as page:
        assert page.status == 200
        assert 'data-charge-point-id="CP-A"' in await page.text()
    async with http.post(f"{base(csms)}/logout", allow_redirects=False) as out:
        assert out.status == 303
    async with http.get(f"{base(csms)}/", allow_redirects=False, cookies={"csms_ui": morsel.value}) as again:
        assert again.status == 303  # the old cookie no longer signs in


async def test_email_and_password_sign_in(csms: Csms, http: aiohttp.ClientSession) -> None:
    """A user signs in with email and password and acts in their organization with their role."""
    store = csms.services.store
    await store.add_organization(Organization("org-a", "A", "DE", "a@example.com"))
    user = await store.add_user("op@example.com", "Op", hash_secret("s3cret-pass", rounds=4))
    await store.set_member("org-a", user.id, "viewer")
    async with http.post(
        f"{base(csms)}/login", data={"email": "op@example.com", "password": "wrong"}, allow_redirects=False
    ) as resp:
        assert resp.status == 401
    async with http.post(
        f"{base(csms)}/login",
        data={"email": "op@example.com", "password": "s3cret-pass"},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303
    async with http.get(f"{base(csms)}/charge-points/CP-A") as page:
        html = await page.text()
        assert page.status == 200 and "op@example.com · org-a · viewer" in html and "data-command" not in html


async def test_viewer_commands_are_forbidden(csms: Csms, http: aiohttp.ClientSession) -> None:
    """A viewer's page has no command buttons and a command posted anyway is 403."""
    await sign_in(http, csms, "viewer")
    async with http.get(f"{base(csms)}/charge-points/CP-A") as page:
        assert "data-command=" not in await page.text()
    async with http.post(f"{base(csms)}/charge-points/CP-A/commands/reset", data={"type": "soft"}) as resp:
        assert resp.status == 403
        assert (await resp.json())["code"] == "forbidden"


async def test_other_organization_and_unknown_commands_are_404(
    csms: Csms, http: aiohttp.ClientSession
) -> None:
    """Another organization's station is not listed, its page and commands are 404; so is an unknown
    command; an offline station's command is answered 409 `offline`."""
    await sign_in(http, csms, "member")
    async with http.get(f"{base(csms)}/charge-points") as page:
        assert "CP-B" not in await page.text()
    async with http.get(f"{base(csms)}/charge-points/CP-B") as page:
        assert page.status == 404
    for path in ("/charge-points/CP-B/commands/reset", "/charge-points/CP-A/commands/explode"):
        async with http.post(base(csms) + path) as resp:
            assert resp.status == 404, path
    async with http.post(f"{base(csms)}/charge-points/CP-A/commands/reset", data={"type": "soft"}) as resp:
        assert (resp.status, (await resp.json())["code"]) == (409, "offline")
    async with http.post(f"{base(csms)}/charge-points/CP-A/commands/reserve", data={}) as resp:
        assert (resp.status, (await resp.json())["code"]) == (400, "invalid_request")


async def _next_event(resp: aiohttp.ClientResponse) -> tuple[str, dict[str, object]]:
    kind = ""
    while True:
        line = (await resp.content.readline()).decode().rstrip("\n")
        if line.startswith("event: "):
            kind = line[len("event: ") :]
        elif line.startswith("data: "):
            return kind, orjson.loads(line[len("data: ") :])


async def test_event_stream_carries_only_the_organizations_stations(
    csms: Csms, http: aiohttp.ClientSession
) -> None:
    """The live stream of org-a shows CP-A's connection and never CP-B's."""
    await sign_in(http, csms, "viewer")
    async with http.get(f"{base(csms)}/events") as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        assert await resp.content.readline() == b": connected\n"
        csms.services.events.emit(StationConnectionChanged("CP-B", True))
        csms.services.events.emit(StationConnectionChanged("CP-A", True))
        kind, data = await asyncio.wait_for(_next_event(resp), 5000 * MS)
    assert (kind, data) == ("station", {"charge_point_id": "CP-A", "connected": True})


def test_session_messages_carry_energy_and_power() -> None:
    """A meter advance becomes a `session` message with the energy since the start and, from the second
    reading on, the power between the two readings."""
    now = [utcnow()]
    hub = LiveHub(lambda: now[0])
    queue = hub.listen()
    tx = Transaction(
        7, "CP-A", 1, 1, "7", TransactionStatus.ACTIVE, now[0], meter_start_wh=1000, last_meter_wh=1000
    )
    hub.on_meter_advanced(TransactionMeterAdvanced(tx))
    now[0] += timedelta(seconds=360)
    tx.last_meter_wh = 2100  # 1100 Wh in 0.1 h: 11 kW
    hub.on_meter_advanced(TransactionMeterAdvanced(tx))
    first, second = queue.get_nowait(), queue.get_nowait()
    assert (first.kind, first.data["energy_wh"], first.data["power_w"]) == ("session", 0, None)
    assert (second.data["energy_wh"], second.data["power_w"]) == (1100, 11000)
    assert session_energy_wh(tx) == 1100
    hub.forget(queue)
    hub.on_meter_advanced(TransactionMeterAdvanced(tx))
    assert queue.empty()


async def test_management_pages(csms: Csms, http: aiohttp.ClientSession) -> None:
    """A member adds and blocks an id token from the page; locations (on the SVG map), tariffs, a
    session's cost breakdown and the roaming page show what the REST API stored."""
    key, prefix = new_api_key()
    await csms.services.store.add_api_key("rest", prefix, hash_secret(key, rounds=4), "admin", org_id="org-a")
    rest = {"Authorization": f"Bearer {key}"}
    api = f"http://127.0.0.1:{csms.http_port}/api/v1"
    energy = {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1}
    tariff = {"id": "T1", "currency": "EUR", "elements": [{"price_components": [energy]}]}
    location = {
        "id": "LOC1", "name": "Depot", "address": "Main St 1", "city": "Utrecht", "country": "NLD",
        "coordinates": {"latitude": "52.090737", "longitude": "5.121420"}, "time_zone": "Europe/Amsterdam",
        "charge_point_ids": ["CP-A"],
    }  # fmt: skip
    for path, body in (("/tariffs", tariff), ("/locations", location)):
        async with http.post(api + path, json=body, headers=rest) as resp:
            assert resp.status == 201, await resp.text()
    await sign_in(http, csms, "member")
    async with http.post(f"{base(csms)}/id-tokens", data={"id_token": "TAG-NEW", "type": "ISO14443"}) as resp:
        assert resp.status == 200 and 'data-id-token="TAG-NEW" data-status="Accepted"' in await resp.text()
    async with http.post(f"{base(csms)}/id-tokens/TAG-NEW", data={"status": "Blocked"}) as resp:
        assert 'data-id-token="TAG-NEW" data-status="Blocked"' in await resp.text()
    assert (await csms.services.store.get_id_token("TAG-NEW", org_id="org-a")) is not None
    async with http.get(f"{base(csms)}/locations") as resp:
        html = await resp.text()
        assert '<g data-location-id="LOC1">' in html and "<circle" in html and "Depot" in html
    async with http.get(f"{base(csms)}/tariffs") as resp:
        assert 'data-tariff-id="T1"' in await resp.text()
    async with http.get(f"{base(csms)}/roaming") as resp:
        assert resp.status == 200 and 'id="outbox"' in await resp.text()
    async with http.post(f"{base(csms)}/roaming/outbox/1/retry") as resp:
        assert resp.status == 403  # retrying pushes is for admins, as in the REST API
    async with http.get(f"{base(csms)}/") as resp:
        assert resp.status == 200 and 'data-count="revenue-today"' in await resp.text()


async def test_event_stream_carries_frames_connections_and_sessions(
    csms: Csms, http: aiohttp.ClientSession
) -> None:
    """A station's connection, its OCPP frames (in and out) and its session's energy reach the stream of
    its organization as they happen."""
    await sign_in(http, csms, "viewer")
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id="CP-A", url=ocpp_url(csms), ocpp_version="1.6")
    )
    async with http.get(f"{base(csms)}/events") as resp:
        await resp.content.readline()
        await sim.connect()
        try:
            await sim.boot()
            seen: list[tuple[str, object, object]] = []
            async with asyncio.timeout(5000 * MS):
                while ("frame", "out", "BootNotification") not in seen:
                    kind, data = await _next_event(resp)
                    seen.append((kind, data.get("direction"), data.get("action") or data.get("connected")))
            assert seen[0] == ("station", None, True)
            assert ("frame", "in", "BootNotification") in seen
            await sim.start_transaction(1, "TAG-A", meter_start_wh=1000)
            await sim.send_meter_values(1, energy_wh=1500)
            async with asyncio.timeout(5000 * MS):
                while True:
                    kind, data = await _next_event(resp)
                    if kind == "session" and data["energy_wh"] == 500:  # 1500 - 1000 Wh
                        break
        finally:
            await sim.close()


async def test_admin_creates_and_edits_tariffs_and_locations(csms: Csms, http: aiohttp.ClientSession) -> None:
    """An admin adds a tariff and a location from the forms, edits both, and sees a refused field named;
    a member may not (403)."""
    await sign_in(http, csms, "admin")
    ui = base(csms)
    tariff = {"id": "T9", "currency": "EUR", "energy_price": "0.30", "vat": "21"}
    async with http.post(f"{ui}/tariffs", data=tariff) as resp:
        assert resp.status == 200 and 'data-tariff-id="T9"' in await resp.text()
    async with http.get(f"{ui}/tariffs?edit=T9") as resp:
        assert 'value="0.30"' in await resp.text()
    async with http.post(f"{ui}/tariffs/T9", data={**tariff, "energy_price": "0.35"}) as resp:
        assert "ENERGY 0.35" in await resp.text()
    location = {
        "id": "L9", "name": "Yard", "address": "Dock 2", "city": "Rotterdam", "country": "NLD",
        "latitude": "51.9", "longitude": "4.48", "time_zone": "Europe/Amsterdam", "charge_point_ids": "CP-A",
    }  # fmt: skip
    async with http.post(f"{ui}/locations", data=location) as resp:
        assert resp.status == 200 and '<g data-location-id="L9">' in await resp.text()
    async with http.post(f"{ui}/locations/L9", data={**location, "name": "Yard 2"}) as resp:
        assert "Yard 2" in await resp.text()
    async with http.post(
        f"{ui}/locations", data={**location, "id": "L10", "charge_point_ids": "CP-B"}
    ) as resp:
        assert resp.status == 400  # CP-B is another organization's: as unknown as a missing one
    async with http.post(f"{ui}/tariffs", data={"id": "T10", "currency": "euro"}) as resp:
        assert resp.status == 400 and "currency" in await resp.text()
    await sign_in(http, csms, "member")
    async with http.post(f"{ui}/tariffs", data={**tariff, "id": "T11"}) as resp:
        assert resp.status == 403


async def test_reservations_page_reserves_and_cancels(csms: Csms, http: aiohttp.ClientSession) -> None:
    """The reservations page's form goes through the reserve command (an offline station: its error is
    shown), cancelling an unknown reservation is reported, and a viewer may not post either (403)."""
    await sign_in(http, csms, "member")
    form = {"charge_point_id": "CP-A", "id_tag": "TAG", "evse_id": "1"}
    async with http.post(f"{base(csms)}/reservations", data=form) as resp:
        html = await resp.text()
        assert resp.status == 200 and "data-notice" in html and "is not connected" in html
    async with http.post(f"{base(csms)}/reservations/999/cancel") as resp:
        assert "data-notice" in await resp.text()
    await sign_in(http, csms, "viewer")
    async with http.post(f"{base(csms)}/reservations", data=form) as resp:
        assert resp.status == 403


async def test_cookie_is_checked_on_every_request(csms: Csms, http: aiohttp.ClientSession) -> None:
    """A forged or altered cookie is refused; a revoked key or a removed member loses the session at once;
    a changed role shows on the next page."""
    resp = await sign_in(http, csms, "member")
    cookie = resp.cookies["csms_ui"].value
    payload, _, signature = cookie.partition(".")
    for forged in (f"{payload}.{signature[:-2]}AA", f"{payload[:-2]}xx.{signature}", "garbage"):
        async with http.get(f"{base(csms)}/", allow_redirects=False, cookies={"csms_ui": forged}) as page:
            assert page.status == 303, forged
    store = csms.services.store
    key = next(k for k in await store.list_api_keys("org-a") if k.name == "ui-member")
    await store.delete_api_key(key.id)
    async with http.get(f"{base(csms)}/", allow_redirects=False) as page:
        assert page.status == 303  # the key is gone: so is the sign-in

    await store.add_organization(Organization("org-a", "A", "DE", "a@example.com"))
    user = await store.add_user("m@example.com", "M", hash_secret("pw-123456", rounds=4))
    await store.set_member("org-a", user.id, "member")
    login = {"email": "m@example.com", "password": "pw-123456"}
    async with http.post(f"{base(csms)}/login", data=login, allow_redirects=False) as resp:
        assert resp.status == 303
    async with http.get(f"{base(csms)}/charge-points/CP-A") as page:
        assert "data-command=" in await page.text()
    await store.set_member("org-a", user.id, "viewer")
    async with http.get(f"{base(csms)}/charge-points/CP-A") as page:
        assert "data-command=" not in await page.text()  # the current role, not the one at sign-in
    await store.remove_member("org-a", user.id)
    async with http.get(f"{base(csms)}/", allow_redirects=False) as page:
        assert page.status == 303


def test_workers_share_one_cookie_key() -> None:
    """The pre-fork supervisor gives its workers one random cookie key (inherited through the fork) unless
    one is configured."""
    from csms.config import Config, UiConfig
    from csms.workers import with_shared_ui_secret

    shared = with_shared_ui_secret(Config())
    assert len(shared.ui.session_secret) >= 32
    assert with_shared_ui_secret(shared) is shared
    configured = Config(ui=UiConfig(session_secret="s3cret"))
    assert with_shared_ui_secret(configured).ui.session_secret == "s3cret"


async def test_admin_retries_a_failed_push(csms: Csms, http: aiohttp.ClientSession) -> None:
    """A failed push to the organization's partner is an overview alert and a Retry button on the roaming
    page; retrying makes it pending again with 0 attempts (as `POST /ocpi/outbox/{id}/retry`)."""
    store = csms.ocpi.ctx.store
    partner = await store.add_partner(
        Partner(
            id=0,
            name="eMSP A",
            country_code="DE",
            party_id="EMS",
            org_id="org-a",
            status=PartnerStatus.PENDING,
        )
    )
    failed = await store.add_outbox(
        OutboxEntry(
            id=0,
            partner_id=partner.id,
            module="sessions",
            object_key="session:1",
            method="PUT",
            url="https://emsp.example/ocpi/2.2.1/sessions/NL/CSM/1",
            body={"id": "1"},
            status=OutboxStatus.FAILED,
            attempts=8,
            last_error="timeout",
        )  # fmt: skip
    )
    await sign_in(http, csms, "admin")
    async with http.get(f"{base(csms)}/") as page:
        assert "1 OCPI push(es) failed" in await page.text()
    async with http.get(f"{base(csms)}/roaming") as page:
        html = await page.text()
        assert f'data-outbox-id="{failed.id}" data-status="failed"' in html and 'data-action="retry"' in html
        assert f'data-partner-id="{partner.id}"' in html
    async with http.post(f"{base(csms)}/roaming/outbox/{failed.id}/retry") as resp:
        html = await resp.text()
        assert (
            'data-notice="retried"' in html and f'data-outbox-id="{failed.id}" data-status="pending"' in html
        )
    (entry,) = [e for e in await store.list_outbox(limit=10) if e.id == failed.id]
    assert (entry.status, entry.attempts) == (OutboxStatus.PENDING, 0)
    async with http.post(f"{base(csms)}/roaming/outbox/{failed.id}/retry") as resp:
        assert 'data-notice="outbox_entry_not_failed"' in await resp.text()


async def test_sign_out_on_one_node_is_refused_by_another(tmp_path: Path) -> None:
    """Two CSMS processes sharing the database and `[ui] session_secret` (two nodes of one dashboard): a
    cookie signed out through the first is refused by the second (issue 15, item 5)."""
    config = replace(e2e_config(tmp_path), ui=UiConfig(session_secret="shared-dashboard-secret"))
    first = await Csms.start(config)
    second = await Csms.start(config)
    try:
        key, prefix = new_api_key()
        await first.services.store.add_api_key("ui", prefix, hash_secret(key, rounds=4), "admin")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(
                f"{base(first)}/login", data={"api_key": key}, allow_redirects=False
            ) as resp:
                cookie = {"csms_ui": resp.cookies["csms_ui"].value}
            async with http.get(f"{base(second)}/", cookies=cookie, allow_redirects=False) as page:
                assert page.status == 200  # the other node accepts the sign-in
            async with http.post(f"{base(first)}/logout", allow_redirects=False) as out:
                assert out.status == 303
            async with http.get(f"{base(second)}/", cookies=cookie, allow_redirects=False) as again:
                assert (again.status, again.headers["Location"]) == (303, "/ui/login")
    finally:
        await second.stop()
        await first.stop()


async def test_reservations_page_edits_a_reservation(csms: Csms, http: aiohttp.ClientSession) -> None:
    """An active reservation has an edit form; saving it sends ReserveNow again with the same id and the
    row then shows the new id token and a later expiry (issue 15, item 1). A viewer gets 403."""
    await sign_in(http, csms, "member")
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id="CP-A", url=ocpp_url(csms), ocpp_version="1.6")
    )
    await sim.connect()
    try:
        await sim.boot()
        form = {"charge_point_id": "CP-A", "id_tag": "TAG", "evse_id": "1", "minutes": "10"}
        async with http.post(f"{base(csms)}/reservations", data=form) as resp:
            assert resp.status == 200
        [made], _ = await csms.services.store.list_reservations(limit=10)
        async with http.get(f"{base(csms)}/reservations") as page:
            assert f'data-edit-reservation="{made.id}"' in await page.text()
        edit = {"id_tag": "NEWTAG", "minutes": "45"}
        async with http.post(f"{base(csms)}/reservations/{made.id}/edit", data=edit) as resp:
            html = await resp.text()
            assert resp.status == 200 and f"reservation {made.id} active" in html, html
        changed = await csms.services.store.get_reservation(made.id)
        assert changed is not None
        assert (changed.id_token, changed.status.value) == ("NEWTAG", "active")
        assert changed.expiry_date > made.expiry_date
        await sign_in(http, csms, "viewer")
        async with http.post(f"{base(csms)}/reservations/{made.id}/edit", data=edit) as resp:
            assert resp.status == 403
    finally:
        await sim.close()


async def _walk(http: aiohttp.ClientSession, csms: Csms, path: str, attribute: str) -> tuple[list[str], int]:
    """Every row id a list shows, following its "Next page" links; and how many pages that took."""
    seen: list[str] = []
    url: str | None = f"http://127.0.0.1:{csms.http_port}{path}"
    pages_read = 0
    while url is not None:
        async with http.get(url) as resp:
            assert resp.status == 200, url
            html = await resp.text()
        pages_read += 1
        seen += re.findall(rf'{attribute}="([^"]+)"', html)
        found = re.search(r'data-next-page href="([^"]+)"', html)
        url = None if found is None else f"http://127.0.0.1:{csms.http_port}{unescape(found.group(1))}"
    return seen, pages_read


async def test_lists_page_beyond_500_rows_and_search_spans_pages(
    csms: Csms, http: aiohttp.ClientSession
) -> None:
    """With more rows than one page holds, each list (charge points, sessions, reservations, id tokens,
    tariffs, locations) shows them all over "Next page" links, and the station search finds stations
    beyond the first page (issue 15, item 3)."""
    store, ocpi_store, n = csms.services.store, csms.ocpi.ctx.store, LIST_LIMIT + 5
    now = utcnow()
    for i in range(n):
        await store.add_charge_point(ChargePoint(f"BULK-{i:03}", org_id="org-a"))
        await store.add_id_token(IdToken(f"TOKEN-{i:03}", "ISO14443", org_id="org-a"))
        await store.add_transaction(NewTransaction("CP-A", 1, 1, now, id_token=f"TOKEN-{i:03}"))
        await store.add_reservation(
            Reservation(0, "CP-A", 1, f"TOKEN-{i:03}", now + timedelta(hours=1), ReservationStatus.ACTIVE)
        )
        await ocpi_store.save_tariff(Tariff(f"T{i:03}", "EUR", {"id": f"T{i:03}", "currency": "EUR",
                                                              "elements": []}, org_id="org-a"))  # fmt: skip
        await ocpi_store.save_location(Location(
            f"L{i:03}", None, "Street", "Town", "NLD", "52.00000", "4.00000", "Europe/Amsterdam", "NL", "CSM",
            org_id="org-a",
        ))  # fmt: skip
    await sign_in(http, csms, "admin")
    for path, attribute, expected in (
        ("/ui/charge-points", "data-charge-point-id", n + 1),  # and CP-A
        ("/ui/sessions", "data-session-id", n),
        ("/ui/reservations", "data-reservation-id", n),
        ("/ui/id-tokens", "data-id-token", n),
        ("/ui/tariffs", "data-tariff-id", n),
        ("/ui/locations?edit=", "data-location-id", 2 * n),  # each location is on the map and in the table
    ):
        seen, pages_read = await _walk(http, csms, path, attribute)
        assert pages_read == 2, path
        assert len(seen) == expected and len(set(seen)) == expected // (2 if "locations" in path else 1), path
    # BULK-500..504 sort after the first store page: the search still finds them on its first page.
    found, pages_read = await _walk(http, csms, "/ui/charge-points?q=bulk-50", "data-charge-point-id")
    assert (found, pages_read) == ([f"BULK-{i}" for i in range(500, 505)], 1)
    # The overview counts every station, not one page's.
    async with http.get(f"{base(csms)}/overview/summary") as resp:
        assert (await resp.json())["offline"] == n + 1
    # A cursor no store handed out leads back to the first page, keeping the filters.
    for path, kept in (("/sessions", "status=active"), ("/tariffs", "edit=T001")):
        async with http.get(f"{base(csms)}{path}?cursor=not-a-cursor&{kept}", allow_redirects=False) as resp:
            assert (resp.status, resp.headers["Location"]) == (303, f"/ui{path}?{kept}")


async def test_overview_summary_is_the_overview_as_json(csms: Csms, http: aiohttp.ClientSession) -> None:
    """`/ui/overview/summary` answers the overview's figures for the signed-in organization (what the
    overview page refreshes itself with on live events); without a session it is refused."""
    async with http.get(f"{base(csms)}/overview/summary", allow_redirects=False) as resp:
        assert resp.status in (303, 401)
    await sign_in(http, csms, "viewer")
    async with http.get(f"{base(csms)}/overview/summary") as resp:
        assert resp.status == 200
        summary = await resp.json()
    assert summary == {
        "online": 0, "offline": 1, "faulted": 0, "active_sessions": 0, "energy_today_kwh": "0.0",
        "revenue": {}, "alerts": [],
    }  # fmt: skip
