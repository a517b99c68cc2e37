"""The `Platform` protocol every platform client implements, and the HTTP mechanics they share.

A platform module is an adapter: it talks HTTP (through its SDK or httpx), verifies webhooks, and hands raw
payloads to `connector.mapping`; it never touches the database and knows no business rule.

Shared mechanics, by composition:

* `RateBudget` — one per store: every call waits for it first; it learns from the platform's rate-limit headers
  (via the client's `observe`) and from 429s, so polls, backfills and write-backs of one store share one budget.
* `call` — the only place that retries (tenacity): `RetriableError` (5xx, timeouts, 429) is retried with the
  platform's `Retry-After` when it gave one, else exponential backoff with jitter, bounded in attempts and time
  (a refusal for rate does not use up the attempts: the platform did nothing); every retry is logged. Inside
  `rate_patience(seconds)` a call waits at most that long for the rate limit and raises `RateLimited` instead.
  `classify_status` is the table that turns an HTTP status into what to do.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, TypeVar

import structlog
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    retry_if_not_exception_type,
    stop_after_delay,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base, wait_random_exponential

from connector.runtime.errors import FatalError, RateLimited, RetriableError, SkippableError, Stopped

log = structlog.get_logger(__name__)
T = TypeVar("T")
_patience: ContextVar[float | None] = ContextVar("rate_patience", default=None)


@dataclass(frozen=True, slots=True)
class WebhookDelivery:
    """A verified webhook: what it is about, and the payload when the platform sent a full one."""

    delivery_id: str  # unique per event for this store: a redelivery carries the same id
    topic: str
    external_id: str = ""
    payload: Mapping[str, Any] | None = None  # None for thin payloads: fetch the order
    updated_at: datetime | None = None  # the version the payload describes, when it says
    ping: bool = False  # a platform's "is this URL alive" call: answer 200, keep nothing
    # Destructive topics. Platforms sign the body, not the topic (a header, or our `?topic=`), so a delete or a
    # cancel is applied only once the platform confirms it when read back (`connector.sync.store_sync`).
    deleted: bool = False  # the topic says the order was deleted (archived, trashed)
    cancelled: bool = False  # the topic says the order was cancelled
    contradiction: str = ""  # why the signed body contradicts the topic: the delivery is dead-lettered with it


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of raw order bundles, oldest change first when the platform can sort."""

    orders: list[Mapping[str, Any]]
    total: int | None = None  # how many orders the whole listing has, when the platform says


@dataclass(frozen=True, slots=True)
class PlatformWrite:
    """One write-back (see `connector.mapping.statuses`): what to set on which order.

    `lines` ({sku: quantity}) and `location` (our location name; `location_id` the platform's) say which part of a
    split order a fulfilment-scope write concerns; `tracking` has `number`, `carrier`, `url`.
    """

    external_id: str
    action: str
    target: str
    idempotency_key: str
    notify: bool = False
    location: str = ""
    location_id: str = ""
    lines: Mapping[str, int] = field(default_factory=dict)
    tracking: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StockCount:
    """Units of one SKU on hand at one of OUR locations (by name), as a platform counts them."""

    sku: str
    location: str
    on_hand: int


class Platform(Protocol):
    """What the connector needs from a platform. Payloads are raw; `connector.mapping` turns them into `Order`s."""

    def iter_order_pages(self, since: datetime | None, until: datetime | None = None) -> Iterator[OrderPage]:
        """Orders changed at or after `since` (all when None), page by page (streamed: never all in memory)."""
        ...

    def fetch_order(self, external_id: str) -> Mapping[str, Any] | None:
        """The full raw bundle for one order, or None when the platform no longer has it."""
        ...

    def complete(self, delivery: WebhookDelivery) -> Mapping[str, Any] | None:
        """The raw bundle for a verified webhook: its own payload when full enough, otherwise fetched."""
        ...

    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        """Apply one write-back at most once in effect: where the platform has no idempotency key, read its
        state first and answer `{"already": True, ...}` when the write is already there. Returns the platform's
        answer (for the order's timeline); raises `SkippableError` when the platform cannot take it."""
        ...

    def register_webhooks(self, address: str) -> list[str]:
        """Subscribe `address` to the order topics; returns what was created (idempotent: existing ones kept)."""
        ...

    def read_stock(self, location_ids: Mapping[str, str]) -> Iterator[StockCount]:
        """Every SKU's units at each location of `location_ids` (OUR location name -> the platform's location id),
        page by page, counted under our name. A platform with one stock level per product rather than per
        location raises `SkippableError` (counts come from the POS there); an id the platform does not know is a
        `ConfigError` or `FatalError`."""
        ...

    def close(self) -> None: ...


# --- errors by HTTP status: the table that decides -----------------------------------------------------------------

_STATUS_ACTIONS: dict[int, type[Exception]] = {
    401: FatalError,
    403: FatalError,
    404: SkippableError,
    408: RetriableError,
    409: RetriableError,
    422: SkippableError,
    423: RetriableError,
    429: RateLimited,
}


