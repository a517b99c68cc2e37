"""BigCommerce mapping: the Orders V2 spec's examples with their sub-resources attached, pickup consignments,
status_id and payment rules, 4-decimal money, tax-inclusive stores, webhook bodies and unmappable payloads."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from samples import load_json

from connector.mapping.bigcommerce import map_order
from connector.mapping.context import MappingContext, ReservationRule
from connector.orders.model import Address, Customer, Money, OrderKind, OrderStatus, PaymentStatus
from connector.runtime.errors import SkippableError

CTX = MappingContext(store="bc", locations={"1": "amsterdam"})


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def example(name: str) -> Any:
    """A fixture carrying one of the Orders V2 spec's examples (tests/fixtures/README.md says which)."""
    return load_json("bigcommerce", name)


def spec_products() -> list[dict[str, Any]]:
    products: list[dict[str, Any]] = example("order_products.json")
    return products


def shipping_address() -> dict[str, Any]:
    address: dict[str, Any] = example("order_shipping_address.json")
    return address


def product(index: int, quantity: int, price_ex: str, price_inc: str, **extra: Any) -> dict[str, Any]:
    """An order product shaped like the spec's, with the given prices (4-decimal strings like the API's)."""
    ex, inc = Decimal(price_ex), Decimal(price_inc)
    return spec_products()[0] | {
        "id": 100 + index,
        "sku": f"SKU-{index}",
        "name": f"Item {index}",
        "quantity": quantity,
        "price_ex_tax": f"{ex:.4f}",
        "price_inc_tax": f"{inc:.4f}",
        "total_ex_tax": f"{ex * quantity:.4f}",
        "total_inc_tax": f"{inc * quantity:.4f}",
        "applied_discounts": [],
        "order_pickup_method_id": 0,
        **extra,
    }


def multiple_items() -> dict[str, Any]:
    """The spec's 'Multiple Items' order (247), with products that make its 11 items and 924.47 subtotal."""
    order: dict[str, Any] = example("order--multiple-items.json")
    order["products"] = [product(1, 10, "84.00", "90.92"), product(2, 1, "84.47", "91.54")]
    order["shipping_addresses"] = [shipping_address()]
    return order


# --- the spec's examples ------------------------------------------------------------------------------------


def test_multiple_items_example_maps_field_by_field() -> None:
    order = map_order(multiple_items(), CTX)
    assert (order.store, order.external_id, order.number, order.platform_status) == ("bc", "247", "247", "11")
    assert (order.kind, order.payment_status) == (OrderKind.DELIVERY, PaymentStatus.PAID)  # captured
    assert order.currency == "USD"
    assert order.created_at == datetime(2019, 6, 20, 16, 7, 8, tzinfo=UTC)
    assert order.updated_at == datetime(2019, 6, 20, 16, 7, 8, tzinfo=UTC)
    assert (order.subtotal, order.shipping_total, order.tax_total, order.discount_total, order.total) == (
        usd("924.47"),
        usd("7.39"),
        usd("76.88"),
        usd("0.00"),
        usd("1008.74"),
    )
    assert order.totals_difference is None
    assert order.customer == Customer(name="Jane Doe", email="janedoe@email.com", phone="1234567890")
    assert order.shipping_address == Address(
        name="Jane Doe",
        line1="123 MainStreet",
        city="Austin",
        postcode="78751",
        region="Texas",
        country="US",
        phone="1234567890",
    )
    assert order.note == "Custom Journal Added"  # customer_message; staff_notes stay internal
    assert [(line.sku, line.quantity, line.unit_price, line.total) for line in order.lines] == [
        ("SKU-1", 10, usd("84.00"), usd("840.00")),  # "84.0000" written as dollars and cents
        ("SKU-2", 1, usd("84.47"), usd("84.47")),
    ]
    assert order.lines[0].external_id == "101"  # the order_product_id shipments need


def test_the_spec_products_example() -> None:
    order = multiple_items() | {"products": spec_products()}
    lines = map_order(order, CTX).lines
    assert [(line.sku, line.name, line.unit_price, line.total) for line in lines] == [
        ("S-ORAN", "Fog Linen Chambray Towel - Beige Stripe", usd("55.99"), usd("54.40")),  # minus applied 1.59
        ("ABS", "Able Brewing System", usd("0.00"), usd("0.00")),  # a bundle's component, picked like any line
    ]


def test_the_collection_example_does_not_add_up_and_is_flagged() -> None:
    """The spec's order 100 reports subtotal_ex_tax 336.32, no shipping, no tax and a total of 361.95."""
    order = example("orders.json")[0]
    order["products"] = [product(1, 1, "336.32", "361.95")]
    mapped = map_order(order, CTX)
    assert (mapped.external_id, mapped.payment_status) == ("100", PaymentStatus.AUTHORIZED)
    assert (mapped.subtotal, mapped.total) == (usd("336.32"), usd("361.95"))
    assert mapped.totals_difference == usd("25.63")


