"""The internal order model: money rules, UTC-only datetimes, derived fulfilment status, the order JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connector.orders.model import (
    Customer,
    Fulfilment,
    FulfilmentLine,
    FulfilmentStatus,
    Line,
    Money,
    Order,
    OrderKind,
    PaymentStatus,
    Platform,
    Tracking,
    expected_total,
    order_json,
    utc,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def make_order(**changes: object) -> Order:
    base = Order(
        store="s",
        platform=Platform.SHOPIFY,
        external_id="1",
        number="#1001",
        kind=OrderKind.DELIVERY,
        payment_status=PaymentStatus.PAID,
        platform_status="paid",
        currency="EUR",
        subtotal=eur("20.00"),
        shipping_total=eur("4.95"),
        tax_total=eur("0"),
        discount_total=eur("2.00"),
        total=eur("22.95"),
        created_at=T0,
        updated_at=T0,
        lines=(Line("A", "Alpha", 2, eur("10.00"), eur("20.00")),),
        customer=Customer("Ann", "ann@example.com"),
    )
    return base.with_changes(**changes)


def test_money_refuses_floats_bad_currencies_and_mixing() -> None:
    with pytest.raises(TypeError):
        Money(1.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="ISO-4217"):
        Money(Decimal(1), "eur")
    with pytest.raises(ValueError, match="cannot combine"):
        _ = eur("1") + Money(Decimal(1), "USD")
    with pytest.raises(ValueError, match="finite"):
        Money(Decimal("NaN"), "EUR")


@given(
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
    st.decimals(allow_nan=False, allow_infinity=False, places=4),
)
def test_money_arithmetic_is_exact(a: Decimal, b: Decimal) -> None:
    assert (Money(a, "JPY") + Money(b, "JPY")).amount == a + b
    assert (Money(a, "JPY") - Money(b, "JPY")).amount == a - b
    assert (Money(a, "JPY") * 3).amount == a * 3


def test_order_requires_utc_and_one_currency() -> None:
    with pytest.raises(ValueError, match="UTC"):
        make_order(created_at=datetime(2026, 3, 1, 12, 0))
    with pytest.raises(ValueError, match="UTC"):
        make_order(updated_at=datetime(2026, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))))
    with pytest.raises(ValueError, match="every amount"):
        make_order(total=Money(Decimal(1), "USD"))


def test_expected_total_adds_the_parts() -> None:
    assert expected_total(make_order()) == eur("22.95")


def test_fulfilment_status_is_the_least_advanced_live_fulfilment() -> None:
    order = make_order(
        fulfilments=(
            Fulfilment("amsterdam", FulfilmentStatus.PACKED),
            Fulfilment("utrecht", FulfilmentStatus.SHIPPED),
            Fulfilment("rotterdam", FulfilmentStatus.CANCELLED),
        )
    )
    assert order.fulfilment_status is FulfilmentStatus.PACKED
    assert make_order().fulfilment_status is FulfilmentStatus.NEW
    all_cancelled = make_order(fulfilments=(Fulfilment("a", FulfilmentStatus.CANCELLED),))
    assert all_cancelled.fulfilment_status is FulfilmentStatus.CANCELLED


def test_line_refuses_negative_quantity_and_mixed_currency() -> None:
    with pytest.raises(ValueError, match="negative"):
        Line("A", "a", -1, eur("1"), eur("1"))
    with pytest.raises(ValueError, match="currencies"):
        Line("A", "a", 1, eur("1"), Money(Decimal(1), "USD"))


def test_order_json_has_the_public_shape() -> None:
    order = make_order(
        id=7,
        fulfilments=(
            Fulfilment("amsterdam", FulfilmentStatus.SHIPPED, (FulfilmentLine("A", 2),), Tracking("1Z9", "UPS"), 3),
        ),
        updated_at=T0 + timedelta(hours=1),
    )
    data = order_json(order)
    assert set(data) >= {
        "id",
        "store",
        "platform",
        "external_id",
        "number",
        "kind",
        "status",
        "fulfilment_status",
        "payment_status",
        "currency",
        "subtotal",
        "shipping_total",
        "tax_total",
        "discount_total",
        "total",
        "customer",
        "shipping_address",
        "note",
        "lines",
        "fulfilments",
        "platform_status",
        "created_at",
        "updated_at",
    }
    assert data["total"] == "22.95"
    assert data["lines"] == [{"sku": "A", "name": "Alpha", "quantity": 2, "unit_price": "10.00", "total": "20.00"}]
    assert data["fulfilments"][0]["tracking"] == {"number": "1Z9", "carrier": "UPS", "url": ""}
    assert data["fulfilment_status"] == "shipped"
    assert data["updated_at"] == "2026-03-01T13:00:00Z"


def test_order_json_names_who_has_each_fulfilment() -> None:
    order = make_order(
        fulfilments=(
            Fulfilment("amsterdam", FulfilmentStatus.PACKED, id=1, assigned_user="Ann"),
            Fulfilment("utrecht", FulfilmentStatus.NEW, id=2),
        )
    )
    parts = order_json(order)["fulfilments"]
    assert [(f["location"], f["assigned_user"]) for f in parts] == [("amsterdam", "Ann"), ("utrecht", None)]
    assert set(parts[0]) == {"id", "location", "status", "lines", "tracking", "assigned_user"}


def test_money_strings_never_use_exponents() -> None:
    assert order_json(make_order(total=eur("1E+2"), subtotal=eur("1E+2")))["total"] == "100"


def test_utc_refuses_naive_and_converts_offsets() -> None:
    with pytest.raises(ValueError, match="naive"):
        utc(datetime(2026, 1, 1))
    assert utc(datetime(2026, 1, 1, 2, tzinfo=timezone(timedelta(hours=2)))) == datetime(2026, 1, 1, tzinfo=UTC)


def test_payment_settled() -> None:
    assert PaymentStatus.PAID.settled
    assert not PaymentStatus.AUTHORIZED.settled
    assert not PaymentStatus.UNPAID.settled
