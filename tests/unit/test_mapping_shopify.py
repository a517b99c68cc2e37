"""Shopify mapping: the published REST fixtures, fulfillment-order pickup, the GraphQL fragment against the real
2022-07 schema, REST and GraphQL giving the same order, money edge cases and unmappable payloads."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from graphql import GraphQLSchema, build_schema, parse, validate
from hypothesis import given
from hypothesis import strategies as st
from samples import load_json, load_text

from connector.mapping.context import MappingContext, ReservationRule
from connector.mapping.shopify import ORDER_QUERY_FIELDS, map_graphql_order, map_order, map_rest_order
from connector.orders.model import Address, Customer, Money, OrderKind, OrderStatus, PaymentStatus, expected_total
from connector.runtime.errors import SkippableError

CTX = MappingContext(store="apple", locations={"55896015011": "amsterdam"})

ORDERS_QUERY = """
query($q: String) {
  orders(first: 50, query: $q, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderFields }
  }
}
"""


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def order_sample() -> dict[str, Any]:
    sample: dict[str, Any] = load_json("shopify", "order.json")["order"]
    return sample


def fulfillment_order(method_type: str | None = None, status: str = "open") -> dict[str, Any]:
    fo: dict[str, Any] = load_json("shopify", "fulfillment_orders.json")["fulfillment_order"]
    fo["status"] = status
    if method_type is not None:
        fo["delivery_method"] = {"id": 1, "method_type": method_type}
    return fo


# --- the published fixtures ---------------------------------------------------------------------------------


def test_order_fixture_maps_field_by_field() -> None:
    order = map_order(order_sample(), CTX)
    assert (order.store, order.external_id, order.number) == ("apple", "450789469", "#1001")
    assert (order.kind, order.payment_status, order.platform_status) == (
        OrderKind.DELIVERY,
        PaymentStatus.AUTHORIZED,
        "authorized",
    )
    assert order.currency == "USD"
    assert order.created_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)  # 11:00 at -05:00
    assert order.updated_at == datetime(2008, 1, 10, 16, 0, tzinfo=UTC)
    assert not order.cancelled
    assert order.status is OrderStatus.OPEN
    assert order.customer == Customer(name="Bob Norman", email="bob.norman@hostmail.com", phone="")
    assert order.shipping_address == Address(
        name="Bob Norman",
        line1="Chestnut Street 92",
        city="Louisville",
        postcode="40202",
        region="KY",
        country="US",
        phone="555-625-1199",
    )
    assert order.note == ""
    assert [(line.sku, line.quantity, line.unit_price, line.total) for line in order.lines] == [
        ("IPOD2008GREEN", 1, usd("199.00"), usd("199.00")),
        ("IPOD2008RED", 1, usd("199.00"), usd("199.00")),
        ("IPOD2008BLACK", 1, usd("199.00"), usd("199.00")),
    ]
    assert order.lines[0].name == "IPod Nano - 8gb - green"
    assert order.lines[0].external_id == "466157049"


def test_order_fixture_quirk_is_flagged_not_fixed() -> None:
    """samples/README: three lines at 199.00 make 597.00 while subtotal_price is 398.00, and
    total_price (409.94) is subtotal_price + total_tax. The total stays the platform's; the gap is recorded."""
    order = map_order(order_sample(), CTX)
    assert order.subtotal == usd("597.00")  # what the lines say
    assert (order.shipping_total, order.tax_total, order.discount_total) == (usd("0.00"), usd("11.94"), usd("0.00"))
    assert order.total == usd("409.94")
    assert expected_total(order) == usd("608.94")
    assert order.totals_difference == usd("-199.00")


def test_orders_fixture_without_line_items_is_refused() -> None:
    """`orders.json` is trimmed: it has no `line_items` at all. Mapping it as an order without lines would
    release its stock, so it is dead-lettered with the reason instead."""
    listed = load_json("shopify", "orders.json")["orders"][0]
    with pytest.raises(SkippableError) as caught:
        map_order(listed, CTX)
    assert str(caught.value) == "order has no 'line_items'"
    assert (caught.value.store, caught.value.platform, caught.value.external_id) == ("apple", "shopify", "450789469")