def test_response_example_with_its_fee_as_published_is_refused() -> None:
    """The spec's order 218 spells one fee's `cost_ex_tax` as `cost_exc_tax`: an unknown fee is not guessed."""
    order = example("order.json") | {"products": spec_products(), "shipping_addresses": []}
    with pytest.raises(SkippableError) as caught:
        map_order(order, CTX)
    assert str(caught.value) == "fee 1 has no 'cost_ex_tax'"
    assert caught.value.external_id == "218"


def test_response_example_discounts_and_fees() -> None:
    order = example("order.json") | {"products": spec_products(), "shipping_addresses": []}
    order["fees"][0]["cost_ex_tax"] = order["fees"][0].pop("cost_exc_tax")
    mapped = map_order(order, CTX)
    assert (mapped.platform_status, mapped.payment_status) == ("7", PaymentStatus.AUTHORIZED)
    assert mapped.discount_total == usd("10.00")  # discount_amount 5 + coupon_discount 5
    assert mapped.shipping_total == usd("27.39")  # shipping 11.09 + fees 12.30 and 4.00, without tax
    assert mapped.tax_total == usd("5.31")
    assert mapped.total == usd("69.84")
    assert mapped.shipping_address is None


# --- pickup -------------------------------------------------------------------------------------------------


def test_a_pickup_consignment_makes_a_pickup_pinned_to_its_location() -> None:
    consignments = example("order_consignments--pickup.json")
    order = map_order(multiple_items() | {"consignments": consignments, "shipping_addresses": []}, CTX)
    assert order.kind is OrderKind.PICKUP
    assert order.pickup_location == "amsterdam"
    assert (
        map_order(multiple_items() | {"consignments": consignments}, MappingContext(store="bc")).pickup_location == "1"
    )


def test_a_product_picked_up_makes_a_pickup() -> None:
    order = multiple_items()
    order["products"][1]["order_pickup_method_id"] = 3
    mapped = map_order(order, CTX)
    assert mapped.kind is OrderKind.PICKUP
    assert mapped.pickup_location == ""  # no consignment attached: the location is unknown


def test_shipping_consignments_only_deliver() -> None:
    order = multiple_items() | {"consignments": {"shipping": [{"id": 1}], "pickups": [], "digital": []}}
    assert map_order(order, CTX).kind is OrderKind.DELIVERY


def test_a_reservation_status_wins() -> None:
    ctx = MappingContext(store="bc", reservation=ReservationRule(statuses=frozenset({"12"})))
    assert map_order(multiple_items() | {"status_id": 12}, ctx).kind is OrderKind.RESERVATION
    assert map_order(multiple_items(), ctx).kind is OrderKind.DELIVERY


# --- statuses -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status_id", "payment_status", "expected"),
    [
        (11, "captured", PaymentStatus.PAID),
        (11, "paid", PaymentStatus.PAID),
        (7, "authorized", PaymentStatus.AUTHORIZED),
        (7, "pending", PaymentStatus.PENDING),
        (12, "held for review", PaymentStatus.PENDING),
        (6, "declined", PaymentStatus.UNPAID),
        (5, "void", PaymentStatus.VOIDED),
        (4, "refunded", PaymentStatus.REFUNDED),
        (4, "", PaymentStatus.REFUNDED),
        (14, "captured", PaymentStatus.PARTIALLY_REFUNDED),
        (7, "", PaymentStatus.UNPAID),  # offline payment, not yet confirmed
        (11, "", PaymentStatus.PAID),  # offline payment the merchant confirmed
        (10, "", PaymentStatus.PAID),
        (0, "", PaymentStatus.UNPAID),
        (11, "some new value", PaymentStatus.PAID),
    ],
)
def test_payment_rule(status_id: int, payment_status: str, expected: PaymentStatus) -> None:
    order = map_order(multiple_items() | {"status_id": status_id, "payment_status": payment_status}, CTX)
    assert order.payment_status is expected
    assert order.platform_status == str(status_id)


def test_status_5_cancels_whatever_the_label() -> None:
    order = map_order(multiple_items() | {"status_id": 5, "status": "Storniert", "custom_status": "Storniert"}, CTX)
    assert order.cancelled
    assert order.status is OrderStatus.CANCELLED
    assert not map_order(multiple_items() | {"status_id": 6}, CTX).cancelled


def test_an_unknown_status_id_is_kept() -> None:
    order = map_order(multiple_items() | {"status_id": 42}, CTX)
    assert (order.platform_status, order.payment_status) == ("42", PaymentStatus.PAID)


# --- money --------------------------------------------------------------------------------------------------


