"""End-to-end partner isolation (issue 10): two eMSP simulators of different parties registered with the real
CSMS, each with a driver charging on a real charge point simulator. Each eMSP pulls and receives by push only
the sessions and CDRs of its own tokens (pagination totals included); a CSMS-local token's session goes to
nobody; and neither eMSP may push tokens under the other's country_code/party_id."""

from __future__ import annotations

from pathlib import Path

from csms.domain.models import IdToken
from ocpi.models import OutboxStatus, Partner
from ocpi.partners import issue_partner
from ocpi.store import Pagination
from simulators.chargepoint import ChargePointSimulator
from simulators.emsp import EmspConfig, EmspSimulator
from tests.e2e.test_ocpi_roaming import WAIT, Roaming, eventually, roaming
from tests.ocpi.schemas import assert_valid

OTHER_CC, OTHER_PID = "DE", "OTH"


async def register_second_emsp(r: Roaming, emsp: EmspSimulator) -> Partner:
    """A second eMSP (DE/OTH) registers with a token A the operator issued for it."""
    partner, token_a = await issue_partner(
        r.ctx, name="Other eMSP", country_code=OTHER_CC, party_id=OTHER_PID
    )
    await emsp.register(r.ctx.versions_url, token_a)
    stored = await r.ctx.store.get_partner(partner.id)
    assert stored is not None
    return stored


async def charge(sim: ChargePointSimulator, uid: str, kwh: int) -> None:
    """One whole charging session of `uid` on connector 1."""
    await sim.plug_in(1)
    await sim.start_transaction(1, uid, meter_start_wh=0)
    await sim.send_meter_values(1, energy_wh=500 * kwh)
    await sim.stop_transaction(1, meter_stop_wh=1000 * kwh)
    await sim.unplug(1)


async def test_each_emsp_pulls_and_receives_only_its_own_sessions_and_cdrs(tmp_path: Path) -> None:
    """NL/EMS's driver charges three times, DE/OTH's once, a CSMS-local driver once: with a page limit of
    2, NL/EMS pulls its 3 sessions and 3 CDRs over 2 pages (X-Total-Count 3), DE/OTH its one; each
    receives the pushes of its own sessions only; the local session is pulled and pushed by nobody."""
    async with roaming(tmp_path, max_page_limit=2) as r:
        first = await r.register_emsp()
        other = EmspSimulator(EmspConfig(country_code=OTHER_CC, party_id=OTHER_PID, timeout=WAIT))
        async with other:
            second = await register_second_emsp(r, other)
            await r.emsp.put_token("EMSCARD", whitelist="ALWAYS")
            await other.put_token("OTHCARD", whitelist="ALWAYS")
            await r.csms.services.store.add_id_token(IdToken("LOCALCARD"))
            sim = await r.station("ISO-1", "1.6")
            await r.location("LOC-ISO", sim.charge_point_id)
            for uid, kwh in (
                ("EMSCARD", 1),
                ("OTHCARD", 2),
                ("EMSCARD", 3),
                ("LOCALCARD", 4),
                ("EMSCARD", 5),
            ):
                await charge(sim, uid, kwh)

            async def all_cdrs() -> bool:
                _, total = await r.ctx.store.list_cdrs(Pagination(limit=10))
                return bool(total == 5)

            await eventually(all_cdrs)

            async def all_pushed() -> bool:
                entries = [*(await r.outbox(first)), *(await r.outbox(second))]
                cdr_posts = [e for e in entries if e.module == "cdrs"]
                return len(cdr_posts) == 4 and all(e.status is OutboxStatus.SENT for e in entries)

            await eventually(all_pushed)

            for emsp, uid, kwhs in ((r.emsp, "EMSCARD", [1, 3, 5]), (other, "OTHCARD", [2])):
                party = (emsp.config.country_code, emsp.config.party_id)
                sessions = await emsp.pull("sessions")
                assert sorted(s["kwh"] for s in sessions) == kwhs
                assert emsp.pages["sessions"] == (2 if len(kwhs) > 2 else 1)
                for session in sessions:
                    assert_valid("Session", session)
                    token = session["cdr_token"]
                    assert (token["country_code"], token["party_id"], token["uid"]) == (*party, uid)
                cdrs = await emsp.pull("cdrs")
                assert sorted(c["total_energy"] for c in cdrs) == kwhs
                assert {c["session_id"] for c in cdrs} == {s["id"] for s in sessions}
                for cdr in cdrs:
                    assert_valid("CDR", cdr)
                for module in ("sessions", "cdrs"):
                    url = emsp.cpo_endpoint(module, "SENDER")
                    page = await emsp.call("GET", url, params={"date_from": "2000-01-01T00:00:00Z"})
                    assert page.success and page.headers["X-Total-Count"] == str(len(kwhs))
                pushed = {
                    p.path.rstrip("/").rsplit("/", 1)[-1] for p in emsp.pushes if p.module == "sessions"
                }
                assert pushed == {s["id"] for s in sessions}
                posted = [p.body for p in emsp.pushes if p.module == "cdrs"]
                assert sorted(c["id"] for c in posted) == sorted(c["id"] for c in cdrs)
                assert all(c["cdr_token"]["uid"] == uid for c in posted)


async def test_an_emsp_cannot_put_or_patch_another_partys_tokens(tmp_path: Path) -> None:
    """DE/OTH's PUT and PATCH of a token under NL/EMS are refused with HTTP 404 / 2001, and NL/EMS's token
    stays as NL/EMS pushed it."""
    async with roaming(tmp_path) as r:
        await r.register_emsp()
        other = EmspSimulator(EmspConfig(country_code=OTHER_CC, party_id=OTHER_PID, timeout=WAIT))
        async with other:
            await register_second_emsp(r, other)
            await r.emsp.put_token("EMSCARD", whitelist="ALWAYS")
            forged = r.emsp.make_token("EMSCARD", whitelist="NEVER", valid=False)
            url = f"{other.cpo_endpoint('tokens', 'RECEIVER').rstrip('/')}/NL/EMS/EMSCARD"
            put = await other.call("PUT", url, forged, params={"type": "RFID"})
            assert (put.http_status, put.status_code) == (404, 2001)
            patch = await other.call(
                "PATCH",
                url,
                {"valid": False, "last_updated": forged["last_updated"]},
                params={"type": "RFID"},
            )
            assert (patch.http_status, patch.status_code) == (404, 2001)
            stored = await r.ctx.store.get_partner_token("NL", "EMS", "EMSCARD")
            assert stored is not None and stored.valid is True and stored.whitelist == "ALWAYS"
