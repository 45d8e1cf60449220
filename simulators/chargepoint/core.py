"""The simulator's connection to the CSMS: handshake, reconnecting, frames in and out through the shared
Sans-I/O framing core, waiting for the CSMS, and the heartbeat."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import ssl
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import structlog
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from csms.domain.clock import Clock, utcnow
from csms.ocpp.errors import ErrorKind
from csms.ocpp.framing import (
    CallErrorReceived,
    CallPending,
    CallReceived,
    CallResultReceived,
    CallTimedOut,
    FramingError,
    OcppConnection,
    OcppVersion,
)
from csms.ocpp.schemas import SchemaKind, SchemaViolation, has_schema, validate
from simulators.chargepoint.certificates import SimulatedCertificates
from simulators.chargepoint.errors import (
    CallError,
    NotConnectedError,
    SchemaViolationError,
    SimulatorError,
    SubprotocolRefused,
)
from simulators.chargepoint.local_list import LocalList
from simulators.chargepoint.model import (
    _STATION_ACTIONS,
    FollowUp,
    JsonDict,
    Reservation,
    Setting,
    SimulatorConfig,
    _Answer,
    _consume,
    _Queued,
    _Session,
    _Transaction,
    _warm_schemas,
    _warmed,
    parse_version,
)


class StationCore:
    """The connection and call plumbing every layer of the simulator builds on."""

    # Implemented by the layers above (station state, reservations, transactions, the version behaviours);
    # declared here so each layer type-checks against the whole simulator.
    _default_settings: Callable[[], dict[str, Setting]]
    _handlers_16: Callable[[], dict[str, Callable[[JsonDict], _Answer]]]
    _handlers_201: Callable[[], dict[str, Callable[[JsonDict], _Answer]]]
    boot: Callable[..., Awaitable[JsonDict]]
    heartbeat: Callable[[], Awaitable[JsonDict]]
    send_status: Callable[..., Awaitable[JsonDict]]
    _refresh_statuses: Callable[[], Awaitable[None]]
    start_transaction: Callable[..., Awaitable[str]]
    stop_transaction: Callable[..., Awaitable[JsonDict]]
    _start_16: Callable[[_Transaction], Awaitable[str]]
    _start_201: Callable[[_Transaction], Awaitable[str]]
    _stop_16: Callable[[_Transaction, int, datetime, str], Awaitable[JsonDict]]
    _sampled_16: Callable[[int, str, str], list[JsonDict]]
    _meter_value_201: Callable[..., JsonDict]
    _tx_event: Callable[..., JsonDict]

    # Implemented by the layers above (station state, reservations, the version behaviours); declared here
    # so each layer type-checks against the whole simulator.

    def __init__(self, config: SimulatorConfig, *, clock: Clock = utcnow) -> None:
        """Prepare the simulator; nothing is sent until `connect()`.

        Raises:
            ValueError: unsupported `ocpp_version` or fewer than one connector.
        """
        if config.connectors < 1:
            raise ValueError("a charge point needs at least one connector")
        if config.report_chunk_size < 1:
            raise ValueError("report_chunk_size must be at least 1")
        self.config = replace(config, answers=dict(config.answers), silent=set(config.silent))
        self.version = parse_version(config.ocpp_version)
        self.charge_point_id = config.charge_point_id
        self._clock = clock
        self._v16 = self.version is OcppVersion.V16
        self._log = structlog.get_logger("simulators.chargepoint").bind(
            charge_point_id=config.charge_point_id, ocpp_version=self.version.value
        )

        self.connector_ids: tuple[int, ...] = tuple(range(1, config.connectors + 1))
        self.meter_wh: dict[int, int] = dict.fromkeys(self.connector_ids, 0)
        self.transactions: dict[int, str] = {}
        self.calls_received: list[tuple[str, JsonDict]] = []
        self.sent_calls: list[tuple[str, JsonDict]] = []
        self.connected = False
        self.boot_status: str | None = None
        self.subprotocol: str | None = None
        self.handshake_status: int | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self.connector_status: dict[int, str] = dict.fromkeys(self.connector_ids, "Available")
        self.plugged: dict[int, bool] = dict.fromkeys(self.connector_ids, False)
        self.inoperative: set[int] = set()
        self.reservations: dict[int, Reservation] = {}
        self.token_parents: dict[str, str | None] = {}
        self.charging_profiles: dict[int, dict[int, JsonDict]] = {}
        self.settings: dict[str, Setting] = self._default_settings()
        self.raw_frames: asyncio.Queue[str] = asyncio.Queue()
        self.raw_mode = False
        self.errors: list[BaseException] = []
        self.violations: list[SchemaViolationError] = []
        self.responses: dict[str, JsonDict] = {}
        # 2.0.1 cost display: (action it came in, transactionId, totalCost) in order of arrival.
        self.costs_shown: list[tuple[str, str, Decimal]] = []
        # Key, CSR and certificates (SignCertificate / CertificateSigned / InstallCertificate ...).
        self.certificates = SimulatedCertificates(self.charge_point_id)
        self.sent: Counter[str] = Counter()
        self.transactions_started = 0
        self.transactions_stopped = 0
        self.meter_values_sent = 0

        self._session: _Session | None = None
        self._call_lock = asyncio.Lock()
        self._abandoned: tuple[_Session, asyncio.Future[JsonDict]] | None = None
        self._tx: dict[int, _Transaction] = {}
        self._starting: set[int] = set()
        self._pending_inoperative: set[int] = set()
        self._status_sent: dict[int, str] = {}
        self._status_dirty: set[int] = set()
        self._offline = False
        self.local_list = LocalList()
        self._queue: deque[_Queued] = deque()
        self._tx_aliases: dict[str, str] = {}
        self._placeholder_ids = itertools.count(1)
        self._reset_when_idle = False
        self._reporting = False
        self._heartbeat_task: asyncio.Task[None] | None = None
        self._followups: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()
        self._handlers: dict[str, Callable[[JsonDict], _Answer]] = (
            self._handlers_16() if self._v16 else self._handlers_201()
        )

    @property
    def url(self) -> str:
        """The websocket URL: `config.url` plus the percent-encoded charge point id."""
        return self.config.url.rstrip("/") + "/" + quote(self.charge_point_id, safe="")

    @property
    def offline(self) -> bool:
        """True from `go_offline()` until `come_back()` has delivered every queued message."""
        return self._offline

    def _ssl_context(self) -> ssl.SSLContext | None:
        """For a wss:// URL: TLS 1.2+ trusting `ca_file`, presenting the client certificate if one is
        configured (security profile 3); None for ws://."""
        if not self.config.url.startswith("wss://"):
            return None
        ctx = ssl.create_default_context(cafile=self.config.ca_file)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if self.config.client_cert_file:
            ctx.load_cert_chain(self.config.client_cert_file, self.config.client_key_file)
        return ctx

    async def connect(self) -> None:
        """Open the websocket, offering only this version's subprotocol, and start the reader.

        Sends nothing; call `boot()` next (or `come_back()` after `go_offline()`).

        Raises:
            websockets.exceptions.InvalidStatus: the CSMS refused the handshake; the HTTP status is in
                `.response.status_code` and in `handshake_status`.
            SubprotocolRefused: the handshake completed without our subprotocol (socket closed).
            SimulatorError: already connected.
            OSError, TimeoutError: the CSMS could not be reached in `call_timeout` seconds.
        """
        if self._session is not None and not self._session.closed:
            raise SimulatorError("already connected")
        if self.config.strict and self.version not in _warmed:
            # Compiling a large schema (TransactionEvent) takes long enough to stall every other task.
            await asyncio.to_thread(_warm_schemas, self.version, (*_STATION_ACTIONS, *self._handlers))
        headers: dict[str, str] = {}
        if self.config.password is not None:
            credentials = f"{self.charge_point_id}:{self.config.password}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
        offered = self.version.value
        self.handshake_status = None
        try:
            ws = await ws_connect(
                self.url,
                ssl=self._ssl_context(),
                subprotocols=[Subprotocol(offered)],
                additional_headers=headers,
                open_timeout=self.config.call_timeout,
                user_agent_header=f"{self.config.vendor}/{self.config.model} csms-sim",
            )
        except InvalidStatus as exc:
            self.handshake_status = exc.response.status_code
            self._log.warning("connect_refused", url=self.url, status=self.handshake_status)
            raise
        self.handshake_status = 101
        if ws.subprotocol != offered:
            await ws.close(1002, "no OCPP subprotocol")
            self._log.warning("subprotocol_refused", offered=offered, selected=ws.subprotocol)
            raise SubprotocolRefused(offered, ws.subprotocol)
        session = _Session(ws, OcppConnection(self.version, call_timeout=self.config.call_timeout))
        self._session = session
        self.connected = True
        self.subprotocol = ws.subprotocol
        self.close_code = self.close_reason = None
        session.reader = asyncio.create_task(
            self._read_loop(session), name=f"sim-reader-{self.charge_point_id}"
        )
        self._log.info("connected", url=self.url)
        self._notify()

    async def close(self) -> None:
        """Stop background tasks and close the websocket with code 1000.

        Messages still queued by `go_offline()` are discarded. Safe to call twice; `connect()` may be
        called again afterwards.
        """
        self._stop_heartbeat()
        current = asyncio.current_task()
        tasks = [t for t in self._followups if t is not current]
        for tx in self._tx.values():
            tx.stopping.set()
            if tx.meter_task is not None and tx.meter_task is not current:
                tasks.append(tx.meter_task)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        for reservation in self.reservations.values():
            if reservation.timer is not None:
                reservation.timer.cancel()
        if self._queue:
            self._log.warning("offline_queue_discarded", messages=len(self._queue))
            self._queue.clear()
        self._offline = False
        await self._drop_connection(1000, "")

    async def go_offline(self, *, abrupt: bool = False) -> None:
        """Drop the socket and start queueing transaction messages.

        Until `come_back()`, 1.6 StartTransaction / StopTransaction / MeterValues of a transaction and
        2.0.1 TransactionEvent (marked `offline: true`) are queued instead of sent; status changes are
        remembered and reported after reconnecting. Other calls (authorize, heartbeat, ...) raise
        NotConnectedError.

        Args:
            abrupt: abort the TCP connection instead of a websocket close (1001), as a power cut would.
        """
        self._offline = True
        self._stop_heartbeat()
        session = self._session
        if abrupt and session is not None and not session.closed:
            session.ws.transport.abort()
            if session.reader is not None:
                await asyncio.wait([session.reader])
        else:
            await self._drop_connection(1001, "going offline")
        self._log.info("offline")

    async def come_back(self, *, boot: bool = False) -> None:
        """Reconnect and deliver what was queued while offline, in order.

        A queued 1.6 StartTransaction learns its transactionId now; the MeterValues and
        StopTransaction queued after it carry that id. Then the connectors whose status changed while
        offline are reported, and heartbeats resume.

        Args:
            boot: send a BootNotification before the queue (none is due after a mere reconnect;
                a station that rebooted sends one).

        Raises:
            Like `connect()`; NotConnectedError if the socket drops again while draining (what was
            not delivered stays queued).
        """
        await self.connect()
        if boot:
            await self.boot()
        await self._drain_queue()
        self._offline = False
        dirty = sorted(self._status_dirty)
        self._status_dirty.clear()
        for connector in dirty:
            await self.send_status(connector, self.connector_status[connector])
        self._restart_heartbeat()
        self._log.info("back_online")
        self._notify()

    async def _drain_queue(self) -> None:
        """Send what was queued while offline (transaction messages, ReservationStatusUpdate), in order."""
        while self._queue:
            item = self._queue[0]
            try:
                result = await self.call(item.action, item.build())
            except NotConnectedError:
                raise
            except (SimulatorError, TimeoutError) as exc:
                # Delivered or refused: either way retrying would not help; record and go on.
                self.errors.append(exc)
                self._log.warning("queued_message_failed", action=item.action, error=str(exc))
            else:
                if item.on_result is not None:
                    item.on_result(result)
            self._queue.popleft()

    async def _drop_connection(self, code: int, reason: str) -> None:
        """Close the current websocket (if any) and wait for its reader to finish."""
        session = self._session
        if session is None:
            return
        if not session.closed:
            with contextlib.suppress(ConnectionClosed, OSError):
                await session.ws.close(code, reason)
        if session.reader is not None and session.reader is not asyncio.current_task():
            await asyncio.wait([session.reader])

    def _live_session(self) -> _Session:
        session = self._session
        if session is None or session.closed:
            raise NotConnectedError(
                f"{self.charge_point_id} is not connected (last close code {self.close_code}, "
                f"reason {self.close_reason!r})"
            )
        return session

    async def _read_loop(self, session: _Session) -> None:
        """Feed every received frame into the framing core until the socket closes."""
        try:
            async for message in session.ws:
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                await self._receive_frame(session, text)
        except ConnectionClosed:
            pass
        except Exception as exc:  # a bug in a handler must not leave the connection half-dead silently
            self.errors.append(exc)
            self._log.exception("reader_failed")
            with contextlib.suppress(ConnectionClosed, OSError):
                await session.ws.close(1011, "simulator error")
        finally:
            session.closed = True
            if self._session is session:
                self.connected = False
                self.close_code = session.ws.close_code
                self.close_reason = session.ws.close_reason
                self._stop_heartbeat()
            for future in session.pending.values():
                if not future.done():
                    future.set_exception(
                        NotConnectedError(f"connection closed (code {session.ws.close_code})")
                    )
            session.pending.clear()
            self._log.info("disconnected", code=session.ws.close_code, reason=session.ws.close_reason)
            self._notify()

    async def _receive_frame(self, session: _Session, text: str) -> None:
        self._log.debug("frame_received", frame=text)
        if self.raw_mode:
            self.raw_frames.put_nowait(text)
            self._notify()
            return
        followups: list[tuple[str, FollowUp]] = []
        for event in session.conn.receive_text(text):
            if isinstance(event, CallReceived):
                follow_up = self._on_call(session, event)
                if follow_up is not None:
                    followups.append((event.action, follow_up))
            elif isinstance(event, CallResultReceived):
                self._resolve(session, event.message_id, event.payload)
            elif isinstance(event, CallErrorReceived):
                error = CallError(event.action, event.error_code, event.description, event.details)
                self._resolve(session, event.message_id, error)
            elif isinstance(event, CallTimedOut):  # pragma: no cover - only check_timeouts returns these
                self._resolve(session, event.message_id, TimeoutError(event.action))
            elif isinstance(event, FramingError):
                # Not ours to consume: a reply to send_raw, a late reply, or a malformed frame.
                self._log.debug(
                    "frame_not_consumed", error_code=event.error_code, description=event.description
                )
                self.raw_frames.put_nowait(event.frame)
        # Answers go out before any follow-up starts, so the CSMS sees the CALLRESULT first.
        await self._flush(session)
        for action, follow_up in followups:
            self._spawn(follow_up, action)
        self._notify()

    def _resolve(self, session: _Session, message_id: str, outcome: JsonDict | BaseException) -> None:
        """Hand the outcome of our CALL `message_id` (its result, or the error to raise) to the caller
        awaiting it; nothing happens when no one awaits it any more (a late or foreign reply)."""
        future = session.pending.pop(message_id, None)
        if future is None or future.done():
            return
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)

    def _on_call(self, session: _Session, event: CallReceived) -> FollowUp | None:
        """Answer one CSMS CALL (queued on the framing core); return its follow-up, if any."""
        action, payload, message_id = event.action, event.payload, event.message_id
        self.calls_received.append((action, payload))
        log = self._log.bind(message_id=message_id, action=action)
        log.debug("call_received", payload=payload)
        if action in self.config.silent:
            log.info("call_left_unanswered")
            return None
        conn = session.conn
        handler = self._handlers.get(action)
        if handler is None:
            log.info("call_not_implemented")
            conn.send_call_error(
                message_id, conn.error_code(ErrorKind.NOT_IMPLEMENTED), f"{action} is not implemented"
            )
            return None
        violation = self._schema_violation(action, SchemaKind.REQUEST, payload, "received", log)
        if violation is not None:
            conn.send_call_error(message_id, conn.error_code(violation.kind), violation.description)
            return None
        try:
            result, commit = handler(payload)
        except Exception as exc:  # with strict=False a malformed payload can reach a handler
            self.errors.append(exc)
            log.exception("call_handler_failed")
            conn.send_call_error(message_id, conn.error_code(ErrorKind.INTERNAL), repr(exc))
            return None
        override = self.config.answers.get(action)
        if override is not None and "status" in result and result["status"] != override:
            result = {**result, "status": override}
            commit = None
        violation = self._schema_violation(action, SchemaKind.RESPONSE, result, "sent", log)
        if violation is not None:
            conn.send_call_error(message_id, conn.error_code(ErrorKind.INTERNAL), violation.description)
            return None
        conn.send_call_result(message_id, result)
        log.debug("call_answered", payload=result)
        return commit() if commit is not None else None

    def _spawn(self, follow_up: FollowUp, what: str) -> None:
        task = asyncio.create_task(self._run_follow_up(follow_up, what), name=f"sim-{what}")
        self._followups.add(task)
        task.add_done_callback(self._followups.discard)

    async def _run_follow_up(self, follow_up: FollowUp, what: str) -> None:
        try:
            await follow_up()
        except Exception as exc:
            self.errors.append(exc)
            self._log.warning("follow_up_failed", action=what, error=repr(exc))
        finally:
            self._notify()

    async def _flush(self, session: _Session) -> None:
        async with session.send_lock:
            for frame in session.conn.frames_to_send():
                self._log.debug("frame_sent", frame=frame)
                await session.ws.send(frame)

    async def call(self, action: str, payload: JsonDict) -> JsonDict:
        """Send any CALL and wait for its answer; only one of our CALLs is outstanding at a time.

        Returns:
            The CALLRESULT payload (also kept in `responses[action]`).

        Raises:
            CallError: the CSMS answered with a CALLERROR (`error_code`, `description`).
            TimeoutError: no answer within `call_timeout`.
            SchemaViolationError: with `strict=True`, our request or the CSMS's response breaks the
                official schema (a bad request is not sent).
            NotConnectedError: no open websocket, or it closed before the answer.
        """
        async with self._call_lock:
            session = self._live_session()
            await self._await_abandoned(session)
            self._check_schema(action, SchemaKind.REQUEST, payload, "sent")
            loop = asyncio.get_running_loop()
            try:
                message_id = session.conn.send_call(action, payload, loop.time())
            except CallPending as exc:  # pragma: no cover - the lock and _await_abandoned prevent it
                raise SimulatorError(str(exc)) from exc
            future: asyncio.Future[JsonDict] = loop.create_future()
            session.pending[message_id] = future
            self.sent[action] += 1
            if self.config.record_calls:
                self.sent_calls.append((action, payload))
            self._log.debug("call_sent", action=action, message_id=message_id, payload=payload)
            try:
                await self._flush(session)
                await self._wait_reply(session, future)
            except ConnectionClosed as exc:
                session.pending.pop(message_id, None)
                raise NotConnectedError(f"connection closed while sending {action}") from exc
            except asyncio.CancelledError:
                if not future.done():
                    # The framing core still expects this answer; the next call waits for it.
                    self._abandoned = (session, future)
                    future.add_done_callback(_consume)
                raise
            result = future.result()
            self.responses[action] = result
            if action == "TransactionEvent" and "totalCost" in result:
                # what the display shows (OCPP 2.0.1 I02/I03); the exact decimal the CSMS wrote
                tx_id = payload["transactionInfo"]["transactionId"]
                self.costs_shown.append((action, tx_id, Decimal(str(result["totalCost"]))))
            self._check_schema(action, SchemaKind.RESPONSE, result, "received")
            return result

    async def _wait_reply(self, session: _Session, future: asyncio.Future[JsonDict]) -> None:
        """Wait for `future`, expiring it through the framing core's `check_timeouts`."""
        loop = asyncio.get_running_loop()
        while not future.done():
            deadline = session.conn.next_deadline()
            timeout = None if deadline is None else max(0.0, deadline - loop.time())
            await asyncio.wait([future], timeout=timeout)
            if not future.done():
                for expired in session.conn.check_timeouts(loop.time()):
                    self._log.warning("call_timed_out", action=expired.action, message_id=expired.message_id)
                    self._resolve(
                        session,
                        expired.message_id,
                        TimeoutError(f"{expired.action}: no answer in {self.config.call_timeout} s"),
                    )

    async def _await_abandoned(self, session: _Session) -> None:
        """Let a CALL whose caller was cancelled finish (answer or timeout) before the next one."""
        abandoned, self._abandoned = self._abandoned, None
        if abandoned is not None and abandoned[0] is session and not abandoned[1].done():
            with contextlib.suppress(Exception):
                await self._wait_reply(session, abandoned[1])

    def _check_schema(self, action: str, kind: SchemaKind, payload: JsonDict, direction: str) -> None:
        if (
            self._schema_violation(action, kind, payload, direction, self._log.bind(action=action))
            is not None
        ):
            raise self.violations[-1]

    def _schema_violation(
        self, action: str, kind: SchemaKind, payload: JsonDict, direction: str, log: Any
    ) -> SchemaViolation | None:
        """With `strict`, check `payload` (`action`'s request or response, "sent" or "received") against
        its official schema; a violation is recorded in `violations`, logged on `log` and returned, for the
        caller to raise or to answer with a CALLERROR."""
        if not self.config.strict or not has_schema(self.version, action):
            return None
        violation = validate(self.version, action, kind, payload)
        if violation is not None:
            self.violations.append(SchemaViolationError(action, kind, violation.description, direction))
            log.error("schema_violation", direction=direction, description=violation.description)
        return violation

    async def send_raw(self, text: str) -> None:
        """Send `text` as one websocket text frame, bypassing the framing core.

        The CSMS's reply is not consumed by the simulator (its id matches no CALL of ours); read it
        with `receive_raw()`. Set `raw_mode = True` to route every received frame there instead.

        Raises:
            NotConnectedError: no open websocket.
        """
        session = self._live_session()
        try:
            async with session.send_lock:
                self._log.debug("raw_frame_sent", frame=text)
                await session.ws.send(text)
        except ConnectionClosed as exc:
            raise NotConnectedError("connection closed") from exc

    async def receive_raw(self, timeout: float) -> str:  # noqa: ASYNC109 - fixed API
        """Return the next frame from `raw_frames`, waiting up to `timeout` seconds.

        Raises:
            TimeoutError: nothing arrived in time.
            NotConnectedError: the connection closed and nothing is left (see `close_code`).
        """
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                if not self.raw_frames.empty():
                    return self.raw_frames.get_nowait()
                session = self._session
                if session is None or session.closed:
                    raise NotConnectedError(
                        f"connection closed (code {self.close_code}, reason {self.close_reason!r})"
                    )
                await changed.wait()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float | None) -> None:  # noqa: ASYNC109
        """Return once `predicate()` is true; it is re-checked after every frame and state change.

        Raises:
            TimeoutError: still false after `timeout` seconds (None waits forever).
        """
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                if predicate():
                    return
                await changed.wait()

    async def wait_for_call(self, action: str, *, timeout: float, start: int = 0) -> JsonDict:  # noqa: ASYNC109
        """Return the payload of the first CSMS CALL `action` at index >= `start` of `calls_received`.

        Its answer has been sent by then; its follow-up may still run (`settle()` waits for it).

        Raises:
            TimeoutError: no such CALL within `timeout` seconds.
        """
        found: list[JsonDict] = []

        def seen() -> bool:
            for name, payload in self.calls_received[start:]:
                if name == action:
                    found.append(payload)
                    return True
            return False

        await self.wait_until(seen, timeout)
        return found[0]

    async def settle(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until every follow-up of answered CSMS CALLs has finished (their errors go to `errors`).

        Raises:
            TimeoutError: follow-ups still running after `timeout` seconds.
        """
        async with asyncio.timeout(timeout):
            while self._followups:
                await asyncio.wait(set(self._followups))

    @property
    def _heartbeat_key(self) -> str:
        return "HeartbeatInterval" if self._v16 else "OCPPCommCtrlr.HeartbeatInterval"

    def _stop_heartbeat(self) -> None:
        task, self._heartbeat_task = self._heartbeat_task, None
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    def _restart_heartbeat(self) -> None:
        """(Re)start heartbeats at the configured interval when booted, connected and enabled."""
        self._stop_heartbeat()
        interval = int(self.settings[self._heartbeat_key].value or 0)
        if self.config.heartbeat and interval > 0 and self.boot_status == "Accepted" and self.connected:
            self._heartbeat_task = asyncio.create_task(self._heartbeat_loop(interval), name="sim-heartbeat")

    async def _heartbeat_loop(self, interval: int) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.heartbeat()
            except NotConnectedError:
                return
            except (SimulatorError, TimeoutError) as exc:
                self.errors.append(exc)
                self._log.warning("heartbeat_failed", error=str(exc))
