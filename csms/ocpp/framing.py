"""Sans-I/O OCPP-J framing core: text frames in, events and text frames out.

:class:`OcppConnection` does no I/O and reads no clock. The owner of the socket
(the asyncio server, a simulator, a test) drives it:

.. code-block:: python

    events = conn.receive_text(frame)          # parse what the peer sent
    conn.send_call_result(events[0].message_id, payload)
    for out in conn.frames_to_send():          # then write these to the socket
        ...
    deadline = conn.next_deadline()            # arm a timer, then call check_timeouts(now)

It knows frames (OCPP-J 1.6 §4, OCPP 2.0.1 Part 4 §4), message ids and the single
outstanding CALL per direction (OCPP-J 1.6 §4.1.1, OCPP 2.0.1 Part 4 §4.1.1); it
knows nothing about actions or payload contents, which are validated by the
router above it (see :mod:`csms.ocpp.schemas`).

This module must not import asyncio, websockets or SQLAlchemy.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from csms.ocpp.errors import ErrorKind, error_code_for
from csms.ocpp.versions import OcppVersion

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "MAX_MESSAGE_ID_LENGTH",
    "UNKNOWN_MESSAGE_ID",
    "CallErrorReceived",
    "CallPending",
    "CallReceived",
    "CallResultReceived",
    "CallTimedOut",
    "ErrorKind",
    "Event",
    "FramingError",
    "OcppConnection",
    "OcppVersion",
]

#: OCPP-J 1.6 §4.1.4 / OCPP 2.0.1 Part 4 §4.1.4: a message id is a string of at most 36 characters.
MAX_MESSAGE_ID_LENGTH = 36
#: OCPP 2.0.1 Part 4 §4.2.3: errorDescription is at most 255 characters (applied to 1.6 too).
MAX_DESCRIPTION_LENGTH = 255
#: OCPP 2.0.1 Part 4 §4.2.3: the message id of a CALLERROR when the CALL's id cannot be read.
UNKNOWN_MESSAGE_ID = "-1"

_CALL = 2
_CALLRESULT = 3
_CALLERROR = 4

_loads = orjson.loads
_dumps = orjson.dumps
_JSONDecodeError = orjson.JSONDecodeError


@dataclass(frozen=True, slots=True)
class _CallEvent:
    """An event about one CALL: its message id and action (for an answer, the action of our CALL)."""

    message_id: str
    action: str


@dataclass(frozen=True, slots=True)
class CallReceived(_CallEvent):
    """The peer sent a well-formed CALL; answer it with ``send_call_result`` or ``send_call_error``."""

    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallResultReceived(_CallEvent):
    """The peer answered our pending CALL with ``payload``."""

    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallErrorReceived(_CallEvent):
    """The peer rejected our pending CALL."""

    error_code: str
    description: str
    details: dict[str, Any]


@dataclass(frozen=True, slots=True)
class CallTimedOut(_CallEvent):
    """Our pending CALL got no answer before its deadline; a late answer will be a FramingError."""


@dataclass(frozen=True, slots=True)
class FramingError:
    """The peer sent a frame that is not a usable CALL, CALLRESULT or CALLERROR.

    When the spec asks for it, a CALLERROR with ``error_code`` has already been queued
    (fetch it with ``frames_to_send()``); otherwise nothing is sent and the event only
    exists so the caller can log it. ``frame`` is the received text, as text.
    """

    error_code: str
    description: str
    frame: str


Event = CallReceived | CallResultReceived | CallErrorReceived | FramingError | CallTimedOut


class CallPending(Exception):
    """``send_call`` was called while one of our CALLs is still outstanding.

    OCPP-J 1.6 §4.1.1 / OCPP 2.0.1 Part 4 §4.1.1 allow one outstanding CALL per
    direction: wait for its CallResultReceived, CallErrorReceived or CallTimedOut.
    """


def _default_id() -> str:
    return str(uuid.uuid4())


def _as_text(text: str | bytes) -> str:
    """Return *text* as str for FramingError.frame; undecodable bytes become U+FFFD."""
    return text if isinstance(text, str) else text.decode("utf-8", "replace")


class OcppConnection:
    """OCPP-J framing state of one websocket connection, either side (CSMS or station).

    Args:
        version: the negotiated subprotocol; selects the CALLERROR code spellings and
            how an unknown MessageTypeId is handled.
        call_timeout: seconds our CALL may stay unanswered; the deadline is the ``now``
            given to ``send_call`` plus this. The spec leaves the value to the implementation.
        id_factory: returns a fresh message id (at most 36 characters, unique on this
            connection) for each CALL we send; defaults to a random UUID4 string.
    """

    __slots__ = (
        "version",
        "_call_timeout",
        "_id_factory",
        "_codes",
        "_outgoing",
        "_pending_id",
        "_pending_action",
        "_deadline",
    )

    def __init__(
        self,
        version: OcppVersion,
        *,
        call_timeout: float = 30.0,
        id_factory: Callable[[], str] | None = None,
    ) -> None:
        self.version: OcppVersion = OcppVersion(version)
        self._call_timeout = call_timeout
        self._id_factory: Callable[[], str] = id_factory if id_factory is not None else _default_id
        # Resolve every code string once instead of per error.
        self._codes: dict[ErrorKind, str] = {kind: error_code_for(self.version, kind) for kind in ErrorKind}
        self._outgoing: list[str] = []
        self._pending_id: str | None = None
        self._pending_action: str | None = None
        self._deadline: float | None = None

    # ------------------------------------------------------------------ inbound

    def receive_text(self, text: str | bytes) -> list[Event]:
        """Parse one websocket text frame received from the peer.

        Then call ``frames_to_send()``: a malformed CALL has a CALLERROR queued. Act on
        each returned event: answer a :class:`CallReceived` with ``send_call_result`` or
        ``send_call_error``; a :class:`CallResultReceived` / :class:`CallErrorReceived`
        completes our pending CALL, so the next ``send_call`` is allowed; log a
        :class:`FramingError`.

        Args:
            text: the frame payload, ``str`` or UTF-8 ``bytes``.

        Returns:
            The events the frame produced (currently always exactly one).
        """
        try:
            msg = _loads(text)
        except _JSONDecodeError as exc:
            return [
                self._reject(UNKNOWN_MESSAGE_ID, ErrorKind.RPC_FRAMEWORK, f"Frame is not JSON: {exc}", text)
            ]
        if type(msg) is not list or not msg:
            return [
                self._reject(
                    UNKNOWN_MESSAGE_ID, ErrorKind.RPC_FRAMEWORK, "Frame is not a non-empty JSON array", text
                )
            ]
        message_type = msg[0]
        n = len(msg)
        if type(message_type) is int:
            if message_type == _CALL:
                # Fast path: a well-formed CALL. OCPP-J 1.6 §4.2.1 / OCPP 2.0.1 Part 4 §4.2.1.
                if n == 4:
                    message_id, action, payload = msg[1], msg[2], msg[3]
                    if (
                        type(message_id) is str
                        and len(message_id) <= MAX_MESSAGE_ID_LENGTH
                        and type(action) is str
                        and action
                        and type(payload) is dict
                    ):
                        return [CallReceived(message_id, action, payload)]
                return [self._reject_call(msg, text)]
            if message_type == _CALLRESULT:
                # OCPP-J 1.6 §4.2.2 / OCPP 2.0.1 Part 4 §4.2.2: [3, id, payload].
                if n == 3:
                    message_id, payload = msg[1], msg[2]
                    if type(message_id) is str and type(payload) is dict:
                        if message_id == self._pending_id:
                            return [CallResultReceived(message_id, self._take_pending(), payload)]
                        return [self._unmatched("CALLRESULT", text)]
                return [self._bad_response("CALLRESULT must be [3, messageId, {payload}]", text)]
            if message_type == _CALLERROR:
                # OCPP-J 1.6 §4.2.3 / OCPP 2.0.1 Part 4 §4.2.3: [4, id, code, description, details].
                if n == 5:
                    message_id, code, description, details = msg[1], msg[2], msg[3], msg[4]
                    if (
                        type(message_id) is str
                        and type(code) is str
                        and type(description) is str
                        and type(details) is dict
                    ):
                        if message_id == self._pending_id:
                            return [
                                CallErrorReceived(
                                    message_id, self._take_pending(), code, description, details
                                )
                            ]
                        return [self._unmatched("CALLERROR", text)]
                return [
                    self._bad_response(
                        "CALLERROR must be [4, messageId, errorCode, errorDescription, {errorDetails}]", text
                    )
                ]
            return [self._unknown_message_type(msg, text)]
        return [self._non_integer_type(msg, text)]

    def _non_integer_type(self, msg: list[Any], text: str | bytes) -> FramingError:
        """Handle a MessageTypeId that did not parse as an int."""
        message_type = msg[0]
        if type(message_type) is float and message_type.is_integer() and abs(message_type) >= 2**63:
            # An integer beyond 64 bits, which the parser hands over as a float: still an (unknown)
            # type number, so ignored in 1.6 and MessageTypeNotSupported in 2.0.1 (§4.1.3 of both).
            return self._unknown_message_type(msg, text)
        description = "MessageTypeId must be an integer"
        return self._reject(_readable_id(msg), ErrorKind.RPC_FRAMEWORK, description, text)

    def _reject_call(self, msg: list[Any], text: str | bytes) -> FramingError:
        """Explain why *msg* (MessageTypeId 2) is not a valid CALL and queue the CALLERROR."""
        message_id = _readable_id(msg)
        if len(msg) != 4:
            return self._reject(message_id, ErrorKind.RPC_FRAMEWORK, "CALL must have 4 elements", text)
        if type(msg[1]) is not str:
            # OCPP 2.0.1 Part 4 §4.2.3: an unreadable message id is answered with "-1".
            return self._reject(message_id, ErrorKind.RPC_FRAMEWORK, "messageId must be a string", text)
        if len(msg[1]) > MAX_MESSAGE_ID_LENGTH:
            # The id is readable, so it is echoed for the peer to correlate, though over-long.
            return self._reject(
                message_id, ErrorKind.RPC_FRAMEWORK, "messageId is longer than 36 characters", text
            )
        if type(msg[2]) is not str or not msg[2]:
            return self._reject(
                message_id, ErrorKind.RPC_FRAMEWORK, "Action must be a non-empty string", text
            )
        # OCPP 2.0.1 Part 4 §4.3: FormatViolation = "payload for action is syntactically
        # incorrect"; in 1.6 both kinds are FormationViolation anyway.
        return self._reject(message_id, ErrorKind.FORMAT, "Payload must be a JSON object", text)

    def _unknown_message_type(self, msg: list[Any], text: str | bytes) -> FramingError:
        """Handle an integer MessageTypeId other than 2, 3 and 4."""
        description = f"Unknown MessageTypeId {msg[0]}"
        if self.version is OcppVersion.V16:
            # OCPP-J 1.6 §4.1.3: a message with an unknown type number is ignored: no reply.
            return FramingError(
                self._codes[ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED], description, _as_text(text)
            )
        # OCPP 2.0.1 Part 4 §4.1.3: answer with a CALLERROR MessageTypeNotSupported.
        return self._reject(_readable_id(msg), ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, description, text)

    def _bad_response(self, description: str, text: str | bytes) -> FramingError:
        """A malformed CALLRESULT/CALLERROR: report it, never answer it.

        A CALLERROR may only answer a CALL (OCPP-J 1.6 §4.2.3, OCPP 2.0.1 Part 4 §4.2.3),
        so the pending CALL, if any, is left to time out.
        """
        return FramingError(self._codes[ErrorKind.RPC_FRAMEWORK], description, _as_text(text))

    def _unmatched(self, frame_type: str, text: str | bytes) -> FramingError:
        """A response whose id is not our pending CALL (late, duplicate or bogus): report only."""
        return FramingError(
            self._codes[ErrorKind.PROTOCOL], f"{frame_type} does not answer a pending CALL", _as_text(text)
        )

    def _reject(self, message_id: str, kind: ErrorKind, description: str, text: str | bytes) -> FramingError:
        """Queue a CALLERROR of *kind* for *message_id* and return the matching FramingError."""
        code = self._codes[kind]
        self.send_call_error(message_id, code, description)
        return FramingError(code, description, _as_text(text))

    def _take_pending(self) -> str:
        """Clear the pending CALL (it has been answered) and return its action."""
        action = self._pending_action
        assert action is not None  # only called after the id matched a pending CALL
        self._pending_id = self._pending_action = self._deadline = None
        return action

    # ----------------------------------------------------------------- outbound

    def send_call(self, action: str, payload: dict[str, Any], now: float) -> str:
        """Queue a CALL to the peer and start its timeout.

        Then call ``frames_to_send()`` and arm a timer for ``next_deadline()``. The answer
        arrives as a :class:`CallResultReceived` or :class:`CallErrorReceived` from
        ``receive_text``, or as a :class:`CallTimedOut` from ``check_timeouts``.

        Args:
            action: the OCPP action name, e.g. ``"RemoteStartTransaction"``.
            payload: the request payload (camelCase keys, as on the wire).
            now: the current monotonic time in seconds; the deadline is ``now + call_timeout``.

        Returns:
            The message id of the CALL.

        Raises:
            CallPending: one of our CALLs is still outstanding.
            TypeError: *payload* is not JSON-serializable (nothing is queued).
        """
        if self._pending_id is not None:
            raise CallPending(f"CALL {self._pending_action} {self._pending_id} is still outstanding")
        message_id = self._id_factory()
        # Serialize before touching state so a bad payload leaves the connection usable.
        frame = _dumps([_CALL, message_id, action, payload]).decode()
        self._outgoing.append(frame)
        self._pending_id = message_id
        self._pending_action = action
        self._deadline = now + self._call_timeout
        return message_id

    def send_call_result(self, message_id: str, payload: dict[str, Any]) -> None:
        """Queue the CALLRESULT answering the peer's CALL *message_id*; then call ``frames_to_send()``.

        Raises:
            TypeError: *payload* is not JSON-serializable (nothing is queued).
        """
        self._outgoing.append(_dumps([_CALLRESULT, message_id, payload]).decode())

    def send_call_error(
        self,
        message_id: str,
        error_code: str,
        description: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Queue a CALLERROR answering the peer's CALL *message_id*; then call ``frames_to_send()``.

        Use it only for transport or format failures; business refusals are CALLRESULTs.

        Args:
            message_id: the id of the CALL being answered.
            error_code: the wire code, usually ``self.error_code(ErrorKind.X)``. An
                :class:`ErrorKind` passed directly is translated for this connection's version.
            description: free text, truncated to 255 characters (OCPP 2.0.1 Part 4 §4.2.3).
            details: extra JSON object; ``{}`` when omitted, as both versions require.

        Raises:
            TypeError: *details* is not JSON-serializable (nothing is queued).
        """
        if isinstance(error_code, ErrorKind):
            error_code = self._codes[error_code]
        frame = [
            _CALLERROR,
            message_id,
            error_code,
            description[:MAX_DESCRIPTION_LENGTH],
            {} if details is None else details,
        ]
        self._outgoing.append(_dumps(frame).decode())

    def frames_to_send(self) -> list[str]:
        """Return and forget the text frames queued since the last call; write them in order."""
        frames = self._outgoing
        self._outgoing = []
        return frames

    # ----------------------------------------------------------------- timeouts

    def check_timeouts(self, now: float) -> list[CallTimedOut]:
        """Expire our pending CALL if its deadline is at or before *now*.

        Then ``send_call`` is allowed again; a late answer to the expired CALL will come out
        of ``receive_text`` as a :class:`FramingError`.

        Args:
            now: the current time on the same clock as the ``now`` given to ``send_call``.

        Returns:
            A :class:`CallTimedOut` for the expired CALL, or an empty list.
        """
        deadline = self._deadline
        if deadline is None or now < deadline:
            return []
        message_id, action = self._pending_id, self._pending_action
        assert message_id is not None and action is not None  # a deadline implies a pending CALL
        self._pending_id = self._pending_action = self._deadline = None
        return [CallTimedOut(message_id, action)]

    def next_deadline(self) -> float | None:
        """Return when ``check_timeouts`` should next be called, or None if no CALL is pending."""
        return self._deadline

    @property
    def pending_action(self) -> str | None:
        """The action of our outstanding CALL, or None when ``send_call`` is allowed."""
        return self._pending_action

    def error_code(self, generic: ErrorKind) -> str:
        """Return this connection's wire code for *generic*, ready for ``send_call_error``."""
        return self._codes[generic]


def _readable_id(msg: list[Any]) -> str:
    """Return element 1 of *msg* if it is a string, else ``"-1"`` (OCPP 2.0.1 Part 4 §4.2.3)."""
    if len(msg) > 1 and type(msg[1]) is str:
        return msg[1]
    return UNKNOWN_MESSAGE_ID
