"""CDR corrections (`ocpi.corrections`, `ocpi.admin_api.cdrs`): a credit CDR plus a new CDR, never an edit
(OCPI 2.2.1 CDRs, "Credit CDRs"); stored, pulled by and pushed to the session's owner only, and billed from
then on (cost, breakdown, receipt)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from csms.api import create_app
from csms.config import OcpiConfig
from csms.domain.models import ConnectorStatus, Transaction
from csms.domain.secrets import hash_secret, new_api_key
from ocpi import admin_api, cdrs
from ocpi.client import PartnerClient
from ocpi.corrections import (
    CdrNotFound,
    CorrectionError,
    InvalidCorrection,
    correct_cdr,
    credit_cdr,
    effective_cdr,
    effective_of,
)
from ocpi.models import Cdr, Partner
from ocpi.outbox import Outbox
from ocpi.store import OcpiStore
from tests.api.openapi_check import OpenApiChecker
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.schemas import assert_valid
from tests.ocpi.senders import Harness, harness
from tests.store.conftest import T0, FakeClock

EXAMPLES = Path("/work/shared/ocpi-examples")
ApiClient = TestClient[web.Request, web.Application]
CONFIG = OcpiConfig(country_code="BE", party_id="CSM", business_name="Gent Laadpalen")
OTHER_TOKEN_C = "token-c-of-the-other-emsp"


def example(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    return data


# -- the credit CDR builder (pure) ----------------------------------------------------------------------


def _cdr(cdr_id: str = "42", **data: Any) -> Cdr:
    body = {
        "id": cdr_id,
        "session_id": "42",
        "currency": "EUR",
        "total_cost": {"excl_vat": 5.5, "incl_vat": 6.1},
        "total_energy_cost": {"excl_vat": 5, "incl_vat": 5.5},
        "total_fixed_cost": {"excl_vat": 0.5, "incl_vat": 0.6},
        "total_energy": 20,
        "total_time": 2,
        "charging_periods": [{"start_date_time": "2024-05-01T12:00:00Z",
                              "dimensions": [{"type": "ENERGY", "volume": 20}]}],
        "last_updated": "2024-05-01T14:00:00Z",
        **data,
    }
    return Cdr(cdr_id, 42, body, Decimal("5.5"), last_updated=T0)


def test_credit_cdr_negates_the_total_cost_and_references_the_credited_cdr() -> None:
    """The credit CDR has id `<id>-C`, credit true, credit_reference_id the credited CDR's id, total_cost
    negated (excl. and incl. VAT), last_updated the correction's time; every other field is the original's
    (OCPI 2.2.1: "only the values in the total_cost field SHALL contain the negative amounts")."""
    original = _cdr()
    before = copy.deepcopy(original.data)
    later = T0.replace(hour=15)
    credit = credit_cdr(original, later, "meter misread")
    assert (credit.id, credit.transaction_pk, credit.last_updated) == ("42-C", 42, later)
    assert credit.total_cost_excl_vat == Decimal("-5.5")
    data = credit.data
    assert data["id"] == "42-C" and data["credit"] is True and data["credit_reference_id"] == "42"
    assert data["total_cost"] == {"excl_vat": -5.5, "incl_vat": -6.1}
    assert data["last_updated"] == "2024-05-01T15:00:00Z" and data["remark"] == "meter misread"
    unchanged = {k: v for k, v in data.items()
                 if k not in ("id", "credit", "credit_reference_id", "total_cost", "last_updated", "remark")}
    assert unchanged == {k: v for k, v in before.items() if k not in ("id", "total_cost", "last_updated")}
    assert original.data == before  # the credited CDR is never touched


def test_credit_of_a_price_without_incl_vat_and_of_a_free_cdr() -> None:
    """A total_cost without incl_vat stays without it; a free CDR's credit is 0 (not -0)."""
    credit = credit_cdr(_cdr(total_cost={"excl_vat": 1.25}), T0)
    assert credit.data["total_cost"] == {"excl_vat": -1.25}
    zero = _cdr(total_cost={"excl_vat": 0, "incl_vat": 0})
    free = credit_cdr(replace(zero, total_cost_excl_vat=Decimal(0)), T0)
    assert free.data["total_cost"] == {"excl_vat": 0, "incl_vat": 0}
    assert "remark" not in free.data