def test_orders_fixture_with_its_line_items_adds_up() -> None:
    listed = load_json("shopify", "orders.json")["orders"][0]
    listed["line_items"] = order_sample()["line_items"]
    order = map_order(listed, CTX)
    assert order.payment_status is PaymentStatus.PARTIALLY_REFUNDED
    assert (order.subtotal, order.discount_total, order.tax_total, order.total) == (
        usd("597.00"),
        usd("10.00"),
        usd("11.94"),
        usd("598.94"),
    )
    assert order.totals_difference is None
    assert order.customer.phone == "+557734881234"


def test_a_wrapped_order_is_unwrapped() -> None:
    assert map_order({"order": order_sample()}, CTX) == map_order(order_sample(), CTX)


# --- pickup from fulfillment orders -------------------------------------------------------------------------


@pytest.mark.parametrize("method_type", ["pick_up", "PICK_UP", "Pick_Up"])
def test_a_pick_up_fulfillment_order_makes_a_pickup_pinned_to_its_location(method_type: str) -> None:
    bundle = order_sample() | {"fulfillment_orders": [fulfillment_order(method_type)]}
    order = map_order(bundle, CTX)
    assert order.kind is OrderKind.PICKUP
    assert order.pickup_location == "amsterdam"


def test_an_unknown_pickup_location_keeps_the_platform_id() -> None:
    bundle = order_sample() | {"fulfillment_orders": [fulfillment_order("pick_up")]}
    assert map_order(bundle, MappingContext(store="apple")).pickup_location == "55896015011"


@pytest.mark.parametrize(
    ("fulfillment_orders", "why"),
    [
        ([fulfillment_order()], "the published fulfillment order has no delivery method"),
        ([fulfillment_order("shipping")], "shipping"),
        ([fulfillment_order("PICKUP_POINT")], "a parcel pickup point is shipping, not in-store pickup"),
        ([fulfillment_order("pickup_point")], "the same in REST casing"),
        ([fulfillment_order("local")], "local delivery"),
        ([fulfillment_order("pick_up", status="cancelled")], "a cancelled fulfillment order no longer counts"),
        ([], "no fulfillment orders attached"),
    ],
)
def test_everything_else_is_a_delivery(fulfillment_orders: list[dict[str, Any]], why: str) -> None:
    order = map_order(order_sample() | {"fulfillment_orders": fulfillment_orders}, CTX)
    assert order.kind is OrderKind.DELIVERY, why
    assert order.pickup_location == ""


def test_a_reservation_tag_wins_over_pickup() -> None:
    bundle = order_sample() | {"tags": "vip, Reserve", "fulfillment_orders": [fulfillment_order("pick_up")]}
    ctx = MappingContext(store="apple", reservation=ReservationRule(tags=frozenset({"reserve"})))
    assert map_order(bundle, ctx).kind is OrderKind.RESERVATION
    assert map_order(bundle | {"tags": "vip"}, ctx).kind is OrderKind.PICKUP


# --- statuses -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("financial_status", "expected"),
    [
        ("pending", PaymentStatus.PENDING),
        ("authorized", PaymentStatus.AUTHORIZED),
        ("partially_paid", PaymentStatus.PARTIALLY_PAID),
        ("paid", PaymentStatus.PAID),
        ("partially_refunded", PaymentStatus.PARTIALLY_REFUNDED),
        ("refunded", PaymentStatus.REFUNDED),
        ("voided", PaymentStatus.VOIDED),
        ("expired", PaymentStatus.UNPAID),
        ("something_new", PaymentStatus.UNPAID),
    ],
)
def test_financial_statuses(financial_status: str, expected: PaymentStatus) -> None:
    order = map_order(order_sample() | {"financial_status": financial_status}, CTX)
    assert order.payment_status is expected
    assert order.platform_status == financial_status  # unknown values are kept, not fatal


def test_cancelled_at_cancels() -> None:
    order = map_order(order_sample() | {"cancelled_at": "2008-01-11T09:00:00-05:00"}, CTX)
    assert order.cancelled
    assert order.status is OrderStatus.CANCELLED


# --- money --------------------------------------------------------------------------------------------------


