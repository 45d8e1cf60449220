"""Run many simulated charge points at once: connect, boot, report Available, then charge on a schedule.

Each simulator `<id_prefix><zero-padded index>` connects (reconnecting after `reconnect_delay` when the
connection fails or drops), boots until Accepted, reports every connector Available, and then each
connector loops: plug in, authorize, start, meter values every `meter_interval`, stop after
`tx_duration`, unplug, pause `tx_interval`. The fleet stops after `duration` seconds, when the `stop`
event is set, or when `run()` is cancelled; running transactions are stopped and sockets closed first.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import asdict, dataclass, field, fields

import structlog
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from simulators.chargepoint import (
    ChargePointSimulator,
    ConnectorReservedError,
    NotConnectedError,
    SimulatorConfig,
    SimulatorError,
)

__all__ = ["Fleet", "FleetConfig", "FleetSummary", "charge_point_ids", "run_fleet"]

log = structlog.get_logger("simulators.fleet")

# What a simulator's life may raise that the fleet survives by reconnecting.
_RECOVERABLE = (OSError, TimeoutError, InvalidHandshake, ConnectionClosed, SimulatorError)
_MAX_ERROR_MESSAGES = 20


@dataclass
class FleetConfig:
    """What the fleet runs; times in seconds.

    Attributes:
        count: number of simulators; ids are `id_prefix` + index from `first_index`, zero-padded to
            at least three digits (SIM001, SIM002, ...).
        id_tokens: tokens used round-robin over (simulator, connector).
        duration: stop after this long; None runs until `stop` is set or the run is cancelled.
        ramp_up: spread the first connects evenly over this many seconds.
        seed: seed of the random start offsets, for repeatable runs.
    """

    url: str = "ws://127.0.0.1:9000/ocpp"
    ocpp_version: str = "1.6"
    count: int = 1
    id_prefix: str = "SIM"
    first_index: int = 1
    password: str | None = None
    ca_file: str | None = None
    client_cert_file: str | None = None
    client_key_file: str | None = None
    connectors: int = 1
    meter_interval: float = 10.0
    power_w: int = 11000
    tx_duration: float = 60.0
    tx_interval: float = 30.0
    id_tokens: list[str] = field(default_factory=lambda: ["SIMTOKEN"])
    duration: float | None = None
    call_timeout: float = 10.0
    ramp_up: float = 0.0
    reconnect_delay: float = 5.0
    strict: bool = True
    seed: int | None = None

    def simulator_config(self, charge_point_id: str) -> SimulatorConfig:
        """The configuration of the fleet's simulator `charge_point_id`: every field this configuration shares
        with SimulatorConfig (url, version, password, TLS files, connectors, meter interval, power, call
        timeout, strict), meter values sent on their own, and no record of sent calls (a long run would
        keep them all).
        """
        ours = {f.name for f in fields(self)}
        shared = {f.name: getattr(self, f.name) for f in fields(SimulatorConfig) if f.name in ours}
        return SimulatorConfig(charge_point_id, auto_meter_values=True, record_calls=False, **shared)


@dataclass
class FleetSummary:
    """What happened during a fleet run (counts over all simulators)."""

    simulators: int = 0
    connected: int = 0  # simulators that connected at least once
    booted: int = 0  # simulators that got an Accepted BootNotification at least once
    transactions_started: int = 0
    transactions_stopped: int = 0
    authorizations_rejected: int = 0
    meter_values_sent: int = 0
    errors: int = 0
    error_messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The summary as plain data (for JSON logs)."""
        return asdict(self)

    def render(self) -> str:
        """A short human-readable report: one line of counts, then up to 20 error messages."""
        lines = [
            f"simulators={self.simulators} connected={self.connected} booted={self.booted}"
            f" transactions_started={self.transactions_started}"
            f" transactions_stopped={self.transactions_stopped}"
            f" authorizations_rejected={self.authorizations_rejected}"
            f" meter_values_sent={self.meter_values_sent} errors={self.errors}"
        ]
        lines.extend(f"  error: {message}" for message in self.error_messages)
        return "\n".join(lines)


def charge_point_ids(prefix: str, count: int, first_index: int = 1) -> list[str]:
    """Return `count` ids `prefix` + index, zero-padded to at least three digits (SIM001...)."""
    width = max(3, len(str(first_index + count - 1)))
    return [f"{prefix}{index:0{width}d}" for index in range(first_index, first_index + count)]