def classify_status(status: int, message: str, *, retry_after: float | None = None, **context: str) -> Exception:
    """The exception for an HTTP error status: 5xx and 429 retriable, auth fatal, bad item skippable."""
    if status >= 500:
        return RetriableError(f"HTTP {status}: {message}", **context)
    kind = _STATUS_ACTIONS.get(status, FatalError if 400 <= status < 500 else RetriableError)
    if kind is RateLimited:
        return RateLimited(f"HTTP 429: {message}", retry_after=retry_after, **context)
    error: Exception = kind(f"HTTP {status}: {message}", **context)
    return error


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


# --- the per-store budget ------------------------------------------------------------------------------------------


@dataclass
class RateBudget:
    """A store's request budget: waits before each call so that the platform rarely has to say 429.

    `min_interval` spaces calls evenly (the platform's sustained rate); `pause_until` is set from a 429's
    Retry-After or from headers saying the window is spent. Thread-safe: polls and write-backs share it.
    """

    min_interval: float = 0.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    next_slot: float = 0.0
    pause_until: float = 0.0
    calls: int = 0
    throttled: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def acquire(self) -> None:
        with self._lock:
            now = self.clock()
            start = max(now, self.next_slot, self.pause_until)
            self.next_slot = start + self.min_interval
            self.calls += 1
        if start > now:
            self.sleep(start - now)

    def pause(self, seconds: float) -> None:
        with self._lock:
            self.pause_until = max(self.pause_until, self.clock() + seconds)

    def note_throttled(self, retry_after: float | None) -> None:
        with self._lock:
            self.throttled += 1
        self.pause(retry_after if retry_after is not None else max(self.min_interval * 4, 1.0))

    def used(self) -> dict[str, float]:
        return {"calls": self.calls, "throttled": self.throttled, "min_interval_s": self.min_interval}


class _WaitRetryAfter(wait_base):
    """Honour the platform's Retry-After; otherwise exponential backoff with jitter."""

    def __init__(self, fallback: wait_base, cap: float) -> None:
        self.fallback = fallback
        self.cap = cap  # a host saying "come back in an hour" must not hold a worker thread that long

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RateLimited) and error.retry_after is not None:
            return min(float(error.retry_after), self.cap)
        return float(self.fallback(retry_state))


@dataclass(frozen=True)
class RetryPolicy:
    """How one call is retried. `attempts` bounds the tries that failed for another reason than the rate limit;
    a refusal for rate (429, Shopify's THROTTLED) means the platform did nothing, so it is waited out without
    using up `attempts` (a mutation sent at most once is still retried after one), up to `rate_limited` times."""

    attempts: int = 6
    max_delay: float = 120.0  # total seconds spent retrying one call
    initial: float = 0.5
    maximum: float = 30.0
    rate_limited: int = 6


class _StopAfterFailures(stop_base):
    """Stop after `attempts` tries that failed, a refusal for rate not counted (up to `rate_limited` of those):
    one call's state, so a new one per `call`."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.refused = 0

    def __call__(self, retry_state: RetryCallState) -> bool:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, RateLimited):
            self.refused += 1
            return self.refused > self.policy.rate_limited or _beyond_patience(error.retry_after or 0.0)
        return retry_state.attempt_number - self.refused >= self.policy.attempts


@contextmanager
def rate_patience(seconds: float) -> Iterator[None]:
    """Calls made in this block (this thread) wait at most `seconds` for the store's rate limit — the budget's
    pause or a refusal's Retry-After — and raise `RateLimited` with the time left instead: a worker that has other
    work to do (the outbox) postpones the write rather than sleep through a spent window (Lightspeed's hour)."""
    token = _patience.set(seconds)
    try:
        yield
    finally:
        _patience.reset(token)


def _beyond_patience(wait: float) -> bool:
    patience = _patience.get()
    return patience is not None and wait > patience


def _check_patience(budget: RateBudget, what: str) -> None:
    """Refuse, without calling the platform, to sleep longer than the caller's patience on a paused budget."""
    left = budget.pause_until - budget.clock()
    if _beyond_patience(left):
        raise RateLimited(
            f"{what or 'call'}: the store's rate limit is spent for another {left:.1f} s", retry_after=left
        )


def call(budget: RateBudget, fn: Callable[[], T], *, policy: RetryPolicy = RetryPolicy(), what: str = "") -> T:
    """Run one platform call under the store's budget, retrying retriable failures. The one retry loop."""

    def attempt() -> T:
        _check_patience(budget, what)
        budget.acquire()
        try:
            return fn()
        except RateLimited as exc:
            budget.note_throttled(exc.retry_after)
            raise

    def before_sleep(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome else None
        log.warning(
            "platform_call_retried",
            what=what,
            attempt=state.attempt_number,
            wait_s=round(state.next_action.sleep if state.next_action else 0.0, 3),
            error=str(error),
        )

    retrying = Retrying(
        retry=retry_if_exception_type(RetriableError) & retry_if_not_exception_type(Stopped),
        wait=_WaitRetryAfter(wait_random_exponential(multiplier=policy.initial, max=policy.maximum), policy.max_delay),
        stop=stop_after_delay(policy.max_delay) | _StopAfterFailures(policy),
        before_sleep=before_sleep,
        sleep=budget.sleep,
        reraise=True,
    )
    return retrying(attempt)
