"""Lightspeed eCom mapping: orders shaped like the public third-party samples (Pipedream's `order-updated` webhook
body, NickTacke's client schema), bare, wrapped and with embedded products; statuses, pickup, payment, money as
JSON floats in excl/incl pairs, the context's currency and unmappable payloads.

No official Lightspeed fixture exists, so the payloads are built here, field for field in the shape of those
samples, with made-up values and no personal data; Pipedream's body itself is `tests/fixtures/lightspeed/`.
"""

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
from connector.mapping.lightspeed import map_order
from connector.orders.model import Address, Customer, Money, OrderKind, OrderStatus, PaymentStatus
from connector.runtime.errors import SkippableError

CTX = MappingContext(store="ls", currency="EUR", locations={"Pick up in Amsterdam": "amsterdam"})
API = "https://api.webshopapp.com/nl"


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def resource(url: str, embedded: Any = None, id_: Any = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"id": id_, "url": url, "link": f"{API}/{url}.json"}
    if embedded is not None:
        ref["embedded"] = embedded
    return {"resource": ref}


def order_product(
    id_: int, title: str, sku: str, quantity: int, excl: float, incl: float, **prices: Any
) -> dict[str, Any]:
    """An `orderProduct` as Pipedream's sample and NickTacke's `orderProductSchema` show it."""
    product: dict[str, Any] = {
        "id": id_,
        "supplierTitle": "",
        "brandTitle": "Example Brand",
        "productTitle": title,
        "variantTitle": "",
        "taxRate": 0.21,
        "taxRates": [{"name": "BTW", "rate": 0.21, "amount": round((incl - excl) * quantity, 2)}],
        "quantityOrdered": quantity,
        "quantityInvoiced": quantity,
        "quantityShipped": 0,
        "quantityRefunded": 0,
        "quantityReturned": 0,
        "articleCode": "",
        "ean": "",
        "sku": sku,
        "weight": 0,
        "volume": 0,
        "colli": 0,
        "sizeX": 0,
        "sizeY": 0,
        "sizeZ": 0,
        "priceCost": 0,
        "customExcl": 0,
        "customIncl": 0,
        "basePriceExcl": excl,
        "basePriceIncl": incl,
        "priceExcl": round(excl * quantity, 2),
        "priceIncl": round(incl * quantity, 2),
        "discountExcl": 0,
        "discountIncl": 0,
        "customFields": False,
        "product": resource(f"products/{id_ + 1000}", id_=id_ + 1000),
        "variant": resource(f"variants/{id_ + 2000}", id_=id_ + 2000),
    }
    return product | prices


def products() -> list[dict[str, Any]]:
    """2 x 10.00 and 1 x 5.00 with 1.00 off (excl. 21% VAT)."""
    return [
        order_product(1, "Mug", "MUG-1", 2, 10.0, 12.1),
        order_product(
            2, "Tea towel", "TT-2", 1, 5.0, 6.05, discountExcl=1.0, discountIncl=1.21, priceExcl=4.0, priceIncl=4.84
        ),
    ]


