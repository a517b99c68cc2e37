"""Store health for `status`: silent webhooks while polls find new orders, failed write-backs, poll errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy.orm import Session

from connector.runtime.config import validate_config
from connector.storage import tables as t
from connector.storage.inbox import delivery_values, keep_deliveries
from connector.sync.status import store_status

CONFIG = validate_config(
    {
        "daemon": {"admin_token": "x" * 20},
        "stores": [
            {
                "name": "s",
                "platform": "bigcommerce",
                "base_url": "https://x.example",
                "credentials": {"access_token": "t"},
            }
        ],
    },
    env={},
)
NOW = datetime.now(UTC)


def order_found_by(session: Session, store_id: int, actor: str, n: int) -> None:
    row = t.Order(
        store_id=store_id, external_id=str(n), number=str(n), kind="delivery", status="open", payment_status="paid",
        platform_status="11", currency="EUR", subtotal=Decimal(1), shipping_total=Decimal(0), tax_total=Decimal(0),
        discount_total=Decimal(0), total=Decimal(1), platform_created_at=NOW - timedelta(minutes=5),
        platform_updated_at=NOW - timedelta(minutes=5), payload_hash="h",
    )  # fmt: skip
    session.add(row)
    session.flush()
    session.add(t.TimelineEntry(order_id=row.id, kind="inbound", summary="created", details={}, actor=actor, at=NOW))


def test_a_store_with_nothing_yet_is_healthy(session: Session) -> None:
    [status] = store_status(session, CONFIG)
    assert status["healthy"]
    assert status["webhooks"]["silent"] is False


def test_polls_finding_new_orders_while_webhooks_are_silent_is_unhealthy(session: Session) -> None:
    store = t.Store(name="s", platform="bigcommerce")
    session.add(store)
    session.flush()
    order_found_by(session, store.id, "poll", 1)
    [status] = store_status(session, CONFIG, now=NOW)
    assert not status["healthy"]
    assert any("webhooks silent" in p for p in status["problems"])
    delivery = delivery_values(store_id=store.id, delivery_id="d1", source="webhook", topic="store/order/created",
                               headers={}, body=b"{}")  # fmt: skip
    keep_deliveries(session, [delivery])
    [status] = store_status(session, CONFIG, now=NOW + timedelta(seconds=1))
    assert status["healthy"], status["problems"]
    assert status["webhooks"]["last_hour"] == 1


def test_poll_errors_and_failed_writes_are_problems(session: Session) -> None:
    store = t.Store(name="s", platform="bigcommerce")
    session.add(store)
    session.flush()
    session.add(t.Cursor(store_id=store.id, stream="orders", last_error="HTTP 401: bad token", orders_seen=0))
    session.flush()
    [status] = store_status(session, CONFIG)
    assert status["problems"] == ["last poll failed: HTTP 401: bad token"]
