"""The site-owner and driver portals end to end over real sockets: the CSMS on free ports, an SMTP sink on
127.0.0.1 port 0 receiving the invitations, a simulated 1.6 station charging, and HTTP clients that sign in
as a site owner and as a driver."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from csms.app import Csms
from csms.config import EmailConfig
from csms.domain.clock import isoformat_z, utcnow
from csms.domain.secrets import hash_secret, new_api_key
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from tests.e2e.conftest import e2e_config, location_body, ocpp_url
from tests.smtp_sink import DRIVER_TOKEN, SITE_OWNER_TOKEN, SmtpSink, invitation_token, smtp_sink
from tests.utils import MS

WAIT = 15_000 * MS
TARIFF = {
    "id": "PORTAL",
    "currency": "EUR",
    "elements": [
        {
            "price_components": [
                {"type": "FLAT", "price": "0.50", "vat": "20", "step_size": 1},
                {"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1},
            ]
        }
    ],
}
SPEC = {"standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_3_PHASE", "max_voltage": 230,
        "max_amperage": 32, "tariff_ids": ["PORTAL"]}  # fmt: skip
PASSWORD = "a portal password"


class Client:
    """A REST client with a bearer token (an API key or a user's access token)."""

    def __init__(self, session: aiohttp.ClientSession, base: str, token: str | None = None) -> None:
        self.session = session
        self.base = base
        self.token = token

    async def call(self, method: str, path: str, body: Any = None, **params: str) -> tuple[int, Any]:
        headers = {} if self.token is None else {"Authorization": f"Bearer {self.token}"}
        async with self.session.request(
            method, self.base + path, json=body, headers=headers, params=params
        ) as resp:
            if resp.content_type == "application/json":
                return resp.status, await resp.json()
            return resp.status, (resp.content_type, await resp.read())

    async def ok(self, method: str, path: str, body: Any = None, expect: int = 200, **params: str) -> Any:
        got, answer = await self.call(method, path, body, **params)
        assert got == expect, (method, path, got, answer)
        return answer

    async def sign_in(self, email: str) -> None:
        self.token = (await self.ok("POST", "/auth/login", {"email": email, "password": PASSWORD}))[
            "access_token"
        ]


async def accept(client: Client, sink: SmtpSink, count: int, path: str, pattern: Any) -> None:
    """Accept the invitation of the `count`-th email the sink received, at `path` + its token."""
    token = invitation_token((await sink.wait_for(count))[count - 1], pattern)
    await client.ok("POST", f"{path}/{token}", {"password": PASSWORD})


async def until(check: Any) -> Any:
    """Poll `check` over the API until it returns something truthy."""
    async with asyncio.timeout(WAIT):
        while not (result := await check()):  # noqa: ASYNC110 (polled over the API)
            await asyncio.sleep(20 * MS)
    return result


async def test_site_owner_onboards_and_driver_disputes_a_session(tmp_path: Path) -> None:
    """A site owner invited by email accepts, completes onboarding, is approved and sees only the site they
    host (with its energy and revenue share); a driver invited by email signs in, lists the sessions a
    simulated station ran with their token by date range, downloads the PDF receipt and files a dispute
    that an operator takes up and resolves with a credit CDR."""
    async with smtp_sink() as sink:
        csms = await Csms.start(replace(e2e_config(tmp_path), email=EmailConfig(port=sink.port, timeout=5.0)))
        sim = ChargePointSimulator(
            SimulatorConfig(charge_point_id="CP-SITE", url=ocpp_url(csms), ocpp_version="1.6")
        )
        try:
            key, prefix = new_api_key()
            await csms.services.store.add_api_key("operator", prefix, hash_secret(key, rounds=4), "admin")
            base = f"http://127.0.0.1:{csms.http_port}/api/v1"
            async with aiohttp.ClientSession() as session:
                operator = Client(session, base, key)
                await operator.ok("POST", "/tariffs", TARIFF, 201)
                await sim.connect()
                assert (await sim.boot())["status"] == "Accepted"
                await sim.send_status(1, "Available")
                await operator.ok("POST", "/locations", location_body("LOC-SITE", "CP-SITE"), 201)
                await operator.ok("POST", "/locations", location_body("LOC-ELSE"), 201)
                await operator.ok("PUT", "/charge-points/CP-SITE/connectors/1/1/spec", SPEC)

                # The station charges the driver's card (10 kWh) and someone else's (2 kWh).
                before = isoformat_z(utcnow())
                await sim.start_transaction(1, "DRIVERCARD", meter_start_wh=1000)
                await sim.stop_transaction(1, meter_stop_wh=11_000)
                await sim.start_transaction(1, "OTHERCARD", meter_start_wh=11_000)
                await sim.stop_transaction(1, meter_stop_wh=13_000)

                async def completed() -> list[dict[str, Any]] | None:
                    page = await operator.ok(
                        "GET", "/sessions", charge_point_id="CP-SITE", status="completed"
                    )
                    return page["items"] if len(page["items"]) == 2 else None

                sessions = await until(completed)
                mine = next(s for s in sessions if s["id_token"] == "DRIVERCARD")
                await until(lambda: csms.ocpi.ctx.store.get_cdr(str(mine["id"])))

                # The site owner: invited, accepted, onboarded, approved, their project only.
                owner = await operator.ok("POST", "/site-owners/invitations",
                                          {"email": "site@example.com", "company": "Site BV",
                                           "revenue_share_percent": "20"}, 201)  # fmt: skip
                site_owner = Client(session, base)
                await accept(site_owner, sink, 1, "/site-owner/accept-invitation", SITE_OWNER_TOKEN)
                await site_owner.sign_in("site@example.com")
                status = await site_owner.ok("GET", "/site-owner/onboarding/status")
                assert status == {"stage": "profile", "missing": ["profile", "bank_details", "documents"]}
                profile = {"company": "Site BV", "contact_name": "S. Owner", "phone": "+31 30 123 4567",
                           "address": "Stationsplein 1", "postal_code": "3511 ED", "city": "Utrecht",
                           "country": "NL"}  # fmt: skip
                await site_owner.ok("PUT", "/site-owner/profile", profile)
                iban = {"account_holder": "Site BV", "iban": "NL91ABNA0417164300"}
                assert (await site_owner.ok("PUT", "/site-owner/bank-details", iban))["iban_masked"].endswith(
                    "4300"
                )
                lease = {"name": "lease.pdf", "kind": "contract", "content_base64": "JVBERi0xLjQ="}
                await site_owner.ok("POST", "/site-owner/documents", lease, 201)
                submitted = await site_owner.ok("POST", "/site-owner/onboarding/complete")
                assert submitted == {"stage": "submitted", "missing": []}
                await operator.ok("POST", f"/site-owners/{owner['id']}/approve")
                await operator.ok(
                    "PUT", f"/site-owners/{owner['id']}/locations", {"location_ids": ["LOC-SITE"]}
                )
                assert (await site_owner.ok("GET", "/site-owner/onboarding/status"))["stage"] == "approved"
                projects = (await site_owner.ok("GET", "/site-owner/projects"))["items"]
                assert [p["location_id"] for p in projects] == ["LOC-SITE"]
                # 10 kWh: 3.35 incl. VAT; 2 kWh: 0.50 + 0.50 excl. = 0.60 + 0.55 = 1.15 incl.; 20 % of 4.50
                assert projects[0]["charge_points"] == [
                    {"charge_point_id": "CP-SITE", "energy_wh": 12_000, "sessions": 2}
                ]
                assert (projects[0]["revenue_incl_vat"], projects[0]["revenue_share"]) == ("4.5000", "0.90")
                assert (await site_owner.call("GET", "/site-owner/projects/LOC-ELSE"))[0] == 404
                assert (await site_owner.call("GET", "/sessions"))[0] == 403

                # The driver: invited with their card, signs in, sees only their session.
                driver = Client(session, base)
                await operator.call("POST", "/id-tokens", {"id_token": "DRIVERCARD"})  # the org's own card
                body = {"email": "driver@example.com", "name": "Dirk", "id_tokens": ["DRIVERCARD"]}
                await operator.ok("POST", "/drivers", body, 201)
                await accept(driver, sink, 2, "/portal/accept-invitation", DRIVER_TOKEN)
                await driver.sign_in("driver@example.com")
                listed = await driver.ok(
                    "GET", "/portal/sessions", **{"from": before, "to": isoformat_z(utcnow())}
                )
                assert [s["id"] for s in listed["items"]] == [mine["id"]]
                empty = await driver.ok("GET", "/portal/sessions", **{"from": isoformat_z(utcnow())})
                assert empty["items"] == []
                content_type, pdf = await driver.ok("GET", f"/portal/sessions/{mine['id']}/receipt")
                assert content_type == "application/pdf" and pdf.startswith(b"%PDF-")
                other = next(s for s in sessions if s["id_token"] == "OTHERCARD")
                assert (await driver.call("GET", f"/portal/sessions/{other['id']}/receipt"))[0] == 404
                claim = {"description": "the meter ran on", "expected_cost": "1.70"}
                dispute = await driver.ok("POST", f"/portal/sessions/{mine['id']}/dispute", claim, 201)

                # The operator works it: under review, then resolved with a credit for 5 kWh.
                assert [d["id"] for d in (await operator.ok("GET", "/disputes", status="open"))["items"]] == [
                    dispute["id"]
                ]
                await operator.ok("PATCH", f"/disputes/{dispute['id']}", {"status": "under_review"})
                resolved = await operator.ok("PATCH", f"/disputes/{dispute['id']}",
                                             {"status": "resolved", "resolution": "meter fault: 5 kWh billed",
                                              "credit": {"total_energy_wh": 5000}})  # fmt: skip
                assert resolved["status"] == "resolved"
                assert (resolved["credit_cdr_id"], resolved["replacement_cdr_id"]) == (
                    f"{mine['id']}-C",
                    f"{mine['id']}-R1",
                )
                breakdown = await driver.ok("GET", f"/portal/sessions/{mine['id']}/cost-breakdown")
                # 5 kWh: 0.50 + 1.25 excl.; 0.60 + 1.375 incl., rounded to the cent by the engine
                assert (
                    breakdown["total"] == {"excl_vat": "1.7500", "incl_vat": "1.9800"} and breakdown["billed"]
                )
        finally:
            await sim.close()
            await csms.stop()