def order(**changes: Any) -> dict[str, Any]:
    """An order object in the shape of Pipedream's `order-updated` sample; it adds up: 30.00 excl., 36.30 incl."""
    body: dict[str, Any] = {
        "id": 123,
        "createdAt": "2025-09-17T19:12:38+02:00",
        "updatedAt": "2025-09-17T19:20:56+02:00",
        "number": "ORD00002",
        "status": "processing_awaiting_shipment",
        "customStatusId": None,
        "channel": "",
        "remoteIp": "192.0.2.1",
        "userAgent": "WebshopappApi",
        "referralId": False,
        "priceCost": 0,
        "priceExcl": 30.0,
        "priceIncl": 36.3,
        "weight": 0,
        "volume": 0,
        "colli": 0,
        "gender": "female",
        "birthDate": False,
        "nationalId": "",
        "email": "customer@example.com",
        "firstname": "Jane",
        "middlename": "van",
        "lastname": "Example",
        "phone": "",
        "mobile": "+31 600000000",
        "newsletterSubscribed": False,
        "isCompany": False,
        "companyName": "",
        "companyCoCNumber": "",
        "companyVatNumber": "",
        "addressBillingName": "Jane van Example",
        "addressShippingCompany": False,
        "addressShippingName": "Jane van Example",
        "addressShippingStreet": "Voorbeeldstraat",
        "addressShippingStreet2": "",
        "addressShippingNumber": "12",
        "addressShippingExtension": "B",
        "addressShippingZipcode": "1011 AA",
        "addressShippingCity": "Amsterdam",
        "addressShippingRegion": "",
        "addressShippingCountry": {"id": 150, "code": "nl", "code3": "nld", "title": "Nederland"},
        "paymentId": "ideal",
        "paymentStatus": "paid",
        "paymentIsPost": False,
        "paymentIsInvoiceExternal": False,
        "paymentTaxRate": 0.21,
        "paymentBasePriceExcl": 1.0,
        "paymentBasePriceIncl": 1.21,
        "paymentPriceExcl": 1.0,
        "paymentPriceIncl": 1.21,
        "paymentTitle": "iDEAL",
        "paymentData": {"user_id": None},
        "shipmentId": "core|85518|424529",
        "shipmentStatus": "not_shipped",
        "shipmentIsCashOnDelivery": False,
        "shipmentIsPickup": False,
        "shipmentTaxRate": 0.21,
        "shipmentBasePriceExcl": 5.0,
        "shipmentBasePriceIncl": 6.05,
        "shipmentPriceExcl": 5.0,
        "shipmentPriceIncl": 6.05,
        "shipmentDiscountExcl": 0,
        "shipmentDiscountIncl": 0,
        "shipmentTitle": "PostNL",
        "shipmentData": {"method": "default", "shipment_id": 85518, "shipping_value_id": 424529},
        "shippingDate": None,
        "deliveryDate": None,
        "isDiscounted": True,
        "discountType": "amount",
        "discountAmount": 1.0,
        "discountPercentage": 0,
        "discountCouponCode": "",
        "taxRates": [{"name": "BTW", "rate": 0.21, "amount": 6.3}],
        "isNewCustomer": False,
        "comment": "Please ring twice",
        "memo": "internal: customer called",
        "allowNotifications": True,
        "doNotifyNew": True,
        "doNotifyReminder": False,
        "doNotifyCancelled": False,
        "language": {"id": 1, "code": "nl", "locale": "nl_NL", "title": "Nederlands"},
        "customer": resource("customers/456", id_=456),
        "invoices": resource("invoices?order=123"),
        "shipments": resource("shipments?order=123"),
        "products": products(),  # attached by the client from GET /orders/123/products.json
        "metafields": resource("orders/123/metafields"),
        "events": resource("orders/events?order=123"),
        "giftCardsPayment": [],
    }
    return body | changes


# --- shapes -------------------------------------------------------------------------------------------------


def test_an_order_maps_field_by_field() -> None:
    mapped = map_order(order(), CTX)
    assert (mapped.store, mapped.external_id, mapped.number) == ("ls", "123", "ORD00002")
    assert (mapped.kind, mapped.payment_status, mapped.platform_status) == (
        OrderKind.DELIVERY,
        PaymentStatus.PAID,
        "processing_awaiting_shipment",
    )
    assert mapped.currency == "EUR"  # from the context: the payload names none
    assert mapped.created_at == datetime(2025, 9, 17, 17, 12, 38, tzinfo=UTC)
    assert mapped.updated_at == datetime(2025, 9, 17, 17, 20, 56, tzinfo=UTC)
    assert mapped.customer == Customer(name="Jane van Example", email="customer@example.com", phone="+31 600000000")
    assert mapped.shipping_address == Address(
        name="Jane van Example",
        line1="Voorbeeldstraat 12 B",
        city="Amsterdam",
        postcode="1011 AA",
        country="NL",
        phone="+31 600000000",
    )
    assert mapped.note == "Please ring twice"  # the customer's comment; the memo is internal
    assert not mapped.cancelled


