"""OCPI 2.2.1 ChargingProfiles receiver: the synchronous ChargingProfileResponse, who may address which
session (the partner's own, at its organization's stations), and the OCPI profile as an OCPP TxProfile."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from csms.domain.commands import CommandResult, Outcome
from csms.domain.models import Transaction, TransactionStatus
from ocpi.charging_profiles import OCPI_PROFILE_ID_BASE, active_profile_result, profile_of, result_word
from ocpi.commands.runner import install
from ocpi.transport import OcpiError, encode_token
from tests.fakes.ocpi_memory_store import MemoryOcpiStore
from tests.ocpi.senders import ROAMING_TOKEN, Harness, harness
from tests.store.conftest import FakeClock

TOKEN_B = "token-c-of-the-emsp-of-org-b"
BODY = {
    "charging_profile": {
        "charging_rate_unit": "A",
        "charging_profile_period": [{"start_period": 0, "limit": 16}],
    },
    "response_url": "https://emsp.example/results/1",
}


@pytest.fixture
async def h(memory_ocpi_store: MemoryOcpiStore, clock: FakeClock) -> AsyncIterator[Harness]:
    async with harness(memory_ocpi_store, clock) as built:
        await built.add_station("CP1", online=False)
        yield built
        await install(built.ctx).settle()


async def put(h: Harness, session_id: object, body: Any = BODY, token: str | None = None) -> dict[str, Any]:
    """PUT chargingprofiles/{session_id}; the envelope."""
    headers = {"Authorization": encode_token(token)} if token else None
    resp = await h.client.put(f"/ocpi/2.2.1/chargingprofiles/{session_id}", json=body, headers=headers)
    assert resp.status == 200
    return await resp.json()  # type: ignore[no-any-return]


async def test_only_the_partners_own_active_sessions_are_accepted(h: Harness) -> None:
    """ACCEPTED for the partner's session; UNKNOWN_SESSION for a local token's, an unknown one, and the
    partner's session seen by another organization's partner; REJECTED once completed."""
    await h.partner_token()
    mine = await h.start("CP1", 1, id_token=ROAMING_TOKEN)
    local = await h.start("CP1", 2, id_token="TAG1")
    assert (await put(h, mine.id))["data"]["result"] == "ACCEPTED"
    await install(h.ctx).settle()
    assert (await put(h, local.id))["data"]["result"] == "UNKNOWN_SESSION"
    assert (await put(h, 999))["data"]["result"] == "UNKNOWN_SESSION"
    other = await h.add_partner(TOKEN_B, "DE", "EMB")
    await h.ocpi.save_partner(replace(other, org_id="org-b"))
    assert (await put(h, mine.id, token=TOKEN_B))["data"]["result"] == "UNKNOWN_SESSION"
    await h.stop(mine, 2000)
    assert (await put(h, mine.id))["data"]["result"] == "REJECTED"


async def test_a_request_still_waiting_for_its_station_makes_the_next_too_often(h: Harness) -> None:
    """While an earlier request of the session is in flight, another answers TOO_OFTEN."""
    await h.partner_token()
    mine = await h.start("CP1", 1, id_token=ROAMING_TOKEN)
    install(h.ctx).profile_requests.add(mine.id)
    assert (await put(h, mine.id))["data"]["result"] == "TOO_OFTEN"
    resp = await h.client.delete(
        f"/ocpi/2.2.1/chargingprofiles/{mine.id}", params={"response_url": "https://e/x"}
    )
    assert (await resp.json())["data"]["result"] == "TOO_OFTEN"


async def test_get_is_accepted_and_bodies_are_checked(h: Harness) -> None:
    """GET of the partner's session is ACCEPTED (GetCompositeSchedule follows), UNKNOWN_SESSION for another;
    a GET without a positive duration or response_url, a bad unit or a DELETE without response_url is
    2001."""
    await h.partner_token()
    mine = await h.start("CP1", 1, id_token=ROAMING_TOKEN)
    path = f"/ocpi/2.2.1/chargingprofiles/{mine.id}"
    resp = await h.client.get(path, params={"response_url": "https://e/x", "duration": "900"})
    assert (await resp.json())["data"]["result"] == "ACCEPTED"
    await install(h.ctx).settle()
    resp = await h.client.get(
        "/ocpi/2.2.1/chargingprofiles/999", params={"response_url": "https://e/x", "duration": "900"}
    )
    assert (await resp.json())["data"]["result"] == "UNKNOWN_SESSION"
    for params in (
        {"response_url": "https://e/x"},
        {"response_url": "https://e/x", "duration": "0"},
        {"duration": "60"},
        {"response_url": "https://e/x", "duration": "-5"},
    ):
        resp = await h.client.get(path, params=params)
        assert (await resp.json())["status_code"] == 2001, params
    bad = {**BODY, "charging_profile": {**BODY["charging_profile"], "charging_rate_unit": "kW"}}  # type: ignore[dict-item]
    assert (await put(h, mine.id, bad))["status_code"] == 2001
    resp = await h.client.delete(f"/ocpi/2.2.1/chargingprofiles/{mine.id}")
    assert (await resp.json())["status_code"] == 2001


def tx() -> Transaction:
    return Transaction(7, "CP1", 1, 1, "tx-7", TransactionStatus.ACTIVE, datetime(2026, 1, 1, tzinfo=UTC))


def test_profile_of_is_an_absolute_or_relative_tx_profile() -> None:
    """start_date_time gives an Absolute TxProfile from then, none a Relative one; ids are per transaction."""
    body = {
        "start_date_time": "2026-01-01T10:00:00Z",
        "duration": 3600,
        "charging_rate_unit": "W",
        "min_charging_rate": 1380.5,
        "charging_profile_period": [
            {"start_period": 0, "limit": 7400},
            {"start_period": 900, "limit": 3700.5},
        ],
    }
    profile = profile_of(body, tx(), 2)
    assert (profile.id, profile.stack_level, profile.purpose, profile.kind) == (
        OCPI_PROFILE_ID_BASE + 7,
        2,
        "TxProfile",
        "Absolute",
    )
    assert profile.start_schedule == datetime(2026, 1, 1, 10, tzinfo=UTC)
    assert [(p.start_period, p.limit) for p in profile.periods] == [
        (0, Decimal(7400)),
        (900, Decimal("3700.5")),
    ]
    assert (profile.duration, profile.min_charging_rate, profile.ocpp_transaction_id) == (
        3600,
        Decimal("1380.5"),
        "tx-7",
    )
    relative = profile_of(
        {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 6}]}, tx(), 2
    )
    assert relative.kind == "Relative" and relative.start_schedule is None


@pytest.mark.parametrize(
    "periods",
    [
        [],
        [{"start_period": 60, "limit": 6}],
        [{"start_period": 0, "limit": -1}],
        [{"start_period": 0.5, "limit": 6}],
    ],
)
def test_bad_periods_are_refused(periods: list[dict[str, Any]]) -> None:
    """Periods must exist, start at 0, have integer starts and non-negative limits."""
    with pytest.raises(OcpiError):
        profile_of({"charging_rate_unit": "A", "charging_profile_period": periods}, tx(), 2)


def test_result_words() -> None:
    """Accepted → ACCEPTED, Unknown (nothing to clear) → UNKNOWN, anything else REJECTED."""
    assert result_word(CommandResult(Outcome.ANSWERED, "Accepted")) == "ACCEPTED"
    assert result_word(CommandResult(Outcome.ANSWERED, "Unknown")) == "UNKNOWN"
    assert result_word(CommandResult(Outcome.ANSWERED, "Rejected")) == "REJECTED"
    assert result_word(CommandResult(Outcome.OFFLINE)) == "REJECTED"


def test_active_profile_result() -> None:
    """A GetCompositeSchedule with a schedule is ACCEPTED with its ActiveChargingProfile (start, unit,
    duration, periods as JSON numbers); Rejected or no answer is REJECTED without a profile."""
    start = datetime(2026, 1, 1, 12, tzinfo=UTC)
    data = {
        "evse_id": 1,
        "schedule_start": start,
        "rate_unit": "W",
        "duration": 900,
        "periods": [
            {"start_period": 0, "limit": Decimal("7400")},
            {"start_period": 600, "limit": Decimal("3700.5"), "number_phases": 3},
        ],
    }
    accepted = CommandResult(Outcome.ANSWERED, status="Accepted", data=data)
    assert active_profile_result(accepted) == {
        "result": "ACCEPTED",
        "profile": {
            "start_date_time": "2026-01-01T12:00:00Z",
            "charging_profile": {
                "start_date_time": "2026-01-01T12:00:00Z",
                "duration": 900,
                "charging_rate_unit": "W",
                "charging_profile_period": [
                    {"start_period": 0, "limit": 7400},
                    {"start_period": 600, "limit": 3700.5},
                ],
            },
        },
    }
    assert active_profile_result(CommandResult(Outcome.ANSWERED, status="Rejected")) == {"result": "REJECTED"}
    assert active_profile_result(CommandResult(Outcome.TIMEOUT)) == {"result": "REJECTED"}


def test_an_emsp_profile_is_capped_at_the_sessions_share_of_the_site_limit() -> None:
    """The eMSP's profile stacks above the load balancer's, so each period is capped at the session's share
    of the site limit: in W as it is, in A at 230 V on the period's phases (three when not given); without
    a site limit (share None) the profile is sent as the eMSP asked."""
    from ocpi.charging_profiles import within_share

    watts = profile_of(
        {"charging_rate_unit": "W", "charging_profile_period": [
            {"start_period": 0, "limit": 11000}, {"start_period": 600, "limit": 3000}]},
        tx(), 3,
    )  # fmt: skip
    assert [p.limit for p in within_share(watts, 7000).periods] == [Decimal(7000), Decimal(3000)]
    assert within_share(watts, None) == watts
    amps_profile = profile_of(
        {"charging_rate_unit": "A", "charging_profile_period": [{"start_period": 0, "limit": 32}]}, tx(), 3
    )
    assert [p.limit for p in within_share(amps_profile, 6900).periods] == [Decimal("10")]  # 6900 W / 3 / 230
