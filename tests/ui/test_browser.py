"""The operator dashboard in a real headless Chromium (issue 15, "Done when"): the real CSMS on free ports,
simulated stations over real websockets, a browser signed in with an API key.

Each test waits for conditions on the page (Playwright's `expect` and `wait_for_function`), never for a
fixed time. Screenshots of every page go to `SCREENSHOTS`.
"""

from __future__ import annotations

import re
from typing import Any

from csms.app import Csms
from csms.domain.models import ChargePoint
from csms.domain.secrets import hash_secret, new_api_key
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import StartCsms, ocpp_url
from tests.ui.conftest import SCREENSHOTS
from tests.utils import MS

WAIT = 15000 * MS  # generous: a browser, a CSMS and a simulator share two cores with other tests


async def _key(csms: Csms, role: str, org_id: str) -> str:
    key, prefix = new_api_key()
    await csms.services.store.add_api_key(
        f"ui-{role}", prefix, hash_secret(key, rounds=4), role, org_id=org_id
    )
    return key


async def _signed_in(browser: Any, csms: Csms, key: str) -> Any:
    """A new page signed in through `/ui/login` with `key` (the stable `api_key` hook)."""
    from playwright.async_api import expect

    page = await (await browser.new_context(viewport={"width": 1280, "height": 900})).new_page()
    page.set_default_timeout(WAIT * 1000)
    await page.goto(f"http://127.0.0.1:{csms.http_port}/ui/login")
    await page.screenshot(path=SCREENSHOTS / "login.png", full_page=True)
    await page.fill("input[name=api_key]", key)
    await page.click("form#login button[type=submit]")
    await expect(page.locator("h1")).to_have_text("Overview")
    return page


async def test_station_session_log_and_reservation_flows(browser: Any, start_csms: StartCsms) -> None:
    """A station that boots appears on the list live; the remote-start button starts a session whose energy
    rises on the sessions page; the station page's message log shows frames as they arrive; a reservation is
    made and cancelled from the station page."""
    from playwright.async_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    csms = await start_csms(unknown_charge_points_org="org-a")
    page = await _signed_in(browser, csms, await _key(csms, "admin", "org-a"))
    await page.screenshot(path=SCREENSHOTS / "overview.png", full_page=True)
    await page.click("nav >> text=Charge points")
    await expect(page.locator("#live")).to_have_attribute("data-live", "true")

    sim = ChargePointSimulator(
        SimulatorConfig(
            charge_point_id="CP-UI",
            url=ocpp_url(csms),
            ocpp_version="2.0.1",
            connectors=2,
            meter_interval=0.2,
            power_w=36000,
            auto_meter_values=True,
        )  # fmt: skip
    )
    await sim.connect()
    try:
        assert (await sim.boot())["status"] == "Accepted"
        for connector in sim.connector_ids:
            await sim.send_status(connector, "Available")
        station = page.locator('[data-charge-point-id="CP-UI"]')
        await expect(station).to_have_attribute("data-connected", "true")  # no reload happened
        await page.screenshot(path=SCREENSHOTS / "charge-points.png", full_page=True)

        await page.click('a[href="/ui/charge-points/CP-UI"]')
        log = page.locator("#message-log tr.frame")
        await expect(log.filter(has_text="BootNotification").first).to_be_visible()
        before = await log.count()
        await page.select_option('form[action$="/commands/trigger"] select[name=message]', "Heartbeat")
        await page.click('[data-command="trigger"]')
        await expect(page.locator("[data-command-result]")).to_contain_text(
            "trigger: station answered Accepted"
        )
        await expect(log.filter(has_text="Heartbeat").first).to_be_visible()  # frames arrive live
        assert await log.count() > before

        # Reserve EVSE 2 and cancel it again, both from the buttons.
        reserve = page.locator('form[action$="/commands/reserve"]')
        await reserve.locator("[name=id_tag]").fill("TAG-RES")
        await reserve.locator("[name=evse_id]").fill("2")
        await page.click('[data-command="reserve"]')
        await expect(page.locator("[data-command-result]")).to_contain_text("active")
        reservation = page.locator("#reservations tr[data-reservation-id]").first
        await expect(reservation).to_have_attribute("data-status", "active")
        await page.screenshot(path=SCREENSHOTS / "charge-point-reserved.png", full_page=True)
        await page.click('[data-command="cancel-reservation"]')
        await expect(page.locator("[data-command-result]")).to_contain_text("cancelled")
        await expect(reservation).to_have_attribute("data-status", "cancelled")

        # Remote start on EVSE 1: the session appears on the station page, then its energy rises.
        start = page.locator('form[action$="/commands/remote-start"]')
        await start.locator("[name=id_tag]").fill("TAG-UI")
        await start.locator("[name=evse_id]").fill("1")
        await page.click('[data-command="remote-start"]')
        await expect(page.locator("[data-command-result]")).to_contain_text(
            "remote-start: station answered Accepted"
        )
        await expect(page.locator("#sessions tr[data-session-id]")).to_have_count(1)
        await page.screenshot(path=SCREENSHOTS / "charge-point.png", full_page=True)

        await page.click("nav >> text=Sessions")
        row = page.locator("tr[data-session-id]").first
        await expect(row).to_be_visible()
        first = int(await row.get_attribute("data-energy-wh") or "0")
        await page.wait_for_function(
            "([wh]) => Number(document.querySelector('tr[data-session-id]').dataset.energyWh) > wh",
            arg=[first],
        )
        await expect(row).to_have_attribute("data-cost", re.compile(r"^\d+(\.\d+)?$"))  # priced, live
        await page.screenshot(path=SCREENSHOTS / "sessions.png", full_page=True)
        await row.locator("a").first.click()
        await expect(page.locator("svg.chart polyline.energy-line")).to_be_attached()
        await expect(page).to_have_title(re.compile(r"^Session \d+ · CSMS dashboard$"))
        await expect(page.locator("#cost-breakdown [data-dimension=total]")).to_be_visible()
        await page.screenshot(path=SCREENSHOTS / "session.png", full_page=True)
        await page.click("nav >> text=Reservations")
        await expect(page.locator("tr[data-reservation-id]")).to_have_count(1)
        await page.screenshot(path=SCREENSHOTS / "reservations.png", full_page=True)
        # Remote stop from the station page ends the session (the station reports the stop).
        await page.click('a[href="/ui/charge-points/CP-UI"]')
        await page.click('[data-command="remote-stop"]')
        await expect(page.locator("[data-command-result]")).to_contain_text(
            "remote-stop: station answered Accepted"
        )
        await expect(page.locator("#sessions tr[data-session-id]")).to_have_attribute(
            "data-status", "completed"
        )
        for name, title in (("id-tokens", "Id tokens"), ("locations", "Locations"), ("tariffs", "Tariffs"),
                            ("roaming", "Roaming")):  # fmt: skip
            await page.click(f"nav >> text={title}")
            await expect(page.locator("h1")).to_have_text(title)
            await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
    finally:
        await sim.close()


