"""Fuzzing the Sans-I/O framing core with Hypothesis: whatever a peer sends, `receive_text` returns one
event and never raises, and what it queues is exactly the CALLERROR the spec asks for (OCPP-J 1.6 §4.2.3,
OCPP 2.0.1 Part 4 §4.2.3 and §4.3), or nothing where the spec says to ignore a frame.

Examples follow the suite's Hypothesis profile (tests/conftest.py, ADR 0017): derandomized, no deadline.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from csms.ocpp.errors import ErrorKind, error_code_for
from csms.ocpp.framing import (
    MAX_DESCRIPTION_LENGTH,
    MAX_MESSAGE_ID_LENGTH,
    CallErrorReceived,
    CallReceived,
    CallResultReceived,
    FramingError,
    OcppConnection,
)
from csms.ocpp.versions import OcppVersion
from tests.utils import FUZZ_SCALE

VERSIONS = pytest.mark.parametrize("version", [OcppVersion.V16, OcppVersion.V201])
FUZZ = settings(max_examples=150 * FUZZ_SCALE)

#: Every code a CSMS may put in a CALLERROR, per version (OCPP-J 1.6 §4.2.3; OCPP 2.0.1 Part 4 §4.3).
SPEC_CODES = {
    OcppVersion.V16: {
        "NotImplemented", "NotSupported", "InternalError", "ProtocolError", "SecurityError",
        "FormationViolation", "PropertyConstraintViolation", "OccurenceConstraintViolation",
        "TypeConstraintViolation", "GenericError",
    },
    OcppVersion.V201: {
        "FormatViolation", "GenericError", "InternalError", "MessageTypeNotSupported", "NotImplemented",
        "NotSupported", "OccurrenceConstraintViolation", "PropertyConstraintViolation", "ProtocolError",
        "RpcFrameworkError", "SecurityError", "TypeConstraintViolation",
    },
}  # fmt: skip

# JSON values of every kind, nested, with huge and negative numbers and odd strings.
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
message_ids = st.text(max_size=MAX_MESSAGE_ID_LENGTH + 10) | json_values
frames = (
    st.tuples(st.sampled_from([2, 3, 4]), message_ids, json_values, json_values, json_values).flatmap(
        lambda t: st.integers(min_value=0, max_value=5).map(lambda n: list(t[:n]))
    )
    | st.lists(json_values, max_size=6)
    | json_values
)
texts = (
    frames.map(lambda f: orjson.dumps(f).decode())
    | st.text(max_size=200)
    | st.binary(max_size=200)
    | st.integers(min_value=1, max_value=3000).map(lambda n: "[" * n + "]" * n)  # deep nesting
    | st.integers(min_value=30, max_value=400).map(lambda n: f'[2, "big", "Heartbeat", {{"n": 1{"0" * n}}}]')
)


def callerror_frames(conn: OcppConnection) -> list[list[Any]]:
    """Parse the queued frames; each must be a spec-shaped CALLERROR [4, id, code, description, {}]."""
    parsed = []
    for frame in conn.frames_to_send():
        msg = orjson.loads(frame)
        assert type(msg) is list and len(msg) == 5 and msg[0] == 4, frame
        assert type(msg[1]) is str
        assert msg[2] in SPEC_CODES[conn.version], msg[2]
        assert type(msg[3]) is str and len(msg[3]) <= MAX_DESCRIPTION_LENGTH
        assert msg[4] == {}
        parsed.append(msg)
    return parsed


@VERSIONS
@FUZZ
@given(text=texts)
@example(text=b"\xff\xfe[2]")  # invalid UTF-8
@example(text='[2, "a", "Heartbeat", {"x": 1e999}]')  # a number beyond double range
@example(text="[" * 2000 + "]" * 2000)  # deeper than the parser's limit
@example(text='[2, "\\ud800", "Heartbeat", {}]')  # a lone surrogate escape
@example(text='[2, 1, "Heartbeat", {}]')  # a non-string id
@example(text='[2.0, "a", "Heartbeat", {}]')  # a float MessageTypeId
@example(text='[true, "a", "Heartbeat", {}]')  # a boolean MessageTypeId
def test_any_frame_yields_one_event_and_at_most_one_callerror(
    version: OcppVersion, text: str | bytes
) -> None:
    """Any text or bytes gives exactly one event without raising, and at most one spec CALLERROR is queued,
    only for a FramingError, with the code the event names and the CALL's id when it was readable."""
    conn = OcppConnection(version)
    events = conn.receive_text(text)
    assert len(events) == 1
    event = events[0]
    sent = callerror_frames(conn)
    assert len(sent) <= 1
    if isinstance(event, CallReceived):
        assert sent == [] and len(event.message_id) <= MAX_MESSAGE_ID_LENGTH and event.action
    elif isinstance(event, CallResultReceived | CallErrorReceived):
        pytest.fail("no CALL was pending, so nothing can be its answer")
    else:
        assert isinstance(event, FramingError)
        assert event.error_code in SPEC_CODES[version] or event.error_code == "ProtocolError"
        if sent:
            assert sent[0][2] == event.error_code
            try:
                msg = orjson.loads(text)
            except orjson.JSONDecodeError:
                assert sent[0][1] == "-1"  # OCPP 2.0.1 Part 4 §4.2.3: the id could not be read
            else:
                if type(msg) is list and len(msg) > 1 and type(msg[1]) is str:
                    assert sent[0][1] == msg[1]
                else:
                    assert sent[0][1] == "-1"


