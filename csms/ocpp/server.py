"""The OCPP websocket server: handshake policy, one `StationSession` per connection, shutdown.

The server only moves frames and schedules timers; the framing core (`csms.ocpp.framing`) decides what
the frames mean and the per-version route tables decide what to do with them.

Handshake (OCPP-J 1.6 §3, OCPP 2.0.1 Part 4 §3):
- endpoint `ws://HOST:PORT{path}/{charge_point_id}`, the id percent-decoded and checked;
- subprotocol chosen by the client's order of preference among `ocpp2.0.1` and `ocpp1.6`; a client that
  offers neither gets the handshake completed without the header and is then closed (1002);
- the charge point admitted per registration policy and HTTP Basic password (security profile 1):
  malformed id → 400, unknown id refused → 404, bad or missing password → 401.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import math
import re
import socket
import ssl
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from csms.domain.clock import utcnow
from csms.domain.commands import Command, CommandResult, Outcome
from csms.domain.core import Domain
from csms.domain.events import FrameLogged
from csms.domain.models import ChargePoint, Direction, FrameRecord
from csms.domain.registry import LiveConnection
from csms.domain.stations import Refusal, is_registered
from csms.domain.throttle import FailureThrottle
from csms.ocpp.commands import CommandTable, Inexpressible
from csms.ocpp.errors import ErrorKind
from csms.ocpp.framing import (
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    FramingError,
    OcppConnection,
)
from csms.ocpp.observe import CallMeter, count_handshakes  # metrics hooks
from csms.ocpp.router import Route, StationContext, bind_logger, dispatch
from csms.ocpp.schemas import SchemaKind, validate, warm_up
from csms.ocpp.tls import peer_common_name, server_context
from csms.ocpp.v16.commands import COMMANDS as V16_COMMANDS
from csms.ocpp.v16.routes import ROUTES as V16_ROUTES
from csms.ocpp.v201.commands import COMMANDS as V201_COMMANDS
from csms.ocpp.v201.routes import ROUTES as V201_ROUTES
from csms.ocpp.versions import OcppVersion

log = structlog.get_logger("csms.ocpp.server")

SUPPORTED = (OcppVersion.V201.value, OcppVersion.V16.value)
ROUTES: dict[OcppVersion, dict[str, Route]] = {
    OcppVersion.V16: dict(V16_ROUTES),
    OcppVersion.V201: dict(V201_ROUTES),
}
# What the CSMS can ask a station, per version: neutral command type → translation.
COMMANDS: dict[OcppVersion, CommandTable] = {
    OcppVersion.V16: V16_COMMANDS,
    OcppVersion.V201: V201_COMMANDS,
}
# Characters allowed in a charge point id: URL-safe, and no ':' (it could not be a Basic auth username;
# OCPP 2.0.1 Part 4 §3.1.3: the identity contains no colon). Length 1..48 (2.0.1 identity limit).
CHARGE_POINT_ID = re.compile(r"[A-Za-z0-9\-_.~*+|@]{1,48}")

CLOSE_NO_SUBPROTOCOL = 1002
CLOSE_UNSUPPORTED_DATA = 1003
CLOSE_POLICY = 1008
CLOSE_GOING_AWAY = 1001
CLOSE_REPLACED = 4000
MAX_LOGGED_BAD_FRAME = 1024  # private range: this connection was replaced by a newer one for the same id


def parse_charge_point_id(path: str, prefix: str) -> str | None:
    """The percent-decoded charge point id from a request path, or None if the path is not valid."""
    base = prefix.rstrip("/") + "/"
    raw = urlsplit(path).path
    if not raw.startswith(base):
        return None
    encoded = raw[len(base) :]
    if not encoded or "/" in encoded:
        return None
    try:
        decoded = unquote(encoded, errors="strict")
    except UnicodeDecodeError:
        return None
    return decoded if CHARGE_POINT_ID.fullmatch(decoded) else None


def parse_basic_auth(headers: Headers) -> tuple[str | None, str | None]:
    """(username, password) from an `Authorization: Basic` header, or (None, None)."""
    value = headers.get("Authorization")
    if not value:
        return None, None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None, None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else (None, None)


def select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """The first subprotocol in the client's list that we speak (the client's preference wins).

    None completes the handshake without the header; the session then closes the socket, as OCPP-J asks
    when no subprotocol is acceptable.
    """
    for proto in offered:
        if proto in SUPPORTED:
            return proto
    return None


def _offered(request: Request) -> list[str]:
    offered: list[str] = []
    for value in request.headers.get_all("Sec-WebSocket-Protocol"):
        offered.extend(p.strip() for p in value.split(",") if p.strip())
    return offered


@dataclass(slots=True)
class CallOutcome:
    """The result of a CALL the CSMS sent: a CALLRESULT payload, a CALLERROR, or a timeout."""

    payload: dict[str, Any] | None = None
    error_code: str | None = None
    description: str = ""
    timed_out: bool = False
    disconnected: bool = False  # the socket closed before the station answered


class TokenBucket:
    """Frames a connection may send: `rate` per second, bursts of `burst`."""

    __slots__ = ("rate", "burst", "tokens", "stamp")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst, self.tokens, self.stamp = rate, float(burst), float(burst), time.monotonic()

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty (the frame is over the limit)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class StationSession:
    """One connected station: reads frames, dispatches CALLs, sends replies and our own CALLs."""

    def __init__(self, ws: ServerConnection, charge_point: ChargePoint, version: OcppVersion, domain: Domain):
        cfg = domain.services.config.ocpp
        self.ws = ws
        self.domain = domain
        self.charge_point_id = charge_point.charge_point_id
        self.version = version
        self.conn = OcppConnection(version, call_timeout=cfg.call_timeout)
        self.routes = ROUTES[version]
        self.commands = COMMANDS[version]
        self.log = bind_logger(self.charge_point_id, version)
        self.ctx = StationContext(
            self.charge_point_id, version, domain, self.log, is_registered(charge_point)
        )
        self.bucket = TokenBucket(cfg.rate_limit_per_second, cfg.rate_limit_burst)
        self.over_limit = 0
        self.log_frames = cfg.message_log
        self._writer = domain.services.writer
        self._events = domain.services.events
        self._max_pending = domain.services.config.database.max_pending_items
        self._clock = domain.services.clock
        self._call_lock = asyncio.Lock()
        self._pending: asyncio.Future[CallOutcome] | None = None
        self._meter = CallMeter(domain.services.metrics, self.routes, self.conn)  # metrics hook

    # -- frame log -------------------------------------------------------------------------------

    def _record(
        self, direction: Direction, message_type: int, message_id: str, action: str | None, frame: str
    ) -> None:
        if self.log_frames:
            record = FrameRecord(
                self.charge_point_id, direction, message_type, message_id, action, frame, self._clock()
            )
            self._writer.put(record)
            self._events.emit(FrameLogged(record))  # the dashboard's live message log

    async def _flush(self, action: str | None, *, record: bool = True) -> None:
        for frame in self.conn.frames_to_send():
            if record:
                # frame is '[N,"id",...': the type digit and id are read back without parsing JSON
                message_type = int(frame[1])
                message_id = frame[4 : frame.index('"', 4)]
                self._record(Direction.OUT, message_type, message_id, action, frame)
            await self.ws.send(frame)

    # -- inbound ---------------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve frames until the socket closes; replies are sent in the order the CALLs arrived."""
        async for message in self.ws:
            if isinstance(message, bytes):
                # OCPP-J runs on text frames only (OCPP-J 1.6 §4.1, 2.0.1 Part 4 §4.1).
                self.log.warning("binary_frame_refused", size=len(message))
                await self.ws.close(CLOSE_UNSUPPORTED_DATA, "OCPP-J uses text frames")
                return
            await self.receive(message)

    async def receive(self, message: str) -> None:
        """Handle one text frame: every CALL gets exactly one CALLRESULT or CALLERROR.

        Every frame, well-formed or not, is charged to the rate limit; `burst` frames over the limit in a
        row close the connection (1008), so a flood of garbage cannot keep a socket busy forever.
        """
        within_limit = self.bucket.take()
        self.over_limit = 0 if within_limit else self.over_limit + 1
        for event in self.conn.receive_text(message):
            if isinstance(event, CallReceived):
                if within_limit and not self._writer.outage:
                    await self._answer(event, message)
                    continue
                # Refused unprocessed. Neither the frame nor the refusal is logged to the database: with the
                # database down that would only grow the queue (the structured log line says what happened).
                if not within_limit:
                    self.log.warning("rate_limited", action=event.action, message_id=event.message_id)
                    self.conn.send_call_error(
                        event.message_id, ErrorKind.GENERIC, "rate limit exceeded, slow down"
                    )
                    self._meter.refused(event.action, ErrorKind.GENERIC)  # metrics hook
                else:
                    # The database is unreachable: refuse rather than acknowledge what would not be stored;
                    # stations keep and resend their messages (OCPP 1.6 §4.7, 2.0.1 E04.FR.03 retries).
                    self.log.warning("storage_unavailable_refused", action=event.action)
                    self.conn.send_call_error(
                        event.message_id, ErrorKind.INTERNAL, "storage unavailable, retry later"
                    )
                    self._meter.refused(event.action, ErrorKind.INTERNAL)  # metrics hook
                await self._flush(event.action, record=False)
            elif isinstance(event, CallResultReceived | CallErrorReceived):
                message_type = 3 if isinstance(event, CallResultReceived) else 4
                self._record(Direction.IN, message_type, event.message_id, event.action, message)
                self._resolve(event)
            elif isinstance(event, FramingError):
                if within_limit:
                    # Only the start of a broken frame is kept: it explains the error, and garbage
                    # should not fill the disk.
                    self._record(Direction.IN, 0, "", None, message[:MAX_LOGGED_BAD_FRAME])
                    self.log.warning(
                        "framing_error",
                        error=event.error_code,
                        description=event.description,
                        frame=event.frame[:200],
                    )
                await self._flush(None)
        if self.over_limit >= self.bucket.burst:
            self.log.warning("flood_closed", frames_over_limit=self.over_limit)
            await self.ws.close(CLOSE_POLICY, "message rate limit exceeded")

    async def _answer(self, event: CallReceived, message: str) -> None:
        """Handle a CALL and send its answer once what it stored is committed (answered = stored).

        With more than `[database] max_pending_items` writes queued the database is slower than the
        stations: this connection waits for the queue to be written before taking the CALL, so it stops
        reading its socket and TCP pushes back on the station; nothing is refused while the database
        answers.
        """
        if self._writer.pending >= self._max_pending:
            self.log.info("storage_backlog_wait", action=event.action, pending=self._writer.pending)
            await self._writer.sync()
        self._record(Direction.IN, 2, event.message_id, event.action, message)
        self._writer.begin_message()
        await self._dispatch(event, message)
        await self._writer.commit_message()
        await self._flush(event.action)

    async def _dispatch(self, event: CallReceived, message: str) -> None:
        self.log.debug("call_received", action=event.action, message_id=event.message_id)
        started = time.perf_counter()  # metrics hook
        reply = await dispatch(self.ctx, self.routes, event, frame=message)
        self._meter.call(event.action, reply, started)  # metrics hook
        if reply.error is not None:
            self.log.warning(
                "call_rejected",
                action=event.action,
                message_id=event.message_id,
                error=reply.error.value,
                description=reply.description,
            )
            self.conn.send_call_error(event.message_id, reply.error, reply.description)
        else:
            assert reply.payload is not None
            self.conn.send_call_result(event.message_id, reply.payload)

    def _resolve(self, event: CallResultReceived | CallErrorReceived) -> None:
        fut = self._pending
        if fut is None or fut.done():
            return
        if isinstance(event, CallResultReceived):
            violation = validate(self.version, event.action, SchemaKind.RESPONSE, event.payload)
            if violation is not None:
                self.log.warning(
                    "call_result_schema_violation", action=event.action, violation=violation.description
                )
                # Reported in the version's own CALLERROR words, as if the station had sent one.
                fut.set_result(
                    CallOutcome(
                        error_code=self.conn.error_code(violation.kind), description=violation.description
                    )
                )
            else:
                fut.set_result(CallOutcome(payload=event.payload))
        else:
            fut.set_result(CallOutcome(error_code=event.error_code, description=event.description))

    def abort_pending(self) -> None:
        """The socket closed: a CALL still waiting for its answer completes now as `disconnected`."""
        if self._pending is not None and not self._pending.done():
            self._pending.set_result(CallOutcome(disconnected=True))

    # -- outbound --------------------------------------------------------------------------------

    async def call(self, action: str, payload: dict[str, Any]) -> CallOutcome:
        """Send a CALL to the station and wait for its answer, at most `[ocpp] call_timeout` seconds.

        Calls are serialized: OCPP-J allows one outstanding CALL per direction per connection.

        Raises:
            ValueError: `payload` breaks the action's request schema (nothing is sent).
        """
        violation = validate(self.version, action, SchemaKind.REQUEST, payload)
        if violation is not None:
            raise ValueError(f"{action}: {violation.description}")
        async with self._call_lock:
            loop = asyncio.get_running_loop()
            self._pending = fut = loop.create_future()
            self.conn.send_call(action, payload, loop.time())
            try:
                await self._flush(action)
                timeout = self.domain.services.config.ocpp.call_timeout
                return await asyncio.wait_for(asyncio.shield(fut), timeout)
            except TimeoutError:
                self.conn.check_timeouts(loop.time() + 1.0)
                self.log.warning("call_timed_out", action=action)
                self._meter.timed_out(action)  # metrics hook
                return CallOutcome(timed_out=True)
            finally:
                if not fut.done():  # cancelled or timed out: the framing core must not stay "pending"
                    self.conn.check_timeouts(math.inf)
                self._pending = None

    async def execute(self, command: Command) -> CommandResult:
        """Send a version-neutral command as this version's CALL and translate the answer back.

        Returns NOT_SUPPORTED without sending when the version has no form for the command (or for its
        values), TIMEOUT after `[ocpp] call_timeout`, DISCONNECTED when the socket closed first,
        CALL_ERROR with the station's code for a CALLERROR, otherwise ANSWERED with the station's status.
        Never raises (except cancellation): a bug here becomes CALL_ERROR "InternalError", logged.
        """
        name = type(command).__name__
        try:
            return await self._execute(command, name)
        except Exception:
            self.log.exception("command_failed", command=name)
            return CommandResult(
                Outcome.CALL_ERROR, error_code="InternalError", description=f"{name} could not be processed"
            )

    async def _execute(self, command: Command, name: str) -> CommandResult:
        version = self.version.number
        translation = self.commands.get(type(command))
        if translation is None:
            return CommandResult(Outcome.NOT_SUPPORTED, description=f"{name} has no OCPP {version} form")
        if translation.prepare is not None:
            command = await translation.prepare(self.ctx, command)
        try:
            action, payload = translation.build(command)
        except Inexpressible as exc:
            self.log.info("command_not_supported", command=name, reason=str(exc))
            return CommandResult(Outcome.NOT_SUPPORTED, description=str(exc))
        # Values the version cannot carry (a 25-character idTag on 1.6, ...) are refused before sending.
        violation = validate(self.version, action, SchemaKind.REQUEST, payload)
        if violation is not None:
            self.log.info("command_not_supported", command=name, reason=violation.description)
            return CommandResult(
                Outcome.NOT_SUPPORTED,
                description=f"not expressible in OCPP {version}: {violation.description}",
            )
        outcome = await self.call(action, payload)
        if outcome.timed_out:
            return CommandResult(Outcome.TIMEOUT, description=f"no answer to {action} in time")
        if outcome.disconnected:
            return CommandResult(
                Outcome.DISCONNECTED, description=f"connection closed before {action} was answered"
            )
        if outcome.error_code is not None or outcome.payload is None:
            return CommandResult(
                Outcome.CALL_ERROR, error_code=outcome.error_code, description=outcome.description
            )
        result = translation.parse(command, outcome.payload)
        if translation.record is not None:
            try:
                await translation.record(self.ctx, command, result)
            except Exception:  # the station's answer stands even if keeping a copy of it failed
                self.log.exception("command_record_failed", command=name)
        return result


