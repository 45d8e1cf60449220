"""Tests for the Sans-I/O OCPP-J framing core: frames in, events and frames out, no event loop."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from csms.ocpp.errors import ErrorKind, error_code_for
from csms.ocpp.framing import (
    CallErrorReceived,
    CallPending,
    CallReceived,
    CallResultReceived,
    CallTimedOut,
    Event,
    FramingError,
    OcppConnection,
)
from csms.ocpp.versions import OcppVersion

V16 = OcppVersion.V16
V201 = OcppVersion.V201
BOTH = pytest.mark.parametrize("version", [V16, V201])

# Expected CALLERROR codes per version for the structural and payload-format rejections.
RPC_CODE = {V16: "FormationViolation", V201: "RpcFrameworkError"}
FORMAT_CODE = {V16: "FormationViolation", V201: "FormatViolation"}


def make_conn(version: OcppVersion = V16, **kwargs: Any) -> OcppConnection:
    """Return a connection whose CALL ids are "id-1", "id-2", ..."""
    counter = itertools.count(1)
    return OcppConnection(version, id_factory=lambda: f"id-{next(counter)}", **kwargs)


def assert_frames_sent(conn: OcppConnection, *expected: list[Any]) -> None:
    """Assert that exactly *expected* frames are queued, in order, and drain them."""
    frames = conn.frames_to_send()
    assert [json.loads(frame) for frame in frames] == list(expected)


def assert_frame_sent(conn: OcppConnection, expected: list[Any]) -> None:
    """Assert that exactly one frame, equal to *expected*, is queued, and drain it."""
    assert_frames_sent(conn, expected)


def assert_no_frame_sent(conn: OcppConnection) -> None:
    """Assert that nothing is queued."""
    assert_frames_sent(conn)


def receive_one(conn: OcppConnection, text: str | bytes) -> Event:
    """Feed *text* and return the single event it produced."""
    events = conn.receive_text(text)
    assert len(events) == 1
    return events[0]


def assert_rejected(
    conn: OcppConnection, text: str | bytes, message_id: str, code: str, description: str
) -> None:
    """Assert that *text* yields a FramingError and a CALLERROR (code, id) was queued."""
    event = receive_one(conn, text)
    assert isinstance(event, FramingError)
    assert event.error_code == code
    assert description in event.description
    frames = conn.frames_to_send()
    assert len(frames) == 1
    sent = json.loads(frames[0])
    assert sent[:3] == [4, message_id, code]
    assert description in sent[3]
    assert sent[4] == {}


def assert_ignored(conn: OcppConnection, text: str, code: str, description: str) -> None:
    """Assert that *text* yields a FramingError and that no reply was queued."""
    event = receive_one(conn, text)
    assert isinstance(event, FramingError)
    assert event == FramingError(code, event.description, text)
    assert description in event.description
    assert_no_frame_sent(conn)


def pending_conn(version: OcppVersion = V16, action: str = "Reset") -> OcppConnection:
    """Return a connection with our CALL "id-1" outstanding since t=100 (deadline 130)."""
    conn = make_conn(version)
    conn.send_call(action, {"type": "Soft"}, now=100.0)
    conn.frames_to_send()
    return conn


# ----------------------------------------------------------------------------- versions and codes


def test_version_values_are_subprotocol_names() -> None:
    """OcppVersion values are the websocket subprotocol names and parse back from them."""
    assert OcppVersion("ocpp1.6") is V16
    assert OcppVersion("ocpp2.0.1") is V201
    assert make_conn("ocpp2.0.1").version is V201  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "v16", "v201"),
    [
        (ErrorKind.FORMAT, "FormationViolation", "FormatViolation"),
        (ErrorKind.GENERIC, "GenericError", "GenericError"),
        (ErrorKind.INTERNAL, "InternalError", "InternalError"),
        (ErrorKind.NOT_IMPLEMENTED, "NotImplemented", "NotImplemented"),
        (ErrorKind.NOT_SUPPORTED, "NotSupported", "NotSupported"),
        (ErrorKind.OCCURRENCE, "OccurenceConstraintViolation", "OccurrenceConstraintViolation"),
        (ErrorKind.PROPERTY, "PropertyConstraintViolation", "PropertyConstraintViolation"),
        (ErrorKind.PROTOCOL, "ProtocolError", "ProtocolError"),
        (ErrorKind.SECURITY, "SecurityError", "SecurityError"),
        (ErrorKind.TYPE, "TypeConstraintViolation", "TypeConstraintViolation"),
        (ErrorKind.MESSAGE_TYPE_NOT_SUPPORTED, "ProtocolError", "MessageTypeNotSupported"),
        (ErrorKind.RPC_FRAMEWORK, "FormationViolation", "RpcFrameworkError"),
    ],
)
def test_error_codes_per_version(kind: ErrorKind, v16: str, v201: str) -> None:
    """Each neutral error kind maps to the version's wire code, keeping 1.6's misspellings."""
    assert error_code_for(V16, kind) == v16
    assert error_code_for(V201, kind) == v201
    assert make_conn(V16).error_code(kind) == v16
    assert make_conn(V201).error_code(kind) == v201


def test_every_error_kind_has_a_code_in_both_versions() -> None:
    """No ErrorKind is missing from either version's table."""
    for version in OcppVersion:
        for kind in ErrorKind:
            assert error_code_for(version, kind)


