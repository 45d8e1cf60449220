"""Fuzzing the OCPP routers (both versions' route tables through `dispatch`) with Hypothesis: payloads
drawn from each action's official request schema (valid ones, so they reach the handlers, with extreme
numbers, dates and strings) and broken ones (wrong types, missing and extra fields, arbitrary JSON).

Properties: `dispatch` never raises; a refusal is a spec CALLERROR kind chosen by the schema rule, never
InternalError (which would mean a handler crashed); an accepted CALL's answer conforms to the response
schema; and a refused CALL leaves the store as it was.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.config import Config
from csms.domain.core import Domain
from csms.domain.models import ChargePoint, IdToken
from csms.domain.services import Services
from csms.ocpp.errors import ErrorKind
from csms.ocpp.framing import CallReceived
from csms.ocpp.router import Route, StationContext, dispatch
from csms.ocpp.schemas import SchemaKind, _schema_dir, schema_actions, validate
from csms.ocpp.v16.routes import ROUTES as V16_ROUTES
from csms.ocpp.v201.routes import ROUTES as V201_ROUTES
from csms.ocpp.versions import OcppVersion
from csms.store.writer import BatchedWriter
from tests.fakes.memory_store import MemoryStore
from tests.utils import FUZZ_SCALE

TABLES: dict[OcppVersion, Mapping[str, Route]] = {OcppVersion.V16: V16_ROUTES, OcppVersion.V201: V201_ROUTES}
CASES = [(version, action) for version, table in TABLES.items() for action in sorted(table)]
EXAMPLES_PER_ACTION = 40 * FUZZ_SCALE
#: What a refused CALL may be answered with (OCPP-J 1.6 §4.2.3, OCPP 2.0.1 Part 4 §4.3), as kinds.
REFUSALS = {
    ErrorKind.FORMAT, ErrorKind.TYPE, ErrorKind.PROPERTY, ErrorKind.OCCURRENCE, ErrorKind.PROTOCOL,
    ErrorKind.NOT_SUPPORTED, ErrorKind.GENERIC, ErrorKind.SECURITY,
}  # fmt: skip

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
date_times = st.datetimes().map(lambda d: d.isoformat() + "Z") | st.sampled_from(
    ["2024-02-29T23:59:59.999Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2024-01-01T00:00:00+14:00"]
)


def from_schema(
    schema: dict[str, Any], definitions: dict[str, Any], depth: int = 0
) -> st.SearchStrategy[Any]:
    """Values valid for *schema* (the subset of JSON schema the OCPP schemas use), often at the bounds."""
    if "$ref" in schema:
        return from_schema(definitions[schema["$ref"].rsplit("/", 1)[-1]], definitions, depth)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        fields = {
            name: from_schema(sub, definitions, depth + 1)
            for name, sub in properties.items()
            if name in required or depth < 4
        }
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required},
        )
    if kind == "array":
        low = schema.get("minItems", 0)
        return st.lists(
            from_schema(schema.get("items", {}), definitions, depth + 1),
            min_size=low,
            max_size=min(schema.get("maxItems", low + 2), low + 2),
        )
    if kind == "string":
        if schema.get("format") == "date-time":
            return date_times
        # Numeric text too: 1.6 sampledValue.value is a decimal number written as a string.
        numeric = (
            st.decimals(allow_nan=False, allow_infinity=False).map(str)
            | st.sampled_from(["1e400", "-0", "123456789012345678901234567890.5", "NaN", "Infinity"])
        ).filter(lambda text: schema.get("minLength", 0) <= len(text) <= schema.get("maxLength", 50))
        return numeric | st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 50))
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum", -(2**31)), max_value=schema.get("maximum", 2**31))
    if kind == "number":
        return st.floats(
            min_value=schema.get("minimum"), max_value=schema.get("maximum", 1e12), allow_nan=False
        ).map(lambda x: round(x, 1))
    if kind == "boolean":
        return st.booleans()
    return json_values


def payloads(version: OcppVersion, action: str) -> st.SearchStrategy[Any]:
    """Valid requests for *action*, the same with one field broken or added, and arbitrary JSON objects."""
    path = _schema_dir(version) / f"{action}{'Request' if version is OcppVersion.V201 else ''}.json"
    schema = orjson.loads(path.read_bytes())
    valid = from_schema(schema, schema.get("definitions", {}))

    def broken(payload: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
        payload = dict(payload)
        key = data.draw(st.sampled_from(sorted(payload)) | st.text(max_size=8)) if payload else "x"
        if data.draw(st.booleans()) and key in payload:
            del payload[key]
        else:
            payload[key] = data.draw(json_values)
        return payload

    mutated = st.tuples(valid, st.data()).map(lambda t: broken(t[0], t[1]))
    return valid | mutated | st.dictionaries(st.text(max_size=10), json_values, max_size=4)


class Harness:
    """A domain on the in-memory store, driven on one event loop for the whole test."""

    def __init__(self, runner: asyncio.Runner) -> None:
        self.runner = runner
        self.store = MemoryStore()
        self.writer = BatchedWriter(self.store, interval=0.01)
        runner.run(self.writer.start())
        runner.run(self.store.add_charge_point(ChargePoint("CP-1")))
        runner.run(self.store.add_id_token(IdToken("TAG-1")))
        self.domain = Domain(Services(config=Config(), store=self.store, writer=self.writer))

    def snapshot(self) -> dict[str, Any]:
        """The store's state, to compare before and after a refused CALL."""
        self.runner.run(self.writer.sync())
        return copy.deepcopy({k: v for k, v in vars(self.store).items() if k != "_clock"})