def test_lines_and_totals() -> None:
    mapped = map_order(order(), CTX)
    assert [(line.sku, line.name, line.quantity, line.unit_price, line.total) for line in mapped.lines] == [
        ("MUG-1", "Mug", 2, eur("10.00"), eur("20.00")),
        ("TT-2", "Tea towel", 1, eur("5.00"), eur("4.00")),
    ]
    assert (mapped.subtotal, mapped.shipping_total, mapped.tax_total, mapped.discount_total, mapped.total) == (
        eur("25.00"),
        eur("6.00"),  # shipment 5.00 + payment fee 1.00, excl. VAT
        eur("6.30"),  # priceIncl - priceExcl
        eur("1.00"),
        eur("36.30"),
    )
    assert mapped.totals_difference is None


def test_the_webhook_body_with_embedded_products_maps_the_same() -> None:
    embedded = order(products=resource("orders/123/products", embedded=products()))
    assert map_order({"order": embedded}, CTX) == map_order(order(), CTX)


def test_a_single_get_wrapped_with_products_attached_beside_it() -> None:
    body = order()
    attached = body.pop("products")
    assert map_order({"order": body, "products": attached}, CTX) == map_order(order(), CTX)


def test_pipedreams_sample_all_zero() -> None:
    """Pipedream's `order-updated` sample: a shipped, paid order whose amounts are all 0 and whose SKU is empty."""
    mapped = map_order(load_json("lightspeed", "order-updated.json"), CTX)
    assert (mapped.external_id, mapped.number, mapped.currency) == ("123", "ORD00002", "EUR")
    assert (mapped.platform_status, mapped.payment_status, mapped.kind) == (
        "completed_shipped",
        PaymentStatus.PAID,
        OrderKind.DELIVERY,
    )
    assert mapped.created_at == datetime(2025, 9, 17, 19, 12, 38, tzinfo=UTC)
    assert mapped.total == eur("0.00")
    assert mapped.totals_difference is None
    assert [(line.sku, line.name, line.quantity) for line in mapped.lines] == [("", "Product Title", 1)]
    assert mapped.customer == Customer(name="John Doe", email="customer@email.com", phone="+1 111111111")


def test_article_code_stands_in_for_a_missing_sku() -> None:
    body = order()
    body["products"][0] |= {"sku": "", "articleCode": "ART-1"}
    assert map_order(body, CTX).lines[0].sku == "ART-1"


def test_a_numeric_order_number_becomes_text() -> None:
    assert map_order(order(number=1001), CTX).number == "1001"


def test_a_currency_in_the_payload_wins_over_the_context() -> None:
    assert map_order(order(currency="usd"), CTX).currency == "USD"
    assert map_order(order(), MappingContext(store="ls", currency="GBP")).total == Money(Decimal("36.30"), "GBP")


# --- kinds and statuses -------------------------------------------------------------------------------------


def test_a_pickup_shipment_pins_the_order_to_its_location() -> None:
    mapped = map_order(order(shipmentIsPickup=True, shipmentTitle="Pick up in Amsterdam"), CTX)
    assert mapped.kind is OrderKind.PICKUP
    assert mapped.pickup_location == "amsterdam"
    other = map_order(order(shipmentIsPickup=True, shipmentTitle="Pick up in Utrecht"), CTX)
    assert other.pickup_location == "core|85518|424529"  # unknown: the platform's id


@pytest.mark.parametrize("status", ["processing_awaiting_pickup", "processing_ready_for_pickup", "completed_picked_up"])
def test_pickup_statuses_make_a_pickup(status: str) -> None:
    assert map_order(order(status=status), CTX).kind is OrderKind.PICKUP


def test_reservations_by_status_or_custom_status() -> None:
    ctx = MappingContext(store="ls", reservation=ReservationRule(statuses=frozenset({"on_hold", "77"})))
    assert map_order(order(status="on_hold"), ctx).kind is OrderKind.RESERVATION
    assert map_order(order(customStatusId=77, shipmentIsPickup=True), ctx).kind is OrderKind.RESERVATION
    assert map_order(order(), ctx).kind is OrderKind.DELIVERY


@pytest.mark.parametrize(
    ("payment_status", "expected"),
    [
        ("not_paid", PaymentStatus.UNPAID),
        ("partially_paid", PaymentStatus.PARTIALLY_PAID),
        ("paid", PaymentStatus.PAID),
        ("cancelled", PaymentStatus.VOIDED),
        ("something_else", PaymentStatus.UNPAID),
    ],
)
def test_payment_statuses(payment_status: str, expected: PaymentStatus) -> None:
    assert map_order(order(paymentStatus=payment_status), CTX).payment_status is expected


