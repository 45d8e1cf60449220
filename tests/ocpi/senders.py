"""Test harness for the OCPI sender modules (locations, sessions, CDRs, tariffs): a domain on the in-memory
CSMS store, an OCPI context on a given OCPI store, one fixed clock for all, and an HTTP client on an OCPI
sub-application with those modules' routes, the transport middlewares and one registered partner."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.config import Config, OcpiConfig
from csms.domain.core import Domain
from csms.domain.models import (
    ChargePoint,
    ConnectorStatus,
    MeterReading,
    MeterSample,
    NewTransaction,
    StatusChange,
    Transaction,
    TransactionStop,
)
from csms.domain.registry import LiveConnection
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from ocpi import cdrs, charging_profiles, locations, sessions, tariffs
from ocpi.context import OCPI, OcpiContext
from ocpi.models import ConnectorSpec, Location, Partner, PartnerStatus, PartnerToken, Tariff
from ocpi.store import OcpiStore
from ocpi.transport import auth_middleware, encode_token, error_middleware, hash_token
from tests.fakes.memory_store import MemoryStore
from tests.store.conftest import FakeClock

TOKEN_C = "token-c-of-the-test-emsp"
ROAMING_TOKEN = "ROAM1"  # the uid of `Harness.partner_token`'s token by default

Client = TestClient[web.Request, web.Application]


@dataclass(slots=True)
class Harness:
    """What a sender test works with; `client` calls as the registered partner."""

    clock: FakeClock
    store: MemoryStore
    writer: BatchedWriter
    domain: Domain
    ctx: OcpiContext
    client: Client
    partner: Partner
    connections: dict[str, LiveConnection] = field(default_factory=dict)

    @property
    def ocpi(self) -> OcpiStore:
        return self.ctx.store

    async def get(self, path: str, **params: Any) -> tuple[int, dict[str, Any], Any]:
        """GET /ocpi/2.2.1/<path>; returns (HTTP status, envelope, response headers)."""
        resp = await self.client.get(f"/ocpi/2.2.1/{path}", params=params)
        return resp.status, await resp.json(), resp.headers

    async def get_as(self, token: str, path: str, **params: Any) -> tuple[int, dict[str, Any], Any]:
        """GET /ocpi/2.2.1/<path> as the partner of credentials token `token`; like `get`."""
        headers = {"Authorization": encode_token(token)}
        resp = await self.client.get(f"/ocpi/2.2.1/{path}", params=params, headers=headers)
        return resp.status, await resp.json(), resp.headers

    async def get_all(
        self, path: str, *, token: str = TOKEN_C, **params: Any
    ) -> tuple[list[dict[str, Any]], int]:
        """Follow `Link: rel="next"` from GET <path> (as the partner of `token`, default the harness
        partner) to the last page; (all items, number of pages)."""
        url: str | None = f"/ocpi/2.2.1/{path}"
        items: list[dict[str, Any]] = []
        pages = 0
        query: dict[str, Any] | None = params
        headers = {"Authorization": encode_token(token)}
        while url is not None:
            resp = await self.client.get(url, params=query, headers=headers)
            body = await resp.json()
            assert resp.status == 200 and body["status_code"] == 1000, body
            items += body["data"]
            pages += 1
            link = resp.headers.get("Link")
            url, query = None, None
            if link:
                target = link.split(";")[0].strip("<> ")
                # Links are absolute: keep path and query, drop the test server's origin.
                url = target[target.index("/ocpi/") :]
        return items, pages

    # -- the OCPP side -------------------------------------------------------------------------------

    async def add_station(
        self, charge_point_id: str, *, online: bool = True, version: str = "ocpp1.6"
    ) -> None:
        """Register a charge point (and connect it unless `online` is False)."""
        await self.store.add_charge_point(ChargePoint(charge_point_id=charge_point_id))
        if online:
            self.connect(charge_point_id, version)

    def connect(self, charge_point_id: str, version: str = "ocpp1.6") -> None:
        """Mark the station connected now (the registry the OCPI status reads)."""
        live = LiveConnection(charge_point_id, version, connected_at=self.clock())
        self.connections[charge_point_id] = live
        self.domain.services.registry.register(live)

    def disconnect(self, charge_point_id: str) -> None:
        """Mark the station offline."""
        self.domain.services.registry.unregister(self.connections.pop(charge_point_id))

    async def status(
        self,
        charge_point_id: str,
        evse_id: int,
        status: ConnectorStatus,
        detail: str | None = None,
        connector_id: int | None = None,
    ) -> None:
        """A StatusNotification, applied at once (1.6 style unless `connector_id` is given)."""
        if connector_id is None:
            connector_id = 1 if evse_id > 0 else 0
        self.domain.stations.status_changed(
            StatusChange(charge_point_id, evse_id, connector_id, status, self.clock(), status_detail=detail)
        )
        await self.writer.sync()

    async def start(
        self,
        charge_point_id: str,
        evse_id: int = 1,
        *,
        id_token: str | None = "TAG1",
        meter_start: int = 1000,
    ) -> Transaction:
        """Start a transaction now (as the OCPP adapters do)."""
        outcome = await self.domain.transactions.start(
            NewTransaction(
                charge_point_id=charge_point_id,
                evse_id=evse_id,
                connector_id=1,
                started_at=self.clock(),
                id_token=id_token,
                meter_start_wh=meter_start,
            )
        )
        return outcome.transaction

    async def meter(self, tx: Transaction, register_wh: int) -> Transaction:
        """A meter value of the energy register now; returns the transaction as stored."""
        sample = MeterSample(timestamp=self.clock(), value=Decimal(register_wh))
        await self.domain.transactions.meter_values(
            MeterReading(tx.charge_point_id, tx.evse_id, [sample]), tx
        )
        await self.writer.sync()
        stored = await self.store.get_transaction(tx.id)
        assert stored is not None
        return stored

    async def stop(self, tx: Transaction, meter_stop: int) -> Transaction:
        """Stop the transaction now."""
        return await self.domain.transactions.stop(
            tx, TransactionStop(stopped_at=self.clock(), meter_stop_wh=meter_stop)
        )

    # -- the OCPI side --------------------------------------------------------------------------------

    async def add_location(
        self, location_id: str = "LOC1", *charge_point_ids: str, **fields: Any
    ) -> Location:
        """Store a location (as the REST API would) holding the charge points."""
        values: dict[str, Any] = {
            "id": location_id,
            "name": "Gent Zuid",
            "address": "F.Rooseveltlaan 3A",
            "city": "Gent",
            "country": "BEL",
            "latitude": "51.047599",
            "longitude": "3.729944",
            "time_zone": "Europe/Brussels",
            "country_code": "BE",
            "party_id": "CSM",
            "charge_point_ids": list(charge_point_ids),
        }
        values.update(fields)
        location = Location(**values)
        await self.ocpi.save_location(location)
        stored = await self.ocpi.get_location(location_id)
        assert stored is not None
        return stored

    async def add_tariff(self, data: dict[str, Any], tariff_id: str | None = None) -> Tariff:
        """Store a tariff object (as the REST API would)."""
        tariff = Tariff(id=tariff_id or data["id"], currency=data["currency"], data=data)
        await self.ocpi.save_tariff(tariff)
        stored = await self.ocpi.get_tariff(tariff.id)
        assert stored is not None
        return stored

    async def spec(self, charge_point_id: str, evse_id: int, connector_id: int = 1, **fields: Any) -> None:
        """Configure a connector's OCPI facts."""
        await self.ocpi.save_connector_spec(ConnectorSpec(charge_point_id, evse_id, connector_id, **fields))

    async def add_partner(self, token_c: str, country_code: str, party_id: str) -> Partner:
        """Another registered partner (cc/party_id), calling with credentials token `token_c`."""
        return await self.ocpi.add_partner(
            Partner(
                id=0,
                name=f"eMSP {country_code}/{party_id}",
                country_code=country_code,
                party_id=party_id,
                status=PartnerStatus.REGISTERED,
                token_c_hash=hash_token(token_c),
                token_b=f"b-{party_id}",
            )
        )

    async def partner_token(self, uid: str = ROAMING_TOKEN, partner: Partner | None = None) -> PartnerToken:
        """A token `partner` (default: the harness partner, NL/EMS) pushed, of its party: the sessions it
        starts and their CDRs are that partner's (`ocpi.models.PartyScope`)."""
        owner = partner or self.partner
        token = PartnerToken(
            country_code=owner.country_code,
            party_id=owner.party_id,
            uid=uid,
            type="RFID",
            contract_id=f"{owner.country_code}-{owner.party_id}-{uid}",
            issuer=owner.name,
            valid=True,
            whitelist="ALWAYS",
            data={},
            partner_id=owner.id,
        )
        await self.ocpi.save_partner_token(token)
        return token

    def advance(self, seconds: float) -> datetime:
        return self.clock.advance(seconds)


