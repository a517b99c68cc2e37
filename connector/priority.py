"""Webhook answers go first: background work in this process steps aside while a receipt is in flight.

Every thread of the daemon shares one interpreter lock. A platform waits for each webhook answer (and retries,
then disables the subscription, when answers are slow), while ingesting the inbox, polling and writing back can
wait a few milliseconds without anyone noticing. So the webhook endpoint counts the receipts it is handling, and
background loops call `yield_to_receipts` between their steps: while a receipt is in flight they sleep instead
of competing for the lock, up to a bound so that a steady stream of webhooks cannot starve them.
"""

from __future__ import annotations

import time

from connector.storage.db import urgent_writer_waiting

_in_flight = 0  # changed only by the web server's event loop thread


def receipt_started() -> None:
    global _in_flight
    _in_flight += 1


def receipt_ended() -> None:
    global _in_flight
    _in_flight -= 1


def receipts_waiting() -> bool:
    """A webhook receipt is being handled, or waits for the database."""
    return _in_flight > 0 or urgent_writer_waiting()


def yield_to_receipts(limit: float = 0.05) -> float:
    """Sleep while receipts are waiting, at most `limit` seconds; returns how long it slept."""
    if not receipts_waiting():
        return 0.0
    start = time.monotonic()
    deadline = start + limit
    while receipts_waiting() and time.monotonic() < deadline:
        time.sleep(0.0005)
    return time.monotonic() - start
