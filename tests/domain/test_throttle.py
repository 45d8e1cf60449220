"""Brute-force protection bookkeeping (`csms.domain.throttle`) with an injected clock."""

from __future__ import annotations

from csms.domain.throttle import FailureThrottle


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delay_grows_after_the_free_failures_and_is_capped() -> None:
    """The first failures cost nothing, then the delay doubles per failure up to the cap."""
    throttle = FailureThrottle(FakeClock(), free_failures=2, base_delay=0.5, max_delay=3.0)
    delays = [throttle.failed("10.0.0.1") for _ in range(6)]
    assert delays == [0.0, 0.0, 0.5, 1.0, 2.0, 3.0]
    assert throttle.failures("10.0.0.1") == 6


def test_sources_are_counted_apart_and_success_resets() -> None:
    """Another address is not slowed by the first one's failures; a success clears the count."""
    throttle = FailureThrottle(FakeClock(), free_failures=1, base_delay=1.0)
    throttle.failed("a")
    assert throttle.failed("a") == 1.0
    assert throttle.failed("b") == 0.0
    throttle.succeeded("a")
    assert throttle.failures("a") == 0 and throttle.failed("a") == 0.0


def test_failures_are_forgotten_after_the_window() -> None:
    """A failure older than `forget_after` no longer counts."""
    clock = FakeClock()
    throttle = FailureThrottle(clock, free_failures=1, base_delay=1.0, forget_after=60.0)
    throttle.failed("a")
    clock.now += 61.0
    assert throttle.failures("a") == 0
    assert throttle.failed("a") == 0.0


def test_memory_is_bounded_and_unknown_source_is_free() -> None:
    """At most `max_sources` addresses are tracked (oldest evicted); a connection without an address is
    never delayed."""
    throttle = FailureThrottle(FakeClock(), max_sources=2)
    for source in ("a", "b", "c"):
        throttle.failed(source)
    assert throttle.failures("a") == 0 and throttle.failures("c") == 1
    assert throttle.failed(None) == 0.0
    throttle.succeeded(None)


def test_zero_max_delay_turns_the_delay_off() -> None:
    """`[security] auth_failure_max_delay = 0`: failures are counted but never delayed."""
    throttle = FailureThrottle(FakeClock(), free_failures=0, max_delay=0.0)
    assert [throttle.failed("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert throttle.failures("a") == 3