def test_framing_imports_no_io_libraries() -> None:
    """Importing the framing core loads neither asyncio, websockets nor SQLAlchemy."""
    code = (
        "import sys; import csms.ocpp.framing; "
        "print(sorted(m for m in ('asyncio', 'websockets', 'sqlalchemy') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- inbound CALL


@BOTH
def test_call_received(version: OcppVersion) -> None:
    """A well-formed CALL becomes CallReceived and queues nothing."""
    conn = make_conn(version)
    event = receive_one(conn, '[2,"19223201","BootNotification",{"chargePointVendor":"V"}]')
    assert event == CallReceived("19223201", "BootNotification", {"chargePointVendor": "V"})
    assert_no_frame_sent(conn)


def test_call_received_from_bytes() -> None:
    """A CALL given as UTF-8 bytes is parsed like text."""
    conn = make_conn()
    assert receive_one(conn, b'[2, "a", "Heartbeat", {}]') == CallReceived("a", "Heartbeat", {})


def test_call_with_36_char_id_is_accepted() -> None:
    """A message id of exactly 36 characters is valid."""
    message_id = str(uuid.uuid4())
    assert len(message_id) == 36
    event = receive_one(make_conn(), json.dumps([2, message_id, "Heartbeat", {}]))
    assert event == CallReceived(message_id, "Heartbeat", {})


def test_call_does_not_touch_pending_call() -> None:
    """A CALL from the peer may cross our own pending CALL without affecting it."""
    conn = pending_conn()
    assert isinstance(receive_one(conn, '[2,"id-1","Heartbeat",{}]'), CallReceived)
    assert conn.pending_action == "Reset"


@BOTH
def test_invalid_json(version: OcppVersion) -> None:
    """Text that is not JSON is answered with a CALLERROR for message id "-1"."""
    assert_rejected(make_conn(version), '[2,"a","Heartbeat",{', "-1", RPC_CODE[version], "not JSON")


def test_invalid_utf8_bytes() -> None:
    """Undecodable bytes are rejected and the event keeps a readable copy of the frame."""
    conn = make_conn(V201)
    event = receive_one(conn, b'[2,"a","Heartbeat",{}]\xff')
    assert isinstance(event, FramingError)
    assert event.error_code == "RpcFrameworkError"
    assert event.frame == '[2,"a","Heartbeat",{}]\ufffd'
    assert_frame_sent(conn, [4, "-1", "RpcFrameworkError", event.description, {}])


@BOTH
@pytest.mark.parametrize("text", ['{"a":1}', "42", '"x"', "null", "[]"])
def test_not_a_non_empty_array(version: OcppVersion, text: str) -> None:
    """JSON that is not a non-empty array is answered with a CALLERROR for "-1"."""
    assert_rejected(make_conn(version), text, "-1", RPC_CODE[version], "not a non-empty JSON array")


@BOTH
@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ('["2","a","Heartbeat",{}]', "a"),
        ('[2.0,"a","Heartbeat",{}]', "a"),
        ('[true,"a","Heartbeat",{}]', "a"),
        ("[null]", "-1"),
        ('[null,7,"Heartbeat",{}]', "-1"),
    ],
)
def test_message_type_not_an_integer(version: OcppVersion, text: str, message_id: str) -> None:
    """A MessageTypeId that is not an integer is a format error; the id is echoed if readable."""
    assert_rejected(
        make_conn(version), text, message_id, RPC_CODE[version], "MessageTypeId must be an integer"
    )


