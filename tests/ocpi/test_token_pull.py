"""Pulling an eMSP's token list (ocpi/token_pull.py; OCPI 2.2.1 Tokens, the eMSP's sender interface): at
registration either way, at start, incrementally by `date_from`, page by page through `Link` headers. Our
real OCPI app and the eMSP simulator (simulators/emsp) talk over 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from structlog.testing import capture_logs

from csms.config import Config, OcpiConfig
from csms.domain.core import Domain
from csms.domain.services import Services
from csms.store.writer import BatchedWriter
from ocpi import token_pull
from ocpi.app import create_app
from ocpi.client import PartnerClient
from ocpi.context import OcpiContext
from ocpi.models import Partner, PartnerToken
from ocpi.partners import issue_partner
from ocpi.registration import register_with
from ocpi.token_pull import PullResult, TokenPuller, next_link, pull_tokens
from simulators.emsp import EmspConfig, EmspSimulator
from tests.fakes.memory_store import MemoryStore
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.conftest import T0, FakeClock
from tests.utils import MS, until

OLD = "2024-04-01T08:00:00Z"  # before T0, the CPO's clock


@pytest.fixture
async def ctx(clock: FakeClock, memory_ocpi_store: MemoryOcpiStore) -> AsyncIterator[OcpiContext]:
    """Our OCPI app (every module) on 127.0.0.1, memory stores, the fixed clock; no periodic pulls."""
    store = MemoryStore(clock=clock)
    writer = BatchedWriter(store, max_items=100, interval=0.01)
    await writer.start()
    domain = Domain(Services(config=Config(), store=store, writer=writer, clock=clock))
    config = replace(OcpiConfig(), token_pull_interval=0)
    async with aiohttp.ClientSession() as session:
        ctx = OcpiContext(
            domain=domain,
            store=memory_ocpi_store,
            config=config,
            base_url="",
            client=PartnerClient(session, config, timeout=2000 * MS),
            clock=clock,
        )
        root = web.Application()
        root.add_subapp("/ocpi", create_app(ctx))
        runner = web.AppRunner(root)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ctx.base_url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield ctx
        finally:
            await token_pull.install(ctx).stop()
            await runner.cleanup()
            await writer.stop()


@pytest.fixture
async def emsp() -> AsyncIterator[EmspSimulator]:
    """The eMSP simulator (NL/EMS, token A "token-a-emsp"), serving its tokens 2 per page."""
    config = EmspConfig(token_a="token-a-emsp", timeout=2000 * MS, page_limit=2)
    async with EmspSimulator(config) as sim:
        yield sim


def add_tokens(emsp: EmspSimulator, *uids: str, last_updated: str = OLD, **fields: Any) -> None:
    """Tokens the eMSP owns (and serves on its tokens SENDER endpoint), none pushed to us."""
    for uid in uids:
        emsp.tokens[(uid, "RFID")] = emsp.make_token(uid, last_updated=last_updated, **fields)


async def tokens_of(ctx: OcpiContext, *uids: str) -> dict[str, PartnerToken | None]:
    return {uid: await ctx.store.get_partner_token("NL", "EMS", uid) for uid in uids}


async def registered_emsp(ctx: OcpiContext, emsp: EmspSimulator) -> Partner:
    """The eMSP registered with us (it POSTs its credentials), without a puller installed."""
    partner, token_a = await issue_partner(ctx, name="eMSP", country_code="NL", party_id="EMS", role="EMSP")
    await emsp.register(ctx.versions_url, token_a)
    stored = await ctx.store.get_partner(partner.id)
    assert stored is not None
    return stored


def test_next_link() -> None:
    """The next page's URL is read from `Link: <url>; rel="next"`; no header or no next relation is the
    last page."""
    assert (
        next_link('<https://e.example/t?offset=2&limit=2>; rel="next"')
        == "https://e.example/t?offset=2&limit=2"
    )
    assert (
        next_link("<https://e.example/p>; rel=prev, <https://e.example/n>; rel=next") == "https://e.example/n"
    )
    assert next_link(None) is None
    assert next_link('<https://e.example/p>; rel="prev"') is None


async def test_emsp_registering_with_us_has_its_tokens_pulled(ctx: OcpiContext, emsp: EmspSimulator) -> None:
    """Once an eMSP registered with us (credentials POST), its whole token list is pulled, every page
    (2 per page: 3 pages), and stored as partner tokens like PUT tokens, with the pull time."""
    add_tokens(emsp, "T1", "T2", "T3", "T4", "T5")
    token_pull.install(ctx)
    partner, token_a = await issue_partner(ctx, name="eMSP", country_code="NL", party_id="EMS", role="EMSP")
    await emsp.register(ctx.versions_url, token_a)
    await until(lambda: len(ctx.store._tokens) == 5)  # type: ignore[attr-defined]
    stored = await tokens_of(ctx, "T1", "T5")
    assert all(
        token is not None and token.partner_id == partner.id and token.valid for token in stored.values()
    )
    await until(lambda: ctx.store._token_pulls.get(partner.id) is not None)  # type: ignore[attr-defined]
    assert await ctx.store.tokens_pulled_at(partner.id) == T0


async def test_registering_with_the_emsp_pulls_its_tokens(ctx: OcpiContext, emsp: EmspSimulator) -> None:
    """When we register with the eMSP (its token A), its tokens are pulled too."""
    add_tokens(emsp, "T1", "T2", "T3")
    token_pull.install(ctx)
    await register_with(ctx, emsp.versions_url, "token-a-emsp")
    await until(lambda: len(ctx.store._tokens) == 3)  # type: ignore[attr-defined]


async def test_later_pulls_ask_only_for_what_changed(
    ctx: OcpiContext, emsp: EmspSimulator, clock: FakeClock
) -> None:
    """A later pull sends `date_from` = the start of the last complete pull: a token changed since is
    stored, one the eMSP left unchanged is not asked for again."""
    add_tokens(emsp, "T1", "T2", "T3")
    partner = await registered_emsp(ctx, emsp)
    first = await pull_tokens(ctx, partner)
    assert (first.stored, first.pages, first.complete) == (3, 2, True)
    # Unchanged for the date_from filter (same last_updated), changed by a later PUT-worthy edit:
    emsp.tokens[("T1", "RFID")]["valid"] = False
    add_tokens(emsp, "T2", last_updated="2024-05-01T12:30:00Z", valid=False)
    add_tokens(emsp, "T9", last_updated="2024-05-01T12:30:00Z")
    clock.advance(3600)
    second = await pull_tokens(ctx, partner)
    assert (second.stored, second.pages, second.complete) == (2, 1, True)
    stored = await tokens_of(ctx, "T1", "T2", "T9")
    assert [None if t is None else t.valid for t in stored.values()] == [True, False, True]
    assert await ctx.store.tokens_pulled_at(partner.id) == T0.replace(hour=13)


async def test_invalid_foreign_and_older_tokens_are_skipped(ctx: OcpiContext, emsp: EmspSimulator) -> None:
    """A pulled token that is not a valid Token, belongs to another party, or is older than the one we have
    (PUT meanwhile) is skipped and logged; the rest is stored."""
    add_tokens(emsp, "OK")
    add_tokens(emsp, "BAD", whitelist="SOMETIMES")
    add_tokens(emsp, "FOREIGN", party_id="XXX")
    add_tokens(emsp, "NEWER")
    partner = await registered_emsp(ctx, emsp)
    put = emsp.make_token("NEWER", last_updated="2024-04-30T00:00:00Z", valid=False)
    await emsp.put_token(put)
    add_tokens(emsp, "NEWER")  # the eMSP's list still has the older version
    with capture_logs() as logs:
        result = await pull_tokens(ctx, partner)
    assert (result.stored, result.skipped, result.complete) == (1, 3, True)
    stored = await tokens_of(ctx, "OK", "BAD", "NEWER")
    assert stored["OK"] is not None and stored["BAD"] is None
    assert stored["NEWER"] is not None and stored["NEWER"].valid is False
    skipped = sorted(str(line["uid"]) for line in logs if line["event"] == "ocpi_token_pull_skipped")
    assert skipped == ["BAD", "FOREIGN"]


async def test_failed_pull_keeps_the_last_pull_time(
    ctx: OcpiContext, emsp: EmspSimulator, clock: FakeClock
) -> None:
    """While the eMSP is down the pull fails (logged) and the pull time stays where it was; the next pull
    asks again from it."""
    add_tokens(emsp, "T1")
    partner = await registered_emsp(ctx, emsp)
    assert (await pull_tokens(ctx, partner)).complete
    emsp.set_down(True)
    clock.advance(60)
    with capture_logs() as logs:
        failed = await pull_tokens(ctx, partner)
    assert not failed.complete
    assert "ocpi_token_pull_failed" in [line["event"] for line in logs]
    assert await ctx.store.tokens_pulled_at(partner.id) == T0
    emsp.set_down(False)
    add_tokens(emsp, "T2", last_updated="2024-05-01T12:00:30Z")  # between T0 and the failed pull
    assert (await pull_tokens(ctx, partner)).stored == 1


async def test_puller_start_pulls_every_registered_emsp(ctx: OcpiContext, emsp: EmspSimulator) -> None:
    """At start (the bridge starting) every registered partner with a tokens SENDER endpoint is pulled."""
    add_tokens(emsp, "T1", "T2")
    await registered_emsp(ctx, emsp)
    assert ctx.store._tokens == {}  # type: ignore[attr-defined]
    puller = token_pull.install(ctx)
    assert isinstance(puller, TokenPuller) and token_pull.install(ctx) is puller
    await puller.start()
    await until(lambda: len(ctx.store._tokens) == 2)  # type: ignore[attr-defined]


async def test_the_pull_after_registration_is_tried_again_while_it_fails(
    ctx: OcpiContext, emsp: EmspSimulator
) -> None:
    """The eMSP may refuse the first pull (it had not stored our answer yet, or it is down a moment): the
    pull scheduled at registration tries again after `retry_delays`, not only at the next round an hour
    later."""
    add_tokens(emsp, "T1", "T2")
    partner = await registered_emsp(ctx, emsp)
    puller = token_pull.install(ctx)
    assert isinstance(puller, TokenPuller)
    puller.retry_delays = (0.05,)
    first_pull = puller.pull

    async def pull_then_recover(partner_id: int) -> PullResult | None:
        result = await first_pull(partner_id)
        emsp.set_down(False)  # back for the retry
        return result

    puller.pull = pull_then_recover  # type: ignore[method-assign]
    emsp.set_down(True)
    with capture_logs() as logs:
        result = await puller.schedule(partner.id)
    assert [line["event"] for line in logs].count("ocpi_token_pull_failed") == 1
    assert result is not None and result.complete and result.stored == 2
