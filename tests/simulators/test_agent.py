"""The Agent API client (simulators/emsp/agent.py) and its command (`csms-emsp agent ...`,
simulators/agent_cli.py) against a stub Agent API on 127.0.0.1: requests as sent, answers and errors as
received, rate-limit headers, and waiting for a booking's status."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from simulators.agent_cli import build_parser, run
from simulators.emsp import AgentApiError, AgentClient, BookingEndedError, RateLimit
from tests.simulators.agent_stub import RESET, AgentStub, agent_stub
from tests.utils import MS

WAIT = 10_000 * MS


@pytest.fixture
async def stub() -> AsyncIterator[AgentStub]:
    """A stub Agent API with key KEY-1 and a quota of 100 requests."""
    async with agent_stub() as served:
        yield served


@pytest.fixture
async def agent(stub: AgentStub) -> AsyncIterator[AgentClient]:
    """A client of the stub with the right key."""
    async with AgentClient(stub.url, stub.key) as client:
        yield client


async def test_search_sends_the_query_and_the_key(stub: AgentStub, agent: AgentClient) -> None:
    """`search` sends GET /agent/v1/search with the given parameters (booleans as true/false, unset ones
    left out) and the key as a bearer token, and returns the body."""
    found = await agent.search(lat=52.09, lon="5.11", radius_km=5, available_only=True)
    assert found["locations"] == [{"id": "L1", "distance_km": 0.1}]
    method, path, query, _, auth = stub.requests[-1]
    assert (method, path, auth) == ("GET", "/agent/v1/search", "Bearer KEY-1")
    assert query == {"lat": "52.09", "lon": "5.11", "radius_km": "5", "available_only": "true"}


async def test_rate_limit_headers_of_the_last_answer(stub: AgentStub, agent: AgentClient) -> None:
    """`rate_limit` reads X-RateLimit-Limit/Remaining/Reset of the last answer, counting down per request."""
    assert agent.rate_limit is None
    await agent.search(lat=1, lon=2, radius_km=3)
    assert agent.rate_limit == RateLimit(limit=100, remaining=99, reset=RESET)
    await agent.bookings()
    assert agent.rate_limit == RateLimit(limit=100, remaining=98, reset=RESET)


async def test_quota_used_up_raises_429_with_the_headers(stub: AgentStub, agent: AgentClient) -> None:
    """Past the quota every call raises AgentApiError 429 with its code, and the headers say 0 remain."""
    stub.quota = 1
    await agent.search(lat=1, lon=2, radius_km=3)
    with pytest.raises(AgentApiError) as caught:
        await agent.search(lat=1, lon=2, radius_km=3)
    assert (caught.value.status, caught.value.code) == (429, "quota_exceeded")
    assert agent.rate_limit == RateLimit(limit=1, remaining=0, reset=RESET)
    assert caught.value.response.rate_limit.remaining == 0


async def test_book_follow_list_and_cancel(stub: AgentStub, agent: AgentClient) -> None:
    """`book` POSTs the booking (a datetime start as ISO 8601), `booking`, `bookings(status=)` and `cancel`
    reach their paths and return the bodies."""
    start = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    booking = await agent.book(
        location_id="L1", evse_uid="E1", cpo_party_id="CPA", start=start, duration_minutes=30,
        driver_token="DRIVER1",
    )  # fmt: skip
    assert booking["status"] == "REQUESTED"
    assert stub.requests[-1][3] == {
        "location_id": "L1", "evse_uid": "E1", "cpo_party_id": "CPA", "start": "2026-12-04T18:00:00+00:00",
        "duration_minutes": 30, "driver_token": "DRIVER1",
    }  # fmt: skip
    assert (await agent.booking(booking["id"]))["id"] == booking["id"]
    listed = await agent.bookings(status="PENDING")
    assert [b["id"] for b in listed["items"]] == [booking["id"]]
    assert stub.requests[-1][2] == {"status": "PENDING"}
    cancelled = await agent.cancel(booking["id"])
    assert (cancelled["status"], cancelled["cancellation_fee"]) == ("CANCELLED", "0.00")
    assert stub.requests[-1][:2] == ("DELETE", f"/agent/v1/bookings/{booking['id']}")


async def test_errors_raise_and_request_returns_them(stub: AgentStub, agent: AgentClient) -> None:
    """A non-2xx answer raises AgentApiError (status, stable code, body); `request` returns it instead, and
    `key=` sends another key (an old one is refused 401)."""
    with pytest.raises(AgentApiError) as caught:
        await agent.booking("nope")
    assert (caught.value.status, caught.value.code) == (404, "not_found")
    with pytest.raises(AgentApiError) as caught:
        await agent.book(
            location_id="L1", evse_uid="E1", cpo_party_id="CPA", start="2026-12-04T18:00:00Z",
            duration_minutes=241, driver_token="D",
        )  # fmt: skip
    assert (caught.value.status, caught.value.code) == (400, "invalid_request")
    answer = await agent.request("GET", "/bookings", key="OLD-KEY")
    assert (answer.ok, answer.status, answer.code) == (False, 401, "unauthorized")
    assert agent.last_response == answer


async def test_wait_for_status_polls_until_reached(stub: AgentStub, agent: AgentClient) -> None:
    """`wait_for_status` polls the booking until one of the statuses and returns it as read then."""
    booking = await agent.book(
        location_id="L1", evse_uid="E1", cpo_party_id="CPA", start="2026-12-04T18:00:00Z",
        duration_minutes=30, driver_token="D",
    )  # fmt: skip
    confirmed = await agent.wait_for_status(booking["id"], {"CONFIRMED"}, WAIT, interval=MS)
    assert confirmed["status"] == "CONFIRMED"
    assert stub.reads[booking["id"]] == 3  # REQUESTED, PENDING, CONFIRMED


async def test_wait_for_status_stops_at_another_final_status(stub: AgentStub, agent: AgentClient) -> None:
    """A booking that ends otherwise (FAILED) raises BookingEndedError at once, carrying it."""
    stub.scripts["B9"] = ["REQUESTED", "FAILED"]
    with pytest.raises(BookingEndedError) as caught:
        await agent.wait_for_status("B9", {"CONFIRMED"}, WAIT, interval=MS)
    assert caught.value.booking["status"] == "FAILED"


async def test_wait_for_status_times_out_naming_the_last_status(stub: AgentStub, agent: AgentClient) -> None:
    """A booking that stays PENDING makes the wait raise TimeoutError naming PENDING; unknown statuses are
    refused before any request."""
    stub.scripts["B8"] = ["PENDING"]
    with pytest.raises(TimeoutError, match="PENDING"):
        await agent.wait_for_status("B8", {"CONFIRMED"}, 100 * MS, interval=MS)
    with pytest.raises(ValueError, match="CONFIRMD"):
        await agent.wait_for_status("B8", {"CONFIRMD"}, WAIT)


async def test_cli_search_prints_json(stub: AgentStub) -> None:
    """`python -m simulators.emsp_cli agent search ...` prints the search answer as JSON and exits 0; with
    `--rate-limit` the headers go to stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "simulators.emsp_cli", "agent", "search", "--url", stub.url, "--key", stub.key,
        "--lat", "52.09", "--lon", "5.11", "--radius-km", "5", "--rate-limit",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env={**os.environ},
    )  # fmt: skip
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), WAIT * 3)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()
    assert json.loads(stdout)["locations"][0]["id"] == "L1"
    assert "remaining=99" in stderr.decode()
    assert stub.requests[-1][2] == {"lat": "52.09", "lon": "5.11", "radius_km": "5"}