def test_a_credit_cdr_stays_in_the_organization_of_the_credited_cdr() -> None:
    """Tenancy (ADR 0012): the credit belongs to the credited CDR's organization, so only its partners and
    operators see it."""
    assert credit_cdr(replace(_cdr(), org_id="org-x"), T0).org_id == "org-x"


def test_the_effective_cdr_is_the_one_neither_credited_nor_a_credit() -> None:
    """Of a transaction's CDRs, the one that bills it is the newest neither a credit nor credited."""
    original = _cdr("42")
    assert effective_of([original]) == original
    credit = credit_cdr(original, T0)
    replacement = _cdr("42-R1")
    assert effective_of([original, replacement, credit]) == replacement
    assert effective_of([original, credit]) is None
    assert effective_of([]) is None


# -- correcting through the bridge ------------------------------------------------------------------------


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    """CP1 in the published location LOC1 on tariff 17 (€0.50 FLAT @20% + €0.25/kWh @10%); two eMSPs with
    CDRs receivers (NL/EMS, the harness's, and DE/OTH); an outbox that queues (not started)."""
    async with harness(memory_ocpi_store, clock, config=CONFIG) as built:
        await setup(built)
        yield built


async def setup(h: Harness) -> Partner:
    await h.add_station("CP1")
    await h.add_location("LOC1", "CP1", postal_code="9000")
    await h.status("CP1", 1, ConnectorStatus.AVAILABLE, "Available")
    await h.add_tariff(example("tariff_9_025kwh_start.json"))
    cheaper = example("tariff_9_025kwh_start.json")
    cheaper["elements"][0]["price_components"][1]["price"] = 0.1
    await h.add_tariff(cheaper, tariff_id="18")
    await h.spec(
        "CP1", 1, standard="IEC_62196_T2", format="CABLE", power_type="AC_3_PHASE", tariff_ids=["17"]
    )
    for partner in (h.partner, await h.add_partner(OTHER_TOKEN_C, "DE", "OTH")):
        partner.endpoints = {"cdrs:RECEIVER": f"http://{partner.party_id.lower()}.example/ocpi/2.2.1/cdrs"}
        await h.ocpi.save_partner(partner)
    await h.partner_token("EMS1")
    h.ctx.outbox = Outbox(h.ctx)
    return h.partner


async def finished(h: Harness, uid: str = "EMS1") -> Transaction:
    """A finished session of token `uid`: 10 kWh in 1.5 h (3.00 excl., 3.35 incl. VAT), its CDR made."""
    tx = await h.start("CP1", 1, id_token=uid, meter_start=500)
    h.advance(5400)
    stopped = await h.stop(tx, 10_500)
    await cdrs.settle(h.ctx)
    return stopped


