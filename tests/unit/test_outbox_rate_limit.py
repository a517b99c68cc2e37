"""The outbox and the platforms' rate limits: a refusal for rate postpones a write, and only that store's.

A refusal for rate (429, Shopify's THROTTLED) means the platform did nothing: the write waits for the platform's
signalled reset without using up an attempt, however long the platform keeps refusing. Stores are drained side by
side, and a store whose window is spent is left for later rather than slept on, so the other stores' write-backs
go out meanwhile. Budgets run on fake clocks where the platform's windows are long: nothing here sleeps.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.mapping.statuses import Action
from connector.platforms.base import PlatformWrite, RateBudget, RetryPolicy, call, rate_patience
from connector.runtime.errors import RateLimited, RetriableError
from connector.runtime.metrics import Metrics
from connector.storage import tables as t
from connector.storage.db import session_factory
from connector.storage.types import OutboxStatus
from connector.sync.outbox import MAX_ATTEMPTS, RATE_PATIENCE, drain
from tests.unit.test_retry_policy import FakeClock, budget, failing

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
HOUR = 3600.0


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


def queue(sessions: sessionmaker[Session], store: str, count: int) -> tuple[int, list[int]]:
    """A store with `count` orders, each with one due write-back; returns the store's id and the items' ids."""
    with sessions.begin() as session:
        row = t.Store(name=store, platform="bigcommerce")
        session.add(row)
        session.flush()
        items = []
        for n in range(count):
            order = t.Order(
                store_id=row.id,
                external_id=str(n),
                number=f"#{n}",
                kind="delivery",
                status="open",
                payment_status="paid",
                platform_status="x",
                currency="EUR",
                subtotal=Decimal("10"),
                shipping_total=Decimal("0"),
                tax_total=Decimal("0"),
                discount_total=Decimal("0"),
                total=Decimal("10"),
                platform_created_at=T0,
                platform_updated_at=T0,
                payload_hash="h",
            )
            session.add(order)
            session.flush()
            item = t.OutboxItem(
                store_id=row.id,
                order_id=order.id,
                action=Action.SET_STATUS.value,
                target_state="10",
                idempotency_key=f"{store}:{n}",
                payload={"external_id": str(n)},
            )
            session.add(item)
            session.flush()
            items.append(item.id)
        return row.id, items


def item(sessions: sessionmaker[Session], item_id: int) -> t.OutboxItem:
    with sessions() as session:
        row = session.get(t.OutboxItem, item_id)
        assert row is not None
        session.expunge(row)
        return row


def outbound(sessions: sessionmaker[Session], item_id: int) -> list[str]:
    with sessions() as session:
        row = session.get(t.OutboxItem, item_id)
        assert row is not None
        query = select(t.TimelineEntry.summary).where(
            t.TimelineEntry.order_id == row.order_id, t.TimelineEntry.kind == "outbound"
        )
        return list(session.scalars(query.order_by(t.TimelineEntry.id)))


def make_due(sessions: sessionmaker[Session], item_ids: list[int]) -> None:
    """As if the postponement were over (the wall clock is real: move the row, not time)."""
    with sessions.begin() as session:
        session.execute(
            update(t.OutboxItem).where(t.OutboxItem.id.in_(item_ids)).values(next_attempt_at=datetime.now(UTC))
        )


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Accepting:
    """A platform that takes every write; `written` in order of arrival."""

    def __init__(self) -> None:
        self.written: list[str] = []
        self.lock = threading.Lock()

    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        with self.lock:
            self.written.append(write.external_id)
        return {"status_id": write.target}


class SpentWindow:
    """A platform whose rate window is spent until `reset` on the budget's (fake) clock: every write goes through
    `call` under the store's budget, as the real clients' do, and is refused with the time left to the reset."""

    def __init__(self, reset: float) -> None:
        self.clock = FakeClock()
        self.budget = budget(self.clock)
        self.reset = reset
        self.sent = 0

    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        return call(self.budget, lambda: self._send(write), what=f"write {write.external_id}")

    def _send(self, write: PlatformWrite) -> dict[str, Any]:
        self.sent += 1
        if self.clock.now < self.reset:
            raise RateLimited("HTTP 429: Too Many Requests", retry_after=self.reset - self.clock.now)
        return {"status_id": write.target}


def run(sessions: sessionmaker[Session], clients: dict[int, Any], budgets: dict[int, RateBudget] | None = None) -> int:
    names = {store_id: f"store-{store_id}" for store_id in clients}
    return drain(sessions, clients, {}, "worker-1", Metrics(), names, budgets=budgets)


# --- a refusal for rate is not a failed attempt ---------------------------------------------------------------------


def test_a_window_spent_longer_than_a_call_waits_postpones_the_write_to_the_reset(
    sessions: sessionmaker[Session],
) -> None:
    store_id, (first, second) = queue(sessions, "lightspeed", 2)
    platform = SpentWindow(reset=10 * RetryPolicy().max_delay)  # the hour window: far beyond one call's retries
    before = datetime.now(UTC)
    assert run(sessions, {store_id: platform}, {store_id: platform.budget}) == 2
    after = datetime.now(UTC)

    assert platform.sent == 1  # refused once; the second write is held back without asking the platform again
    assert platform.clock.slept == []  # nothing slept on the spent window
    assert platform.budget.throttled == 1
    for item_id in (first, second):
        row = item(sessions, item_id)
        assert (row.status, row.attempts, row.claimed_by) == (OutboxStatus.PENDING.value, 0, None)
        reset = timedelta(seconds=platform.reset)
        assert before + reset <= aware(row.next_attempt_at) <= after + reset
        [entry] = outbound(sessions, item_id)
        assert "waiting for the platform's rate limit" in entry
        assert "fail" not in entry


def test_a_platform_refusing_for_rate_on_every_try_never_fails_the_write(sessions: sessionmaker[Session]) -> None:
    store_id, [item_id] = queue(sessions, "s", 1)
    platform = SpentWindow(reset=HOUR)
    for _ in range(MAX_ATTEMPTS + 2):
        make_due(sessions, [item_id])
        assert run(sessions, {store_id: platform}, {store_id: platform.budget}) == 1
        platform.budget.pause_until = 0.0  # let the next drain try the platform again
    row = item(sessions, item_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING.value, 0)
    assert platform.sent == MAX_ATTEMPTS + 2
    assert not [s for s in outbound(sessions, item_id) if "fail" in s]

    platform.clock.now = platform.reset  # the window reopens: written at its first counted attempt
    make_due(sessions, [item_id])
    assert run(sessions, {store_id: platform}, {store_id: platform.budget}) == 1
    row = item(sessions, item_id)
    assert (row.status, row.attempts) == (OutboxStatus.DONE.value, 1)
    assert outbound(sessions, item_id)[-1] == "set_status -> 10 (order): written"


class RefusingWithoutReset:
    """Raises `RateLimited` with no Retry-After (as a client without retries would): the budget knows the pause."""

    def __init__(self, budget: RateBudget, pause: float) -> None:
        self.budget, self.pause = budget, pause

    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        self.budget.pause(self.pause)
        raise RateLimited("HTTP 429: hour window spent")


def test_without_a_retry_after_the_write_waits_for_the_budgets_pause(sessions: sessionmaker[Session]) -> None:
    store_id, [item_id] = queue(sessions, "s", 1)
    clock = FakeClock()
    paced = budget(clock)
    before = datetime.now(UTC)
    run(sessions, {store_id: RefusingWithoutReset(paced, 900.0)}, {store_id: paced})
    row = item(sessions, item_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING.value, 0)
    assert before + timedelta(seconds=900) <= aware(row.next_attempt_at) <= datetime.now(UTC) + timedelta(seconds=900)


class Broken:
    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        raise RetriableError("HTTP 502: bad gateway")


def test_other_failures_still_use_up_attempts(sessions: sessionmaker[Session]) -> None:
    store_id, [item_id] = queue(sessions, "s", 1)
    run(sessions, {store_id: Broken()})
    row = item(sessions, item_id)
    assert (row.status, row.attempts) == (OutboxStatus.PENDING.value, 1)
    assert outbound(sessions, item_id) == [
        "set_status -> 10 (order): attempt 1 failed, will retry: HTTP 502: bad gateway"
    ]
    for _ in range(MAX_ATTEMPTS - 1):
        make_due(sessions, [item_id])
        run(sessions, {store_id: Broken()})
    row = item(sessions, item_id)
    assert (row.status, row.attempts) == (OutboxStatus.FAILED.value, MAX_ATTEMPTS)


# --- a store waiting on its rate limit holds up no other store --------------------------------------------------------


def test_a_paused_store_is_left_for_later_while_the_others_are_written(sessions: sessionmaker[Session]) -> None:
    paused_id, paused_items = queue(sessions, "paused", 3)
    open_id, open_items = queue(sessions, "open", 3)
    paused = SpentWindow(reset=HOUR)
    paused.budget.pause(HOUR)  # the last answer said the hour window is spent
    accepting = Accepting()

    assert run(sessions, {paused_id: paused, open_id: accepting}, {paused_id: paused.budget}) == 3
    assert sorted(accepting.written) == ["0", "1", "2"]
    assert all(item(sessions, i).status == OutboxStatus.DONE.value for i in open_items)
    assert paused.sent == 0
    assert paused.clock.slept == []
    for item_id in paused_items:  # not even claimed: untouched, still due, no attempt, nothing on the timeline
        row = item(sessions, item_id)
        assert (row.status, row.attempts, row.claimed_by) == (OutboxStatus.PENDING.value, 0, None)
        assert outbound(sessions, item_id) == []

    paused.clock.now = HOUR  # the window reopens: the next drain takes them
    assert run(sessions, {paused_id: paused, open_id: accepting}, {paused_id: paused.budget}) == 3
    assert [item(sessions, i).status for i in paused_items] == [OutboxStatus.DONE.value] * 3


class WaitingOnItsPlatform:
    """A store's platform that keeps its first write waiting until `until` is set (as `call` does through a
    refusal's Retry-After): it records whether the other store's writes went out meanwhile."""

    def __init__(self, until: threading.Event) -> None:
        self.until = until
        self.others_done_while_waiting: bool | None = None

    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        if self.others_done_while_waiting is None:
            self.others_done_while_waiting = self.until.wait(timeout=30)
        return {"status_id": write.target}


class SignallingWhenDone(Accepting):
    def __init__(self, expected: int, done: threading.Event) -> None:
        super().__init__()
        self.expected, self.done = expected, done

    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        answer = super().apply_write(write)
        if len(self.written) == self.expected:
            self.done.set()
        return answer


def test_one_store_waiting_on_its_platform_does_not_hold_up_the_others(sessions: sessionmaker[Session]) -> None:
    slow_id, slow_items = queue(sessions, "slow", 2)  # drained first, were the stores drained one after the other
    fast_id, fast_items = queue(sessions, "fast", 4)
    fast_done = threading.Event()
    slow = WaitingOnItsPlatform(fast_done)
    fast = SignallingWhenDone(len(fast_items), fast_done)

    assert run(sessions, {slow_id: slow, fast_id: fast}) == 6
    assert slow.others_done_while_waiting is True
    assert all(item(sessions, i).status == OutboxStatus.DONE.value for i in [*slow_items, *fast_items])


# --- the patience of a call, by which the outbox postpones rather than sleeps --------------------------------------


def test_a_patient_call_does_not_sleep_on_a_long_pause_or_call_the_platform() -> None:
    clock = FakeClock()
    paced = budget(clock)
    paced.pause(HOUR)
    fn = failing([])
    with rate_patience(RATE_PATIENCE), pytest.raises(RateLimited) as refused:
        call(paced, fn, what="write")
    assert refused.value.retry_after == HOUR
    assert fn.calls == 0  # type: ignore[attr-defined]
    assert clock.slept == []


def test_a_patient_call_still_waits_out_a_short_refusal() -> None:
    clock = FakeClock()
    fn = failing([RateLimited("throttled", retry_after=RATE_PATIENCE / 2)])
    with rate_patience(RATE_PATIENCE):
        assert call(budget(clock), fn, policy=RetryPolicy(attempts=1), what="write") == "ok"
    assert sum(clock.slept) >= RATE_PATIENCE / 2


def test_a_patient_call_gives_up_at_once_on_a_long_refusal() -> None:
    clock = FakeClock()
    fn = failing([RateLimited("spent", retry_after=30.0)])
    with rate_patience(RATE_PATIENCE), pytest.raises(RateLimited, match="spent"):
        call(budget(clock), fn, what="write")
    assert fn.calls == 1  # type: ignore[attr-defined]
    assert clock.slept == []


def test_without_patience_a_call_waits_as_before() -> None:
    clock = FakeClock()
    fn = failing([RateLimited("spent", retry_after=30.0)])
    assert call(budget(clock), fn, what="write") == "ok"
    assert fn.calls == 2  # type: ignore[attr-defined]
    assert sum(clock.slept) >= 30.0