@BOTH
@pytest.mark.parametrize(
    ("text", "message_id"),
    [
        ("[2]", "-1"),
        ('[2,"a"]', "a"),
        ('[2,"a","Heartbeat"]', "a"),
        ('[2,"a","Heartbeat",{},{}]', "a"),
        ('[2,1,"Heartbeat"]', "-1"),
    ],
)
def test_call_with_wrong_length(version: OcppVersion, text: str, message_id: str) -> None:
    """A CALL without exactly 4 elements is rejected; the id is echoed if it is a string."""
    assert_rejected(make_conn(version), text, message_id, RPC_CODE[version], "CALL must have 4 elements")


@BOTH
@pytest.mark.parametrize("message_id", ["1", "null", "{}", "[]"])
def test_call_id_not_a_string(version: OcppVersion, message_id: str) -> None:
    """A CALL whose message id is not a string is answered with message id "-1"."""
    text = f'[2,{message_id},"Heartbeat",{{}}]'
    assert_rejected(make_conn(version), text, "-1", RPC_CODE[version], "messageId must be a string")


@BOTH
def test_call_id_too_long(version: OcppVersion) -> None:
    """A CALL whose message id exceeds 36 characters is rejected, echoing the id."""
    message_id = "x" * 37
    text = json.dumps([2, message_id, "Heartbeat", {}])
    assert_rejected(make_conn(version), text, message_id, RPC_CODE[version], "longer than 36")


@BOTH
@pytest.mark.parametrize("action", ['""', "5", "null", '["Heartbeat"]'])
def test_call_action_not_a_non_empty_string(version: OcppVersion, action: str) -> None:
    """A CALL whose action is empty or not a string is rejected."""
    text = f'[2,"a",{action},{{}}]'
    assert_rejected(make_conn(version), text, "a", RPC_CODE[version], "Action must be a non-empty string")


@BOTH
@pytest.mark.parametrize("payload", ["[]", "null", '"x"', "3"])
def test_call_payload_not_an_object(version: OcppVersion, payload: str) -> None:
    """A CALL whose payload is not an object gets FormationViolation (1.6) / FormatViolation (2.0.1)."""
    text = f'[2,"a","Heartbeat",{payload}]'
    assert_rejected(make_conn(version), text, "a", FORMAT_CODE[version], "Payload must be a JSON object")


# ----------------------------------------------------------------------------- unknown message type


@pytest.mark.parametrize("text", ['[5,"a",{}]', "[1]", '[0,"a","Heartbeat",{}]'])
def test_unknown_message_type_is_ignored_in_v16(text: str) -> None:
    """OCPP-J 1.6 ignores an unknown MessageTypeId: a FramingError event, no reply."""
    assert_ignored(make_conn(V16), text, "ProtocolError", "Unknown MessageTypeId")


@pytest.mark.parametrize(("text", "message_id"), [('[5,"a",{}]', "a"), ("[6]", "-1"), ("[6,9]", "-1")])
def test_unknown_message_type_is_answered_in_v201(text: str, message_id: str) -> None:
    """OCPP 2.0.1 answers an unknown MessageTypeId with MessageTypeNotSupported."""
    assert_rejected(make_conn(V201), text, message_id, "MessageTypeNotSupported", "Unknown MessageTypeId")


# ----------------------------------------------------------------------------- inbound CALLRESULT / CALLERROR


@BOTH
def test_call_result_answers_pending_call(version: OcppVersion) -> None:
    """A CALLRESULT with our pending id yields the pending action and clears the pending CALL."""
    conn = pending_conn(version)
    event = receive_one(conn, '[3,"id-1",{"status":"Accepted"}]')
    assert event == CallResultReceived("id-1", "Reset", {"status": "Accepted"})
    assert conn.pending_action is None
    assert conn.next_deadline() is None
    assert_no_frame_sent(conn)
    assert conn.send_call("Reset", {"type": "Hard"}, now=101.0) == "id-2"


@BOTH
def test_call_error_answers_pending_call(version: OcppVersion) -> None:
    """A CALLERROR with our pending id yields CallErrorReceived and clears the pending CALL."""
    conn = pending_conn(version)
    event = receive_one(conn, '[4,"id-1","NotSupported","nope",{"hint":1}]')
    assert event == CallErrorReceived("id-1", "Reset", "NotSupported", "nope", {"hint": 1})
    assert conn.pending_action is None
    assert_no_frame_sent(conn)


@pytest.mark.parametrize(
    "text",
    ['[3,"id-1",{}]', '[3,"other",{}]', '[4,"id-1","GenericError","",{}]', '[4,"x","GenericError","",{}]'],
)
def test_response_without_pending_call_is_reported_not_answered(text: str) -> None:
    """A CALLRESULT/CALLERROR when no CALL of ours is pending is a FramingError with no reply."""
    assert_ignored(make_conn(), text, "ProtocolError", "does not answer a pending CALL")


