"""The tables enforce what the rest of the connector relies on: uniqueness, cascades, versions, defaults."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from connector.storage.db import session_factory
from connector.storage.tables import (
    Binding,
    Fulfilment,
    FulfilmentLine,
    InboxItem,
    Order,
    OrderLine,
    OutboxItem,
    StockMovement,
    Store,
)
from connector.storage.types import InboxSource, InboxStatus, OutboxStatus

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(db_engine: Engine) -> Iterator[Session]:
    with session_factory(db_engine)() as session:
        yield session


def _store(session: Session, name: str = "demo-shop") -> Store:
    store = Store(name=name, platform="shopify")
    session.add(store)
    session.flush()
    return store


def _order(store: Store, external_id: str = "1001", skus: tuple[str, ...] = ("TEE-M", "MUG")) -> Order:
    zero = Decimal("0.00")
    lines = [
        OrderLine(position=i, sku=sku, quantity=1, unit_price=Decimal("9.95"), total=Decimal("9.95"))
        for i, sku in enumerate(skus)
    ]
    return Order(
        store=store,
        external_id=external_id,
        number=f"#{external_id}",
        kind="delivery",
        status="open",
        payment_status="paid",
        platform_status="paid",
        currency="EUR",
        subtotal=Decimal("9.95") * len(skus),
        shipping_total=zero,
        tax_total=zero,
        discount_total=zero,
        total=Decimal("9.95") * len(skus),
        platform_created_at=NOW,
        platform_updated_at=NOW,
        payload_hash="sha256:0",
        lines=lines,
    )


def _inbox(store: Store, delivery_id: str) -> InboxItem:
    return InboxItem(
        store_id=store.id, delivery_id=delivery_id, source=InboxSource.WEBHOOK, topic="orders/create", body=b"{}"
    )


def _movement(key: str) -> StockMovement:
    return StockMovement(sku="TEE-M", location="shop", kind="import", on_hand_delta=5, idempotency_key=key)


def test_a_redelivered_webhook_is_rejected_by_the_inbox(db: Session) -> None:
    store = _store(db)
    db.add(_inbox(store, "d-1"))
    db.commit()
    db.add(_inbox(store, "d-1"))
    with pytest.raises(IntegrityError):
        db.commit()


def test_the_same_delivery_id_may_arrive_for_another_store(db: Session) -> None:
    db.add_all([_inbox(_store(db, "a"), "d-1"), _inbox(_store(db, "b"), "d-1")])
    db.commit()
    assert db.scalar(select(func.count()).select_from(InboxItem)) == 2


def test_a_replayed_stock_movement_is_rejected(db: Session) -> None:
    db.add(_movement("order:1|fulfilment:1|line:1|allocate"))
    db.commit()
    db.add(_movement("order:1|fulfilment:1|line:1|allocate"))
    with pytest.raises(IntegrityError):
        db.commit()


def test_an_outbox_idempotency_key_is_used_once(db: Session) -> None:
    order = _order(_store(db))
    db.add(order)
    db.flush()
    for _ in range(2):
        db.add(
            OutboxItem(
                store_id=order.store_id,
                order_id=order.id,
                action="ship",
                target_state="shipped",
                idempotency_key="order:1|shipped",
            )
        )
    with pytest.raises(IntegrityError):
        db.commit()


def test_an_order_is_stored_once_per_store_and_external_id(db: Session) -> None:
    store = _store(db)
    db.add(_order(store, "1001"))
    db.commit()
    db.add(_order(store, "1001"))
    with pytest.raises(IntegrityError):
        db.commit()


def test_a_binding_is_unique_per_store_kind_and_external_id(db: Session) -> None:
    store = _store(db)
    db.add_all(
        [
            Binding(store_id=store.id, kind="order", internal_id="1", external_id="gid://1"),
            Binding(store_id=store.id, kind="location", internal_id="shop", external_id="gid://1"),
        ]
    )
    db.commit()
    db.add(Binding(store_id=store.id, kind="order", internal_id="2", external_id="gid://1"))
    with pytest.raises(IntegrityError):
        db.commit()


def test_rows_must_point_at_existing_rows(db: Session) -> None:
    db.add(InboxItem(store_id=4242, delivery_id="d-1", source="poll", topic="orders", body=b"{}"))
    with pytest.raises(IntegrityError):
        db.commit()


def test_deleting_an_order_in_the_database_deletes_its_lines(db: Session) -> None:
    order = _order(_store(db))
    order.fulfilments.append(Fulfilment(location="shop", status="new", lines=[FulfilmentLine(sku="MUG", quantity=1)]))
    db.add(order)
    db.commit()
    db.execute(delete(Order).where(Order.id == order.id))
    db.commit()
    for table in (OrderLine, Fulfilment, FulfilmentLine):
        assert db.scalar(select(func.count()).select_from(table)) == 0


def test_a_line_removed_from_an_order_is_deleted(db: Session) -> None:
    order = _order(_store(db), skus=("TEE-M", "MUG", "CAP"))
    db.add(order)
    db.commit()
    del order.lines[1]
    db.commit()
    assert db.scalars(select(OrderLine.sku).order_by(OrderLine.position)).all() == ["TEE-M", "CAP"]


def test_lines_load_in_position_order(db_engine: Engine, db: Session) -> None:
    order = _order(_store(db), skus=("A", "B", "C"))
    for line, position in zip(order.lines, (2, 0, 1), strict=True):
        line.position = position
    db.add(order)
    db.commit()
    with session_factory(db_engine)() as fresh:
        loaded = fresh.scalars(select(Order)).one()
    assert [line.sku for line in loaded.lines] == ["B", "C", "A"]
    assert loaded.store.name == "demo-shop"


def test_every_change_of_an_order_increments_its_version(db: Session) -> None:
    order = _order(_store(db))
    db.add(order)
    db.commit()
    assert order.version == 1
    order.platform_status = "fulfilled"
    db.commit()
    order.note = "leave at the door"
    db.commit()
    assert order.version == 3


def test_a_concurrent_change_of_an_order_is_refused(db_engine: Engine, db: Session) -> None:
    order = _order(_store(db))
    db.add(order)
    db.commit()
    with session_factory(db_engine)() as other:
        other.scalars(select(Order)).one().status = "cancelled"
        other.commit()
    order.status = "completed"
    with pytest.raises(StaleDataError):
        db.commit()


def test_defaults_make_a_fresh_row_ready_to_process(db: Session) -> None:
    store = _store(db)
    item = _inbox(store, "d-1")
    outbox_order = _order(store)
    db.add_all([item, outbox_order])
    db.flush()
    job = OutboxItem(
        store_id=store.id, order_id=outbox_order.id, action="ship", target_state="shipped", idempotency_key="k"
    )
    db.add(job)
    db.commit()
    assert (item.status, item.attempts, item.headers) == (InboxStatus.PENDING, 0, {})
    assert (job.status, job.attempts, job.payload) == (OutboxStatus.PENDING, 0, {})
    assert job.next_attempt_at.tzinfo is UTC
    assert (outbox_order.cancelled, outbox_order.deleted, outbox_order.back_ordered) == (False, False, False)