async def test_correction_stores_a_credit_and_a_replacement(h: Harness) -> None:
    """Correcting the energy to 20 kWh stores a credit CDR (-3.00 / -3.35) and a replacement priced again
    (5.50 / 6.10) with a new id and the same session; the original CDR is unchanged and the session's
    effective CDR is the replacement. Both are valid OCPI CDRs."""
    tx = await finished(h)
    original = await h.ocpi.get_cdr(str(tx.id))
    assert original is not None
    h.advance(600)
    correction = await correct_cdr(h.ctx, str(tx.id), "meter misread", energy_wh=20_000)
    credit, replacement = correction.credit, correction.replacement
    assert credit.id == f"{tx.id}-C" and replacement.id == f"{tx.id}-R1"
    assert credit.data["total_cost"] == {"excl_vat": -3, "incl_vat": -3.35}
    assert credit.data["credit_reference_id"] == str(tx.id)
    assert replacement.data["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    assert replacement.data["total_energy"] == 20 and replacement.data["remark"] == "meter misread"
    assert "credit" not in replacement.data and "credit_reference_id" not in replacement.data
    assert replacement.data["session_id"] == original.data["session_id"] == credit.data["session_id"]
    assert replacement.data["last_updated"] == credit.data["last_updated"] == "2024-05-01T13:40:00Z"
    for cdr in (credit, replacement):
        assert_valid("CDR", cdr.data)
    assert await h.ocpi.get_cdr(str(tx.id)) == original
    stored = await h.ocpi.list_transaction_cdrs(tx.id)
    assert [c.id for c in stored] == [str(tx.id), credit.id, replacement.id]
    assert await effective_cdr(h.ocpi, tx.id) == replacement


async def test_a_cdr_is_credited_once_and_a_credit_never(h: Harness) -> None:
    """A second correction of the same CDR is refused (`cdr_already_credited`), as is one of a credit CDR
    (`cdr_is_credit`) or an unknown CDR; the replacement can be corrected in turn, with another tariff."""
    tx = await finished(h)
    first = await correct_cdr(h.ctx, str(tx.id), "meter misread", energy_wh=20_000)
    with pytest.raises(CorrectionError) as refused:
        await correct_cdr(h.ctx, str(tx.id), "again")
    assert (refused.value.status, refused.value.code) == (409, "cdr_already_credited")
    with pytest.raises(CorrectionError) as refused:
        await correct_cdr(h.ctx, first.credit.id, "credit")
    assert (refused.value.status, refused.value.code) == (409, "cdr_is_credit")
    with pytest.raises(CdrNotFound):
        await correct_cdr(h.ctx, "nope", "unknown")
    with pytest.raises(InvalidCorrection):
        await correct_cdr(h.ctx, first.replacement.id, "unknown tariff", tariff_id="99")
    second = await correct_cdr(h.ctx, first.replacement.id, "wrong tariff", tariff_id="18")
    assert second.credit.id == f"{tx.id}-R1-C" and second.replacement.id == f"{tx.id}-R2"
    # 10 kWh metered (the first correction's energy was for its replacement only): 0.50 + 10 × 0.10
    assert second.replacement.data["total_cost"] == {"excl_vat": 1.5, "incl_vat": 1.7}
    assert second.replacement.data["tariffs"][0]["id"] == "18"
    assert await effective_cdr(h.ocpi, tx.id) == second.replacement


async def test_partner_pulls_and_receives_credit_then_replacement_others_nothing(
    ocpi_store: OcpiStore, clock: FakeClock
) -> None:
    """The session's eMSP pulls the original, credit and replacement CDRs and gets the credit then the
    replacement queued as POSTs to its CDRs receiver, in that order under the session's object key; the
    other eMSP pulls none and gets nothing — on every OCPI store backend."""
    async with harness(ocpi_store, clock, config=replace(CONFIG, max_page_limit=10)) as h:
        ems = await setup(h)
        theirs = await finished(h, uid="LOCAL")  # a CSMS-local token's session: no partner's
        tx = await finished(h)
        queued_before = len(await h.ocpi.list_outbox(limit=1000))
        correction = await correct_cdr(h.ctx, str(tx.id), "meter misread", energy_wh=20_000)
        await correct_cdr(h.ctx, str(theirs.id), "local")
        items, _ = await h.get_all("cdrs")
        assert [c["id"] for c in items] == [str(tx.id), f"{tx.id}-C", f"{tx.id}-R1"]
        assert items[1] == correction.credit.data and items[2] == correction.replacement.data
        others, _ = await h.get_all("cdrs", token=OTHER_TOKEN_C)
        assert others == []
        pushed = sorted(await h.ocpi.list_outbox(limit=1000), key=lambda e: e.id)[queued_before:]
        assert [(e.partner_id, e.module, e.method, e.object_key, e.body["id"]) for e in pushed] == [
            (ems.id, "cdrs", "POST", f"session:{tx.id}", f"{tx.id}-C"),
            (ems.id, "cdrs", "POST", f"session:{tx.id}", f"{tx.id}-R1"),
        ]
        assert pushed[0].url == "http://ems.example/ocpi/2.2.1/cdrs"


async def test_partner_receives_the_credit_then_the_replacement(h: Harness) -> None:
    """Delivered by the outbox over HTTP, the session's eMSP receives the credit CDR POST, then the
    replacement's, at its CDRs receiver; the other eMSP's receiver gets nothing."""
    received: list[tuple[str, str, Any]] = []

    async def receive(request: web.Request) -> web.Response:
        received.append((request.method, request.path, await request.json()))
        return web.Response(status=201, headers={"Location": f"{request.url}/x"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", receive)
    async with TestServer(app) as server, aiohttp.ClientSession() as session:
        for partner in await h.ocpi.list_partners():
            partner.endpoints = {"cdrs:RECEIVER": str(server.make_url(f"/{partner.party_id}/cdrs"))}
            await h.ocpi.save_partner(partner)
        h.ctx.client = PartnerClient(session, h.ctx.config, timeout=2.0)
        tx = await finished(h)
        correction = await correct_cdr(h.ctx, str(tx.id), "meter misread", energy_wh=20_000)
        outbox = h.ctx.outbox
        assert isinstance(outbox, Outbox)
        for _ in range(10):  # until nothing more is due
            if not await outbox.deliver_due():
                break
    assert received == [
        ("POST", "/EMS/cdrs", correction.credit.data),
        ("POST", "/EMS/cdrs", correction.replacement.data),
    ]


# -- the operator REST API ----------------------------------------------------------------------------


@pytest.fixture
def failures() -> list[str]:
    """Responses that did not match the OpenAPI document."""
    return []


async def _client(h: Harness, role: str, failures: list[str]) -> ApiClient:
    key, prefix = new_api_key()
    await h.store.add_api_key(f"test-{role}", prefix, hash_secret(key, rounds=4), role)
    app = create_app(h.domain, extra_routes=admin_api.ROUTES)
    admin_api.install(app, h.ocpi, h.ctx)
    app.middlewares.append(OpenApiChecker.shared().middleware(failures))
    return TestClient(TestServer(app), headers={"Authorization": f"Bearer {key}"})


@pytest.fixture
async def api(h: Harness, failures: list[str]) -> AsyncIterator[ApiClient]:
    """The operator API with the OCPI routes and the bridge's context, as an admin; every response is
    checked against the OpenAPI document."""
    async with await _client(h, "admin", failures) as client:
        yield client
    assert not failures, "responses not matching the OpenAPI document:\n" + "\n".join(failures)


async def post(api: ApiClient, path: str, body: Any, status: int) -> Any:
    response = await api.post(f"/api/v1{path}", json=body)
    assert response.status == status, await response.text()
    return response, await response.json()


async def test_rest_correction_201_then_409(h: Harness, api: ApiClient) -> None:
    """POST /cdrs/{id}/corrections answers 201 with the credit and the replacement CDR (Location: the
    replacement); the same again is 409 `cdr_already_credited`, on the credit 409 `cdr_is_credit`; the
    session's CDRs list shows the chain and the replacement as the effective one."""
    tx = await finished(h)
    response, body = await post(api, f"/cdrs/{tx.id}/corrections",
                                {"reason": "meter misread", "total_energy_wh": 20_000}, 201)
    assert set(body) == {"credit", "replacement"}
    assert body["credit"]["id"] == f"{tx.id}-C" and body["credit"]["credit"] is True
    assert body["credit"]["credit_reference_id"] == str(tx.id)
    assert body["credit"]["total_cost"] == {"excl_vat": -3, "incl_vat": -3.35}
    assert body["replacement"]["id"] == f"{tx.id}-R1"
    assert body["replacement"]["total_cost"] == {"excl_vat": 5.5, "incl_vat": 6.1}
    assert response.headers["Location"] == f"/api/v1/cdrs/{tx.id}-R1"
    got = await api.get(response.headers["Location"])
    assert got.status == 200 and await got.json() == body["replacement"]

    _, again = await post(api, f"/cdrs/{tx.id}/corrections", {"reason": "again"}, 409)
    assert again["error"]["code"] == "cdr_already_credited"
    _, credit = await post(api, f"/cdrs/{tx.id}-C/corrections", {"reason": "credit"}, 409)
    assert credit["error"]["code"] == "cdr_is_credit"

    listed = await api.get(f"/api/v1/sessions/{tx.id}/cdrs")
    chain = await listed.json()
    assert [c["id"] for c in chain["cdrs"]] == [str(tx.id), f"{tx.id}-C", f"{tx.id}-R1"]
    assert chain["effective_cdr_id"] == f"{tx.id}-R1" and chain["session_id"] == tx.id


async def test_rest_correction_404_and_400(h: Harness, api: ApiClient) -> None:
    """An unknown CDR is 404 `not_found`; a body without reason, with a negative or fractional energy, an
    unknown field or an unknown tariff is 400 `invalid_request`; nothing is stored."""
    tx = await finished(h)
    _, unknown = await post(api, "/cdrs/nope/corrections", {"reason": "x"}, 404)
    assert unknown["error"]["code"] == "not_found"
    bodies: list[dict[str, Any]] = [
        {},
        {"reason": ""},
        {"reason": "x", "total_energy_wh": -1},
        {"reason": "x", "total_energy_wh": 1.5},
        {"reason": "x", "total_energy_wh": True},
        {"reason": "x", "extra": 1},
    ]
    for bad in bodies:
        _, error = await post(api, f"/cdrs/{tx.id}/corrections", bad, 400)
        assert error["error"]["code"] == "invalid_request", bad
    _, error = await post(api, f"/cdrs/{tx.id}/corrections", {"reason": "x", "tariff_id": "99"}, 400)
    assert error["error"]["details"][0]["field"] == "tariff_id"
    assert [c.id for c in await h.ocpi.list_transaction_cdrs(tx.id)] == [str(tx.id)]
    missing = await api.get(f"/api/v1/sessions/{tx.id + 100}/cdrs")
    assert missing.status == 404


async def test_rest_correction_needs_admin(h: Harness, api: ApiClient, failures: list[str]) -> None:
    """A member key may not correct a CDR (403), but may read the session's CDRs."""
    tx = await finished(h)
    async with await _client(h, "member", failures) as member:
        response = await member.post(f"/api/v1/cdrs/{tx.id}/corrections", json={"reason": "x"})
        assert response.status == 403
        assert (await member.get(f"/api/v1/sessions/{tx.id}/cdrs")).status == 200


async def test_session_cost_and_receipt_follow_the_replacement(h: Harness, api: ApiClient) -> None:
    """After a correction, GET /sessions/{id}, the breakdown and the receipt show the replacement's totals
    (20 kWh: 5.50 / 6.10), not the corrected CDR's (10 kWh: 3.00 / 3.35)."""
    tx = await finished(h)
    before = await (await api.get(f"/api/v1/sessions/{tx.id}")).json()
    assert before["cost"] == {"excl_vat": "3.0000", "incl_vat": "3.3500", "currency": "EUR", "final": True}
    await post(api, f"/cdrs/{tx.id}/corrections", {"reason": "meter misread", "total_energy_wh": 20_000}, 201)
    after = await (await api.get(f"/api/v1/sessions/{tx.id}")).json()
    assert after["cost"] == {"excl_vat": "5.5000", "incl_vat": "6.1000", "currency": "EUR", "final": True}
    breakdown = await (await api.get(f"/api/v1/sessions/{tx.id}/cost-breakdown")).json()
    assert breakdown["total"] == {"excl_vat": "5.5000", "incl_vat": "6.1000"} and breakdown["billed"] is True
    receipt = await api.get(f"/api/v1/sessions/{tx.id}/receipt")
    pdf = await receipt.read()
    assert b"Total incl. VAT: 6.1000 EUR" in pdf and b"Energy: 20.000 kWh" in pdf
