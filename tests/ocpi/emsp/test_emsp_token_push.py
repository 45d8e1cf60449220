"""Pushing our drivers' token changes to CPOs (ocpi/emsp/token_push.py): the eMSP role registered with our
own CPO side in one running CSMS over real sockets; the CPO side's tokens receiver stores what we PUT."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from csms.app import Csms
from csms.config import EmspConfig
from csms.domain.clock import utcnow
from csms.domain.events import EventBus, IdTokensChanged
from csms.domain.models import IdToken
from ocpi.emsp.role import EmspRole
from ocpi.emsp.store import CpoRecord, MemoryEmspStore
from ocpi.emsp.token_push import TokenPusher
from ocpi.models import Partner, PartnerToken
from ocpi.token_pull import TokenPuller
from tests.e2e.conftest import Api
from tests.ocpi.emsp.conftest import eventually
from tests.ocpi.emsp.test_emsp_with_our_cpo import register


def pusher_of(csms: Csms) -> TokenPusher:
    assert csms.emsp_token_push is not None
    return csms.emsp_token_push


async def registered(csms: Csms) -> tuple[CpoRecord, Partner, datetime]:
    """Register our eMSP role with our CPO side, wait for the CPO side's pull at registration to end (its
    first try may come before we accept its token) and pull once more, so that what it learns later can
    only come from a push; (CPO record, partner, its token pull time)."""
    cpo, partner = await register(csms)
    puller = csms.ocpi.ctx.token_puller
    assert isinstance(puller, TokenPuller)
    result = await puller.pull(partner.id)  # after the one scheduled at registration (one at a time)
    assert result is not None and result.complete
    pulled = await csms.ocpi.ctx.store.tokens_pulled_at(partner.id)
    assert pulled is not None
    return cpo, partner, pulled


async def at_cpo(csms: Csms, uid: str, **want: Any) -> PartnerToken:
    """The token as our CPO side stores it, once it has the wanted fields."""

    async def check() -> PartnerToken | None:
        token = await csms.ocpi.ctx.store.get_partner_token("NL", "EMS", uid, "RFID")
        if token is None or any(getattr(token, k) != v for k, v in want.items()):
            return None
        return token

    return await eventually(check)


async def test_created_blocked_and_deleted_tokens_are_pushed(running: tuple[Csms, Api]) -> None:
    """Through the operator API: a new token reaches the CPO without a pull; Blocked and deleted ones are
    PUT again with valid=false (deleted: with a fresh last_updated)."""
    csms, api = running
    _, partner, pulled = await registered(csms)

    status, body = await api.post("/api/v1/id-tokens", {"id_token": "PUSH1"})
    assert status == 201, body
    pushed = await at_cpo(csms, "PUSH1", valid=True)
    assert pushed.partner_id == partner.id and pushed.data["contract_id"] == "PUSH1"
    assert pushed.data["issuer"] == csms.services.config.emsp.business_name

    async with api.session.patch(f"{api.base}/api/v1/id-tokens/PUSH1", json={"status": "Blocked"}) as resp:
        assert resp.status == 200, await resp.text()
    await at_cpo(csms, "PUSH1", valid=False)

    status, body = await api.post("/api/v1/id-tokens", {"id_token": "PUSH2"})
    assert status == 201, body
    await at_cpo(csms, "PUSH2", valid=True)
    deleted_at = utcnow().replace(microsecond=0)  # OCPI DateTimes have whole seconds
    async with api.session.delete(f"{api.base}/api/v1/id-tokens/PUSH2") as resp:
        assert resp.status == 204, await resp.text()
    deleted = await at_cpo(csms, "PUSH2", valid=False)
    assert deleted.last_updated is not None and deleted.last_updated >= deleted_at
    # Pushed, not pulled: the CPO side's pull time did not move.
    assert await csms.ocpi.ctx.store.tokens_pulled_at(partner.id) == pulled


async def test_tokens_of_another_organization_are_not_pushed(running: tuple[Csms, Api]) -> None:
    """A change of another organization's tokens starts no sync; ours are pushed, theirs never."""
    csms, _ = running
    await registered(csms)
    pusher = pusher_of(csms)
    store, events = csms.services.store, csms.services.events
    await store.add_id_token(IdToken("FOREIGN", org_id="other"))
    await events.publish(IdTokensChanged("other"))
    assert not pusher.busy and pusher.syncs == 0

    await store.add_id_token(IdToken("OURS"))
    await events.publish(IdTokensChanged(csms.services.config.emsp.org_id))
    await at_cpo(csms, "OURS", valid=True)
    await pusher.wait_idle()
    assert await csms.ocpi.ctx.store.get_partner_token("NL", "EMS", "FOREIGN", "RFID") is None


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_cpos_without_receiver_or_unreachable_do_not_stop_the_others(
    running: tuple[Csms, Api],
) -> None:
    """A CPO without a tokens receiver is skipped; an unreachable one is logged with its id and the uid;
    our CPO side still gets the token."""
    csms, _ = running
    assert csms.emsp is not None
    cpos = csms.emsp.store
    base = CpoRecord(0, "x", "http://127.0.0.1:1/versions", "REGISTERED", token_c="C", country_code="DE")
    no_receiver = await cpos.add_cpo(
        replace(base, party_id="NOR", endpoints={"locations:SENDER": "http://127.0.0.1:1/locations"})
    )
    down = await cpos.add_cpo(
        replace(base, party_id="DWN", endpoints={"tokens:RECEIVER": f"http://127.0.0.1:{closed_port()}/t"})
    )
    await registered(csms)
    pusher = pusher_of(csms)
    with capture_logs() as logs:
        await csms.services.store.add_id_token(IdToken("EVERYWHERE"))
        await csms.services.events.publish(IdTokensChanged(csms.services.config.emsp.org_id))
        await at_cpo(csms, "EVERYWHERE", valid=True)
        await pusher.wait_idle()
    failed = [e for e in logs if e["event"] == "emsp_token_push_failed"]
    assert [(e["cpo_id"], e["uid"]) for e in failed] == [(down.id, "EVERYWHERE")]
    assert not [
        e for e in logs if e.get("cpo_id") == no_receiver.id or e["event"] == "emsp_token_sync_failed"
    ]