@VERSIONS
@FUZZ
@given(message_id=st.text(max_size=36), payload=json_values, as_error=st.booleans())
def test_answers_to_nothing_are_ignored(
    version: OcppVersion, message_id: str, payload: Any, as_error: bool
) -> None:
    """A CALLRESULT or CALLERROR when no CALL is pending is reported (ProtocolError, or the version's
    framing code when malformed) and never answered: a CALLERROR may only answer a CALL."""
    conn = OcppConnection(version)
    frame = [4, message_id, "GenericError", "", payload] if as_error else [3, message_id, payload]
    [event] = conn.receive_text(orjson.dumps(frame).decode())
    assert isinstance(event, FramingError)
    expected = "ProtocolError" if type(payload) is dict else error_code_for(version, ErrorKind.RPC_FRAMEWORK)
    assert event.error_code == expected
    assert conn.frames_to_send() == []


@VERSIONS
@FUZZ
@given(message_id=st.text(min_size=1, max_size=36), payload=json_values)
def test_duplicate_and_late_answers_after_the_pending_call_are_ignored(
    version: OcppVersion, message_id: str, payload: Any
) -> None:
    """Only the first answer to our pending CALL completes it; the same answer again is a ProtocolError
    event with nothing sent, and the next CALL can be sent."""
    conn = OcppConnection(version, id_factory=lambda: message_id)
    conn.send_call("Reset", {"type": "Soft"}, now=0.0)
    conn.frames_to_send()
    answer = orjson.dumps([3, message_id, {"status": "Accepted"}]).decode()
    [first] = conn.receive_text(answer)
    assert isinstance(first, CallResultReceived) and first.action == "Reset"
    [again] = conn.receive_text(answer)
    assert isinstance(again, FramingError) and again.error_code == "ProtocolError"
    assert conn.frames_to_send() == []
    assert conn.pending_action is None


@VERSIONS
@FUZZ
@given(
    message_type=st.integers().filter(lambda n: n not in (2, 3, 4)), rest=st.lists(json_values, max_size=4)
)
@example(message_type=10**30, rest=["a", "Heartbeat", {}])  # beyond 64 bits: parsed as a float
def test_unknown_message_type_ids(version: OcppVersion, message_type: int, rest: list[Any]) -> None:
    """An unknown integer MessageTypeId is ignored in 1.6 (OCPP-J 1.6 §4.1.3) and answered with
    MessageTypeNotSupported in 2.0.1 (OCPP 2.0.1 Part 4 §4.1.3)."""
    conn = OcppConnection(version)
    [event] = conn.receive_text(_frame(message_type, rest))
    sent = callerror_frames(conn)
    assert isinstance(event, FramingError)
    if version is OcppVersion.V16:
        assert sent == []
    else:
        assert [msg[2] for msg in sent] == ["MessageTypeNotSupported"]


def _frame(message_type: int, rest: list[Any]) -> str:
    """The frame written by hand: orjson will not write a MessageTypeId beyond 64 bits."""
    tail = "".join("," + orjson.dumps(value).decode() for value in rest)
    return f"[{message_type}{tail}]"


@VERSIONS
@FUZZ
@given(message_id=st.text(max_size=36), action=st.text(min_size=1, max_size=30), payload=json_values)
def test_well_formed_calls_pass_through_unchanged(
    version: OcppVersion, message_id: str, action: str, payload: Any
) -> None:
    """Any well-formed CALL (any action, any object payload) reaches the router as it was sent, with
    nothing queued: actions and payloads are the router's business, not the framing core's."""
    conn = OcppConnection(version)
    body = payload if isinstance(payload, dict) else {"value": payload}
    [event] = conn.receive_text(orjson.dumps([2, message_id, action, body]).decode())
    assert event == CallReceived(message_id, action, body)
    assert conn.frames_to_send() == []