def simple_rest(**changes: Any) -> dict[str, Any]:
    """A small self-consistent REST order: 2 x 10.00 + 5.00 shipping, 10% off the line, 21% tax on top."""
    order: dict[str, Any] = {
        "id": 1,
        "name": "#1",
        "currency": "EUR",
        "created_at": "2024-05-01T10:00:00+02:00",
        "updated_at": "2024-05-01T11:00:00+02:00",
        "financial_status": "paid",
        "taxes_included": False,
        "total_discounts": "2.00",
        "total_tax": "4.83",
        "total_price": "27.83",
        "line_items": [
            {
                "id": 11,
                "sku": "MUG",
                "name": "Mug",
                "price": "10.00",
                "quantity": 2,
                "discount_allocations": [{"amount": "2.00"}],
                "tax_lines": [{"price": "3.78"}],
            }
        ],
        "shipping_lines": [{"price": "5.00", "tax_lines": [{"price": "1.05"}]}],
    }
    return order | changes


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def test_line_discounts_shipping_and_tax_add_up() -> None:
    order = map_order(simple_rest(), CTX)
    assert order.lines[0].unit_price == eur("10.00")
    assert order.lines[0].total == eur("18.00")  # after the discount allocated to the line
    assert (order.subtotal, order.shipping_total, order.tax_total, order.discount_total, order.total) == (
        eur("20.00"),
        eur("5.00"),
        eur("4.83"),
        eur("2.00"),
        eur("27.83"),
    )
    assert order.totals_difference is None


def test_tax_inclusive_prices_take_the_included_tax_out_of_the_parts() -> None:
    """Prices include 21% VAT: lines 2 x 12.10 with 2.42 off, shipping 6.05; the customer pays 27.83."""
    raw = simple_rest(
        taxes_included=True,
        total_discounts="2.42",
        total_tax="4.83",
        total_price="27.83",
        line_items=[
            {
                "id": 11,
                "sku": "MUG",
                "name": "Mug",
                "price": "12.10",
                "quantity": 2,
                "discount_allocations": [{"amount": "2.42"}],
                "tax_lines": [{"price": "3.78"}],
            }
        ],
        shipping_lines=[{"price": "6.05", "tax_lines": [{"price": "1.05"}]}],
    )
    order = map_order(raw, CTX)
    assert order.lines[0].unit_price == eur("12.10")  # lines as the shop quotes them
    assert order.lines[0].total == eur("21.78")
    assert (order.subtotal, order.shipping_total, order.tax_total, order.discount_total) == (
        eur("20.42"),  # 24.20 minus the 3.78 VAT inside the lines
        eur("5.00"),  # 6.05 minus the 1.05 VAT inside shipping
        eur("4.83"),
        eur("2.42"),
    )
    assert order.totals_difference is None


def test_a_zero_decimal_currency() -> None:
    raw = simple_rest(
        currency="JPY",
        total_discounts="0",
        total_tax="0",
        total_price="3500",
        line_items=[{"id": 1, "sku": "TEA", "name": "Tea", "price": "1500", "quantity": 2}],
        shipping_lines=[{"price": "500"}],
    )
    order = map_order(raw, CTX)
    assert order.total == Money(Decimal("3500"), "JPY")
    assert format(order.lines[0].unit_price.amount, "f") == "1500"
    assert order.totals_difference is None


# --- unmappable payloads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": None}, "order has no 'id'"),
        ({"total_price": "12,00"}, "total_price '12,00' is not a decimal"),
        ({"currency": None}, "order has no 'currency'"),
        ({"created_at": "2024-05-01 10:00"}, "created_at '2024-05-01 10:00' has no UTC offset"),
        ({"line_items": [{"sku": "A", "price": "1.00", "quantity": -1}]}, "line 1 quantity -1 is negative"),
        ({"line_items": [{"sku": "A", "quantity": 1}]}, "line 1 has no 'price'"),
        ({"line_items": "MUG x2"}, "line_items is not a JSON array"),
    ],
)
def test_unmappable_payloads_are_skippable_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(SkippableError) as caught:
        map_order(simple_rest(**changes), CTX)
    assert reason in str(caught.value)
    assert (caught.value.store, caught.value.platform) == ("apple", "shopify")


