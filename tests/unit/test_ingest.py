"""The one ingest function: create, update with a diff, ignore stale and unchanged versions, never double."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.orders.model import Line, Money, Order, OrderKind, OrderStatus, PaymentStatus, Platform
from connector.storage import tables as t
from connector.storage.orders import to_model
from connector.sync.ingest import Result, content_hash, ingest_order, mark_deleted

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)


def eur(x: str) -> Money:
    return Money(Decimal(x), "EUR")


def order(updated: datetime = T0, qty: int = 1, **changes: object) -> Order:
    base = Order(
        store="s",
        platform=Platform.WOOCOMMERCE,
        external_id="42",
        number="42",
        kind=OrderKind.DELIVERY,
        payment_status=PaymentStatus.PAID,
        platform_status="processing",
        currency="EUR",
        subtotal=eur("10.00") * qty,
        shipping_total=eur("0"),
        tax_total=eur("0"),
        discount_total=eur("0"),
        total=eur("10.00") * qty,
        created_at=T0,
        updated_at=updated,
        lines=(Line("SKU-1", "One", qty, eur("10.00"), eur("10.00") * qty),),
    )
    return base.with_changes(**changes)


def store(session: Session) -> int:
    row = t.Store(name="s", platform="woocommerce")
    session.add(row)
    session.flush()
    return row.id


def timeline(session: Session) -> list[str]:
    return [e.summary for e in session.scalars(select(t.TimelineEntry).order_by(t.TimelineEntry.id))]


def test_create_then_update_records_what_changed(session: Session) -> None:
    sid = store(session)
    created = ingest_order(session, sid, order(), source="webhook", topic="order.created")
    assert created.result is Result.CREATED
    updated = ingest_order(session, sid, order(T0 + timedelta(minutes=5), qty=3), source="poll")
    assert updated.result is Result.UPDATED
    assert updated.changes["lines"] == {"SKU-1": [1, 3]}
    assert updated.changes["total"] == ["10.00", "30.00"]
    assert updated.needs_allocation
    row = session.get(t.Order, created.order_id)
    assert row is not None
    assert to_model(row).lines[0].quantity == 3
    assert timeline(session)[0] == "created from webhook order.created"
    assert "lines" in timeline(session)[1]
    assert "total" in timeline(session)[1]


def test_stale_and_unchanged_versions_change_nothing(session: Session) -> None:
    sid = store(session)
    ingest_order(session, sid, order(T0 + timedelta(hours=24), qty=2), source="poll")
    late = ingest_order(session, sid, order(T0, qty=1), source="webhook")
    assert late.result is Result.STALE
    again = ingest_order(session, sid, order(T0 + timedelta(hours=24), qty=2), source="webhook")
    assert again.result is Result.UNCHANGED
    assert session.scalar(select(func.count()).select_from(t.Order)) == 1
    assert session.scalar(select(func.count()).select_from(t.OrderLine)) == 1
    assert len(timeline(session)) == 1
    row = session.scalars(select(t.Order)).one()
    assert row.lines[0].quantity == 2


def test_cancellation_sets_status_and_uncancel_reopens(session: Session) -> None:
    sid = store(session)
    ingest_order(session, sid, order(), source="poll")
    out = ingest_order(session, sid, order(T0 + timedelta(minutes=1), cancelled=True), source="webhook")
    assert out.changes["cancelled"] == [False, True]
    row = session.scalars(select(t.Order)).one()
    assert row.status == OrderStatus.CANCELLED.value
    ingest_order(session, sid, order(T0 + timedelta(minutes=2)), source="webhook")
    assert row.status == OrderStatus.OPEN.value


def test_hash_ignores_our_own_state_but_not_platform_fields() -> None:
    assert content_hash(order()) == content_hash(order(id=5, status=OrderStatus.COMPLETED))
    assert content_hash(order()) != content_hash(order(note="leave at the door"))


def test_deleted_orders_are_kept_and_flagged(session: Session) -> None:
    sid = store(session)
    ingest_order(session, sid, order(), source="poll")
    assert mark_deleted(session, sid, "42", source="webhook order.deleted") is not None
    assert mark_deleted(session, sid, "42", source="webhook order.deleted") is None
    row = session.scalars(select(t.Order)).one()
    assert row.deleted
    assert row.status == OrderStatus.CANCELLED.value
