"""`call`, the one retry loop: what counts as a failed attempt.

A refusal for rate (429, Shopify's THROTTLED) means the platform did nothing, so it is waited out without using up
the policy's attempts: a write sent at most once (`attempts=1`) still goes through after being throttled. Any
other retriable failure uses an attempt. The budget's clock and sleep are fake, so nothing here waits.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connector.platforms.base import RateBudget, RetryPolicy, call
from connector.runtime.errors import RateLimited, RetriableError


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def budget(clock: FakeClock) -> RateBudget:
    return RateBudget(sleep=clock.sleep, clock=lambda: clock.now)


def failing(errors: list[Exception]) -> Callable[[], str]:
    """Raises the given errors in turn, then answers "ok"; counts its calls."""
    calls = iter(errors)

    def fn() -> str:
        fn.calls += 1  # type: ignore[attr-defined]
        error = next(calls, None)
        if error is not None:
            raise error
        return "ok"

    fn.calls = 0  # type: ignore[attr-defined]
    return fn


def test_throttling_does_not_use_up_a_send_once_write() -> None:
    clock = FakeClock()
    fn = failing([RateLimited("throttled", retry_after=0.4), RateLimited("throttled", retry_after=0.2)])
    assert call(budget(clock), fn, policy=RetryPolicy(attempts=1), what="write") == "ok"
    assert fn.calls == 3  # type: ignore[attr-defined]
    assert sum(clock.slept) >= 0.6  # waited as long as the platform asked


def test_another_failure_of_a_send_once_write_is_not_retried() -> None:
    clock = FakeClock()
    fn = failing([RetriableError("502 bad gateway")])
    with pytest.raises(RetriableError, match="502"):
        call(budget(clock), fn, policy=RetryPolicy(attempts=1), what="write")
    assert fn.calls == 1  # type: ignore[attr-defined]


def test_endless_throttling_gives_up_after_the_policys_refusals() -> None:
    clock = FakeClock()
    fn = failing([RateLimited("throttled", retry_after=0.1)] * 50)
    with pytest.raises(RateLimited):
        call(budget(clock), fn, policy=RetryPolicy(attempts=2, rate_limited=3), what="read")
    assert fn.calls == 4  # type: ignore[attr-defined]  # the first try and three waited-out refusals


def test_failures_and_refusals_are_counted_apart() -> None:
    clock = FakeClock()
    errors: list[Exception] = [RetriableError("503"), RateLimited("429", retry_after=0.1), RetriableError("503")]
    fn = failing(errors)
    with pytest.raises(RetriableError, match="503"):
        call(budget(clock), fn, policy=RetryPolicy(attempts=2), what="read")
    assert fn.calls == 3  # type: ignore[attr-defined]  # two failures used both attempts; the 429 was free