# -- coalescing, without sockets ----------------------------------------------------------------------


class GatedTokens:
    """A token store whose reads wait for `gate` once it is armed (a sync held in the middle)."""

    def __init__(self) -> None:
        self.tokens: list[IdToken] = []
        self.gate: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def list_id_tokens(
        self, *, limit: int, cursor: str | None = None, org_id: str | None = None
    ) -> tuple[list[IdToken], str | None]:
        if self.gate is not None:
            self.reading.set()
            await self.gate.wait()
        return [t for t in self.tokens if t.org_id == org_id], None


async def test_bursts_are_coalesced() -> None:
    """Changes before a sync started make one sync; changes during a sync make exactly one more."""
    tokens = GatedTokens()
    events = EventBus()
    role = EmspRole(EmspConfig(), MemoryEmspStore(), tokens, None)  # type: ignore[arg-type]
    pusher = TokenPusher(role, events)
    await pusher.start()
    try:
        changed = IdTokensChanged(role.config.org_id)
        for _ in range(3):
            await events.publish(changed)
        await pusher.wait_idle()
        assert pusher.syncs == 1

        tokens.gate = asyncio.Event()
        await events.publish(changed)
        await tokens.reading.wait()  # the sync is under way
        tokens.tokens.append(IdToken("LATE", created_at=datetime(2025, 1, 1, tzinfo=UTC)))
        for _ in range(3):
            await events.publish(changed)
        tokens.gate.set()
        await pusher.wait_idle()
        assert pusher.syncs == 3
    finally:
        await pusher.stop()
    assert events.subscribers(IdTokensChanged) == []