@asynccontextmanager
async def harness(
    ocpi_store: OcpiStore, clock: FakeClock, *, config: OcpiConfig | None = None
) -> AsyncIterator[Harness]:
    """A Harness on `ocpi_store` and `clock`; the CDR writer is installed (every stop makes a CDR)."""
    store = MemoryStore(clock=clock)
    writer = BatchedWriter(store, max_items=1000, interval=60.0)
    domain = Domain(Services(config=Config(), store=store, writer=writer, clock=clock))
    ctx = OcpiContext(
        domain=domain,
        store=ocpi_store,
        config=config or OcpiConfig(country_code="BE", party_id="CSM", max_page_limit=3),
        base_url="http://127.0.0.1",
        clock=clock,
    )
    cdrs.install(ctx)
    partner = await ocpi_store.add_partner(
        Partner(
            id=0,
            name="eMSP",
            country_code="NL",
            party_id="EMS",
            status=PartnerStatus.REGISTERED,
            token_c_hash=hash_token(TOKEN_C),
            token_b="b",
        )
    )
    sub = web.Application(middlewares=[error_middleware, auth_middleware(ocpi_store)])
    sub[OCPI] = ctx
    for module in (locations, sessions, cdrs, tariffs, charging_profiles):
        module.register(sub)
    root = web.Application()
    root.add_subapp("/ocpi", sub)
    async with TestClient(TestServer(root), headers={"Authorization": encode_token(TOKEN_C)}) as client:
        yield Harness(clock, store, writer, domain, ctx, client, partner)
    await writer.sync()


def ago(h: Harness, seconds: float) -> datetime:
    """The harness clock minus `seconds`."""
    return h.clock() - timedelta(seconds=seconds)
