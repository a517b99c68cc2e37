"""Stopping and starting again (issue #15, hole 5).

* SIGTERM sets the daemon's stop event, which every store's sync shares: a poll (a backfill too) ends after the
  page it is on, its cursor at that page; a wait for the store's rate limit or a retry ends at once, without the
  call; claimed deliveries not yet processed go back to the queue.
* A daemon that starts as the only one takes back at once what a killed predecessor left claimed, instead of
  waiting for the claims' two-minute hold; with replicas, only claims whose holder's daemon lease has expired.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import samples
from sqlalchemy import Engine, create_engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from connector.platforms.base import OrderPage, call
from connector.runtime.config import validate_config
from connector.runtime.errors import Stopped
from connector.storage import tables as t
from connector.storage.db import session_factory, upgrade
from connector.storage.inbox import claim, delivery_values, keep_deliveries
from connector.storage.leases import release_orphaned_claims, renew_lease
from connector.storage.runtime import Runtime
from connector.storage.types import InboxStatus, OutboxStatus
from connector.sync import outbox
from connector.sync.store_sync import StoreSync, process_inbox
from tests.unit.test_outbox_rate_limit import queue


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    config = validate_config(
        {
            "daemon": {"admin_token": "x" * 20, "database_url": f"sqlite:///{tmp_path / 'stop.db'}"},
            "stores": [
                {
                    "name": "woo",
                    "platform": "woocommerce",
                    "base_url": "https://w.example",
                    "credentials": {"consumer_key": "ck", "consumer_secret": "cs"},
                    "webhook_secret": "s3cret-stopping",
                }
            ],
        },
        env={},
    )
    runtime = Runtime.open(config)
    upgrade(runtime.engine)
    runtime.sync_stores()
    yield runtime
    runtime.close()


def woo_order(order_id: int, modified: str) -> dict[str, Any]:
    order: dict[str, Any] = samples.load_json("woocommerce", "orders--retrieve-an-order.json")
    order.update(id=order_id, number=str(order_id), date_modified_gmt=modified)
    return order


class EndlessBackfill:
    """A platform with more pages than anyone waits for: page n holds order n, changed n minutes after T0."""

    def __init__(self) -> None:
        self.pages_served = 0

    def iter_order_pages(self, since: datetime | None, until: datetime | None = None) -> Iterator[OrderPage]:
        while True:
            self.pages_served += 1
            yield OrderPage([woo_order(self.pages_served, f"2026-05-01T10:{self.pages_served:02d}:00")])


def test_a_backfill_ends_after_the_page_it_is_on_with_its_cursor_kept(runtime: Runtime) -> None:
    platform = EndlessBackfill()
    sync = StoreSync(runtime, runtime.config.stores[0], client=platform)  # type: ignore[arg-type]

    def progress(count: int, total: int | None) -> None:
        if platform.pages_served == 3:
            sync.stop.set()  # SIGTERM while page 3 is being ingested

    result = sync.poll(since=datetime(2026, 1, 1, tzinfo=UTC), progress=progress)

    assert result.pages == 3
    assert platform.pages_served == 3  # no page was asked for after the stop
    with runtime.sessions() as session:
        cursor = session.get(t.Cursor, (sync.store_id, "orders"))
        assert cursor is not None
        assert cursor.cursor_external_id == "3"
        assert cursor.last_error is None  # stopping is not a failure
        assert session.scalar(select(t.Order.external_id).order_by(t.Order.external_id.desc())) == "3"


def test_a_wait_for_the_rate_limit_ends_at_once_without_the_call(runtime: Runtime) -> None:
    sync = StoreSync(runtime, runtime.config.stores[0])
    sync.budget.pause(3600)  # the store's window is spent for an hour
    sync.stop.set()
    called: list[str] = []

    with pytest.raises(Stopped):
        call(sync.budget, lambda: called.append("call"), what="get orders")

    assert called == []


def test_claimed_deliveries_go_back_to_the_queue_when_stopping(runtime: Runtime) -> None:
    body = json.dumps(woo_order(7, "2026-05-01T10:00:00")).encode()
    headers = {"x-wc-webhook-topic": "order.updated", "x-wc-webhook-id": "1"}
    values = [
        delivery_values(store_id=runtime.store_ids["woo"], delivery_id=f"d{n}", source="webhook",
                        topic="order.updated", headers=headers, body=body)
        for n in range(3)
    ]  # fmt: skip
    with runtime.sessions.begin() as session:
        keep_deliveries(session, values)
    sync = StoreSync(runtime, runtime.config.stores[0])
    sync.stop.set()

    assert process_inbox({"woo": sync}, "stopping-worker") == 3

    with runtime.sessions() as session:
        rows = session.execute(select(t.InboxItem.status, t.InboxItem.claimed_until)).all()
    assert {status for status, _ in rows} == {InboxStatus.PENDING.value}
    with runtime.sessions.begin() as session:
        assert len(claim(session, [runtime.store_ids["woo"]], "next-daemon")) == 3  # claimable now, not in 2 min


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    return session_factory(db_engine)


def claimed_by(sessions: sessionmaker[Session], item_ids: list[int], holder: str) -> None:
    with sessions.begin() as session:
        session.execute(
            update(t.OutboxItem)
            .where(t.OutboxItem.id.in_(item_ids))
            .values(
                status=OutboxStatus.IN_FLIGHT.value,
                claimed_by=holder,
                claimed_until=datetime.now(UTC) + outbox.IN_FLIGHT_HOLD,
                attempts=1,
            )
        )


def test_the_only_daemon_takes_back_its_dead_predecessors_write_backs_at_once(sessions: sessionmaker[Session]) -> None:
    store_id, items = queue(sessions, "bc", 2)
    claimed_by(sessions, items, "host:101")  # the daemon killed mid-write
    with sessions.begin() as session:
        assert outbox.claim(session, [store_id], "host:202") == []  # held for two minutes...

    with sessions.begin() as session:
        assert release_orphaned_claims(session, "host:202", sole=True) == 2

    with sessions.begin() as session:
        assert sorted(outbox.claim(session, [store_id], "host:202")) == items  # ...taken back at once


def test_with_replicas_only_claims_of_a_daemon_without_a_live_lease_are_taken_back(
    sessions: sessionmaker[Session],
) -> None:
    store_id, items = queue(sessions, "bc", 2)
    claimed_by(sessions, items[:1], "host:101")  # dead: its daemon lease expired long ago
    claimed_by(sessions, items[1:], "host:303")  # a live replica
    with sessions.begin() as session:
        renew_lease(
            session, "daemon:host:101", "host:101", timedelta(seconds=30), now=datetime.now(UTC) - timedelta(hours=1)
        )
        renew_lease(session, "daemon:host:303", "host:303", timedelta(seconds=30))

    with sessions.begin() as session:
        assert release_orphaned_claims(session, "host:202", sole=False) == 1

    with sessions.begin() as session:
        assert outbox.claim(session, [store_id], "host:202") == items[:1]


# --- one slow store does not hold up another (issue #15, hole 4; the inbox part) ---------------------------------
class SlowWoo:
    """A platform that answers a read only when `go` is set (a store waiting on its rate budget)."""

    def __init__(self, go: threading.Event | None = None) -> None:
        self.go = go
        self.waiting = threading.Event()

    def fetch_order(self, external_id: str) -> dict[str, Any] | None:
        return None

    def complete(self, delivery: Any) -> Any:
        if self.go is not None:
            self.waiting.set()
            self.go.wait()
        return delivery.payload


def test_a_slow_store_does_not_delay_another_stores_deliveries(tmp_path: Path) -> None:
    store = {
        "platform": "woocommerce",
        "base_url": "https://w.example",
        "credentials": {"consumer_key": "ck", "consumer_secret": "cs"},
        "webhook_secret": "s3cret-isolation",
    }
    config = validate_config(
        {
            "daemon": {"admin_token": "x" * 20, "database_url": f"sqlite:///{tmp_path / 'iso.db'}"},
            "stores": [{"name": "slow", **store}, {"name": "fast", **store}],
        },
        env={},
    )
    runtime = Runtime.open(config)
    upgrade(runtime.engine)
    runtime.sync_stores()
    headers = {"x-wc-webhook-topic": "order.updated", "x-wc-webhook-id": "1"}
    with runtime.sessions.begin() as session:  # the slow store's deliveries arrived first
        keep_deliveries(
            session,
            [
                delivery_values(store_id=runtime.store_ids[name], delivery_id=f"{name}-{n}", source="webhook",
                                topic="order.updated", headers=headers,
                                body=json.dumps(woo_order(n, "2026-05-01T10:00:00")).encode())
                for name, ids in (("slow", range(1, 4)), ("fast", range(11, 14)))
                for n in ids
            ],
        )  # fmt: skip
    go = threading.Event()
    slow, fast = SlowWoo(go), SlowWoo()
    syncs = {
        "slow": StoreSync(runtime, config.stores[0], client=slow),  # type: ignore[arg-type]
        "fast": StoreSync(runtime, config.stores[1], client=fast),  # type: ignore[arg-type]
    }
    worker = threading.Thread(target=process_inbox, args=(syncs, "w"))
    worker.start()
    try:
        assert slow.waiting.wait(10)
        deadline = 100
        while deadline and len(stored_ids(runtime)) < 3:  # bounded by rounds, not asserted on time
            go.wait(0.05)
            deadline -= 1
        # Order of events: every fast delivery is stored while the slow store still has all of its pending.
        assert stored_ids(runtime) == {"11", "12", "13"}
    finally:
        go.set()
        worker.join(30)
    runtime.close()
    assert stored_ids_all(tmp_path) == {"1", "2", "3", "11", "12", "13"}


def stored_ids(runtime: Runtime) -> set[str]:
    with runtime.sessions() as session:
        return set(session.scalars(select(t.Order.external_id)))


def stored_ids_all(tmp_path: Path) -> set[str]:
    engine = create_engine(f"sqlite:///{tmp_path / 'iso.db'}")
    with engine.connect() as conn:
        ids = set(conn.scalars(select(t.Order.external_id)))
    engine.dispose()
    return ids
