"""Rate limiters the sandboxes use to answer as the real platforms do.

Each limiter is told the current time (monotonic seconds) so tests can drive it without sleeping:

* `LeakyBucket` — Shopify REST: a bucket of `size` requests that leaks `rate` per second.
* `CostBucket` — Shopify GraphQL: points instead of requests, with a restore rate.
* `FixedWindow` — BigCommerce: a quota per window (150 per 30 s), reset at the window's end.
* `MultiWindow` — Lightspeed eCom: several fixed windows at once (300 / 5 min, 3000 / h, 12000 / day).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field


@dataclass
class LeakyBucket:
    size: int = 40
    rate: float = 2.0
    level: float = 0.0
    stamp: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _leak(self, now: float) -> None:
        self.level = max(0.0, self.level - (now - self.stamp) * self.rate)
        self.stamp = now

    def take(self, now: float, cost: float = 1.0) -> tuple[bool, float]:
        """Try to add `cost`; returns (allowed, seconds until it would fit)."""
        with self._lock:
            self._leak(now)
            if self.level + cost <= self.size + 1e-9:
                self.level += cost
                return True, 0.0
            return False, (self.level + cost - self.size) / self.rate

    def used(self, now: float) -> int:
        with self._lock:
            self._leak(now)
            return math.ceil(self.level - 1e-9)


@dataclass
class CostBucket:
    """Shopify GraphQL: `maximum` points available, restored at `restore_rate` points per second."""

    maximum: float = 1000.0
    restore_rate: float = 50.0
    available: float = 1000.0
    stamp: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _restore(self, now: float) -> None:
        self.available = min(self.maximum, self.available + (now - self.stamp) * self.restore_rate)
        self.stamp = now

    def take(self, now: float, cost: float) -> bool:
        with self._lock:
            self._restore(now)
            if cost <= self.available:
                self.available -= cost
                return True
            return False

    def refund(self, now: float, points: float) -> None:
        with self._lock:
            self._restore(now)
            self.available = min(self.maximum, self.available + points)

    def current(self, now: float) -> float:
        with self._lock:
            self._restore(now)
            return self.available


@dataclass
class FixedWindow:
    quota: int
    window: float
    used: int = 0
    start: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _roll(self, now: float) -> None:
        if self.start is None or now >= self.start + self.window:
            self.start = now
            self.used = 0

    def take(self, now: float) -> bool:
        with self._lock:
            self._roll(now)
            if self.used < self.quota:
                self.used += 1
                return True
            return False

    def remaining(self, now: float) -> int:
        with self._lock:
            self._roll(now)
            return self.quota - self.used

    def reset_in(self, now: float) -> float:
        with self._lock:
            self._roll(now)
            assert self.start is not None
            return max(0.0, self.start + self.window - now)


@dataclass
class MultiWindow:
    """All windows must have room; a request counts against every window."""

    windows: tuple[FixedWindow, ...]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def take(self, now: float) -> bool:
        with self._lock:
            if all(w.remaining(now) > 0 for w in self.windows):
                for w in self.windows:
                    w.take(now)
                return True
            return False

    def remaining(self, now: float) -> tuple[int, ...]:
        return tuple(w.remaining(now) for w in self.windows)

    def reset_in(self, now: float) -> tuple[float, ...]:
        return tuple(w.reset_in(now) for w in self.windows)
