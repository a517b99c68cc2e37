"""Background work steps aside while a webhook receipt is in flight (connector.sync.receipts_first).

Time here is a fake clock that moves only when the code under test sleeps, so every number below is exact and
a loaded machine cannot change it.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connector.sync import receipts_first
from connector.sync.receipts_first import LIMIT, NAP, QUIET, Receipts


class FakeClock:
    """Monotonic seconds that move only when someone sleeps; `at(t, action)` runs `action` once time reaches t."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.naps = 0
        self._due: list[tuple[float, Callable[[], None]]] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0, "a nap of no time would spin"
        self.naps += 1
        self.now += seconds
        for due in [d for d in self._due if d[0] <= self.now]:
            self._due.remove(due)
            due[1]()

    def at(self, when: float, action: Callable[[], None]) -> None:
        self._due.append((when, action))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def receipts(clock: FakeClock) -> Receipts:
    return Receipts(clock=clock, sleep=clock.sleep, urgent=lambda: False)


def test_without_receipts_background_work_goes_on_at_once(receipts: Receipts, clock: FakeClock) -> None:
    assert not receipts.waiting()
    assert receipts.yield_to() == 0.0
    assert clock.naps == 0


def test_background_work_waits_until_the_receipt_is_answered(receipts: Receipts, clock: FakeClock) -> None:
    receipts.started()
    assert receipts.waiting()
    answered = clock.now + 0.05
    clock.at(answered, receipts.ended)
    slept = receipts.yield_to(limit=5)
    # the answer, then the quiet moment after it; the answer and the end of the quiet moment are each seen
    # at the next nap's end, hence up to two naps of slack
    assert answered + QUIET <= clock.now <= answered + QUIET + 2 * NAP
    assert slept == pytest.approx(clock.now - (answered - 0.05))
    assert not receipts.waiting()


def test_right_after_an_answer_background_work_still_waits_a_moment(receipts: Receipts, clock: FakeClock) -> None:
    receipts.started()
    receipts.ended()
    assert receipts.waiting()  # the next receipt is likely right behind it
    slept = receipts.yield_to(limit=5)
    assert QUIET <= slept <= QUIET + 2 * NAP
    assert not receipts.waiting()


def test_a_quiet_moment_passes_without_anyone_sleeping(receipts: Receipts, clock: FakeClock) -> None:
    receipts.started()
    receipts.ended()
    clock.now += QUIET / 2
    assert receipts.waiting()
    clock.now += QUIET
    assert not receipts.waiting()
    assert receipts.yield_to() == 0.0


def test_a_steady_stream_of_receipts_cannot_starve_background_work(receipts: Receipts, clock: FakeClock) -> None:
    receipts.started()
    slept = receipts.yield_to(limit=0.05)
    assert 0.05 <= slept <= 0.05 + 2 * NAP
    assert receipts.waiting()  # still in flight: the worker went on anyway


def test_the_default_bound_applies_when_no_limit_is_given(receipts: Receipts) -> None:
    receipts.started()
    assert LIMIT <= receipts.yield_to() <= LIMIT + 2 * NAP


def test_an_urgent_writer_counts_as_a_receipt_waiting(clock: FakeClock) -> None:
    urgent = {"waiting": True}

    def writer_done() -> None:
        urgent["waiting"] = False

    receipts = Receipts(clock=clock, sleep=clock.sleep, urgent=lambda: urgent["waiting"])
    assert receipts.waiting()
    clock.at(clock.now + 0.01, writer_done)
    assert 0.01 <= receipts.yield_to(limit=5) <= 0.01 + 2 * NAP


def test_the_process_wide_functions_count_on_one_gate(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> None:
    gate = Receipts(clock=clock, sleep=clock.sleep, urgent=lambda: False)
    monkeypatch.setattr(receipts_first, "RECEIPTS", gate)
    receipts_first.receipt_started()
    assert gate.in_flight == 1
    assert receipts_first.receipts_waiting()
    clock.at(clock.now + 0.02, receipts_first.receipt_ended)
    assert 0.02 + QUIET <= receipts_first.yield_to_receipts(limit=5) <= 0.02 + QUIET + 2 * NAP
    assert gate.in_flight == 0
    assert not receipts_first.receipts_waiting()
