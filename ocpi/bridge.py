"""The OCPI bridge of one running CSMS: its context, listeners, outbox and HTTP client, started and
stopped with the CSMS (csms/app.py)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

import aiohttp
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from csms.domain.core import Domain
from ocpi import authority, cdrs, commands, push, running_cost, token_pull
from ocpi.app import create_app
from ocpi.client import PartnerClient
from ocpi.context import OcpiContext
from ocpi.outbox import Outbox
from ocpi.partners import public_base_url
from ocpi.reconcile import reconcile
from ocpi.store.sql import SqlOcpiStore


@dataclass(slots=True)
class OcpiBridge:
    """Everything OCPI adds to a running CSMS."""

    ctx: OcpiContext
    session: aiohttp.ClientSession
    outbox: Outbox

    @classmethod
    def build(cls, domain: Domain, engine: AsyncEngine) -> OcpiBridge:
        """Create the context on the CSMS database and register the domain listeners.

        Order matters: the authority and the command runner create SessionLinks before the CDR writer and
        the push feeder read them (each `install` puts itself where it must). Call inside the event loop.
        """
        config = domain.config
        session = aiohttp.ClientSession()
        ctx = OcpiContext(
            domain=domain,
            store=SqlOcpiStore(engine, clock=domain.clock),
            config=config.ocpi,
            base_url=public_base_url(config),
            client=PartnerClient(session, config.ocpi),
            clock=domain.clock,
        )
        authority.install(ctx)
        commands.install(ctx)
        cdrs.install(ctx)
        outbox = push.install(ctx)
        ctx.outbox = outbox
        token_pull.install(ctx)
        running_cost.install(ctx)
        return cls(ctx, session, outbox)

    def app(self) -> web.Application:
        """The /ocpi sub-application."""
        return create_app(self.ctx)

    async def start(self, http_port: int) -> None:
        """Learn the bound HTTP port (for URLs we give partners), queue what a crash kept from partners
        (`ocpi.reconcile`), start delivering pushes, and take over the command results a previous run still
        owed (`commands.recover`)."""
        config = self.ctx.domain.config
        if not config.ocpi.public_url:
            self.ctx.base_url = public_base_url(replace(config, http=replace(config.http, port=http_port)))
        window = config.ocpi.reconcile_window_seconds
        if window > 0:  # before the outbox and the feeder: what it queues goes before what they queue
            since = self.ctx.clock() - timedelta(seconds=window)
            await reconcile(self.ctx, self.outbox, since)
        await self.outbox.start()
        await commands.recover(self.ctx)
        await token_pull.install(self.ctx).start()  # pulls every eMSP's changed tokens now, then periodically

    async def stop(self) -> None:
        """Stop pushing (pending entries stay in the outbox), finish command tasks, close the client."""
        await self.outbox.stop()
        await token_pull.install(self.ctx).stop()
        await commands.shutdown(self.ctx)
        await self.session.close()
