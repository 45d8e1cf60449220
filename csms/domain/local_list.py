"""Local authorization lists (OCPP 1.6 SendLocalList / GetLocalListVersion, 2.0.1 the same messages):
the list a station keeps derives from its organization's id tokens, versioned per station.

What happens next: the CSMS remembers per station the version it last sent and the entries that list held
(`LocalListState`); `plan_update` compares them with the organization's tokens now and yields the messages
to send - a Differential update with only the changed entries (a removed entry carries no idTagInfo /
idTokenInfo, 1.6 §5.15 / 2.0.1 D01.FR.18) or a Full update when the station's version differs from ours
(or on operator request), split to the station's limits (1.6 SendLocalListMaxLength, 2.0.1
LocalAuthListCtrlr ItemsPerMessage).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from csms.domain.clock import to_utc
from csms.domain.models import IdToken, TokenStatus


class UpdateType(StrEnum):
    """1.6 UpdateType / 2.0.1 UpdateEnumType."""

    FULL = "Full"
    DIFFERENTIAL = "Differential"


@dataclass(frozen=True, slots=True)
class LocalListEntry:
    """One entry of a local list: the token and what the station answers for it offline."""

    id_token: str
    status: str
    expiry_date: datetime | None = None
    group_id_token: str | None = None
    type: str = "ISO14443"  # 2.0.1 IdTokenEnumType; 1.6 idTags have no type


@dataclass(slots=True)
class LocalListState:
    """What the CSMS last sent to one station: the version and the entries that list held."""

    version: int = 0
    entries: dict[str, LocalListEntry] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LocalListMessage:
    """One SendLocalList to send: `removed` names entries sent without idTagInfo / idTokenInfo."""

    version: int
    update_type: UpdateType
    entries: tuple[LocalListEntry, ...]
    removed: tuple[str, ...] = ()


def entries_of(tokens: Iterable[IdToken], now: datetime) -> dict[str, LocalListEntry]:
    """The local list of an organization's tokens: an Accepted token past its expiry date is Expired
    (as `AuthorizationService.authorize` answers online)."""
    result: dict[str, LocalListEntry] = {}
    for token in tokens:
        status = token.status.value
        if (
            token.status is TokenStatus.ACCEPTED
            and token.expiry_date is not None
            and to_utc(token.expiry_date) <= now
        ):
            status = "Expired"
        result[token.id_token] = LocalListEntry(
            token.id_token, status, token.expiry_date, token.group_id_token, token.type
        )
    return result


def _chunks(items: list[str], size: int | None) -> list[list[str]]:
    if size is None or size <= 0 or len(items) <= size:
        return [items]
    return [items[i : i + size] for i in range(0, len(items), size)]


def plan_update(
    state: LocalListState,
    current: Mapping[str, LocalListEntry],
    *,
    station_version: int | None = None,
    force_full: bool = False,
    max_per_message: int | None = None,
) -> list[LocalListMessage]:
    """The SendLocalList messages that bring the station from `state` to `current`; empty when nothing
    changed. A Full update when forced, when the station's reported version is not ours, or when nothing
    was sent yet; every message carries a new version (a Full list split over several messages: the
    first Full, the rest Differential additions, each with the next version)."""
    mismatch = station_version is not None and station_version != state.version
    full = force_full or state.version == 0 or mismatch
    version = state.version
    messages: list[LocalListMessage] = []
    if full:
        ids = sorted(current)
        for index, chunk in enumerate(_chunks(ids, max_per_message)):
            version += 1
            kind = UpdateType.FULL if index == 0 else UpdateType.DIFFERENTIAL
            messages.append(LocalListMessage(version, kind, tuple(current[i] for i in chunk)))
        return messages
    changed = sorted(i for i in current if state.entries.get(i) != current[i])
    removed = sorted(i for i in state.entries if i not in current)
    pending = [(i, False) for i in changed] + [(i, True) for i in removed]
    if not pending:
        return []
    size = max_per_message if max_per_message and max_per_message > 0 else len(pending)
    for start in range(0, len(pending), size):
        part = pending[start : start + size]
        version += 1
        messages.append(
            LocalListMessage(
                version,
                UpdateType.DIFFERENTIAL,
                tuple(current[i] for i, gone in part if not gone),
                tuple(i for i, gone in part if gone),
            )
        )
    return messages


def apply(state: LocalListState, message: LocalListMessage) -> LocalListState:
    """The state after the station Accepted `message`."""
    entries = {} if message.update_type is UpdateType.FULL else dict(state.entries)
    for entry in message.entries:
        entries[entry.id_token] = entry
    for id_token in message.removed:
        entries.pop(id_token, None)
    return LocalListState(message.version, entries)