class Fleet:
    """N simulators run concurrently by `run()`; read `simulators` and `summary()` at any time."""

    def __init__(self, config: FleetConfig) -> None:
        """Create the simulators; nothing connects until `run()`.

        Raises:
            ValueError: count < 1, no id tokens, or an unsupported OCPP version.
        """
        if config.count < 1:
            raise ValueError("count must be at least 1")
        if not config.id_tokens:
            raise ValueError("at least one id token is needed")
        self.config = config
        self.simulators = [
            ChargePointSimulator(config.simulator_config(charge_point_id))
            for charge_point_id in charge_point_ids(config.id_prefix, config.count, config.first_index)
        ]
        self._stopping = asyncio.Event()
        self._random = random.Random(config.seed)
        self._connected: set[str] = set()
        self._booted: set[str] = set()
        self._authorizations_rejected = 0
        self._errors: list[str] = []

    def stop(self) -> None:
        """Ask `run()` to stop: transactions are stopped and sockets closed, then it returns."""
        self._stopping.set()

    async def run(self, stop: asyncio.Event | None = None) -> FleetSummary:
        """Run every simulator until `duration` passes, `stop` is set, or this task is cancelled.

        Returns:
            The summary, also logged as `fleet_summary`. When cancelled, the simulators are shut
            down before CancelledError propagates; `summary()` still has the counts.
        """
        cfg = self.config
        log.info("fleet_starting", count=cfg.count, url=cfg.url, ocpp_version=cfg.ocpp_version)
        runners = [asyncio.create_task(self._run_one(i, sim)) for i, sim in enumerate(self.simulators)]
        waiters = [asyncio.create_task(self._stopping.wait()), asyncio.create_task(asyncio.wait(runners))]
        if stop is not None:
            waiters.append(asyncio.create_task(stop.wait()))
        try:
            await asyncio.wait(waiters, timeout=cfg.duration, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._stopping.set()
            for waiter in waiters:
                waiter.cancel()
            await asyncio.wait(runners)
        summary = self.summary()
        log.info("fleet_summary", **summary.as_dict())
        return summary

    def summary(self) -> FleetSummary:
        """Counts so far, over all simulators."""
        errors = list(self._errors)
        for sim in self.simulators:
            errors.extend(f"{sim.charge_point_id}: {exc!r}" for exc in sim.errors)
        return FleetSummary(
            simulators=len(self.simulators),
            connected=len(self._connected),
            booted=len(self._booted),
            transactions_started=sum(sim.transactions_started for sim in self.simulators),
            transactions_stopped=sum(sim.transactions_stopped for sim in self.simulators),
            authorizations_rejected=self._authorizations_rejected,
            meter_values_sent=sum(sim.meter_values_sent for sim in self.simulators),
            errors=len(errors),
            error_messages=errors[:_MAX_ERROR_MESSAGES],
        )

    # ------------------------------------------------------------------ one simulator

    async def _sleep(self, seconds: float) -> bool:
        """Sleep up to `seconds`; return True (early) if the fleet is stopping."""
        if seconds > 0 and not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        return self._stopping.is_set()

    def _record_error(self, sim: ChargePointSimulator, exc: BaseException) -> None:
        self._errors.append(f"{sim.charge_point_id}: {exc!r}")
        log.warning("simulator_error", charge_point_id=sim.charge_point_id, error=repr(exc))

    async def _run_one(self, index: int, sim: ChargePointSimulator) -> None:
        cfg = self.config
        if await self._sleep(cfg.ramp_up * index / cfg.count):
            return
        try:
            while not self._stopping.is_set():
                try:
                    await sim.connect()
                    self._connected.add(sim.charge_point_id)
                    if not await self._boot(sim):
                        break
                    await sim.send_all_statuses()
                    await self._charge(index, sim)
                    break
                except _RECOVERABLE as exc:
                    self._record_error(sim, exc)
                    with contextlib.suppress(*_RECOVERABLE):
                        await sim.close()
                    await self._sleep(cfg.reconnect_delay)
        except Exception as exc:  # a bug: report it and keep the other simulators running
            self._record_error(sim, exc)
            log.exception("simulator_crashed", charge_point_id=sim.charge_point_id)
        finally:
            await self._shutdown(sim)

    async def _boot(self, sim: ChargePointSimulator) -> bool:
        """Boot until Accepted (waiting `interval` after Pending/Rejected); False if stopping first."""
        while not self._stopping.is_set():
            result = await sim.boot()
            if result.get("status") == "Accepted":
                self._booted.add(sim.charge_point_id)
                return True
            interval = result.get("interval")
            retry = (
                float(interval) if isinstance(interval, int) and interval > 0 else self.config.reconnect_delay
            )
            log.info("boot_not_accepted", charge_point_id=sim.charge_point_id, status=result.get("status"))
            await self._sleep(retry)
        return False

    async def _charge(self, index: int, sim: ChargePointSimulator) -> None:
        """Run every connector's schedule until stopping; raise if the connection is lost."""
        tokens = self.config.id_tokens
        tasks = [
            asyncio.create_task(
                self._connector_loop(
                    sim, connector, tokens[(index * len(sim.connector_ids) + connector - 1) % len(tokens)]
                )
            )
            for connector in sim.connector_ids
        ]
        watcher = asyncio.create_task(self._watch_connection(sim))
        try:
            done, _ = await asyncio.wait([*tasks, watcher], return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                error = None if task.cancelled() else task.exception()
                if error is not None:
                    raise error
        finally:
            for task in (*tasks, watcher):
                task.cancel()
            await asyncio.wait([*tasks, watcher])

    async def _watch_connection(self, sim: ChargePointSimulator) -> None:
        """Raise NotConnectedError when the connection drops for good (a Reset's reconnect is fine)."""
        while True:
            stopping = asyncio.create_task(self._stopping.wait())
            lost = asyncio.create_task(sim.wait_until(lambda: not sim.connected, timeout=None))
            try:
                await asyncio.wait([stopping, lost], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopping.cancel()
                lost.cancel()
            if self._stopping.is_set():
                return
            # A Reset or new password reconnects from a follow-up task; give it time to finish.
            with contextlib.suppress(TimeoutError):
                await sim.settle(timeout=3 * self.config.call_timeout)
            if not sim.connected:
                raise NotConnectedError(f"connection lost (code {sim.close_code})")

    async def _connector_loop(self, sim: ChargePointSimulator, connector: int, token: str) -> None:
        cfg = self.config
        if await self._sleep(self._random.uniform(0, cfg.tx_interval)):
            return
        while not self._stopping.is_set():
            if sim.connector_status.get(connector) != "Available" or connector in sim.transactions:
                # Reserved, unavailable, or busy with a remote-started transaction: look again later.
                if await self._sleep(cfg.tx_interval or 1.0):
                    return
                continue
            await sim.plug_in(connector)
            info = await sim.authorize(token)
            if info.get("status") != "Accepted":
                self._authorizations_rejected += 1
                log.info(
                    "authorization_rejected", charge_point_id=sim.charge_point_id, status=info.get("status")
                )
                await sim.unplug(connector)
            else:
                try:
                    await sim.start_transaction(connector, token)
                except ConnectorReservedError as exc:
                    # Reserved for someone else between the look and the start: walk away.
                    log.info("connector_reserved", charge_point_id=sim.charge_point_id, error=str(exc))
                    await sim.unplug(connector)
                else:
                    await self._sleep(cfg.tx_duration)
                    if connector in sim.transactions:
                        await sim.stop_transaction(connector)
                    await sim.unplug(connector)
            if await self._sleep(cfg.tx_interval):
                return

    async def _shutdown(self, sim: ChargePointSimulator) -> None:
        """Stop what still runs (e.g. remote-started transactions), then close the socket."""
        if sim.connected:
            for connector in list(sim.transactions):
                try:
                    await sim.stop_transaction(connector)
                    await sim.unplug(connector)
                except _RECOVERABLE as exc:
                    self._record_error(sim, exc)
        with contextlib.suppress(*_RECOVERABLE):
            await sim.close()


async def run_fleet(config: FleetConfig, stop: asyncio.Event | None = None) -> FleetSummary:
    """Create a Fleet for `config` and run it; see `Fleet.run`."""
    return await Fleet(config).run(stop)
