"""Background work steps aside while a webhook receipt is in flight (connector.sync.receipts_first)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from connector.sync import receipts_first as priority


@pytest.fixture
def in_flight() -> Iterator[None]:
    priority.receipt_started()
    try:
        yield
    finally:
        if priority._in_flight > 0:
            priority.receipt_ended()


def _quiet() -> None:
    time.sleep(priority.QUIET * 2)
    assert not priority.receipts_waiting()


def test_without_receipts_background_work_goes_on_at_once() -> None:
    _quiet()
    assert priority.yield_to_receipts() == 0.0


@pytest.mark.usefixtures("in_flight")
def test_background_work_waits_until_the_receipt_is_answered() -> None:
    assert priority.receipts_waiting()
    ended = threading.Timer(0.05, priority.receipt_ended)
    ended.start()
    slept = priority.yield_to_receipts(limit=5)
    ended.join()
    assert slept >= 0.05 + priority.QUIET  # the answer, then the quiet moment after it
    assert slept < 1
    assert not priority.receipts_waiting()


def test_right_after_an_answer_background_work_still_waits_a_moment() -> None:
    _quiet()
    priority.receipt_started()
    priority.receipt_ended()
    assert priority.receipts_waiting()  # the next receipt is likely right behind it
    slept = priority.yield_to_receipts(limit=5)
    assert priority.QUIET * 0.5 <= slept < 0.5


@pytest.mark.usefixtures("in_flight")
def test_a_steady_stream_of_receipts_cannot_starve_background_work() -> None:
    started = time.monotonic()
    slept = priority.yield_to_receipts(limit=0.05)
    assert slept >= 0.05
    assert time.monotonic() - started < 1
    assert priority.receipts_waiting()  # still in flight: the worker went on anyway
