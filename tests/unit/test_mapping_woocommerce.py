"""WooCommerce mapping: the documented REST v3 order examples, pickup shipping methods, the payment rule,
money edge cases (float line prices, coupons, fees, tax-inclusive shops) and unmappable payloads."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import load_json

from connector.mapping.context import MappingContext, ReservationRule
from connector.mapping.woocommerce import map_order
from connector.orders.model import Address, Customer, Money, OrderKind, OrderStatus, PaymentStatus
from connector.runtime.errors import SkippableError

CTX = MappingContext(store="woo", locations={"Amsterdam shop": "amsterdam", "7": "utrecht"})


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def retrieved() -> dict[str, Any]:
    order: dict[str, Any] = load_json("woocommerce", "orders--retrieve-an-order.json")
    return order


# --- the documented examples --------------------------------------------------------------------------------


def test_retrieved_order_maps_field_by_field() -> None:
    order = map_order(retrieved(), CTX)
    assert (order.store, order.external_id, order.number, order.platform_status) == ("woo", "727", "727", "processing")
    assert (order.kind, order.payment_status) == (OrderKind.DELIVERY, PaymentStatus.PAID)
    assert order.created_at == datetime(2017, 3, 22, 19, 28, 2, tzinfo=UTC)  # date_created_gmt, not local time
    assert order.updated_at == datetime(2017, 3, 22, 19, 28, 8, tzinfo=UTC)
    assert (order.subtotal, order.shipping_total, order.tax_total, order.discount_total, order.total) == (
        usd("18.00"),
        usd("10.00"),
        usd("1.35"),
        usd("0.00"),
        usd("29.35"),
    )
    assert order.totals_difference is None
    assert order.customer == Customer(name="John Doe", email="john.doe@example.com", phone="(555) 555-5555")
    assert order.shipping_address == Address(
        name="John Doe", line1="969 Market", city="San Francisco", postcode="94103", region="CA", country="US"
    )
    assert order.note == ""
    assert not order.cancelled
    assert order.pickup_location == ""


def test_retrieved_order_lines() -> None:
    lines = map_order(retrieved(), CTX).lines
    assert [(line.sku, line.name, line.quantity, line.unit_price, line.total) for line in lines] == [
        ("", "Woo Single #1", 2, usd("3.00"), usd("6.00")),  # the product has no SKU: kept empty, not refused
        ("Bar3", "Ship Your Idea \u2013 Color: Black, Size: M Test", 1, usd("12.00"), usd("12.00")),
    ]
    assert [line.external_id for line in lines] == ["315", "316"]


def test_listed_orders() -> None:
    first, second = (map_order(raw, CTX) for raw in load_json("woocommerce", "orders--list-all-orders.json"))
    assert first == map_order(retrieved(), CTX)
    assert (second.external_id, second.platform_status, second.kind) == ("723", "completed", OrderKind.DELIVERY)
    assert second.payment_status is PaymentStatus.PARTIALLY_REFUNDED  # completed, with two refunds
    assert (second.subtotal, second.shipping_total, second.total) == (usd("29.00"), usd("10.00"), usd("39.00"))
    assert second.totals_difference is None  # refunds do not change `total`
    assert second.customer.name == "Jo\u00e3o Silva"
    assert second.shipping_address is not None
    assert second.shipping_address.country == "BR"


@pytest.mark.parametrize(
    "name", ["orders--create-an-order.json", "orders--update-an-order.json", "orders--delete-an-order.json"]
)
def test_other_documented_examples_add_up(name: str) -> None:
    order = map_order(load_json("woocommerce", name), CTX)
    assert order.external_id == "727"
    assert order.total == usd("29.35")
    assert order.totals_difference is None


def test_batch_examples() -> None:
    batch = load_json("woocommerce", "orders--batch-update-orders.json")
    pending, processing = (map_order(raw, CTX) for raw in batch["create"])
    assert (pending.external_id, pending.payment_status, pending.total) == ("728", PaymentStatus.UNPAID, usd("62.25"))
    assert (processing.external_id, processing.payment_status) == ("729", PaymentStatus.PAID)
    assert pending.totals_difference is None
    assert processing.totals_difference is None
    assert map_order(batch["update"][0], CTX).platform_status == "completed"


# --- kinds --------------------------------------------------------------------------------------------------


def with_shipping(method_id: str, **line: Any) -> dict[str, Any]:
    order = retrieved()
    order["shipping_lines"][0] |= {"method_id": method_id, **line}
    return order


@pytest.mark.parametrize("method_id", ["local_pickup", "local_pickup:3", "pickup_location", "pickup_location:0"])
def test_pickup_shipping_methods(method_id: str) -> None:
    assert map_order(with_shipping(method_id), CTX).kind is OrderKind.PICKUP


@pytest.mark.parametrize("method_id", ["flat_rate", "flat_rate:25", "free_shipping:1", "local_pickup_plus", ""])
def test_other_shipping_methods_deliver(method_id: str) -> None:
    assert map_order(with_shipping(method_id), CTX).kind is OrderKind.DELIVERY


def test_block_checkout_pickup_location_is_read_from_the_shipping_line_meta() -> None:
    meta = [{"id": 1, "key": "pickup_location", "value": "Amsterdam shop"}, {"id": 2, "key": "pickup_address"}]
    order = map_order(with_shipping("pickup_location", instance_id="0", meta_data=meta), CTX)
    assert order.pickup_location == "amsterdam"


def test_classic_local_pickup_location_falls_back_to_the_instance_id() -> None:
    assert map_order(with_shipping("local_pickup", instance_id="7"), CTX).pickup_location == "utrecht"
    assert map_order(with_shipping("local_pickup:9"), CTX).pickup_location == "9"


def test_a_reservation_status_wins() -> None:
    ctx = MappingContext(store="woo", reservation=ReservationRule(statuses=frozenset({"reserved"})))
    order = map_order(with_shipping("local_pickup") | {"status": "reserved"}, ctx)
    assert order.kind is OrderKind.RESERVATION
    assert order.platform_status == "reserved"  # a custom status is kept, not fatal


def test_an_order_without_shipping_lines_is_a_delivery_without_address() -> None:
    order = retrieved() | {"shipping_lines": [], "shipping": {"first_name": "", "last_name": "", "country": ""}}
    mapped = map_order(order, CTX)
    assert mapped.kind is OrderKind.DELIVERY
    assert mapped.shipping_address is None


# --- payment and cancellation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "date_paid_gmt", "refunds", "expected"),
    [
        ("pending", None, [], PaymentStatus.UNPAID),
        ("on-hold", None, [], PaymentStatus.UNPAID),
        ("failed", None, [], PaymentStatus.UNPAID),
        ("checkout-draft", None, [], PaymentStatus.UNPAID),
        ("processing", None, [], PaymentStatus.PAID),  # a paid status even before date_paid is set
        ("processing", "2017-03-22T19:28:08", [], PaymentStatus.PAID),
        ("completed", None, [{"id": 1, "total": "-1.00"}], PaymentStatus.PARTIALLY_REFUNDED),
        ("cancelled", "2017-03-22T19:28:08", [], PaymentStatus.PAID),  # paid, then cancelled: money is in
        ("cancelled", None, [], PaymentStatus.UNPAID),
        ("refunded", "2017-03-22T19:28:08", [{"id": 1, "total": "-29.35"}], PaymentStatus.REFUNDED),
    ],
)
def test_payment_rule(
    status: str, date_paid_gmt: str | None, refunds: list[dict[str, Any]], expected: PaymentStatus
) -> None:
    order = retrieved() | {"status": status, "date_paid_gmt": date_paid_gmt, "refunds": refunds}
    assert map_order(order, CTX).payment_status is expected


def test_cancelled() -> None:
    order = map_order(retrieved() | {"status": "cancelled"}, CTX)
    assert order.cancelled
    assert order.status is OrderStatus.CANCELLED


# --- money --------------------------------------------------------------------------------------------------


def test_float_line_prices_become_the_decimals_written_in_json() -> None:
    body = json.loads(json.dumps(retrieved()).replace('"subtotal": "6.00"', '"subtotal": "0.60"'))
    body["line_items"][0] |= {"total": "0.60", "price": json.loads("0.3")}
    body["line_items"][1] |= {"price": json.loads("0.30000000000000004")}  # what PHP may print for 0.1 + 0.2
    body |= {"total": "23.95"}
    order = map_order(body, CTX)
    assert str(order.lines[0].unit_price.amount) == "0.30"  # 0.3 as written, in cents
    assert order.lines[1].unit_price.amount == Decimal("0.30000000000000004")  # as written: not rounded
    assert order.subtotal == usd("12.60")
    assert order.totals_difference is None


def test_coupons_fees_and_tax_inclusive_prices_add_up() -> None:
    """A shop entering prices with tax: WooCommerce still reports line amounts without it."""
    order = retrieved() | {
        "prices_include_tax": True,
        "line_items": [
            {"id": 1, "name": "Mug", "sku": "MUG", "quantity": 3, "subtotal": "30.00", "total": "27.00", "price": 9},
        ],
        "discount_total": "3.00",
        "shipping_total": "4.13",
        "fee_lines": [{"id": 5, "name": "Packaging", "total": "1.65"}, {"id": 6, "name": "Loyalty", "total": "-1.00"}],
        "total_tax": "6.62",
        "total": "38.40",
    }
    mapped = map_order(order, CTX)
    assert mapped.lines[0].total == usd("27.00")
    assert (mapped.subtotal, mapped.shipping_total, mapped.discount_total) == (usd("30.00"), usd("4.78"), usd("3.00"))
    assert mapped.totals_difference is None


def test_a_zero_decimal_currency() -> None:
    order = retrieved() | {
        "currency": "JPY",
        "line_items": [{"id": 1, "name": "Tea", "sku": "TEA", "quantity": 2, "subtotal": "3000", "total": "3000"}],
        "shipping_total": "500",
        "total_tax": "0",
        "total": "3500",
    }
    order["line_items"][0]["price"] = 1500
    mapped = map_order(order, CTX)
    assert mapped.total == Money(Decimal("3500"), "JPY")
    assert format(mapped.lines[0].unit_price.amount, "f") == "1500"
    assert mapped.totals_difference is None


def test_totals_that_do_not_add_up_are_flagged() -> None:
    order = map_order(retrieved() | {"total": "30.00"}, CTX)
    assert order.total == usd("30.00")
    assert order.totals_difference == usd("0.65")


# --- unmappable payloads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": None}, "order has no 'id'"),
        ({"total": "12,00"}, "total '12,00' is not a decimal"),
        ({"currency": "dollars"}, "currency 'dollars' is not an ISO 4217 code"),
        ({"date_created_gmt": None}, "order has no 'date_created_gmt'"),
        ({"date_created_gmt": "22/03/2017"}, "date_created_gmt '22/03/2017' is not an ISO-8601 date"),
        ({"line_items": None}, "order has no 'line_items'"),
        (
            {"line_items": [{"name": "Mug", "quantity": -2, "price": 3, "subtotal": "-6.00", "total": "-6.00"}]},
            "line 1 quantity -2",
        ),
        (
            {"line_items": [{"name": "Mug", "quantity": 1, "price": "three", "subtotal": "3", "total": "3"}]},
            "line 1 price 'three'",
        ),
    ],
)
def test_unmappable_payloads_are_skippable_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(SkippableError) as caught:
        map_order(retrieved() | changes, CTX)
    assert reason in str(caught.value)
    assert (caught.value.store, caught.value.platform) == ("woo", "woocommerce")
    assert caught.value.external_id == ("" if changes.get("id", 1) is None else "727")


def test_a_deleted_webhook_body_is_skippable() -> None:
    with pytest.raises(SkippableError, match="order has no 'currency'"):
        map_order({"id": 727}, CTX)


# --- properties ---------------------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=100_000)


def money_text(amount: int) -> str:
    return str(Decimal(amount).scaleb(-2))


@st.composite
def woo_orders(draw: st.DrawFn) -> dict[str, Any]:
    """Self-consistent orders: total = line totals + shipping + fees + tax; discount = subtotals - totals."""
    lines, subtotal, discount = [], 0, 0
    for index in range(draw(st.integers(min_value=0, max_value=4))):
        quantity = draw(st.integers(min_value=1, max_value=5))
        line_subtotal = draw(cents)
        line_total = line_subtotal - draw(st.integers(min_value=0, max_value=line_subtotal))
        subtotal, discount = subtotal + line_subtotal, discount + line_subtotal - line_total
        price = json.loads(json.dumps(line_total / 100 / quantity))  # WooCommerce's float price
        lines.append(
            {
                "id": index,
                "name": f"Item {index}",
                "sku": f"SKU-{index}",
                "quantity": quantity,
                "subtotal": money_text(line_subtotal),
                "total": money_text(line_total),
                "price": price,
            }
        )
    shipping, fee, tax = draw(cents), draw(st.integers(min_value=-500, max_value=500)), draw(cents)
    total = subtotal - discount + shipping + fee + tax
    return retrieved() | {
        "line_items": lines,
        "discount_total": money_text(discount),
        "shipping_total": money_text(shipping),
        "fee_lines": [{"id": 1, "name": "Fee", "total": money_text(fee)}],
        "total_tax": money_text(tax),
        "total": money_text(total),
        "status": draw(st.sampled_from(["pending", "processing", "completed", "on-hold", "my-custom"])),
    }


@given(woo_orders())
def test_consistent_orders_add_up(raw: dict[str, Any]) -> None:
    assert map_order(raw, CTX).totals_difference is None


@given(woo_orders())
def test_mapping_is_deterministic_and_leaves_the_payload_alone(raw: dict[str, Any]) -> None:
    before = copy.deepcopy(raw)
    assert map_order(raw, CTX) == map_order(raw, CTX)
    assert raw == before
