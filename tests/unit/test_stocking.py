"""Stock through an order's life, on a real database: allocate, cancel, un-cancel, edit, delete, reservations."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from connector.orders.model import Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.runtime.config import Config, validate_config
from connector.stock import ledger
from connector.stock.imports import CsvError, import_csv
from connector.stock.order_effects import Stocker
from connector.storage import tables as t
from connector.sync.ingest import ingest_order

T0 = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
CONFIG: Config = validate_config(
    {
        "daemon": {"admin_token": "x" * 20},
        "locations": [
            {"name": "amsterdam", "priority": 1, "pickup": True},
            {"name": "utrecht", "priority": 2, "pickup": True},
        ],
        "stores": [
            {
                "name": "s",
                "platform": "woocommerce",
                "base_url": "https://w.example",
                "credentials": {"consumer_key": "ck", "consumer_secret": "cs"},
                "reservation": {"statuses": ["reserved"], "hold": "1h"},
            },
        ],
    },
    env={},
)


def eur(x: str) -> Money:
    return Money(Decimal(x), "EUR")


def make(lines: dict[str, int], minute: int = 0, **changes: object) -> Order:
    order = Order(
        store="s",
        platform=Platform.WOOCOMMERCE,
        external_id="7",
        number="7",
        kind=OrderKind.DELIVERY,
        payment_status=PaymentStatus.PAID,
        platform_status="processing",
        currency="EUR",
        subtotal=eur("0"),
        shipping_total=eur("0"),
        tax_total=eur("0"),
        discount_total=eur("0"),
        total=eur("0"),
        created_at=T0,
        updated_at=T0 + timedelta(minutes=minute),
        lines=tuple(Line(sku, sku, q, eur("0"), eur("0")) for sku, q in lines.items()),
    )
    return order.with_changes(**changes)


@pytest.fixture
def db(session: Session) -> Session:
    session.add(t.Store(name="s", platform="woocommerce"))
    session.flush()
    ledger.import_counts(
        session,
        [
            ledger.Count("A", "amsterdam", 2),
            ledger.Count("B", "amsterdam", 0),
            ledger.Count("A", "utrecht", 5),
            ledger.Count("B", "utrecht", 5),
        ],
        batch="initial",
    )
    return session


def feed(db: Session, order: Order) -> t.Order:
    stocker = Stocker(CONFIG)
    store_id = db.query(t.Store.id).scalar()
    outcome = ingest_order(db, store_id, order, source="test")
    stocker.on_outcome(db, outcome)
    db.flush()
    row = db.get(t.Order, outcome.order_id)
    assert row is not None
    return row


def level(db: Session, sku: str, loc: str) -> tuple[int, int, int]:
    lv = ledger.levels(db)[(sku, loc)]
    return lv.on_hand, lv.allocated, lv.reserved


def live(row: t.Order) -> dict[str, dict[str, int]]:
    return {f.location: {fl.sku: fl.quantity for fl in f.lines} for f in row.fulfilments if f.status != "cancelled"}


def test_new_order_goes_to_the_one_location_that_has_everything(db: Session) -> None:
    row = feed(db, make({"A": 2, "B": 1}))
    assert live(row) == {"utrecht": {"A": 2, "B": 1}}
    assert level(db, "A", "utrecht") == (5, 2, 0)
    assert row.allocation is not None
    assert row.allocation["strategy"] == "fewest_locations"


def test_cancel_releases_and_uncancel_takes_again(db: Session) -> None:
    feed(db, make({"A": 2}))
    feed(db, make({"A": 2}, minute=1, cancelled=True))
    assert level(db, "A", "amsterdam") == (2, 0, 0)
    row = feed(db, make({"A": 2}, minute=2))
    assert level(db, "A", "amsterdam") == (2, 2, 0)
    assert live(row) == {"amsterdam": {"A": 2}}


def test_edit_reallocates_only_the_difference(db: Session) -> None:
    feed(db, make({"A": 2}))
    row = feed(db, make({"A": 4}, minute=1))
    assert level(db, "A", "amsterdam") == (2, 2, 0)
    assert level(db, "A", "utrecht") == (5, 2, 0)
    row = feed(db, make({"A": 1}, minute=2))
    total_allocated = level(db, "A", "amsterdam")[1] + level(db, "A", "utrecht")[1]
    assert total_allocated == 1
    assert sum(q for lines in live(row).values() for q in lines.values()) == 1


def test_packed_fulfilment_is_not_moved_silently(db: Session) -> None:
    row = feed(db, make({"A": 2}))
    row.fulfilments[0].status = "packed"
    db.flush()
    row = feed(db, make({"A": 3}, minute=1))
    assert row.conflict is not None
    assert "after packing" in row.conflict
    assert level(db, "A", "amsterdam") == (2, 2, 0)


def test_shortage_is_back_ordered_not_dropped(db: Session) -> None:
    row = feed(db, make({"A": 9}))
    assert row.back_ordered
    assert row.back_orders == {"A": 2}
    assert level(db, "A", "amsterdam")[1] + level(db, "A", "utrecht")[1] == 7


def test_deleted_order_gives_stock_back(db: Session) -> None:
    row = feed(db, make({"B": 3}))
    Stocker(CONFIG).on_deleted(db, row.id)
    assert level(db, "B", "utrecht") == (5, 0, 0)


def test_reservation_holds_then_expires(db: Session) -> None:
    row = feed(db, make({"A": 1}, kind=OrderKind.RESERVATION))
    assert level(db, "A", "amsterdam") == (2, 0, 1)
    assert row.hold_until is not None
    stocker = Stocker(CONFIG)
    assert stocker.expire_holds(db, now=row.hold_until - timedelta(minutes=1)) == 0
    assert stocker.expire_holds(db, now=row.hold_until + timedelta(minutes=1)) == 1
    assert level(db, "A", "amsterdam") == (2, 0, 0)
    assert row.status == "cancelled"


def test_reservation_confirm_turns_hold_into_allocation(db: Session) -> None:
    row = feed(db, make({"A": 1}, kind=OrderKind.RESERVATION))
    Stocker(CONFIG).confirm_reservation(db, row, "staff")
    assert level(db, "A", "amsterdam") == (2, 1, 0)
    assert row.kind == "pickup"


def test_csv_import_validates_and_is_idempotent_per_batch(db: Session) -> None:
    text = "sku,location,on_hand\nA,amsterdam,7\n"
    assert import_csv(db, io.StringIO(text), Stocker(CONFIG), batch="b1").changed == 1
    assert import_csv(db, io.StringIO(text), Stocker(CONFIG), batch="b1").changed == 0
    assert level(db, "A", "amsterdam") == (7, 0, 0)
    with pytest.raises(CsvError, match=r"line 2, column 2 \(location\): unknown location 'paris'"):
        import_csv(db, io.StringIO("sku,location,on_hand\nA,paris,1\n"), Stocker(CONFIG), batch="b2")
    with pytest.raises(CsvError, match=r"line 2, column 3 \(on_hand\): 'x' is not a whole number"):
        import_csv(db, io.StringIO("sku,location,on_hand\nA,amsterdam,x\n"), Stocker(CONFIG), batch="b3")