def test_tax_inclusive_store() -> None:
    """Prices include 10% tax: 2 x 11.00 with 2.20 off, shipping 5.50 (0.50 tax); the customer pays 25.30."""
    order = multiple_items() | {
        "is_tax_inclusive_pricing": True,
        "products": [product(1, 2, "10.00", "11.00")],
        "shipping_cost_ex_tax": "5.0000",
        "handling_cost_ex_tax": "0.0000",
        "wrapping_cost_ex_tax": "0.0000",
        "subtotal_tax": "1.8000",  # the tax in the goods after the discount
        "total_tax": "2.3000",
        "discount_amount": "2.2000",
        "coupon_discount": "0.0000",
        "total_inc_tax": "25.3000",
    }
    mapped = map_order(order, CTX)
    assert (mapped.lines[0].unit_price, mapped.lines[0].total) == (usd("11.00"), usd("22.00"))  # as quoted
    assert (mapped.subtotal, mapped.shipping_total, mapped.tax_total, mapped.discount_total) == (
        usd("20.20"),
        usd("5.00"),
        usd("2.30"),
        usd("2.20"),
    )
    assert mapped.totals_difference is None


def test_a_zero_decimal_currency() -> None:
    order = multiple_items() | {
        "default_currency_code": "JPY",
        "products": [product(1, 2, "1500", "1500")],
        "shipping_cost_ex_tax": "500.0000",
        "total_tax": "0.0000",
        "total_inc_tax": "3500.0000",
    }
    mapped = map_order(order, CTX)
    assert mapped.total == Money(Decimal("3500"), "JPY")
    assert format(mapped.total.amount, "f") == "3500"
    assert mapped.totals_difference is None


# --- unmappable payloads ------------------------------------------------------------------------------------


def test_the_published_order_with_resource_links_is_refused() -> None:
    with pytest.raises(SkippableError) as caught:
        map_order(example("order--multiple-items.json"), CTX)
    assert "order products are not attached" in str(caught.value)
    assert caught.value.external_id == "247"


@pytest.mark.parametrize("hook", ["store_order_created.json", "store_order_statusUpdated.json"])
def test_a_webhook_body_is_refused_with_what_to_do(hook: str) -> None:
    body = load_json("bigcommerce", "webhooks", hook)
    with pytest.raises(SkippableError, match=r"webhook body, not an order: fetch order 250 first") as caught:
        map_order(body, CTX)
    assert caught.value.external_id == "250"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": None}, "order has no 'id'"),
        ({"total_inc_tax": "1.008,74"}, "total_inc_tax '1.008,74' is not a decimal"),
        ({"default_currency_code": ""}, "order has no 'default_currency_code'"),
        ({"status_id": "eleven"}, "status_id 'eleven' is not a decimal"),
        ({"date_created": "20/06/2019"}, "date_created '20/06/2019' is not an ISO-8601 date"),
        ({"products": [{"sku": "A", "quantity": -1, "price_ex_tax": "1", "total_ex_tax": "-1"}]}, "negative"),
        ({"products": [{"sku": "A", "quantity": 1, "price_ex_tax": "1"}]}, "line 1 has no 'total_ex_tax'"),
    ],
)
def test_unmappable_payloads_are_skippable_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(SkippableError) as caught:
        map_order(multiple_items() | changes, CTX)
    assert reason in str(caught.value)
    assert (caught.value.store, caught.value.platform) == ("bc", "bigcommerce")


# --- properties ---------------------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=100_000).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def bc_orders(draw: st.DrawFn) -> dict[str, Any]:
    """Self-consistent orders, tax-exclusive or tax-inclusive, in 4-decimal strings."""
    inclusive = draw(st.booleans())
    products, lines_ex, lines_inc = [], Decimal(0), Decimal(0)
    for index in range(draw(st.integers(min_value=0, max_value=4))):
        quantity, ex = draw(st.integers(min_value=0, max_value=5)), draw(cents)
        inc = ex + draw(cents)
        products.append(product(index, quantity, str(ex), str(inc)))
        lines_ex, lines_inc = lines_ex + ex * quantity, lines_inc + inc * quantity
    shipping, handling, tax, goods_tax = draw(cents), draw(cents), draw(cents), draw(cents)
    discount_amount = Decimal(draw(st.integers(min_value=0, max_value=int(lines_ex * 100)))).scaleb(-2)
    goods = lines_inc - goods_tax if inclusive else lines_ex
    total = goods + shipping + handling + tax - discount_amount
    return multiple_items() | {
        "is_tax_inclusive_pricing": inclusive,
        "products": products,
        "subtotal_tax": f"{goods_tax:.4f}",
        "shipping_cost_ex_tax": f"{shipping:.4f}",
        "handling_cost_ex_tax": f"{handling:.4f}",
        "total_tax": f"{tax:.4f}",
        "discount_amount": f"{discount_amount:.4f}",
        "total_inc_tax": f"{total:.4f}",
        "status_id": draw(st.sampled_from([0, 1, 7, 9, 10, 11, 12])),
    }


@given(bc_orders())
def test_consistent_orders_add_up(raw: dict[str, Any]) -> None:
    assert map_order(raw, CTX).totals_difference is None


@given(bc_orders())
def test_mapping_is_deterministic_and_leaves_the_payload_alone(raw: dict[str, Any]) -> None:
    before = copy.deepcopy(raw)
    assert map_order(raw, CTX) == map_order(raw, CTX)
    assert raw == before