class OcppServer:
    """Accepts station connections on `[ocpp] host:port` and runs a `StationSession` for each."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.config = domain.services.config.ocpp
        # Weak: a handshake that fails after process_request never reaches _handle to pop its entry.
        self._admitted: weakref.WeakKeyDictionary[ServerConnection, ChargePoint] = weakref.WeakKeyDictionary()
        self._background: set[asyncio.Task[None]] = set()
        self._sessions: dict[str, StationSession] = {}
        self._server: Server | None = None
        self._tls_server: Server | None = None
        self.port: int | None = None
        self.tls_port: int | None = None
        # Wrong passwords / certificates from one address are answered ever more slowly (brute force).
        security = domain.services.config.security
        self.throttle = FailureThrottle(
            time.monotonic,
            free_failures=security.auth_failures_free,
            max_delay=security.auth_failure_max_delay,
        )

    def session(self, charge_point_id: str) -> StationSession | None:
        """The live session of a charge point, for sending it CALLs; None when it is offline."""
        return self._sessions.get(charge_point_id)

    async def start(self, sock: socket.socket | None = None) -> int:
        """Compile the schemas, then listen; returns the bound port (the chosen one when `[ocpp] port`
        is 0).

        With `sock` (a worker of `[server] workers`: a listening socket its supervisor bound and logged),
        serve on it instead of binding `[ocpp] host:port`, and log no `ocpp_listening`.
        """
        # Every schema of both versions (~0.8 s, once per process, in a thread): no station message
        # or command ever waits for a compile or a schema file read on the event loop.
        for version in OcppVersion:
            await asyncio.to_thread(warm_up, version)
        self._server = await serve(
            self._handle,
            self.config.host if sock is None else None,
            self.config.port if sock is None else None,
            sock=sock,
            **self._serve_options(),
        )
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        if sock is None:
            log.info("ocpp_listening", host=self.config.host, port=self.port, path=self.config.path)
            if self.config.tls_enabled:
                await self._start_tls(server_context(self.config))
        return self.port

    def _serve_options(self) -> dict[str, Any]:
        """What the plain and the TLS listener share: handshake policy, subprotocols, limits, pings."""
        return {
            # metrics hook: counts admitted and refused handshakes
            "process_request": count_handshakes(
                self._process_request, self._admitted, self.domain.services.metrics
            ),
            "select_subprotocol": select_subprotocol,
            "subprotocols": [Subprotocol(p) for p in SUPPORTED],
            "max_size": self.config.max_frame_bytes,
            "ping_interval": self.config.ping_interval or None,
            "ping_timeout": self.config.ping_interval or None,
            "backlog": self.config.backlog,
            "server_header": None,
        }

    async def _start_tls(self, context: ssl.SSLContext) -> None:
        """Listen for wss:// on `[ocpp.tls] port` (security profiles 2 and 3), same path and handling."""
        self._tls_server = await serve(
            self._handle, self.config.host, self.config.tls_port, ssl=context, **self._serve_options()
        )
        self.tls_port = int(next(iter(self._tls_server.sockets)).getsockname()[1])
        log.info("ocpp_tls_listening", host=self.config.host, port=self.tls_port, path=self.config.path)

    async def close(self) -> None:
        """Stop accepting, close every station connection with 1001 (going away), wait for handlers."""
        if self._tls_server is not None:
            self._tls_server.close(close_connections=True)
            await self._tls_server.wait_closed()
            self._tls_server = None
        if self._server is None:
            return
        self._server.close(close_connections=True)
        await self._server.wait_closed()
        self._server = None

    async def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        charge_point_id = parse_charge_point_id(request.path, self.config.path)
        if charge_point_id is None:
            log.warning("handshake_refused", reason="bad_charge_point_id", path=request.path[:200])
            return connection.respond(HTTPStatus.BAD_REQUEST, "Invalid charge point id in the URL\n")
        if not any(p in SUPPORTED for p in _offered(request)):
            # Not refused here: the handshake completes without the header and the session closes it.
            return None
        username, password = parse_basic_auth(request.headers)
        tls, client_cn = peer_common_name(connection.transport)
        admission = await self.domain.stations.admit(
            charge_point_id, username, password, tls=tls, client_cn=client_cn
        )
        source = connection.remote_address[0] if connection.remote_address else None
        if admission.refusal in (Refusal.UNAUTHORIZED, Refusal.CERTIFICATE):
            delay = self.throttle.failed(source)
            if delay:
                # Brute force: the refusal of a repeated guess from this address comes ever later.
                log.warning(
                    "auth_failure_throttled",
                    source=source,
                    delay=delay,
                    failures=self.throttle.failures(source or ""),
                    charge_point_id=charge_point_id,
                )
                await asyncio.sleep(delay)
        elif admission.refusal is None:
            self.throttle.succeeded(source)
        if admission.refusal in (Refusal.DOWNGRADE, Refusal.CERTIFICATE):
            log.warning(str(admission.refusal), charge_point_id=charge_point_id, tls=tls, client_cn=client_cn)
            return connection.respond(HTTPStatus.FORBIDDEN, "Security profile not met\n")
        if admission.refusal is Refusal.UNKNOWN:
            log.warning("handshake_refused", reason="unknown_charge_point", charge_point_id=charge_point_id)
            return connection.respond(HTTPStatus.NOT_FOUND, "Unknown charge point\n")
        if admission.refusal is Refusal.UNAUTHORIZED:
            log.warning(
                "handshake_refused",
                reason="unauthorized",
                charge_point_id=charge_point_id,
                credentials_given=username is not None,
            )
            response = connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
            response.headers["WWW-Authenticate"] = 'Basic realm="csms", charset="UTF-8"'
            return response
        assert admission.charge_point is not None
        self._admitted[connection] = admission.charge_point
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        charge_point = self._admitted.pop(ws, None)
        if ws.subprotocol is None or charge_point is None:
            log.warning(
                "connection_refused",
                reason="no_supported_subprotocol",
                path=ws.request.path[:200] if ws.request else None,
            )
            await ws.close(CLOSE_NO_SUBPROTOCOL, "no supported OCPP subprotocol (ocpp2.0.1, ocpp1.6)")
            return
        version = OcppVersion(ws.subprotocol)
        session = StationSession(ws, charge_point, version, self.domain)
        registry = self.domain.services.registry

        async def close(code: int, reason: str) -> None:
            await ws.close(code, reason)

        remote = ws.remote_address[0] if ws.remote_address else None
        live = LiveConnection(
            charge_point.charge_point_id,
            version.number,
            utcnow(),
            remote,
            close=close,
            execute=session.execute,
        )
        previous = registry.register(live)
        self._sessions[session.charge_point_id] = session
        session.log.info("connected", remote_address=remote, registered=session.ctx.registered)
        if previous is not None and previous.close is not None:
            session.log.info("connection_replaced")
            # In the background: a half-open old socket would make us wait for its close handshake
            # (websockets close_timeout) before serving the station's new connection.
            task: asyncio.Task[None] = asyncio.ensure_future(
                previous.close(CLOSE_REPLACED, "replaced by a new connection")
            )
            self._background.add(task)
            task.add_done_callback(self._background.discard)
        try:
            await session.run()
        except ConnectionClosed:
            pass
        except Exception:  # never let one station's failure escape into the server
            session.log.exception("session_failed")
            await ws.close(1011, "internal error")
        finally:
            session.abort_pending()
            current = registry.get(session.charge_point_id) is live
            registry.unregister(live)
            if current:
                self._sessions.pop(session.charge_point_id, None)
                self.domain.transactions.forget_station(session.charge_point_id)
            session.log.info("disconnected", code=ws.close_code, reason=ws.close_reason)