async def test_viewer_sees_no_command_buttons_nor_other_organizations(
    browser: Any, start_csms: StartCsms
) -> None:
    """A viewer sees their organization's station without any `data-command` button, and another
    organization's station is neither listed nor reachable by its page."""
    from playwright.async_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    csms = await start_csms()
    await csms.domain.stations.register(ChargePoint("CP-MINE", org_id="org-a"))
    await csms.domain.stations.register(ChargePoint("CP-THEIRS", org_id="org-b"))
    page = await _signed_in(browser, csms, await _key(csms, "viewer", "org-a"))
    await page.click("nav >> text=Charge points")
    await expect(page.locator("[data-charge-point-id]")).to_have_count(1)
    await expect(page.locator('[data-charge-point-id="CP-MINE"]')).to_have_attribute(
        "data-connected", "false"
    )
    await page.click('a[href="/ui/charge-points/CP-MINE"]')
    await expect(page.locator("h1")).to_contain_text("CP-MINE")
    await expect(page.locator("[data-command]")).to_have_count(0)
    await page.screenshot(path=SCREENSHOTS / "charge-point-viewer.png", full_page=True)
    response = await page.goto(f"http://127.0.0.1:{csms.http_port}/ui/charge-points/CP-THEIRS")
    assert response is not None and response.status == 404


async def test_overview_counts_follow_the_network_live(browser: Any, start_csms: StartCsms) -> None:
    """The overview's online count changes when a station boots, and goes back when it disconnects,
    without a reload (issue 15, item 2: the live channel refreshes the overview's figures)."""
    from playwright.async_api import expect

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    csms = await start_csms(unknown_charge_points_org="org-a")
    page = await _signed_in(browser, csms, await _key(csms, "admin", "org-a"))
    await expect(page.locator("#live")).to_have_attribute("data-live", "true", timeout=WAIT * 1000)
    online = page.locator('[data-count="online"] b')
    await expect(online).to_have_text("0", timeout=WAIT * 1000)
    # Marks the document: a reload would drop the mark.
    await page.evaluate("document.body.dataset.sameDocument = 'yes'")
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id="CP-LIVE", url=ocpp_url(csms), ocpp_version="1.6")
    )
    await sim.connect()
    try:
        assert (await sim.boot())["status"] == "Accepted"
        await expect(online).to_have_text("1", timeout=WAIT * 1000)
        await page.screenshot(path=SCREENSHOTS / "overview-live.png", full_page=True)
    finally:
        await sim.close()
    await expect(online).to_have_text("0", timeout=WAIT * 1000)
    await expect(page.locator('[data-count="offline"] b')).to_have_text("1", timeout=WAIT * 1000)
    assert await page.evaluate("document.body.dataset.sameDocument") == "yes"
