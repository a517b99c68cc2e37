"""Webhook answers go first: background work in this process steps aside while a receipt is in flight.

Every thread of the daemon shares one interpreter lock. A platform waits for each webhook answer (and retries,
then disables the subscription, when answers are slow), while ingesting the inbox, polling and writing back can
wait a few milliseconds without anyone noticing. So the webhook endpoint counts the receipts it is handling, and
background loops call `yield_to_receipts` between their steps: while a receipt is in flight they sleep instead
of competing for the lock, up to a bound so that a steady stream of webhooks cannot starve them. A receipt
answered less than `QUIET` seconds ago still counts: at hundreds a second, the next one is right behind it.
"""

from __future__ import annotations

import time

from connector.storage.db import urgent_writer_waiting

QUIET = 0.002  # seconds after an answer during which background work still waits
LIMIT = 0.1  # seconds a background step waits at most (then it goes on, receipts or not)

_in_flight = 0  # changed only by the web server's event loop thread
_last_answer = 0.0


def receipt_started() -> None:
    global _in_flight
    _in_flight += 1


def receipt_ended() -> None:
    global _in_flight, _last_answer
    _in_flight -= 1
    _last_answer = time.monotonic()


def receipts_waiting() -> bool:
    """A webhook receipt is being handled, waits for the database, or was answered just now."""
    return _in_flight > 0 or urgent_writer_waiting() or time.monotonic() - _last_answer < QUIET


def yield_to_receipts(limit: float = LIMIT) -> float:
    """Sleep while receipts are waiting, at most `limit` seconds; returns how long it slept."""
    if not receipts_waiting():
        return 0.0
    start = time.monotonic()
    deadline = start + limit
    while receipts_waiting() and time.monotonic() < deadline:
        time.sleep(0.0005)
    return time.monotonic() - start