@pytest.mark.parametrize("text", ['[3,"other",{}]', '[4,"other","GenericError","",{}]'])
def test_response_with_wrong_id_keeps_pending_call(text: str) -> None:
    """A response for another id is reported and our pending CALL stays outstanding."""
    conn = pending_conn()
    assert_ignored(conn, text, "ProtocolError", "does not answer a pending CALL")
    assert conn.pending_action == "Reset"
    assert conn.next_deadline() == 130.0


@BOTH
@pytest.mark.parametrize(
    "text",
    [
        "[3]",
        '[3,"id-1"]',
        '[3,"id-1",{},{}]',
        "[3,1,{}]",
        '[3,"id-1",[]]',
        '[3,"id-1",null]',
    ],
)
def test_malformed_call_result_is_reported_not_answered(version: OcppVersion, text: str) -> None:
    """A malformed CALLRESULT is a FramingError; nothing is sent and the pending CALL stays."""
    conn = pending_conn(version)
    assert_ignored(conn, text, RPC_CODE[version], "CALLRESULT must be")
    assert conn.pending_action == "Reset"


@BOTH
@pytest.mark.parametrize(
    "text",
    [
        '[4,"id-1","GenericError","x"]',
        '[4,"id-1","GenericError","x",{},1]',
        '[4,1,"GenericError","x",{}]',
        '[4,"id-1",1,"x",{}]',
        '[4,"id-1","GenericError",null,{}]',
        '[4,"id-1","GenericError","x",null]',
    ],
)
def test_malformed_call_error_is_reported_not_answered(version: OcppVersion, text: str) -> None:
    """A malformed CALLERROR is a FramingError; nothing is sent and the pending CALL stays."""
    conn = pending_conn(version)
    assert_ignored(conn, text, RPC_CODE[version], "CALLERROR must be")
    assert conn.pending_action == "Reset"


# ----------------------------------------------------------------------------- outbound


def test_send_call_queues_compact_frame() -> None:
    """send_call queues a compact CALL frame, returns its id and sets the deadline."""
    conn = make_conn(call_timeout=10.0)
    assert conn.pending_action is None
    assert conn.next_deadline() is None
    message_id = conn.send_call("RemoteStopTransaction", {"transactionId": 7}, now=5.0)
    assert message_id == "id-1"
    assert conn.frames_to_send() == ['[2,"id-1","RemoteStopTransaction",{"transactionId":7}]']
    assert conn.pending_action == "RemoteStopTransaction"
    assert conn.next_deadline() == 15.0


def test_send_call_default_ids_are_uuid4() -> None:
    """Without an id_factory, message ids are UUID4 strings of 36 characters."""
    conn = OcppConnection(V201)
    message_id = conn.send_call("Heartbeat", {}, now=0.0)
    assert uuid.UUID(message_id).version == 4
    assert_frame_sent(conn, [2, message_id, "Heartbeat", {}])


def test_send_call_while_pending_raises() -> None:
    """A second send_call before the first is answered raises CallPending and queues nothing."""
    conn = pending_conn()
    with pytest.raises(CallPending, match="Reset"):
        conn.send_call("Heartbeat", {}, now=101.0)
    assert_no_frame_sent(conn)
    assert conn.pending_action == "Reset"


def test_send_call_with_unserializable_payload_leaves_no_pending() -> None:
    """A payload orjson cannot serialize raises TypeError and leaves no pending CALL."""
    conn = make_conn()
    with pytest.raises(TypeError):
        conn.send_call("DataTransfer", {"data": object()}, now=0.0)
    assert conn.pending_action is None
    assert_no_frame_sent(conn)


def test_send_call_result_queues_compact_frame() -> None:
    """send_call_result queues [3,"id",{...}] without spaces."""
    conn = make_conn()
    conn.send_call_result(
        "abc", {"currentTime": "2024-01-01T00:00:00Z", "interval": 300, "status": "Accepted"}
    )
    assert conn.frames_to_send() == [
        '[3,"abc",{"currentTime":"2024-01-01T00:00:00Z","interval":300,"status":"Accepted"}]'
    ]


def test_send_call_error_defaults() -> None:
    """send_call_error defaults to an empty description and {} details."""
    conn = make_conn()
    conn.send_call_error("abc", "NotImplemented")
    assert conn.frames_to_send() == ['[4,"abc","NotImplemented","",{}]']


def test_send_call_error_truncates_description_and_keeps_details() -> None:
    """The description is cut to 255 characters; given details are sent as they are."""
    conn = make_conn(V201)
    conn.send_call_error("abc", "GenericError", "d" * 300, {"field": "x"})
    assert_frame_sent(conn, [4, "abc", "GenericError", "d" * 255, {"field": "x"}])


