"""Local authorization list: diff computation and versioning."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from csms.domain.local_list import (
    LocalListState,
    UpdateType,
    apply,
    entries_of,
    plan_update,
)
from csms.domain.models import IdToken, TokenStatus

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _tokens() -> list[IdToken]:
    return [IdToken("A"), IdToken("B", group_id_token="G"), IdToken("C")]


def test_first_sync_is_full_with_version_one() -> None:
    messages = plan_update(LocalListState(), entries_of(_tokens(), NOW))
    assert [(m.version, m.update_type) for m in messages] == [(1, UpdateType.FULL)]
    assert [e.id_token for e in messages[0].entries] == ["A", "B", "C"]


def test_blocked_token_gives_differential_with_only_that_entry() -> None:
    state = apply(LocalListState(), plan_update(LocalListState(), entries_of(_tokens(), NOW))[0])
    tokens = _tokens()
    tokens[0].status = TokenStatus.BLOCKED
    messages = plan_update(state, entries_of(tokens, NOW))
    assert len(messages) == 1
    assert messages[0].update_type is UpdateType.DIFFERENTIAL and messages[0].version == 2
    assert [(e.id_token, e.status) for e in messages[0].entries] == [("A", "Blocked")]
    assert apply(state, messages[0]).entries["A"].status == "Blocked"


def test_removed_token_is_sent_without_info_and_unchanged_list_sends_nothing() -> None:
    state = apply(LocalListState(), plan_update(LocalListState(), entries_of(_tokens(), NOW))[0])
    assert plan_update(state, entries_of(_tokens(), NOW)) == []
    messages = plan_update(state, entries_of(_tokens()[:2], NOW))
    assert messages[0].entries == () and messages[0].removed == ("C",)
    assert "C" not in apply(state, messages[0]).entries


def test_expired_token_is_listed_expired() -> None:
    entries = entries_of([IdToken("A", expiry_date=NOW - timedelta(seconds=1))], NOW)
    assert entries["A"].status == "Expired"


def test_version_mismatch_or_request_gives_full() -> None:
    state = apply(LocalListState(), plan_update(LocalListState(), entries_of(_tokens(), NOW))[0])
    current = entries_of(_tokens(), NOW)
    assert plan_update(state, current, station_version=7)[0].update_type is UpdateType.FULL
    assert plan_update(state, current, force_full=True)[0].version == 2


def test_split_to_max_per_message() -> None:
    messages = plan_update(LocalListState(), entries_of(_tokens(), NOW), max_per_message=2)
    assert [(m.version, m.update_type, len(m.entries)) for m in messages] == [
        (1, UpdateType.FULL, 2),
        (2, UpdateType.DIFFERENTIAL, 1),
    ]
    state = LocalListState()
    for message in messages:
        state = apply(state, message)
    assert sorted(state.entries) == ["A", "B", "C"] and state.version == 2