async def test_a_token_that_expired_is_pushed_with_a_fresh_last_updated(tmp_path: Path) -> None:
    """A token whose Token changed without a later `updated_at` (it expired) is PUT with last_updated =
    now (a receiver keeping the newest copy must take it), once: the next sync finds nothing to push."""
    puts: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    async def put(request: web.Request) -> web.Response:
        puts.append((request.path, dict(request.query), await request.json()))
        return web.json_response({"status_code": 1000})

    app = web.Application()
    app.router.add_put("/tokens/{cc}/{pid}/{uid}", put)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = runner.addresses[0][1]
    t0 = datetime(2025, 1, 1, 12, tzinfo=UTC)
    now = [t0]
    tokens = GatedTokens()
    tokens.tokens.append(IdToken("EXPIRING", expiry_date=t0 + timedelta(hours=1), updated_at=t0))
    events = EventBus()
    try:
        async with aiohttp.ClientSession() as session:
            role = EmspRole(EmspConfig(), MemoryEmspStore(), tokens, session, clock=lambda: now[0])  # type: ignore[arg-type]
            endpoints = {"tokens:RECEIVER": f"http://127.0.0.1:{port}/tokens"}
            await role.store.add_cpo(
                CpoRecord(0, "fake", "x", status="REGISTERED", token_c="C", endpoints=endpoints)
            )
            pusher = TokenPusher(role, events)
            await pusher.start()
            try:
                now[0] = t0 + timedelta(hours=2)
                tokens.tokens.append(IdToken("NEW", updated_at=now[0]))
                await events.publish(IdTokensChanged(role.config.org_id))
                await pusher.wait_idle()
                by_uid = {body["uid"]: (path, query, body) for path, query, body in puts}
                path, query, expired = by_uid["EXPIRING"]
                assert path == "/tokens/NL/EMS/EXPIRING" and query == {"type": "RFID"}
                assert expired["valid"] is False and expired["last_updated"] == "2025-01-01T14:00:00Z"
                assert by_uid["NEW"][2]["valid"] is True and len(puts) == 2

                now[0] = t0 + timedelta(hours=3)
                await events.publish(IdTokensChanged(role.config.org_id))
                await pusher.wait_idle()
                assert len(puts) == 2 and pusher.syncs == 2
            finally:
                await pusher.stop()
    finally:
        await runner.cleanup()


async def fake_cpo(answers: list[int]) -> tuple[web.AppRunner, list[dict[str, Any]]]:
    """A CPO's Tokens receiver on 127.0.0.1 answering the HTTP statuses in `answers` (then 200) and keeping
    the Tokens it took."""
    taken: list[dict[str, Any]] = []

    async def put(request: web.Request) -> web.Response:
        body = await request.json()
        status = answers.pop(0) if answers else 200
        if status == 200:
            taken.append(body)
        return web.json_response({"status_code": 1000 if status == 200 else 2001}, status=status)

    app = web.Application()
    app.router.add_put("/tokens/{cc}/{pid}/{uid}", put)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, taken


@pytest.mark.parametrize(("refusals", "taken_uids"), [([503, 503], ["GONE"]), ([400], [])])
async def test_a_push_that_failed_is_tried_again_unless_refused(
    refusals: list[int], taken_uids: list[str]
) -> None:
    """A deleted token's `valid: false` PUT answered 503 is tried again after `retry_delays` until the CPO
    takes it; one the CPO refused as invalid (400) is logged once and not tried again."""
    runner, taken = await fake_cpo(list(refusals))
    tokens = GatedTokens()
    tokens.tokens.append(IdToken("GONE", updated_at=datetime(2025, 1, 1, tzinfo=UTC)))
    events = EventBus()
    try:
        async with aiohttp.ClientSession() as session:
            role = EmspRole(EmspConfig(), MemoryEmspStore(), tokens, session)  # type: ignore[arg-type]
            endpoints = {"tokens:RECEIVER": f"http://127.0.0.1:{runner.addresses[0][1]}/tokens"}
            await role.store.add_cpo(
                CpoRecord(0, "fake", "x", status="REGISTERED", token_c="C", endpoints=endpoints)
            )
            pusher = TokenPusher(role, events)
            pusher.retry_delays = (0.01,)
            await pusher.start()
            try:
                tokens.tokens.clear()  # deleted
                with capture_logs() as logs:
                    await events.publish(IdTokensChanged(role.config.org_id))
                    await pusher.wait_idle()
                    while pusher.unsent:  # noqa: ASYNC110 - retried in the background
                        await asyncio.sleep(0.01)
                    await pusher.wait_idle()
                assert [(t["uid"], t["valid"]) for t in taken] == [(uid, False) for uid in taken_uids]
                failed = [e["http_status"] for e in logs if e["event"] == "emsp_token_push_failed"]
                assert failed == refusals  # each refusal logged once; 503 tried again, 400 not
                assert pusher.syncs == 1 + (len(refusals) if taken_uids else 0)
            finally:
                await pusher.stop()
    finally:
        await runner.cleanup()
