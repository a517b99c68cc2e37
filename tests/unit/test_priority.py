"""Background work steps aside while a webhook receipt is in flight (connector.priority)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from connector import priority


@pytest.fixture
def in_flight() -> Iterator[None]:
    priority.receipt_started()
    try:
        yield
    finally:
        if priority.receipts_waiting():
            priority.receipt_ended()


def test_without_receipts_background_work_goes_on_at_once() -> None:
    assert not priority.receipts_waiting()
    assert priority.yield_to_receipts() == 0.0


@pytest.mark.usefixtures("in_flight")
def test_background_work_waits_until_the_receipt_is_answered() -> None:
    assert priority.receipts_waiting()
    ended = threading.Timer(0.05, priority.receipt_ended)
    ended.start()
    slept = priority.yield_to_receipts(limit=5)
    ended.join()
    assert 0.04 <= slept < 1
    assert not priority.receipts_waiting()


@pytest.mark.usefixtures("in_flight")
def test_a_steady_stream_of_receipts_cannot_starve_background_work() -> None:
    started = time.monotonic()
    slept = priority.yield_to_receipts(limit=0.05)
    assert slept >= 0.05
    assert time.monotonic() - started < 1
    assert priority.receipts_waiting()  # still in flight: the worker went on anyway
