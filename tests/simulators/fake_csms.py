"""A tiny OCPP-J server for simulator tests: answers each CALL with a fixed valid payload, records everything.

It is deliberately dumb (no framing core, no schemas) so that simulator tests check the simulator against
hand-written expectations rather than against the code under test.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from tests.utils import MS

NOW_TEXT = "2025-01-02T03:04:05.678Z"
Frame = list[Any]


class FakeCsms:
    """Serve OCPP-J on 127.0.0.1 (free port) under /ocpp/<id>.

    Attributes:
        requests: every handshake request (path, headers), in order.
        frames: every frame received from stations, decoded, in order.
        responses: action -> payload (or callable(payload) -> payload) replacing the default answer.
        errors: action -> (errorCode, description) answered as CALLERROR instead.
        silent: actions never answered (to provoke timeouts).
        refuse_status: answer the handshake with this HTTP status instead of upgrading.
        accept_subprotocol: False completes the handshake without selecting a subprotocol.
    """

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.frames: list[Frame] = []
        self.responses: dict[str, dict[str, Any] | Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.errors: dict[str, tuple[str, str]] = {}
        self.silent: set[str] = set()
        self.refuse_status: int | None = None
        self.accept_subprotocol = True
        self.connections: list[ServerConnection] = []
        self._server: Server | None = None
        self._transaction_ids = itertools.count(1001)
        self._message_ids = itertools.count(1)
        self._replies: dict[str, asyncio.Future[Frame]] = {}
        self._changed = asyncio.Event()

    async def __aenter__(self) -> FakeCsms:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            subprotocols=[Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")],
            select_subprotocol=self._select_subprotocol,
            process_request=self._process_request,
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    @property
    def url(self) -> str:
        """The endpoint base a simulator appends its id to."""
        assert self._server is not None
        port = next(iter(self._server.sockets)).getsockname()[1]
        return f"ws://127.0.0.1:{port}/ocpp"

    # ------------------------------------------------------------------ handshake

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request)
        self._notify()
        if self.refuse_status is not None:
            return connection.respond(self.refuse_status, "refused\n")
        return None

    def _select_subprotocol(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        if not self.accept_subprotocol:
            return None
        return next((p for p in offered if p in ("ocpp1.6", "ocpp2.0.1")), None)

    # ------------------------------------------------------------------ frames

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections.append(ws)
        self._notify()
        try:
            async for text in ws:
                frame = orjson.loads(text)
                self.frames.append(frame)
                if frame[0] == 2:
                    reply = self._answer(ws.subprotocol, frame)
                    if reply is not None:
                        await ws.send(orjson.dumps(reply).decode())
                elif frame[0] in (3, 4):
                    future = self._replies.pop(frame[1], None)
                    if future is not None and not future.done():
                        future.set_result(frame)
                self._notify()
        except ConnectionClosed:
            pass
        finally:
            self._notify()

    def _answer(self, subprotocol: str | None, frame: Frame) -> Frame | None:
        _, message_id, action, payload = frame
        if action in self.silent:
            return None
        if action in self.errors:
            code, description = self.errors[action]
            return [4, message_id, code, description, {}]
        override = self.responses.get(action)
        if override is not None:
            return [3, message_id, override(payload) if callable(override) else override]
        return [3, message_id, self._default(subprotocol, action)]

    def _default(self, subprotocol: str | None, action: str) -> dict[str, Any]:
        v16 = subprotocol == "ocpp1.6"
        if action == "BootNotification":
            return {"status": "Accepted", "currentTime": NOW_TEXT, "interval": 300}
        if action == "Heartbeat":
            return {"currentTime": NOW_TEXT}
        if action == "Authorize":
            return {"idTagInfo": {"status": "Accepted"}} if v16 else {"idTokenInfo": {"status": "Accepted"}}
        if action == "StartTransaction":
            return {"transactionId": next(self._transaction_ids), "idTagInfo": {"status": "Accepted"}}
        if action == "StopTransaction":
            return {"idTagInfo": {"status": "Accepted"}}
        if action == "DataTransfer":
            return {"status": "UnknownVendorId"}
        return {}

    # ------------------------------------------------------------------ test API

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 2000 * MS) -> None:  # noqa: ASYNC109
        """Return once `predicate()` holds (checked after every frame and connection change)."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                if predicate():
                    return
                await changed.wait()

    def calls(self, action: str | None = None) -> list[dict[str, Any]]:
        """Payloads of the CALLs received (of `action`, if given), in order."""
        return [f[3] for f in self.frames if f[0] == 2 and (action is None or f[2] == action)]

    def actions(self) -> list[str]:
        """Actions of the CALLs received, in order."""
        return [f[2] for f in self.frames if f[0] == 2]

    async def wait_calls(
        self,
        action: str,
        count: int = 1,
        timeout: float = 2000 * MS,  # noqa: ASYNC109
    ) -> list[dict[str, Any]]:
        """Wait until `count` CALLs of `action` arrived; return all of them."""
        await self.wait_until(lambda: len(self.calls(action)) >= count, timeout)
        return self.calls(action)

    async def call(self, action: str, payload: dict[str, Any], timeout: float = 2000 * MS) -> Frame:  # noqa: ASYNC109
        """Send a CALL to the most recent station connection; return its reply frame
        (CALLRESULT/CALLERROR)."""
        ws = self.connections[-1]
        message_id = f"csms-{next(self._message_ids)}"
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._replies[message_id] = future
        await ws.send(orjson.dumps([2, message_id, action, payload]).decode())
        return await asyncio.wait_for(future, timeout)

    async def send_text(self, text: str) -> None:
        """Send a raw text frame to the most recent station connection."""
        await self.connections[-1].send(text)