def test_a_payload_that_is_not_an_object_is_skippable() -> None:
    with pytest.raises(SkippableError, match="payload is not a JSON object"):
        map_rest_order(["not", "an", "order"], CTX)  # type: ignore[arg-type]


# --- GraphQL ------------------------------------------------------------------------------------------------


@cache
def admin_schema() -> GraphQLSchema:
    return build_schema(load_text("shopify", "admin-2022-07.graphql"), assume_valid=True)


def test_the_order_fragment_is_valid_against_the_2022_07_admin_schema() -> None:
    errors = validate(admin_schema(), parse(ORDERS_QUERY + ORDER_QUERY_FIELDS))
    assert [error.message for error in errors] == []


def test_the_schema_check_would_catch_a_field_that_does_not_exist() -> None:
    broken = ORDER_QUERY_FIELDS.replace("legacyResourceId", "legacyResourceId noSuchField")
    errors = validate(admin_schema(), parse(ORDERS_QUERY + broken))
    assert any("noSuchField" in error.message for error in errors)


def _amount(value: Any) -> str:
    """Shopify's GraphQL `Decimal` drops trailing zeros (`"199.0"`), unlike REST (`"199.00"`)."""
    text = format(Decimal(str(value)).normalize(), "f")
    return text if "." in text else text + ".0"


def rest_to_graphql(rest: dict[str, Any]) -> dict[str, Any]:
    """The GraphQL `Order` node (as `ORDER_QUERY_FIELDS` selects it) for the same order as a REST payload."""
    currency = rest["currency"]

    def bag(value: Any) -> dict[str, Any]:
        return {"shopMoney": {"amount": _amount(value), "currencyCode": currency}}

    def taxes(item: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"priceSet": bag(t["price"])} for t in item.get("tax_lines", [])]

    customer = rest.get("customer")
    address = rest.get("shipping_address")
    return {
        "id": f"gid://shopify/Order/{rest['id']}",
        "legacyResourceId": str(rest["id"]),
        "name": rest["name"],
        "createdAt": rest["created_at"],
        "updatedAt": rest["updated_at"],
        "cancelledAt": rest.get("cancelled_at"),
        "displayFinancialStatus": (rest.get("financial_status") or "").upper() or None,
        "tags": [tag.strip() for tag in (rest.get("tags") or "").split(",") if tag.strip()],
        "note": rest.get("note"),
        "email": rest.get("email"),
        "phone": rest.get("phone"),
        "currencyCode": currency,
        "taxesIncluded": bool(rest.get("taxes_included")),
        "totalPriceSet": bag(rest["total_price"]),
        "totalTaxSet": bag(rest.get("total_tax", "0")),
        "totalDiscountsSet": bag(rest.get("total_discounts", "0")),
        "customer": customer
        and {k: customer.get(r) for k, r in (("firstName", "first_name"), ("lastName", "last_name"))}
        | {"email": customer.get("email"), "phone": customer.get("phone")},
        "billingAddress": rest.get("billing_address")
        and {"name": rest["billing_address"].get("name"), "phone": rest["billing_address"].get("phone")},
        "shippingAddress": address
        and {
            "name": address.get("name"),
            "firstName": address.get("first_name"),
            "lastName": address.get("last_name"),
            "company": address.get("company"),
            "address1": address.get("address1"),
            "address2": address.get("address2"),
            "city": address.get("city"),
            "zip": address.get("zip"),
            "province": address.get("province"),
            "provinceCode": address.get("province_code"),
            "countryCodeV2": address.get("country_code"),
            "phone": address.get("phone"),
        },
        "shippingLines": {
            "nodes": [
                {"originalPriceSet": bag(s["price"]), "taxLines": taxes(s)} for s in rest.get("shipping_lines", [])
            ]
        },
        "lineItems": {
            "nodes": [
                {
                    "id": f"gid://shopify/LineItem/{item['id']}",
                    "sku": item.get("sku"),
                    "name": item.get("name"),
                    "quantity": item["quantity"],
                    "originalUnitPriceSet": bag(item["price"]),
                    "discountAllocations": [
                        {"allocatedAmountSet": bag(d["amount"])} for d in item.get("discount_allocations", [])
                    ],
                    "taxLines": taxes(item),
                }
                for item in rest["line_items"]
            ]
        },
        "fulfillmentOrders": {
            "nodes": [
                {
                    "id": f"gid://shopify/FulfillmentOrder/{fo['id']}",
                    "status": fo["status"].upper(),
                    "assignedLocation": {"location": {"id": f"gid://shopify/Location/{fo['assigned_location_id']}"}},
                    "deliveryMethod": fo.get("delivery_method")
                    and {"methodType": fo["delivery_method"]["method_type"].upper()},
                    "lineItems": {"nodes": []},
                }
                for fo in rest.get("fulfillment_orders", [])
            ]
        },
    }