def test_cancelled_and_unknown_statuses() -> None:
    cancelled = map_order(order(status="cancelled"), CTX)
    assert cancelled.cancelled
    assert cancelled.status is OrderStatus.CANCELLED
    assert map_order(order(status="offer"), CTX).platform_status == "offer"  # kept, not fatal


# --- money --------------------------------------------------------------------------------------------------


def test_floats_are_the_decimals_written_in_json() -> None:
    body = json.loads(json.dumps(order()))  # a real round trip through JSON text
    mapped = map_order(body, CTX)
    assert str(mapped.total.amount) == "36.30"
    assert str(mapped.tax_total.amount) == "6.30"  # 36.3 - 30.0 exactly, not 6.299999999999997


def test_unrounded_vat_is_kept_and_the_difference_flagged() -> None:
    """Lightspeed sends base prices incl. VAT unrounded (e.g. 9.198); excl. amounts that do not add up to
    priceExcl show as a difference rather than being rounded away."""
    body = order(priceExcl=30.004)
    mapped = map_order(body, CTX)
    assert mapped.tax_total == Money(Decimal("6.296"), "EUR")
    assert mapped.totals_difference == Money(Decimal("0.004"), "EUR")


# --- unmappable payloads ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": None}, "order has no 'id'"),
        ({"priceIncl": "36,30"}, "priceIncl '36,30' is not a decimal"),
        ({"priceExcl": None}, "order has no 'priceExcl'"),
        ({"createdAt": "17-09-2025"}, "createdAt '17-09-2025' is not an ISO-8601 date"),
        ({"products": resource("orders/123/products")}, "order products are not attached"),
        ({"products": None}, "order products are not attached"),
        ({"currency": "euro"}, "currency 'euro' is not an ISO 4217 code"),
    ],
)
def test_unmappable_payloads_are_skippable_with_a_reason(changes: dict[str, Any], reason: str) -> None:
    with pytest.raises(SkippableError) as caught:
        map_order({"order": order(**changes)}, CTX)
    assert reason in str(caught.value)
    assert (caught.value.store, caught.value.platform) == ("ls", "lightspeed")
    assert caught.value.external_id == ("" if "id" in changes else "123")


def test_a_negative_quantity_is_skippable() -> None:
    body = order()
    body["products"][1]["quantityOrdered"] = -1
    with pytest.raises(SkippableError, match="line 2 quantityOrdered -1 is negative"):
        map_order(body, CTX)


# --- properties ---------------------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=100_000)


@st.composite
def ls_orders(draw: st.DrawFn) -> dict[str, Any]:
    """Self-consistent orders written with JSON floats: lines - discounts + shipment + fee = priceExcl."""
    lines, excl = [], 0
    for index in range(draw(st.integers(min_value=0, max_value=4))):
        quantity, base = draw(st.integers(min_value=0, max_value=5)), draw(cents)
        discount = draw(st.integers(min_value=0, max_value=base * quantity))
        excl += base * quantity - discount
        lines.append(
            order_product(index, f"Item {index}", f"SKU-{index}", quantity, base / 100, base * 1.21 / 100)
            | {"discountExcl": discount / 100, "priceExcl": (base * quantity - discount) / 100}
        )
    shipment, fee, vat = draw(cents), draw(cents), draw(cents)
    excl += shipment + fee
    body = order(
        products=lines,
        shipmentPriceExcl=shipment / 100,
        paymentPriceExcl=fee / 100,
        priceExcl=excl / 100,
        priceIncl=(excl + vat) / 100,
        paymentStatus=draw(st.sampled_from(["paid", "not_paid", "partially_paid"])),
    )
    round_tripped: dict[str, Any] = json.loads(json.dumps(body))  # floats as a platform writes them
    return round_tripped


@given(ls_orders())
def test_consistent_orders_add_up(raw: dict[str, Any]) -> None:
    assert map_order(raw, CTX).totals_difference is None


@given(ls_orders())
def test_mapping_is_deterministic_and_leaves_the_payload_alone(raw: dict[str, Any]) -> None:
    before = copy.deepcopy(raw)
    assert map_order(raw, CTX) == map_order(raw, CTX)
    assert raw == before
