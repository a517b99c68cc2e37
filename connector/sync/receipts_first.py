"""Webhook answers go first: background work in this process steps aside while a receipt is in flight.

Every thread of the daemon shares one interpreter lock. A platform waits for each webhook answer (and retries,
then disables the subscription, when answers are slow), while ingesting the inbox, polling and writing back can
wait a few milliseconds without anyone noticing. So the webhook endpoint counts the receipts it is handling, and
background loops call `yield_to_receipts` between their steps: while a receipt is in flight they sleep instead
of competing for the lock, up to a bound so that a steady stream of webhooks cannot starve them. A receipt
answered less than `QUIET` seconds ago still counts: at hundreds a second, the next one is right behind it.

`Receipts` keeps the count; it takes its clock and its sleep (and what says an urgent writer waits) as arguments,
so tests drive time instead of measuring it. The process has one, `RECEIPTS`, behind the module functions the
web endpoint and the background loops call.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from connector.storage.db import urgent_writer_waiting

QUIET = 0.002  # seconds after an answer during which background work still waits
LIMIT = 0.1  # seconds a background step waits at most (then it goes on, receipts or not)
NAP = 0.0005  # seconds between looks while waiting


class Receipts:
    """Webhook receipts in flight in this process, and the background steps that wait for them.

    `clock` returns monotonic seconds and `sleep` waits (default `time.monotonic` and `time.sleep`); `urgent` says
    whether an urgent writer waits for the database. The count changes only on the web server's event loop thread.
    """

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], object] = time.sleep,
        urgent: Callable[[], bool] = urgent_writer_waiting,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._urgent = urgent
        self.in_flight = 0
        self._last_answer: float | None = None

    def started(self) -> None:
        self.in_flight += 1

    def ended(self) -> None:
        self.in_flight -= 1
        self._last_answer = self._clock()

    def waiting(self) -> bool:
        """A webhook receipt is being handled, waits for the database, or was answered just now."""
        if self.in_flight > 0 or self._urgent():
            return True
        return self._last_answer is not None and self._clock() - self._last_answer < QUIET

    def yield_to(self, limit: float = LIMIT) -> float:
        """Sleep while receipts are waiting, at most `limit` seconds; returns how long it slept (by `clock`)."""
        if not self.waiting():
            return 0.0
        start = self._clock()
        deadline = start + limit
        while self.waiting() and self._clock() < deadline:
            self._sleep(NAP)
        return self._clock() - start


RECEIPTS = Receipts()


def receipt_started() -> None:
    RECEIPTS.started()


def receipt_ended() -> None:
    RECEIPTS.ended()


def receipts_waiting() -> bool:
    """A webhook receipt is being handled, waits for the database, or was answered just now."""
    return RECEIPTS.waiting()


def yield_to_receipts(limit: float = LIMIT) -> float:
    """Sleep while receipts are waiting, at most `limit` seconds; returns how long it slept."""
    return RECEIPTS.yield_to(limit)