def test_the_fixture_as_graphql_maps_to_the_same_order() -> None:
    rest = order_sample() | {"fulfillment_orders": [fulfillment_order("pick_up")]}
    node = rest_to_graphql(rest)
    assert map_graphql_order(node, CTX) == map_rest_order(rest, CTX)
    assert map_order(node, CTX) == map_order(rest, CTX)  # map_order tells the shapes apart


def test_a_graphql_node_without_financial_status_is_unpaid() -> None:
    node = rest_to_graphql(simple_rest()) | {"displayFinancialStatus": None, "totalTaxSet": None}
    order = map_graphql_order(node, CTX)
    assert (order.payment_status, order.platform_status, order.tax_total) == (PaymentStatus.UNPAID, "", eur("0"))


def test_a_graphql_node_without_line_items_is_refused() -> None:
    node = rest_to_graphql(simple_rest())
    del node["lineItems"]
    with pytest.raises(SkippableError, match="order has no 'lineItems'"):
        map_graphql_order(node, CTX)


# --- properties ---------------------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=50_000).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def rest_orders(draw: st.DrawFn) -> dict[str, Any]:
    """Self-consistent REST orders: total = lines + shipping - discounts (+ tax unless prices include it)."""
    included = draw(st.booleans())
    lines, gross, discounts, taxes = [], Decimal(0), Decimal(0), Decimal(0)
    for index in range(draw(st.integers(min_value=0, max_value=4))):
        price, quantity = draw(cents), draw(st.integers(min_value=0, max_value=5))
        discount = min(draw(cents), price * quantity)
        tax = draw(cents)
        gross, discounts, taxes = gross + price * quantity, discounts + discount, taxes + tax
        lines.append(
            {
                "id": index + 1,
                "sku": f"SKU-{index}",
                "name": f"Item {index}",
                "price": str(price),
                "quantity": quantity,
                "discount_allocations": [{"amount": str(discount)}],
                "tax_lines": [{"price": str(tax)}],
            }
        )
    shipping, shipping_tax = draw(cents), draw(cents)
    taxes += shipping_tax
    total = gross + shipping - discounts + (0 if included else taxes)
    return simple_rest(
        taxes_included=included,
        line_items=lines,
        shipping_lines=[{"price": str(shipping), "tax_lines": [{"price": str(shipping_tax)}]}],
        total_discounts=str(discounts),
        total_tax=str(taxes),
        total_price=str(total),
        financial_status=draw(st.sampled_from(["paid", "pending", "authorized", "refunded"])),
        tags=draw(st.sampled_from(["", "reserve", "vip, gift"])),
    )


@given(rest_orders())
def test_consistent_orders_add_up(rest: dict[str, Any]) -> None:
    assert map_order(rest, CTX).totals_difference is None


@given(rest_orders())
def test_mapping_is_deterministic_and_leaves_the_payload_alone(rest: dict[str, Any]) -> None:
    before = copy.deepcopy(rest)
    assert map_order(rest, CTX) == map_order(rest, CTX)
    assert rest == before


@given(rest_orders(), st.sampled_from([None, "pick_up", "shipping", "PICKUP_POINT"]))
def test_rest_and_graphql_give_the_same_order(rest: dict[str, Any], method_type: str | None) -> None:
    if method_type is not None:
        rest["fulfillment_orders"] = [fulfillment_order(method_type)]
    ctx = MappingContext(store="s", reservation=ReservationRule(tags=frozenset({"Reserve"})))
    assert map_graphql_order(rest_to_graphql(rest), ctx) == map_rest_order(rest, ctx)
