"""The remote-start correlator: the one rule that ties a transaction to the remote start it answers."""

from __future__ import annotations

from datetime import datetime, timedelta

from csms.domain.models import NewTransaction
from csms.domain.remote_start import REMOTE_START_WINDOW, RemoteStartCorrelator
from tests.domain.conftest import NOW


class Clock:
    """A settable clock."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


def v16(token: str | None = "TAG", evse_id: int = 1) -> NewTransaction:
    return NewTransaction("CP", evse_id, 1, NOW, id_token=token)


def v201(token: str = "TAG", remote_start_id: int | None = None) -> NewTransaction:
    return NewTransaction(
        "CP", 1, 1, NOW, ocpp_transaction_id="t-1", id_token=token, remote_start_id=remote_start_id
    )


def test_16_start_is_matched_by_token_and_connector_and_given_the_id() -> None:
    """A 1.6 start with the remote start's token on its connector gets its id, once."""
    correlator = RemoteStartCorrelator(Clock())
    correlator.expect("CP", 7, "TAG", 1)
    first, second = v16(), v16()
    assert correlator.correlate(first) == 7 and first.remote_start_id == 7
    assert correlator.correlate(second) is None and second.remote_start_id is None


def test_16_start_with_another_token_or_connector_is_local() -> None:
    """Another token, or another connector than the one the remote start named, is a local start."""
    correlator = RemoteStartCorrelator(Clock())
    correlator.expect("CP", 7, "TAG", 2)
    assert correlator.correlate(v16(token="OTHER", evse_id=2)) is None
    assert correlator.correlate(v16(evse_id=1)) is None
    assert correlator.correlate(v16(token=None, evse_id=2)) is None
    assert correlator.is_pending("CP", 7)


def test_reported_id_is_the_answer_and_ends_the_wait() -> None:
    """A 2.0.1 transaction reporting remoteStartId answers that remote start, which is no longer pending."""
    correlator = RemoteStartCorrelator(Clock())
    correlator.expect("CP", 9, "TAG", None)
    assert correlator.correlate(v201(remote_start_id=9)) == 9
    assert not correlator.is_pending("CP", 9)


def test_201_start_without_id_is_matched_but_keeps_no_id() -> None:
    """A 2.0.1 start reporting no remoteStartId answers a pending remote start with its token (the
    station started before answering), but the transaction is not given an id the station never said."""
    correlator = RemoteStartCorrelator(Clock())
    correlator.expect("CP", 11, "TAG", None)
    new = v201()
    assert correlator.correlate(new) == 11
    assert new.remote_start_id is None


def test_window_and_refusal_end_the_wait() -> None:
    """Past REMOTE_START_WINDOW, or once forgotten (refused), a remote start matches nothing."""
    clock = Clock()
    correlator = RemoteStartCorrelator(clock)
    correlator.expect("CP", 1, "TAG", None)
    correlator.expect("CP", 2, "OTHER", None)
    correlator.forget("CP", 2)
    assert correlator.correlate(v16(token="OTHER")) is None
    clock.now = NOW + REMOTE_START_WINDOW + timedelta(seconds=1)
    assert not correlator.is_pending("CP", 1)
    assert correlator.correlate(v16()) is None


def test_new_ids_are_positive_ocpp_integers() -> None:
    """Allocated ids fit OCPP's integer and are never 0."""
    ids = {RemoteStartCorrelator.new_id() for _ in range(200)}
    assert all(0 < i < 2**31 for i in ids)
