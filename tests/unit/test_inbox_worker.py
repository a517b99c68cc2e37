"""The webhook path under load: receipts kept by group commit, deliveries ingested in chunks, the receipt writer
first in line for SQLite's single writer.

The inbox worker ingests a claim of deliveries a few transactions at a time; whatever the chunking, the result
must be what one-by-one processing gives: the newest version of each order, a dead letter for each unreadable
delivery (and only for it), deletions applied in their turn, and each order's timeline naming the delivery it
came from.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest
import samples
from sqlalchemy import create_engine, select, update

from connector.platforms import Platform, WebhookDelivery
from connector.runtime.config import validate_config
from connector.runtime.errors import RetriableError
from connector.runtime.metrics import Metrics
from connector.storage import tables as t
from connector.storage.db import _WriterLock, upgrade, urgent_writer
from connector.storage.inbox import delivery_values, keep_deliveries
from connector.storage.runtime import Runtime
from connector.storage.types import InboxStatus
from connector.sync.store_sync import WEBHOOK_CHUNK, PollResult, StoreSync, process_inbox
from connector.sync.webhooks import DeliveryWriter, Receipt, check
from tests.support import wait_until

SECRET = "inbox-worker-secret"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    url = f"sqlite:///{tmp_path / 'inbox.db'}"
    config = validate_config(
        {
            "daemon": {"admin_token": "x" * 20, "database_url": url},
            "locations": [{"name": "amsterdam", "priority": 1}],
            "stores": [
                {
                    "name": "woo",
                    "platform": "woocommerce",
                    "base_url": "https://w.example",
                    "credentials": {"consumer_key": "ck", "consumer_secret": "cs"},
                    "webhook_secret": SECRET,
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


def order_body(order_id: int, modified: str, **changes: Any) -> bytes:
    order = samples.load_json("woocommerce", "orders--retrieve-an-order.json")
    order.update(id=order_id, number=str(order_id), date_modified_gmt=modified, **changes)
    return json.dumps(order).encode()


def headers(topic: str = "order.updated", delivery: str = "d") -> dict[str, str]:
    return {"x-wc-webhook-topic": topic, "x-wc-webhook-id": "7", "x-wc-webhook-delivery-id": delivery}


def keep(runtime: Runtime, rows: list[tuple[str, dict[str, str], bytes]]) -> list[int]:
    """Put deliveries straight into the inbox (as the receiver would after verifying them)."""
    values = [
        delivery_values(
            store_id=runtime.store_ids["woo"], delivery_id=key, source="webhook", topic=h["x-wc-webhook-topic"],
            headers=h, body=body,
        )
        for key, h, body in rows
    ]  # fmt: skip
    with runtime.sessions.begin() as session:
        ids = keep_deliveries(session, values)
    assert None not in ids
    return [i for i in ids if i is not None]


class FakeWoo:
    """The platform as read back: `orders` by id (an id left out is gone); `down` makes every read an outage."""

    def __init__(self, orders: dict[str, dict[str, Any]] | None = None, *, down: bool = False) -> None:
        self.orders = orders or {}
        self.down = down
        self.reads: list[str] = []

    def fetch_order(self, external_id: str) -> dict[str, Any] | None:
        self.reads.append(external_id)
        if self.down:
            raise RetriableError(f"get order {external_id}: 503")
        return self.orders.get(external_id)

    def complete(self, delivery: WebhookDelivery) -> Any:
        return delivery.payload if delivery.payload is not None else self.fetch_order(delivery.external_id)


def woo_sync(runtime: Runtime, client: FakeWoo) -> StoreSync:
    return StoreSync(runtime, runtime.config.stores[0], client=cast(Platform, client))


def inbox_rows(runtime: Runtime) -> dict[str, tuple[str, str | None]]:
    with runtime.sessions() as session:
        rows = session.execute(select(t.InboxItem.delivery_id, t.InboxItem.status, t.InboxItem.error)).all()
    return {key: (status, error) for key, status, error in rows}


def stored_order(runtime: Runtime, external_id: str) -> t.Order:
    with runtime.sessions() as session:
        row = session.scalar(select(t.Order).where(t.Order.external_id == external_id))
        assert row is not None
        session.expunge(row)
        return row


@pytest.mark.parametrize("receipts_waiting", [False, True], ids=["whole-chunks", "ended-early"])
def test_a_claim_is_ingested_in_chunks_with_the_same_result_as_one_by_one(
    runtime: Runtime, receipts_waiting: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With the receipt writer always waiting, every transaction ends after its first step: same result.
    monkeypatch.setattr("connector.sync.store_sync.receipts_waiting", lambda: receipts_waiting)
    # More deliveries than one chunk, an order updated twice (newest first, then a late older version), an
    # unreadable body among them, and a deletion after its order's creation.
    rows: list[tuple[str, dict[str, str], bytes]] = []
    for n in range(WEBHOOK_CHUNK * 2 + 1):
        rows.append((f"new-{n}", headers(), order_body(1000 + n, "2026-05-01T10:00:00")))
    rows.append(("newer", headers(), order_body(1000, "2026-05-01T11:00:00", status="on-hold")))
    rows.append(("older", headers(), order_body(1000, "2026-05-01T10:30:00", status="cancelled")))
    rows.append(("broken", headers(), b"{not json"))
    rows.append(("deleted", headers("order.deleted"), json.dumps({"id": 1001}).encode()))
    ids = keep(runtime, rows)
    # Read back, the platform has 1000 as its newest version (the cancelled body is older) and 1001 deleted.
    newest = json.loads(order_body(1000, "2026-05-01T11:00:00", status="on-hold"))
    sync = woo_sync(runtime, FakeWoo({"1000": newest}))

    assert process_inbox({"woo": sync}, "test-worker", limit=100) == len(rows)

    with runtime.sessions() as session:
        statuses = dict(session.execute(select(t.InboxItem.delivery_id, t.InboxItem.status)).all())
        errors = dict(session.execute(select(t.InboxItem.delivery_id, t.InboxItem.error)).all())
        orders = {o.external_id: o for o in session.scalars(select(t.Order))}
        first = orders["1000"]
        entries = session.scalars(select(t.TimelineEntry).where(t.TimelineEntry.order_id == first.id)).all()
        inbox_of = {e.details.get("inbox_id") for e in entries if e.kind in ("inbound", "change")}
    assert statuses.pop("broken") == InboxStatus.DEAD.value
    assert "unreadable delivery" in (errors["broken"] or "")
    assert set(statuses.values()) == {InboxStatus.DONE.value}
    assert len(orders) == WEBHOOK_CHUNK * 2 + 1
    assert first.platform_status == "on-hold"  # the late older version changed nothing
    assert orders["1001"].deleted
    assert not orders["1002"].deleted
    assert inbox_of == {ids[0], ids[WEBHOOK_CHUNK * 2 + 1]}  # created by its delivery, changed by the newer one


def test_a_redelivery_in_the_same_group_commit_is_a_duplicate(runtime: Runtime) -> None:
    body = order_body(2000, "2026-05-01T10:00:00")
    values = [
        delivery_values(store_id=runtime.store_ids["woo"], delivery_id=key, source="webhook", topic="order.updated",
                        headers=headers(), body=body)
        for key in ("a", "b", "a")
    ]  # fmt: skip
    with runtime.sessions.begin() as session:
        first = keep_deliveries(session, values)
    with runtime.sessions.begin() as session:
        again = keep_deliveries(session, values[:1])
    assert first[0] is not None
    assert first[1] is not None
    assert first[2] is None
    assert again == [None]


def test_the_delivery_writer_answers_every_request_with_its_own_row(runtime: Runtime) -> None:
    """Threads submit at once; each gets its row id (or None for a repeat), and every row is stored once."""
    writer = DeliveryWriter(runtime.engine, Metrics())
    store = runtime.config.stores[0]

    def submit(n: int) -> int | None:
        body = order_body(3000 + n % 40, f"2026-05-01T10:00:{n % 40:02d}")
        checked = check(Metrics(), store, runtime.store_ids["woo"], signed(body), body)
        assert not isinstance(checked, Receipt), checked
        return writer.submit(checked).result(timeout=60)

    try:
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(submit, range(200)))
    finally:
        writer.close()
    kept = [a for a in answers if a is not None]
    assert len(kept) == 40
    assert len(set(kept)) == 40
    with runtime.sessions() as session:
        assert session.scalar(select(t.InboxItem.id).order_by(t.InboxItem.id.desc()).limit(1)) == max(kept)
        assert len(session.scalars(select(t.InboxItem.id)).all()) == 40


def signed(body: bytes) -> dict[str, str]:
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    return {**headers(), "x-wc-webhook-signature": signature}


def test_a_refused_delivery_is_answered_without_touching_the_inbox(runtime: Runtime) -> None:
    body = order_body(4000, "2026-05-01T10:00:00")
    checked = check(Metrics(), runtime.config.stores[0], runtime.store_ids["woo"], headers(), body)
    assert isinstance(checked, Receipt)
    assert checked.status == 401
    with runtime.sessions() as session:
        assert session.scalars(select(t.InboxItem.id)).all() == []


def test_the_urgent_writer_goes_before_threads_that_waited_longer(tmp_path: Path) -> None:
    lock = _WriterLock(timeout=60)
    engine = create_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    order: list[str] = []
    holder = engine.connect()
    lock.begin(holder)  # the database is busy

    def transaction(name: str, urgent: bool) -> None:
        if urgent:
            urgent_writer()
        with engine.connect() as connection:
            lock.begin(connection)
            order.append(name)
            connection.exec_driver_sql("COMMIT")
            lock.end(connection)

    background = [threading.Thread(target=transaction, args=(f"job{n}", False)) for n in range(3)]
    for thread in background:
        thread.start()
    wait_until(lambda: len(lock._free._waiters) == 3, what="three jobs queued")  # type: ignore[attr-defined]
    receipt = threading.Thread(target=transaction, args=("receipt", True))
    receipt.start()
    wait_until(lambda: lock._urgent_waiting == 1, what="the receipt queued as urgent")
    holder.exec_driver_sql("COMMIT")
    lock.end(holder)
    for thread in [*background, receipt]:
        thread.join(timeout=60)
    holder.close()
    engine.dispose()
    assert order[0] == "receipt"
    assert sorted(order[1:]) == ["job0", "job1", "job2"]


def test_an_unmappable_order_of_a_poll_page_is_kept_as_a_dead_letter_and_the_page_goes_on(runtime: Runtime) -> None:
    good = json.loads(order_body(5000, "2026-05-01T10:00:00"))
    bad = json.loads(order_body(5001, "2026-05-01T10:00:00"))
    bad["line_items"][0]["quantity"] = "many"
    sync = StoreSync(runtime, runtime.config.stores[0])
    result = PollResult()
    sync.ingest_page([good, bad], datetime.now(UTC), result)
    assert (result.seen, result.stored, result.dead) == (2, 1, 1)
    with runtime.sessions() as session:
        [item] = session.scalars(select(t.InboxItem)).all()
        stored = session.scalars(select(t.Order.external_id)).all()
    assert (item.source, item.status, item.external_id) == ("poll", InboxStatus.DEAD.value, "5001")
    assert item.error
    assert json.loads(item.body)["id"] == 5001  # the raw order is kept for support and replay
    assert stored == ["5000"]


def test_a_body_that_says_cancelled_is_applied_only_as_the_platform_reads_back(runtime: Runtime) -> None:
    """A captured, validly signed body saying "cancelled" does not cancel an order the platform has open."""
    open_now = json.loads(order_body(3000, "2026-05-01T12:00:00", status="processing"))
    fake = FakeWoo({"3000": open_now})
    keep(runtime, [("created", headers("order.created"), order_body(3000, "2026-05-01T10:00:00"))])
    keep(runtime, [("cancel", headers(), order_body(3000, "2026-05-01T11:00:00", status="cancelled"))])

    process_inbox({"woo": woo_sync(runtime, fake)}, "test-worker")

    assert fake.reads == ["3000"]  # read back for the cancelling body only
    row = stored_order(runtime, "3000")
    assert row.status != "cancelled"
    assert row.platform_status == "processing"  # the platform's version, not the body's


def test_a_cancel_the_platform_confirms_is_applied(runtime: Runtime) -> None:
    cancelled = json.loads(order_body(3100, "2026-05-01T11:00:00", status="cancelled"))
    keep(runtime, [("created", headers("order.created"), order_body(3100, "2026-05-01T10:00:00"))])
    keep(runtime, [("cancel", headers(), json.dumps(cancelled).encode())])

    process_inbox({"woo": woo_sync(runtime, FakeWoo({"3100": cancelled}))}, "test-worker")

    assert stored_order(runtime, "3100").status == "cancelled"


def test_a_delete_waits_while_the_platform_cannot_confirm_it(runtime: Runtime) -> None:
    """An outage while reading the order back delays the deletion; it is applied once the platform answers."""
    keep(runtime, [("created", headers("order.created"), order_body(3200, "2026-05-01T10:00:00"))])
    process_inbox({"woo": woo_sync(runtime, FakeWoo())}, "test-worker")
    keep(runtime, [("gone", headers("order.deleted"), json.dumps({"id": 3200}).encode())])

    process_inbox({"woo": woo_sync(runtime, FakeWoo(down=True))}, "test-worker")

    assert inbox_rows(runtime)["gone"][0] == InboxStatus.PENDING.value
    assert not stored_order(runtime, "3200").deleted
    with runtime.sessions.begin() as session:  # the retry is due now
        session.execute(update(t.InboxItem).values(claimed_until=None))

    process_inbox({"woo": woo_sync(runtime, FakeWoo())}, "test-worker")

    assert inbox_rows(runtime)["gone"][0] == InboxStatus.DONE.value
    assert stored_order(runtime, "3200").deleted


def test_a_delete_whose_body_is_a_whole_order_is_a_dead_letter(runtime: Runtime) -> None:
    keep(runtime, [("created", headers("order.created"), order_body(3300, "2026-05-01T10:00:00"))])
    keep(runtime, [("forged", headers("order.deleted"), order_body(3300, "2026-05-01T10:00:00"))])

    process_inbox({"woo": woo_sync(runtime, FakeWoo())}, "test-worker")

    status, error = inbox_rows(runtime)["forged"]
    assert status == InboxStatus.DEAD.value
    assert "contradicts its body" in (error or "")
    assert not stored_order(runtime, "3300").deleted