@pytest.fixture
def harness() -> Iterator[Harness]:
    """A fresh harness whose writer is stopped afterwards."""
    with asyncio.Runner() as runner:
        harness = Harness(runner)
        yield harness
        runner.run(harness.writer.stop())


@pytest.mark.parametrize(("version", "action"), CASES, ids=[f"{v.value}-{a}" for v, a in CASES])
def test_router_answers_every_payload_by_the_spec(
    harness: Harness, version: OcppVersion, action: str
) -> None:
    """Any payload for a supported action is answered without raising: a schema-valid answer, or a spec
    CALLERROR kind (never InternalError), and a refused CALL changes nothing stored."""
    ctx = StationContext("CP-1", version, harness.domain, structlog.get_logger("fuzz"), registered=True)
    counter = iter(range(10**9))

    @settings(max_examples=EXAMPLES_PER_ACTION)
    @given(payload=payloads(version, action))
    def run(payload: dict[str, Any]) -> None:
        before = harness.snapshot()
        call = CallReceived(f"m{next(counter)}", action, payload)
        with structlog.testing.capture_logs() as logs:
            reply = harness.runner.run(dispatch(ctx, TABLES[version], call))
        assert not [e for e in logs if e["log_level"] in ("error", "critical")], logs
        if reply.error is None:
            assert validate(version, action, SchemaKind.RESPONSE, reply.payload) is None
        else:
            assert reply.error in REFUSALS, (reply, payload)
            assert harness.snapshot() == before, f"refused {action} changed the store"

    run()


@pytest.mark.parametrize("version", list(TABLES))
def test_unknown_and_unsupported_actions(harness: Harness, version: OcppVersion) -> None:
    """An action the version does not define is NotImplemented, one it defines but the CSMS does not take
    from a station is NotSupported (OCPP-J 1.6 §4.2.3, OCPP 2.0.1 Part 4 §4.3), whatever the payload."""
    ctx = StationContext("CP-1", version, harness.domain, structlog.get_logger("fuzz"), registered=True)
    known = sorted(schema_actions(version) - set(TABLES[version]))

    @settings(max_examples=60 * FUZZ_SCALE)
    @given(action=st.text(min_size=1, max_size=40) | st.sampled_from(known), payload=json_values)
    def run(action: str, payload: Any) -> None:
        body = payload if isinstance(payload, dict) else {"value": payload}
        reply = harness.runner.run(dispatch(ctx, TABLES[version], CallReceived("m", action, body)))
        if action in TABLES[version]:
            return
        expected = ErrorKind.NOT_SUPPORTED if action in schema_actions(version) else ErrorKind.NOT_IMPLEMENTED
        assert reply.error is expected

    run()


@pytest.mark.parametrize(
    ("version", "action", "payload"),
    [
        (OcppVersion.V16, "BootNotification", {"chargePointVendor": "V\x00", "chargePointModel": "M"}),
        (
            OcppVersion.V16,
            "StatusNotification",
            {"connectorId": 1, "errorCode": "NoError", "status": "Available", "info": "a\x00b"},
        ),
        (
            OcppVersion.V201,
            "BootNotification",
            {"chargingStation": {"vendorName": "V", "model": "M\x00"}, "reason": "PowerUp"},
        ),
        (OcppVersion.V201, "DataTransfer", {"vendorId": "V", "data": {"k\x00": 1}}),
    ],
    ids=["v16-boot", "v16-status", "v201-boot", "v201-data-key"],
)
@pytest.mark.parametrize("with_frame", [True, False], ids=["frame", "no-frame"])
def test_nul_in_a_string_is_refused_before_anything_is_stored(
    harness: Harness, version: OcppVersion, action: str, payload: dict[str, Any], with_frame: bool
) -> None:
    """A U+0000 in any string (value or key) is a PropertyConstraintViolation and nothing is stored:
    PostgreSQL cannot store it, and the batched writer used to drop the write after answering Accepted
    (found by fuzzing against PostgreSQL)."""
    ctx = StationContext("CP-1", version, harness.domain, structlog.get_logger("fuzz"), registered=True)
    call = CallReceived("m", action, payload)
    frame = orjson.dumps([2, "m", action, payload]).decode() if with_frame else None
    before = harness.snapshot()
    reply = harness.runner.run(dispatch(ctx, TABLES[version], call, frame=frame))
    assert reply.error is ErrorKind.PROPERTY and "U+0000" in reply.description
    assert harness.snapshot() == before


def test_an_escaped_backslash_u0000_is_not_a_nul(harness: Harness) -> None:
    """The text "\\u0000" (a backslash, then u0000) is an ordinary string and is accepted."""
    ctx = StationContext(
        "CP-1", OcppVersion.V16, harness.domain, structlog.get_logger("fuzz"), registered=True
    )
    payload = {"chargePointVendor": "V\\u0000", "chargePointModel": "M"}
    frame = orjson.dumps([2, "m", "BootNotification", payload]).decode()
    assert "\\\\u0000" in frame
    reply = harness.runner.run(
        dispatch(ctx, V16_ROUTES, CallReceived("m", "BootNotification", payload), frame)
    )
    assert reply.error is None
