"""Tenancy in OCPI (issue 12, item 5; ADR 0012): a roaming partner belongs to an organization and sees only
its organization's locations, tariffs and sessions; its commands name only its organization's locations
and sessions. Within its organization the party filters (`PartyScope`) still apply."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from ocpi import cdrs
from ocpi.commands.http import _Answer, _location, _session_of
from ocpi.models import Partner
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.senders import Harness, harness
from tests.store.conftest import FakeClock

TOKEN_B = "token-c-of-the-emsp-of-org-b"
TARIFF = {
    "id": "T1",
    "currency": "EUR",
    "elements": [{"price_components": [{"type": "ENERGY", "price": "0.25", "step_size": 1}]}],
}


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    async with harness(memory_ocpi_store, clock) as built:
        yield built


async def _partner_of_org_b(h: Harness) -> Partner:
    """A registered partner of organization "org-b"; the harness partner and every station, location
    and tariff are the default organization's."""
    partner = await h.add_partner(TOKEN_B, "DE", "EMB")
    moved = replace(partner, org_id="org-b")
    await h.ocpi.save_partner(moved)
    return moved


async def _site(h: Harness) -> None:
    await h.add_station("CP1")
    await h.add_location("LOC1", "CP1")
    await h.add_tariff(TARIFF)


async def test_a_partner_pulls_only_its_organizations_locations_and_tariffs(h: Harness) -> None:
    """The default organization's partner gets the location and tariff; org-b's partner gets empty lists
    and 404 / 2003 for the location itself."""
    await _site(h)
    await _partner_of_org_b(h)
    _, own, _ = await h.get("locations")
    assert [location["id"] for location in own["data"]] == ["LOC1"]
    _, tariffs, _ = await h.get("tariffs")
    assert [tariff["id"] for tariff in tariffs["data"]] == ["T1"]
    status, body, _ = await h.get_as(TOKEN_B, "locations")
    assert (status, body["data"]) == (200, [])
    status, body, _ = await h.get_as(TOKEN_B, "tariffs")
    assert (status, body["data"]) == (200, [])
    status, body, _ = await h.get_as(TOKEN_B, "locations/LOC1")
    assert (status, body["status_code"]) == (404, 2003)


async def test_a_partner_pulls_no_session_at_another_organizations_station(h: Harness) -> None:
    """A session of org-b's partner's own token at the default organization's station is not in that
    partner's sessions (its station is not its organization's)."""
    await _site(h)
    partner = await _partner_of_org_b(h)
    token = await h.partner_token("ROAM-B", partner)
    await h.start("CP1", id_token=token.uid)
    since = "2000-01-01T00:00:00Z"
    status, body, _ = await h.get_as(TOKEN_B, "sessions", date_from=since)
    assert (status, body["data"]) == (200, [])
    moved = replace(partner, org_id="default")
    await h.ocpi.save_partner(moved)
    _, body, _ = await h.get_as(TOKEN_B, "sessions", date_from=since)
    assert len(body["data"]) == 1  # the same partner in the station's organization sees it


async def test_commands_name_only_the_partners_organizations_locations_and_sessions(h: Harness) -> None:
    """START_SESSION / RESERVE_NOW / UNLOCK_CONNECTOR at another organization's location is an unknown
    location, STOP_SESSION of a session at another organization's station an unknown session."""
    await _site(h)
    partner = await _partner_of_org_b(h)
    assert (await _location(h.ctx, "LOC1", None, "default")).id == "LOC1"
    with pytest.raises(_Answer) as refused:
        await _location(h.ctx, "LOC1", None, partner.org_id)
    assert refused.value.result == "REJECTED"
    token = await h.partner_token("ROAM-B", partner)
    tx = await h.start("CP1", id_token=token.uid)
    with pytest.raises(_Answer) as unknown:
        await _session_of(h.ctx, partner, str(tx.id))
    assert unknown.value.result == "UNKNOWN_SESSION"
    assert (await _session_of(h.ctx, replace(partner, org_id="default"), str(tx.id))).id == tx.id


async def test_a_partner_pulls_no_cdr_of_another_organizations_station(h: Harness) -> None:
    """The CDR of a session of org-b's partner's own token at the default organization's station is the
    station's organization's (`Cdr.org_id`): org-b's partner does not get it, the same partner in the
    default organization does."""
    await _site(h)
    partner = await _partner_of_org_b(h)
    token = await h.partner_token("ROAM-B", partner)
    tx = await h.start("CP1", id_token=token.uid)
    await h.stop(tx, 5000)
    await cdrs.settle(h.ctx)  # the writer makes the CDR in the background
    made, _ = await h.ocpi.list_cdrs()
    assert [cdr.org_id for cdr in made] == ["default"]
    status, body, _ = await h.get_as(TOKEN_B, "cdrs")
    assert (status, body["data"]) == (200, [])
    await h.ocpi.save_partner(replace(partner, org_id="default"))
    _, body, _ = await h.get_as(TOKEN_B, "cdrs")
    assert len(body["data"]) == 1
