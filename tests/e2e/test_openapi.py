"""The OpenAPI document against the running server: served without a key, valid OpenAPI 3.1, listing
exactly the server's routes, and every operation answering (successfully, in a tour with a simulator)
with bodies that validate against the documented schemas."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from openapi_spec_validator import validate

from csms.api.app import API_PREFIX
from csms.api.openapi import build_document
from csms.app import Csms
from csms.config import EmailConfig, EmspConfig
from csms.domain.clock import isoformat_z, utcnow
from csms.domain.secrets import hash_secret, new_api_key
from ocpi.models import OutboxEntry, OutboxStatus, Partner
from simulators.chargepoint import ChargePointSimulator, SimulatorConfig
from simulators.chargepoint.certificates import certificate_hash_data
from tests.api.openapi_check import ALL_ROUTES, CheckedApi, OpenApiChecker
from tests.e2e.conftest import e2e_config, ocpp_url
from tests.smtp_sink import DRIVER_TOKEN, SITE_OWNER_TOKEN, SmtpSink, invitation_token, smtp_sink
from tests.utils import MS


@pytest.fixture
async def sink() -> AsyncIterator[SmtpSink]:
    """An SMTP sink for the invitations of the tour."""
    async with smtp_sink() as sink:
        yield sink


@pytest.fixture
async def csms(tmp_path: Path, sink: SmtpSink) -> AsyncIterator[Csms]:
    """The CSMS of these tests, sending email to the sink."""
    config = replace(
        e2e_config(tmp_path),
        email=EmailConfig(port=sink.port, timeout=5.0),
        emsp=EmspConfig(enabled=True, pull_interval_seconds=0),  # for the Agent API's client accounts
    )
    csms = await Csms.start(config)
    yield csms
    await csms.stop()


@pytest.fixture
async def tour_client(csms: Csms) -> AsyncIterator[CheckedApi]:
    """An admin client with its own checker (so `seen` holds only this test's exchanges)."""
    key, prefix = new_api_key()
    await csms.services.store.add_api_key("tour", prefix, hash_secret(key, rounds=4), "admin")
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:
        client = CheckedApi(
            session, f"http://127.0.0.1:{csms.http_port}", OpenApiChecker(build_document(ALL_ROUTES))
        )
        yield client
    assert not client.failures, "\n".join(client.failures)


async def test_document_is_served_without_a_key_and_valid(csms: Csms) -> None:
    """`GET /api/v1/openapi.json` answers without a key with a valid OpenAPI 3.1 document."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{csms.http_port}{API_PREFIX}/openapi.json") as response,
    ):
        assert response.status == 200
        assert response.content_type == "application/json"
        document = await response.json()
    validate(document)
    assert document == build_document(ALL_ROUTES)


def test_running_server_routes_are_the_documented_ones(csms: Csms) -> None:
    """The API sub-application the server runs has exactly the documented (method, path) routes."""
    subapps = [
        resource.get_info()["app"]
        for resource in csms.http.app.router.resources()
        if resource.get_info().get("prefix") == API_PREFIX
    ]
    [api] = subapps
    assert isinstance(api, web.Application)
    served = set()
    for route in api.router.routes():
        if route.method == "HEAD":
            continue
        info = route.resource.get_info() if route.resource is not None else {}
        template = info.get("formatter") or info.get("path")
        assert isinstance(template, str)
        served.add((route.method, template.removeprefix(API_PREFIX)))
    documented = {(op.method, op.path) for op in ALL_ROUTES}
    assert served == documented


async def _identity_tour(client: CheckedApi, sink: SmtpSink) -> None:
    """Organizations, members, invitations (emailed to the sink), settings, API keys and signing in."""
    org = "/organizations/default"

    async def call(method: str, path: str, body: object = None, headers: dict[str, str] | None = None) -> Any:
        status, answer = await client.request(method, path, body, headers=headers)
        assert 200 <= status < 300, (method, path, status, answer)
        return answer

    invited = await call("POST", f"{org}/invitations", {"email": "tour@example.com", "role": "member"})
    token = invitation_token((await sink.wait_for(1))[0])
    await call("GET", f"{org}/invitations")
    await call("GET", f"{org}/invitations/{invited['id']}")
    acceptance = {"token": token, "password": "tour pass"}
    accepted = await call("POST", "/organizations/invitations/accept", acceptance)
    tokens = await call("POST", "/auth/login", {"email": "tour@example.com", "password": "tour pass"})
    tokens = await call("POST", "/auth/refresh", {"refresh_token": tokens["refresh_token"]})
    await call("POST", "/auth/logout", None, {"Authorization": f"Bearer {tokens['access_token']}"})
    await call("GET", org)
    await call("PUT", org, {"name": "Tour", "country": "NL", "contact_email": "ops@tour.example"})
    await call("GET", f"{org}/members")
    await call("PUT", f"{org}/members/{accepted['user_id']}/role", {"role": "viewer"})
    await call("DELETE", f"{org}/members/{accepted['user_id']}")
    await call("GET", f"{org}/settings")
    await call("PUT", f"{org}/settings", {"currency": "EUR", "timezone": "Europe/Amsterdam"})
    cancelled = await call("POST", f"{org}/invitations", {"email": "later@example.com", "role": "viewer"})
    await call("DELETE", f"{org}/invitations/{cancelled['id']}")
    await call("POST", "/organizations", {"name": "T2", "country": "BE", "contact_email": "ops@t2.example"})
    key = await call("POST", "/api-keys", {"name": "tour", "role": "viewer"})
    await call("GET", "/api-keys")
    await call("GET", f"/api-keys/{key['id']}")
    await call("POST", f"/api-keys/{key['id']}/rotate")
    await call("DELETE", f"/api-keys/{key['id']}")


async def _portal_tour(client: CheckedApi, sink: SmtpSink, location: dict[str, Any], session_id: int) -> None:
    """Site owners (invited by email to the sink, onboarded, approved, their projects) and drivers (invited,
    their sessions, cost breakdown, receipt, a dispute worked by the operator)."""

    async def call(method: str, path: str, body: object = None, headers: dict[str, str] | None = None) -> Any:
        status, answer = await client.request(method, path, body, headers=headers)
        assert 200 <= status < 300, (method, path, status, answer)
        return answer

    async def sign_in(email: str) -> dict[str, str]:
        tokens = await call("POST", "/auth/login", {"email": email, "password": "portal pass"})
        return {"Authorization": f"Bearer {tokens['access_token']}"}

    mails = len(sink.messages)
    await call("POST", "/locations", location)  # the tour deleted it; the site owner hosts it again
    owner = await call(
        "POST", "/site-owners/invitations", {"email": "site@example.com", "company": "Site BV"}
    )
    token = invitation_token((await sink.wait_for(mails + 1))[-1], SITE_OWNER_TOKEN)
    await call("POST", f"/site-owner/accept-invitation/{token}", {"password": "portal pass"})
    me = await sign_in("site@example.com")
    profile = {"company": "Site BV", "contact_name": "S. Owner", "phone": "+31 30 123 4567",
               "address": "Main St 1", "postal_code": "3511", "city": "Utrecht", "country": "NL"}  # fmt: skip
    await call("PUT", "/site-owner/profile", profile, me)
    await call(
        "PUT", "/site-owner/bank-details", {"account_holder": "Site BV", "iban": "NL91ABNA0417164300"}, me
    )
    document = await call("POST", "/site-owner/documents", {"name": "lease", "kind": "contract",
                                                            "content_base64": "JVBERi0="}, me)  # fmt: skip
    await call("GET", f"/site-owner/documents/{document['id']}", None, me)
    await call("GET", "/site-owner/onboarding/status", None, me)
    await call("POST", "/site-owner/onboarding/complete", None, me)
    await call("GET", "/site-owner/profile", None, me)
    await call("GET", "/site-owners")
    await call("GET", f"/site-owners/{owner['id']}")
    await call("POST", f"/site-owners/{owner['id']}/approve")
    await call("PUT", f"/site-owners/{owner['id']}/locations", {"location_ids": [location["id"]]})
    await call("GET", "/site-owner/projects", None, me)
    await call("GET", f"/site-owner/projects/{location['id']}", None, me)

    await call("POST", "/id-tokens", {"id_token": "X"})  # a driver's tokens are the organization's own
    driver = await call("POST", "/drivers", {"email": "driver@example.com", "name": "D", "id_tokens": ["X"]})
    token = invitation_token((await sink.wait_for(mails + 2))[-1], DRIVER_TOKEN)
    await call("POST", f"/portal/accept-invitation/{token}", {"password": "portal pass"})
    await call("GET", "/drivers")
    await call("GET", f"/drivers/{driver['id']}")
    await call("PUT", f"/drivers/{driver['id']}/id-tokens", {"id_tokens": ["TOUR-CDR"]})
    me = await sign_in("driver@example.com")
    await call("GET", "/portal/sessions", None, me)
    await call("GET", f"/portal/sessions/{session_id}/cost-breakdown", None, me)
    await call("GET", f"/portal/sessions/{session_id}/receipt", None, me)
    dispute = await call("POST", f"/portal/sessions/{session_id}/dispute",
                         {"description": "tour", "expected_cost": "0.10"}, me)  # fmt: skip
    await call("GET", "/disputes")
    await call("GET", f"/disputes/{dispute['id']}")
    await call("PATCH", f"/disputes/{dispute['id']}", {"status": "under_review"})


async def _firmware_tour(client: CheckedApi, sim: ChargePointSimulator) -> None:
    """Firmware upload, one update, a campaign and a log upload with the tour's 2.0.1 station."""
    cp = "/charge-points/TOUR"
    status, firmware = await client.post("/firmware", {"filename": "tour.bin"})
    assert status == 201, firmware
    item = f"/firmware/{firmware['id']}"
    assert (await client.request("PUT", f"{item}/content", raw=b"tour firmware"))[0] == 200
    assert (await client.get(item))[0] == 200
    assert (await client.get("/firmware"))[0] == 200
    update = {"firmware_id": firmware["id"]}
    assert (await client.post(f"{cp}/firmware-updates", update))[0] == 200
    assert (await client.get(f"{cp}/firmware-updates"))[0] == 200
    status, campaign = await client.post("/firmware-campaigns", {**update, "charge_point_ids": ["TOUR"]})
    assert status == 201, campaign
    async with asyncio.timeout(5000 * MS):  # the station downloads and installs in the background
        while not (await client.get(f"/firmware-campaigns/{campaign['id']}"))[1]["finished"]:  # noqa: ASYNC110 (polled over the API)
            await asyncio.sleep(0.01)
    assert (await client.post(f"{cp}/logs", {"log_type": "SecurityLog"}))[0] == 200
    async with asyncio.timeout(5000 * MS):  # the station uploads in the background
        while (await client.get(f"{cp}/logs"))[1]["items"][0]["uploaded_at"] is None:  # noqa: ASYNC110 (polled over the API)
            await asyncio.sleep(0.01)
    log_id = (await client.get(f"{cp}/logs"))[1]["items"][0]["id"]
    status, content = await client.get(f"{cp}/logs/{log_id}/content")
    assert status == 200 and b"TOUR" in content
    await sim.settle()


async def _energy_tour(client: CheckedApi, sim: ChargePointSimulator) -> None:
    """LOC1's forecasts uploaded and read; a session whose EV states its needs has a schedule."""
    start = utcnow().replace(minute=0, second=0, microsecond=0)
    edges = [isoformat_z(start + timedelta(hours=i)) for i in range(4)]
    prices = "start,end,price_per_kwh\n" + "".join(f"{edges[i]},{edges[i + 1]},0.{i + 1}\n" for i in range(3))
    carbon = "start,end,g_co2_per_kwh\n" + "".join(f"{edges[i]},{edges[i + 1]},{300 - i}\n" for i in range(3))
    uploads = [("energy-prices", prices, {"currency": "EUR"}), ("carbon-intensity", carbon, None)]
    for name, text, params in uploads:
        path = f"/locations/LOC1/{name}"
        status, answer = await client.request("POST", path, params=params, text=("text/csv", text))
        assert status == 200 and answer["intervals"] == 3, answer
        assert (await client.get(path))[0] == 200
    assert (await client.post("/id-tokens", {"id_token": "TOUR-PLAN", "type": "ISO14443"}))[0] == 201
    transaction_id = await sim.start_transaction(2, "TOUR-PLAN")
    mark = len(sim.calls_received)
    departure = isoformat_z(start + timedelta(hours=3))
    ac = {"energyAmount": 5000, "evMinCurrent": 6, "evMaxCurrent": 16, "evMaxVoltage": 230}
    needs = {"requestedEnergyTransfer": "AC_three_phase", "departureTime": departure}
    needs["acChargingParameters"] = ac
    answer = await sim.call("NotifyEVChargingNeeds", {"evseId": 2, "chargingNeeds": needs})
    assert answer["status"] == "Accepted"
    await sim.wait_for_call("SetChargingProfile", timeout=5000 * MS, start=mark)
    _, page = await client.get("/sessions", charge_point_id="TOUR", status="active")
    session_id = next(s["id"] for s in page["items"] if s["transaction_id"] == transaction_id)
    status, schedule = await client.get(f"/sessions/{session_id}/schedule")
    assert status == 200 and schedule["target_met"] is True, schedule
    # solar surplus: LOC1's PV measurement and the session's solar mode
    solar_calls: list[tuple[str, str, dict[str, object] | None]] = [
        ("POST", "/locations/LOC1/measurements", {"production_w": 9000, "consumption_w": 2000}),
        ("GET", "/locations/LOC1/measurements", None),
        ("PUT", f"/sessions/{session_id}/solar-mode", {"mode": "solar_first"}),
        ("GET", f"/sessions/{session_id}/solar-mode", None),
    ]
    for method, path, body in solar_calls:
        status, answer = await client.request(method, path, body)
        assert status == 200, (method, path, status, answer)
    await sim.stop_transaction(2)


async def test_tour_of_every_operation(csms: Csms, tour_client: CheckedApi, sink: SmtpSink) -> None:
    """Every documented operation, called once with valid input against a 2.0.1 simulator, succeeds with a
    documented status and a body that validates; afterwards each operation has been seen succeeding."""
    client = tour_client
    sim = ChargePointSimulator(
        SimulatorConfig(charge_point_id="TOUR", url=ocpp_url(csms), ocpp_version="2.0.1", connectors=2)
    )
    try:
        await sim.connect()
        await sim.boot()
        for connector in sim.connector_ids:
            await sim.send_status(connector, "Available")
        cp = "/charge-points/TOUR"
        ca = await csms.domain.certificates.authority()
        hashed = certificate_hash_data(ca.cert)  # what the simulator reports for it once installed
        ca_hash_data = {
            "hash_algorithm": hashed["hashAlgorithm"],
            "issuer_name_hash": hashed["issuerNameHash"],
            "issuer_key_hash": hashed["issuerKeyHash"],
            "serial_number": hashed["serialNumber"],
        }
        expiry = isoformat_z(utcnow().replace(microsecond=0).replace(year=utcnow().year + 1))

        calls: list[tuple[str, str, object, dict[str, str] | None]] = [
            ("GET", "/openapi.json", None, None),
            (
                "POST",
                "/charge-points",
                {"charge_point_id": "SPARE", "password": "a-secret-of-16-chars"},
                None,
            ),
            ("GET", "/charge-points", None, {"limit": "1"}),
            ("GET", cp, None, None),
            ("PATCH", "/charge-points/SPARE", {"registration_status": "Pending", "password": None}, None),
            ("DELETE", "/charge-points/SPARE", None, None),
            ("GET", f"{cp}/messages", None, {"limit": "5"}),
            ("GET", f"{cp}/events", None, {"limit": "5", "kind": "NotifyEvent"}),
            ("POST", "/id-tokens", {"id_token": "TOUR-TAG", "type": "ISO14443"}, None),
            ("GET", "/id-tokens", None, None),
            ("GET", "/id-tokens/TOUR-TAG", None, None),
            ("PATCH", "/id-tokens/TOUR-TAG", {"group_id_token": "FLEET"}, None),
            ("POST", f"{cp}/unlock", {"evse_id": 1}, None),
            ("POST", f"{cp}/availability", {"operative": True}, None),
            ("POST", f"{cp}/trigger", {"message": "Heartbeat"}, None),
            (
                "POST",
                f"{cp}/data-transfer",
                {"vendor_id": "com.example", "message_id": "hi", "data": {"x": 1}},
                None,
            ),
            ("POST", f"{cp}/clear-cache", None, None),
            ("POST", f"{cp}/report", None, None),
            ("GET", f"{cp}/certificates", None, None),
            ("POST", f"{cp}/certificates/renew", None, None),
            ("GET", "/certificates/ca.pem", None, None),
            (
                "POST",
                f"{cp}/certificates/install",
                {"certificate_type": "CSMSRootCertificate", "certificate": ca.cert_pem},
                None,
            ),
            ("POST", f"{cp}/certificates/installed", None, None),
            ("POST", f"{cp}/certificates/installed", {"certificate_types": ["CSMSRootCertificate"]}, None),
            ("POST", f"{cp}/certificates/delete", ca_hash_data, None),
            ("POST", f"{cp}/local-list/sync", {"update_type": "Full"}, None),
            ("POST", f"{cp}/local-list/sync", None, None),
            ("GET", f"{cp}/local-list", None, None),
            ("GET", f"{cp}/configuration", None, None),
            (
                "GET",
                f"{cp}/configuration",
                None,
                {"refresh": "true", "keys": "OCPPCommCtrlr.HeartbeatInterval"},
            ),
            ("PATCH", f"{cp}/configuration", {"values": {"OCPPCommCtrlr.HeartbeatInterval": "90"}}, None),
            (
                "PUT",
                f"{cp}/charging-profile",
                {
                    "evse_id": 1,
                    "id": 3,
                    "stack_level": 0,
                    "purpose": "TxDefaultProfile",
                    "kind": "Relative",
                    "rate_unit": "W",
                    "periods": [{"start_period": 0, "limit": 7400.5, "number_phases": 1}],
                },
                None,
            ),
            ("GET", f"{cp}/charging-profile", None, None),
            ("GET", f"{cp}/composite-schedule", None, {"evse_id": "1", "duration": "600", "rate_unit": "A"}),
            ("POST", f"{cp}/charging-profile/report", None, {"evse_id": "1"}),
            ("GET", f"{cp}/charging-profile/reports", None, None),
            ("GET", f"{cp}/charging-limits", None, None),
            ("DELETE", f"{cp}/charging-profile", None, {"evse_id": "1"}),
            (
                "POST",
                "/reservations",
                {"charge_point_id": "TOUR", "evse_id": 2, "expiry_date": expiry, "id_tag": "TOUR-TAG"},
                None,
            ),
            ("GET", "/reservations", None, {"charge_point_id": "TOUR", "status": "active"}),
        ]
        results = {}
        for method, path, body, params in calls:
            status, answer = await client.request(method, path, body, params=params)
            assert 200 <= status < 300, (method, path, status, answer)
            results[(method, path)] = answer
        reservation_id = results[("POST", "/reservations")]["id"]
        assert (await client.get(f"/reservations/{reservation_id}"))[0] == 200
        assert (await client.delete(f"/reservations/{reservation_id}"))[0] == 204

        status, started = await client.post(
            "/sessions", {"charge_point_id": "TOUR", "evse_id": 1, "id_tag": "TOUR-TAG"}
        )
        assert status == 202, started

        await sim.wait_until(lambda: bool(sim.transactions), 5000 * MS)  # the session reached the CSMS
        _, page = await client.get("/sessions", remote_start_id=str(started["remote_start_id"]))
        session_id = page["items"][0]["id"]
        assert (await client.get(f"/sessions/{session_id}"))[0] == 200
        assert (await client.post(f"/sessions/{session_id}/stop"))[0] == 202
        stale = {
            "eventType": "Started",
            "timestamp": isoformat_z(utcnow()),
            "triggerReason": "CablePluggedIn",
            "seqNo": 0,
            "transactionInfo": {"transactionId": "TOUR-STALE"},
            "evse": {"id": 2, "connectorId": 1},
        }
        await sim.call("TransactionEvent", stale)
        _, page = await client.get("/sessions", charge_point_id="TOUR", status="active")
        stale_id = next(s["id"] for s in page["items"] if s["transaction_id"] == "TOUR-STALE")
        closing = {"reason": "Tour", "force": True}
        assert (await client.post(f"/sessions/{stale_id}/close", closing))[0] == 200
        assert (await client.get(f"/sessions/{stale_id}/cost-breakdown"))[0] == 200
        status, receipt = await client.get(f"/sessions/{stale_id}/receipt")
        assert status == 200 and receipt.startswith(b"%PDF-")
        assert (await client.delete("/id-tokens/TOUR-TAG"))[0] == 204
        status, export = await client.get("/sessions/export.csv")
        assert status == 200 and export.startswith(b"id,charge_point_id,")

        # Webhooks (nothing listens at the URL: deliveries only pile up).
        hook = {"url": "http://127.0.0.1:9/hook", "events": ["session.completed"], "secret": "s" * 16}
        status, created = await client.post("/webhooks", hook)
        assert status == 201, created
        for path in ("/webhooks", f"/webhooks/{created['id']}", f"/webhooks/{created['id']}/deliveries"):
            assert (await client.get(path))[0] == 200
        assert (await client.delete(f"/webhooks/{created['id']}"))[0] == 204

        # The booking Agent API's client accounts (the eMSP role serves the default organization).
        status, agent = await client.post("/agent-clients", {"name": "Tour planner", "reservation_fee": "1"})
        assert status == 201, agent
        for path in ("/agent-clients", f"/agent-clients/{agent['id']}"):
            assert (await client.get(path))[0] == 200
        assert (await client.request("POST", f"/agent-clients/{agent['id']}/rotate", None))[0] == 200
        # The eMSP role's CPOs: one invited (it would register with the token A answered).
        status, invited = await client.post("/emsp/cpos/invitations", {"name": "Tour CPO"})
        assert status == 201, invited
        for path in ("/emsp/cpos", f"/emsp/cpos/{invited['cpo']['id']}"):
            assert (await client.get(path))[0] == 200

        # The OCPI operator endpoints (locations, connector specs, tariffs, partners, outbox).
        tariff = {
            "id": "T1",
            "currency": "EUR",
            "elements": [
                {"price_components": [{"type": "ENERGY", "price": "0.25", "vat": "10", "step_size": 1}]}
            ],
        }
        location = {
            "id": "LOC1",
            "name": "Tour",
            "address": "Main St 1",
            "city": "Utrecht",
            "country": "NLD",
            "coordinates": {"latitude": "52.090737", "longitude": "5.121420"},
            "time_zone": "Europe/Amsterdam",
            "charge_point_ids": ["TOUR"],
        }
        spec = {
            "standard": "IEC_62196_T2",
            "format": "SOCKET",
            "power_type": "AC_3_PHASE",
            "max_voltage": 230,
            "max_amperage": 16,
            "tariff_ids": ["T1"],
        }
        store = csms.ocpi.ctx.store
        partner = await store.add_partner(Partner(id=0, name="Tour eMSP", country_code="NL", party_id="EMS"))
        failed = await store.add_outbox(
            OutboxEntry(
                id=0,
                partner_id=partner.id,
                module="sessions",
                object_key="session:0",
                method="PUT",
                url="http://127.0.0.1:9/unreachable",
                body={},
                status=OutboxStatus.FAILED,
            )
        )
        ocpi_calls: list[tuple[str, str, object, dict[str, str] | None]] = [
            ("POST", "/tariffs", tariff, None),
            ("GET", "/tariffs", None, None),
            ("GET", "/tariffs/T1", None, None),
            ("PUT", "/tariffs/T1", tariff, None),
            ("POST", "/locations", location, None),
            ("GET", "/locations", None, None),
            ("GET", "/locations/LOC1", None, None),
            ("PUT", "/locations/LOC1", location, None),
            ("PUT", "/locations/LOC1/power-limit", {"max_power_w": 22000, "min_current_a": "6"}, None),
            ("GET", "/locations/LOC1/power-limit", None, None),
            ("PUT", f"{cp}/connectors/1/1/spec", spec, None),
            ("GET", f"{cp}/connectors/1/1/spec", None, None),
            ("GET", "/ocpi/partners", None, None),
            ("GET", "/ocpi/client-infos", None, None),
            ("GET", "/ocpi/outbox", None, {"status": "failed"}),
            ("POST", f"/ocpi/outbox/{failed.id}/retry", None, None),
        ]
        for method, path, body, params in ocpi_calls:
            status, answer = await client.request(method, path, body, params=params)
            assert 200 <= status < 300, (method, path, status, answer)

        await _energy_tour(client, sim)
        # A session at the published location gets a CDR priced by T1, which an operator then corrects.
        await sim.wait_until(lambda: not sim.transactions, 5000 * MS)
        assert (await client.post("/id-tokens", {"id_token": "TOUR-CDR", "type": "ISO14443"}))[0] == 201
        transaction_id = await sim.start_transaction(1, "TOUR-CDR", meter_start_wh=0)
        await sim.stop_transaction(1, meter_stop_wh=2000)
        _, page = await client.get("/sessions", charge_point_id="TOUR", status="completed")
        billed = next(s["id"] for s in page["items"] if s["transaction_id"] == transaction_id)
        async with asyncio.timeout(5000 * MS):  # the CDR is made in a background task after the stop
            while (cdr_id := (await client.get(f"/sessions/{billed}/cdrs"))[1]["effective_cdr_id"]) is None:  # noqa: ASYNC110 (polled over the API)
                await asyncio.sleep(0.01)
        assert (await client.get(f"/cdrs/{cdr_id}"))[0] == 200
        status, corrected = await client.post(
            f"/cdrs/{cdr_id}/corrections", {"reason": "Tour", "total_energy_wh": 1000}
        )
        assert status == 201, corrected
        assert (await client.delete("/locations/LOC1"))[0] == 204
        spec["tariff_ids"] = []
        assert (await client.request("PUT", f"{cp}/connectors/1/1/spec", spec))[0] == 200
        assert (await client.delete("/tariffs/T1"))[0] == 204
        assert (await client.post(f"{cp}/reset", {"type": "immediate"}))[0] == 200
        await _firmware_tour(client, sim)
        await _identity_tour(client, sink)
        await _portal_tour(client, sink, location, billed)
    finally:
        await sim.close()

    succeeded = {(method, path) for method, path, status in client.checker.seen if 200 <= status < 300}
    assert succeeded == {(op.method, op.path) for op in ALL_ROUTES}
