"""The remote-start correlator: which transaction answers which remote start, for REST and OCPI alike.

A remote start (REST `POST .../remote-start`, OCPI START_SESSION) gets a `remote_start_id` before it is sent.
OCPP 2.0.1 carries it: the station reports `remoteStartId` in its TransactionEvent (OCPP 2.0.1 F01.FR.25).
OCPP 1.6 has no correlation id, so its StartTransaction is matched by station, id token and (if the remote
start named one) connector, within `REMOTE_START_WINDOW` (ocpp.md §6), and the stored transaction is given
the id. A 2.0.1 transaction that reports no remoteStartId (the station started it before it could answer)
is matched the same way, but keeps no id: the station did not say it, and a REST client must not read a
guess as the station's word. Either way `TransactionStarted.remote_start_id` names the remote start the
transaction answers, and whoever asked (the OCPI command runner) finds its transaction by that id alone.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from csms.domain.clock import Clock
from csms.domain.models import NewTransaction

# How long a transaction may follow an accepted remote start and still be matched to it (the driver still
# has to plug in: OCPP 1.6 ConnectionTimeOut is typically 30-120 s). Also how long OCPI vouches for a
# START_SESSION's token.
REMOTE_START_WINDOW = timedelta(minutes=5)


@dataclass(slots=True)
class PendingRemoteStart:
    """A remote start sent (or about to be) whose transaction has not been reported yet."""

    remote_start_id: int
    id_token: str
    evse_id: int | None
    until: datetime


class RemoteStartCorrelator:
    """Pending remote starts per station, and the rule that ties a new transaction to one of them."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._pending: dict[str, list[PendingRemoteStart]] = {}

    @staticmethod
    def new_id() -> int:
        """A fresh remote_start_id (positive, fits OCPP's integer)."""
        return secrets.randbelow(2**31 - 2) + 1

    def expect(self, charge_point_id: str, remote_start_id: int, id_token: str, evse_id: int | None) -> None:
        """Remember a remote start before it is sent: the station may report the transaction before its
        answer to the remote start arrives."""
        until = self._clock() + REMOTE_START_WINDOW
        pending = PendingRemoteStart(remote_start_id, id_token, evse_id, until)
        self._pending.setdefault(charge_point_id, []).append(pending)

    def forget(self, charge_point_id: str, remote_start_id: int) -> None:
        """Drop a remote start the station refused: no later local start may inherit its id."""
        pending = self._pending.get(charge_point_id)
        if pending:
            pending[:] = [p for p in pending if p.remote_start_id != remote_start_id]

    def awaits_token(self, id_token: str) -> bool:
        """Whether a remote start of `id_token` (on any station) is still waiting for its transaction."""
        return any(
            p.id_token == id_token for cp in list(self._pending) for p in self._live(cp)
        )

    def is_pending(self, charge_point_id: str, remote_start_id: int) -> bool:
        """Whether that remote start is still waiting for its transaction (and within the window)."""
        return any(p.remote_start_id == remote_start_id for p in self._live(charge_point_id))

    def correlate(self, new: NewTransaction) -> int | None:
        """The remote_start_id of the remote start `new` answers (None: a local start); stop waiting for it.

        A transaction that reports its remoteStartId (2.0.1) answers that one. Otherwise it is matched by id
        token and connector; a 1.6 transaction (no station transaction id) is then given the id.
        """
        if new.remote_start_id is not None:
            self.forget(new.charge_point_id, new.remote_start_id)
            return new.remote_start_id
        pending = self._live(new.charge_point_id)
        if new.id_token is None:
            return None
        for p in pending:
            if p.id_token == new.id_token and p.evse_id in (None, 0, new.evse_id):
                pending.remove(p)
                if new.ocpp_transaction_id is None:
                    new.remote_start_id = p.remote_start_id
                return p.remote_start_id
        return None

    def _live(self, charge_point_id: str) -> list[PendingRemoteStart]:
        pending = self._pending.get(charge_point_id)
        if not pending:
            return []
        now = self._clock()
        pending[:] = [p for p in pending if p.until >= now]
        if not pending:
            del self._pending[charge_point_id]
        return pending