@pytest.mark.parametrize(
    ("version", "code"), [(V16, "OccurenceConstraintViolation"), (V201, "OccurrenceConstraintViolation")]
)
def test_send_call_error_translates_error_kind(version: OcppVersion, code: str) -> None:
    """An ErrorKind passed as error_code is written as the version's wire code."""
    conn = make_conn(version)
    conn.send_call_error("abc", ErrorKind.OCCURRENCE, "missing")
    assert_frame_sent(conn, [4, "abc", code, "missing", {}])


def test_frames_to_send_drains_in_order() -> None:
    """frames_to_send returns queued frames in order and empties the queue."""
    conn = make_conn()
    conn.send_call_result("a", {})
    conn.send_call("Heartbeat", {}, now=0.0)
    conn.send_call_error("b", "GenericError")
    assert_frames_sent(conn, [3, "a", {}], [2, "id-1", "Heartbeat", {}], [4, "b", "GenericError", "", {}])
    assert conn.frames_to_send() == []


def test_non_ascii_round_trip() -> None:
    """Non-ASCII text survives receive and send unescaped as UTF-8 text."""
    conn = make_conn()
    event = receive_one(conn, '[2,"a","DataTransfer",{"vendorId":"Öko","data":"€"}]')
    assert isinstance(event, CallReceived)
    conn.send_call_result(event.message_id, {"status": "Accepted", "data": event.payload["data"]})
    assert conn.frames_to_send() == ['[3,"a",{"status":"Accepted","data":"€"}]']


# ----------------------------------------------------------------------------- timeouts


def test_check_timeouts_without_pending_call() -> None:
    """check_timeouts with nothing pending returns no events."""
    assert make_conn().check_timeouts(1e9) == []


def test_check_timeouts_before_deadline_keeps_call() -> None:
    """Before the deadline the pending CALL stays outstanding."""
    conn = pending_conn()
    assert conn.check_timeouts(129.999) == []
    assert conn.pending_action == "Reset"


@pytest.mark.parametrize("now", [130.0, 500.0])
def test_check_timeouts_at_or_after_deadline_expires_call(now: float) -> None:
    """At or after the deadline the pending CALL times out and is cleared."""
    conn = pending_conn()
    assert conn.check_timeouts(now) == [CallTimedOut("id-1", "Reset")]
    assert conn.pending_action is None
    assert conn.next_deadline() is None
    assert conn.check_timeouts(now) == []
    assert_no_frame_sent(conn)


def test_late_answer_after_timeout_is_reported() -> None:
    """An answer arriving after its CALL timed out is a FramingError, not a result."""
    conn = pending_conn()
    conn.check_timeouts(200.0)
    assert_ignored(
        conn, '[3,"id-1",{"status":"Accepted"}]', "ProtocolError", "does not answer a pending CALL"
    )


def test_send_call_allowed_again_after_timeout() -> None:
    """After a timeout the next CALL may be sent and gets a fresh deadline."""
    conn = pending_conn()
    conn.check_timeouts(130.0)
    assert conn.send_call("Heartbeat", {}, now=131.0) == "id-2"
    assert conn.next_deadline() == 161.0


@BOTH
def test_message_type_id_beyond_64_bits_is_an_unknown_type(version: OcppVersion) -> None:
    """A MessageTypeId integer too big for 64 bits (the parser makes it a float) is an unknown type number:
    ignored in 1.6, MessageTypeNotSupported in 2.0.1 (§4.1.3) - not a "MessageTypeId must be an integer"
    framing error. Found by the framing fuzzer."""
    conn = make_conn(version)
    [event] = conn.receive_text('[100000000000000000000, "a", "Heartbeat", {}]')
    assert isinstance(event, FramingError)
    sent = [json.loads(frame) for frame in conn.frames_to_send()]
    if version is V16:
        assert sent == []
    else:
        assert sent == [[4, "a", "MessageTypeNotSupported", event.description, {}]]


@BOTH
def test_fractional_message_type_id_is_not_an_integer(version: OcppVersion) -> None:
    """A MessageTypeId with a fractional part is refused as not an integer, with the framing code."""
    conn = make_conn(version)
    [event] = conn.receive_text('[2.5, "a", "Heartbeat", {}]')
    assert isinstance(event, FramingError) and event.error_code == RPC_CODE[version]
    assert json.loads(conn.frames_to_send()[0])[2] == RPC_CODE[version]