async def test_cli_book_and_wait(stub: AgentStub, capsys: pytest.CaptureFixture[str]) -> None:
    """`agent book` prints the new booking; `agent wait --status CONFIRMED` prints it once confirmed."""
    common = ["--url", stub.url, "--key", stub.key]
    args = build_parser().parse_args(
        ["book", *common, "--location-id", "L1", "--evse-uid", "E1", "--cpo-party-id", "CPA",
         "--start", "2026-12-04T18:00:00Z", "--duration-minutes", "30", "--driver-token", "D"]
    )  # fmt: skip
    assert await run(args) == 0
    booking_id = json.loads(capsys.readouterr().out)["id"]
    args = build_parser().parse_args(["wait", *common, booking_id, "--status", "confirmed"])
    assert await run(args) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "CONFIRMED"


async def test_cli_error_answer_exits_1(
    stub: AgentStub, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error answer prints status and body on stderr and exits 1; the key may come from CSMS_AGENT_KEY;
    without any key the command exits 2."""
    monkeypatch.setenv("CSMS_AGENT_KEY", "WRONG")
    assert await run(build_parser().parse_args(["bookings", "--url", stub.url])) == 1
    err = json.loads(capsys.readouterr().err)
    assert (err["status"], err["body"]["error"]["code"]) == (401, "unauthorized")
    monkeypatch.delenv("CSMS_AGENT_KEY")
    assert await run(build_parser().parse_args(["cancel", "--url", stub.url, "B1"])) == 2


async def test_cli_unreachable_emsp_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    """An eMSP that cannot be reached makes the command exit 1 with the error on stderr."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    args = build_parser().parse_args(["booking", "--url", f"http://127.0.0.1:{port}", "--key", "K", "B1"])
    assert await run(args) == 1
    assert "error:" in capsys.readouterr().err


def test_cli_refuses_an_unknown_status() -> None:
    """`--status` takes only booking statuses (argparse exits 2)."""
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["bookings", "--url", "http://x", "--status", "DONE"])
    assert caught.value.code == 2
