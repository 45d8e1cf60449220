"""The eMSP role: the `CpoNetwork` implementation (ocpi/emsp/network.py) over the store, the HTTP client,
the pull loop and the command timeouts (ADR 0023).

Built by the composition root when `[emsp] enabled`; `start(http_port)` learns our URL and starts the pull
loop, `stop()` ends it. The server (ocpi/emsp/server.py) calls `deliver` / `command_result` for what CPOs
push to us.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import aiohttp
import structlog

from csms.config import EmspConfig, OcpiConfig
from csms.domain.clock import Clock, utcnow
from csms.domain.ports import TokenStore
from ocpi.client import PartnerClient, PartnerUnreachable, next_link
from ocpi.emsp.network import (
    CachedLocations,
    CdrReceived,
    CommandResponse,
    CommandResult,
    Cpo,
    CpoUnavailable,
    NetworkListener,
    SentCommand,
    SessionUpdate,
)
from ocpi.emsp.store import CpoRecord, EmspStore, StoredCommand
from ocpi.emsp.tokens import token_object
from ocpi.models import Partner, PartnerStatus
from ocpi.transport import ocpi_datetime

log = structlog.get_logger("ocpi.emsp")

MAX_PAGES = 1000  # a CPO whose Link headers never end is not followed forever
# Seconds before each try of the first pull of a CPO that registered with us: it accepts our token only once
# it stored our answer to its POST, so the first try may come too early; the pull loop catches up after.
FIRST_PULL_DELAYS = (0.0, 0.5, 5.0, 30.0)


def as_partner(cpo: CpoRecord) -> Partner:
    """The `Partner` shape `PartnerClient` calls with: its token C, party and endpoints."""
    return Partner(
        id=cpo.id,
        name=cpo.name,
        country_code=cpo.country_code,
        party_id=cpo.party_id,
        status=PartnerStatus.REGISTERED if cpo.status == "REGISTERED" else PartnerStatus.PENDING,
        role="CPO",
        token_b=cpo.token_c,
        versions_url=cpo.versions_url,
        endpoints=cpo.endpoints,
        roles=cpo.roles,
    )


def party_config(config: EmspConfig) -> OcpiConfig:
    """An `OcpiConfig` naming our eMSP party, for the routing headers `PartnerClient` sends."""
    return OcpiConfig(
        country_code=config.country_code.upper(),
        party_id=config.party_id.upper(),
        business_name=config.business_name,
    )


@dataclasses.dataclass(slots=True)
class EmspRole:
    """The eMSP role of one CSMS process; implements `ocpi.emsp.network.CpoNetwork`."""

    config: EmspConfig
    store: EmspStore
    tokens: TokenStore
    session: aiohttp.ClientSession
    clock: Clock = utcnow
    base_url: str = ""  # our /emsp/ocpi URL as CPOs reach it, set by `start`
    _listeners: list[NetworkListener] = dataclasses.field(default_factory=list)
    _pulls: dict[int, asyncio.Task[None]] = dataclasses.field(default_factory=dict)
    _timeouts: dict[str, asyncio.Task[None]] = dataclasses.field(default_factory=dict)
    _first_pulls: set[asyncio.Task[None]] = dataclasses.field(default_factory=set)
    # One credentials handshake per CPO at a time (ocpi/emsp/credentials.py).
    credential_locks: dict[int, asyncio.Lock] = dataclasses.field(default_factory=dict)
    _loop: asyncio.Task[None] | None = None

    @property
    def client(self) -> PartnerClient:
        return PartnerClient(self.session, party_config(self.config))

    @property
    def locations_max_age(self) -> timedelta:
        """`[emsp] locations_max_age_seconds`: the `max_age` callers of `locations` should pass by default."""
        return timedelta(seconds=self.config.locations_max_age_seconds)

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/versions"

    def module_url(self, identifier: str) -> str:
        return f"{self.base_url}/2.2.1/{identifier}"

    async def start(self, base_url: str) -> None:
        """Know our URL (`http://host:port/emsp/ocpi`) and start pulling every `pull_interval_seconds`."""
        self.base_url = base_url.rstrip("/")
        for command in await self.store.pending_commands():
            self._arm_timeout(command)
        if self.config.pull_interval_seconds > 0:
            self._loop = asyncio.create_task(self._pull_loop())

    async def stop(self) -> None:
        """End the pull loop, running pulls and timeout timers."""
        tasks = [*self._pulls.values(), *self._timeouts.values(), *self._first_pulls]
        if self._loop is not None:
            tasks.append(self._loop)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    # -- CpoNetwork ------------------------------------------------------------------------------------

    async def cpos(self) -> list[Cpo]:
        return [self._cpo(c) for c in await self.store.list_cpos() if c.status == "REGISTERED"]

    async def locations(self, cpo_id: int, *, max_age: timedelta) -> CachedLocations:
        record = await self._registered(cpo_id)
        pulled = record.locations_pulled_at
        refresh_error = None
        if pulled is None or self.clock() - pulled > max_age:
            try:
                await self.pull(cpo_id)
            except CpoUnavailable as exc:
                if pulled is None:
                    raise
                refresh_error = exc.message  # the older copy is answered, saying it is stale
            record = await self._registered(cpo_id)
        return CachedLocations(
            self._cpo(record),
            await self.store.list_locations(cpo_id),
            await self.store.tariffs(cpo_id),
            record.locations_pulled_at,
            refresh_error,
        )

    async def token(self, uid: str) -> dict[str, Any] | None:
        found = await self.tokens.get_id_token(uid, org_id=self.config.org_id)
        return None if found is None else token_object(found, self.config, self.clock())

    async def send_command(self, cpo_id: int, command: str, body: dict[str, Any]) -> SentCommand:
        record = await self._registered(cpo_id)
        url = record.endpoints.get("commands:RECEIVER")
        if url is None:
            raise CpoUnavailable(cpo_id, "it has no commands endpoint")
        command_id = uuid.uuid4().hex
        payload = {**body, "response_url": f"{self.module_url('commands')}/{command}/{command_id}"}
        try:
            response = await self.client.request(
                as_partner(record), "POST", f"{url.rstrip('/')}/{command}", payload
            )
        except PartnerUnreachable as exc:
            log.warning("emsp_command_unreachable", cpo_id=cpo_id, command=command, error=str(exc))
            return SentCommand(command_id, cpo_id, command, CommandResponse.UNREACHABLE, str(exc))
        data = response.data if isinstance(response.data, dict) else {}
        if not response.success or data.get("result") not in CommandResponse.__members__:
            error = response.status_message or f"HTTP {response.http_status}, OCPI {response.status_code}"
            return SentCommand(command_id, cpo_id, command, CommandResponse.UNREACHABLE, error)
        answer = CommandResponse(data["result"])
        timeout_s = data.get("timeout") if isinstance(data.get("timeout"), int) else None
        message = _message(data.get("message"))
        if answer is CommandResponse.ACCEPTED:
            seconds = (timeout_s or 0) + self.config.command_timeout_seconds
            stored = StoredCommand(
                command_id,
                cpo_id,
                command,
                self.clock() + timedelta(seconds=seconds),
                reservation_id=str(body["reservation_id"]) if "reservation_id" in body else None,
            )
            await self.store.add_command(stored)
            self._arm_timeout(stored)
        log.info("emsp_command_sent", cpo_id=cpo_id, command=command, command_id=command_id, response=answer)
        return SentCommand(command_id, cpo_id, command, answer, message, timeout_s)

    def subscribe(self, listener: NetworkListener) -> None:
        self._listeners.append(listener)

    # -- what the server calls -------------------------------------------------------------------------

    async def command_result(self, cpo_id: int, command: str, command_id: str, body: dict[str, Any]) -> bool:
        """A CPO posted a CommandResult to one of our response URLs: store and deliver it. False when no
        command of that CPO has that id (the server answers 404)."""
        stored = await self.store.get_command(command_id)
        if stored is None or stored.cpo_id != cpo_id or stored.command != command:
            return False
        result = str(body.get("result", ""))
        first = stored.result is None
        await self.store.save_command(dataclasses.replace(stored, result=result))
        timer = self._timeouts.pop(command_id, None)
        if timer is not None:
            timer.cancel()
        if not first and result != "CANCELED_RESERVATION" and stored.result != "TIMEOUT":
            return True  # a repeated result is acknowledged, not delivered twice
        await self._deliver(
            CommandResult(
                command_id, cpo_id, command, result, _message(body.get("message")), stored.reservation_id
            )
        )
        return True

    async def session_update(self, cpo_id: int, session: dict[str, Any]) -> None:
        await self._deliver(SessionUpdate(cpo_id, session))

    async def cdr_received(self, cpo_id: int, cdr: dict[str, Any]) -> None:
        await self._deliver(CdrReceived(cpo_id, cdr))

    # -- pulling ---------------------------------------------------------------------------------------

    async def pull(self, cpo_id: int) -> None:
        """Pull the CPO's locations and tariffs now (incrementally); concurrent callers share one pull.

        Raises:
            CpoUnavailable: the CPO could not be reached or answered an error.
        """
        task = self._pulls.get(cpo_id)
        if task is None or task.done():
            task = asyncio.create_task(self._pull(cpo_id))
            self._pulls[cpo_id] = task
        await asyncio.shield(task)

    def pull_soon(self, cpo_id: int) -> None:
        """Pull a CPO that just registered with us in the background (tried again after
        `FIRST_PULL_DELAYS` while it does not answer); `stop()` cancels it."""

        async def first_pull() -> None:
            for delay in FIRST_PULL_DELAYS:
                await asyncio.sleep(delay)
                try:
                    await self.pull(cpo_id)
                    return
                except Exception as exc:
                    log.info("emsp_first_pull_failed", cpo_id=cpo_id, error=str(exc))

        task = asyncio.create_task(first_pull())
        self._first_pulls.add(task)
        task.add_done_callback(self._first_pulls.discard)

    async def _pull(self, cpo_id: int) -> None:
        record = await self._registered(cpo_id)
        started = self.clock()
        for module, since in (
            ("locations", record.locations_pulled_at),
            ("tariffs", record.tariffs_pulled_at),
        ):
            url = record.endpoints.get(f"{module}:SENDER")
            if url is None:
                continue
            for item in await self._get_all(record, url, since):
                if isinstance(item, dict) and "id" in item:
                    if module == "locations":
                        await self.store.put_location(cpo_id, item)
                    else:
                        await self.store.put_tariff(cpo_id, item)
        current = await self.store.get_cpo(cpo_id) or record
        await self.store.save_cpo(
            dataclasses.replace(current, locations_pulled_at=started, tariffs_pulled_at=started)
        )
        log.info("emsp_pulled", cpo_id=cpo_id)

    async def _get_all(self, record: CpoRecord, url: str, since: Any) -> list[Any]:
        """Every page of a paginated GET, following `Link: <...>; rel="next"` (OCPI 2.2.1 pagination)."""
        params = {"date_from": ocpi_datetime(since)} if since is not None else None
        items: list[Any] = []
        next_url: str | None = url
        for _ in range(MAX_PAGES):
            if next_url is None:
                break
            try:
                response = await self.client.request(as_partner(record), "GET", next_url, params=params)
            except PartnerUnreachable as exc:
                raise CpoUnavailable(record.id, str(exc)) from exc
            if not response.success or not isinstance(response.data, list):
                raise CpoUnavailable(
                    record.id, f"GET {next_url}: HTTP {response.http_status}, OCPI {response.status_code}"
                )
            items.extend(response.data)
            next_url = next_link(response.headers.get("Link"), next_url)
            params = None  # the next link carries the query
        return items

    async def _pull_loop(self) -> None:
        while True:
            for cpo in await self.cpos():
                try:
                    await self.pull(cpo.id)
                except Exception as exc:  # one CPO failing does not stop the others
                    log.warning("emsp_pull_failed", cpo_id=cpo.id, error=str(exc))
            await asyncio.sleep(self.config.pull_interval_seconds)

    # -- helpers ---------------------------------------------------------------------------------------

    def _arm_timeout(self, command: StoredCommand) -> None:
        async def expire() -> None:
            delay = (command.deadline - self.clock()).total_seconds()
            if delay > 0:
                await asyncio.sleep(delay)
            self._timeouts.pop(command.command_id, None)
            current = await self.store.get_command(command.command_id)
            if current is None or current.result is not None:
                return
            await self.store.save_command(dataclasses.replace(current, result="TIMEOUT"))
            log.warning("emsp_command_timeout", cpo_id=command.cpo_id, command_id=command.command_id)
            await self._deliver(
                CommandResult(
                    command.command_id,
                    command.cpo_id,
                    command.command,
                    "TIMEOUT",
                    "no result from the CPO in time",
                    command.reservation_id,
                )
            )

        self._timeouts[command.command_id] = asyncio.create_task(expire())

    async def _deliver(self, event: CommandResult | SessionUpdate | CdrReceived) -> None:
        for listener in list(self._listeners):
            try:
                if isinstance(event, CommandResult) and listener.command_result is not None:
                    await listener.command_result(event)
                elif isinstance(event, SessionUpdate) and listener.session is not None:
                    await listener.session(event)
                elif isinstance(event, CdrReceived) and listener.cdr is not None:
                    await listener.cdr(event)
            except Exception:
                log.exception("emsp_listener_failed", event=type(event).__name__)

    async def _registered(self, cpo_id: int) -> CpoRecord:
        record = await self.store.get_cpo(cpo_id)
        if record is None or record.status != "REGISTERED":
            raise CpoUnavailable(cpo_id, "no such registered CPO")
        return record

    @staticmethod
    def _cpo(record: CpoRecord) -> Cpo:
        return Cpo(
            id=record.id,
            name=record.name,
            country_code=record.country_code,
            party_id=record.party_id,
            registered=record.status == "REGISTERED",
            supports_reservation="commands:RECEIVER" in record.endpoints,
            max_reservation=timedelta(minutes=record.max_reservation_minutes),
            cancellation_fee=str(record.cancellation_fee),
            locations_pulled_at=record.locations_pulled_at,
        )


def _message(value: Any) -> str | None:
    """The text of an OCPI DisplayText list (the first one), or None."""
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return str(value[0].get("text", "")) or None
    return None
