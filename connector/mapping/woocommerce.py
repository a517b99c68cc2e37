"""WooCommerce → `Order`, from the REST v3 order (`GET /wp-json/wc/v3/orders/{id}`, also the webhook body).

Rules:

* Dates: the `*_gmt` fields (GMT written without an offset); the others are the site's local time.
* Pickup: a shipping line whose `method_id` (the part before any `:instance` suffix) is `local_pickup` (classic
  checkout) or `pickup_location` (block checkout). The block checkout names the location in the shipping line's
  `pickup_location` meta value; that name, else the line's `instance_id`, is looked up in `ctx.locations`.
  A reservation status (`ctx.reservation.statuses`, a status slug such as `reserved`) wins over both.
* Payment, checked in this order: status `refunded` → refunded; a status WooCommerce counts as paid
  (`processing`, `completed`: its `wc_get_is_paid_statuses()`) or a `date_paid_gmt` → paid, or partially
  refunded when the order has refunds; anything else (`pending`, `on-hold`, `failed`, `cancelled` before
  payment, `checkout-draft`, custom statuses) → unpaid.
* Cancelled: status `cancelled`. `platform_status` is the status slug.
* Lines: WooCommerce stores line amounts without tax (whatever `prices_include_tax` says; the tax is in
  `subtotal_tax` / `total_tax`), so the line's unit price is its `price` (a JSON number: total / quantity,
  after coupons) and its total is `total` (after coupons). Names come HTML-escaped and are unescaped. A line
  without a SKU keeps an empty SKU (the REST API reads it from the product, which may have none); allocation
  shows such a line as back-ordered.
* Totals: subtotal = the lines' `subtotal` (before coupons, without tax), shipping = `shipping_total` plus the
  fee lines (fees are charges like shipping; a negative fee lowers it), tax = `total_tax`,
  discount = `discount_total`, total = `total`. Refunds do not change `total` and are not parts of it.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from connector.mapping.context import MappingContext, failures_are_skippable
from connector.mapping.money import (
    address_or_none,
    flag_totals,
    identifier,
    joined,
    listed,
    mapping,
    money_of,
    parse_currency,
    parse_decimal,
    parse_gmt,
    parse_money,
    parse_quantity,
    peek_id,
    records,
    required,
    sum_decimals,
    text,
    unwrapped,
)
from connector.orders.model import (
    Address,
    Customer,
    Line,
    Order,
    OrderKind,
    OrderStatus,
    PaymentStatus,
    Platform,
)

PAID_STATUSES = frozenset({"processing", "completed"})  # WooCommerce's wc_get_is_paid_statuses()
PICKUP_METHODS = frozenset({"local_pickup", "pickup_location"})
CANCELLED = "cancelled"
REFUNDED = "refunded"


def map_order(raw: Mapping[str, Any], ctx: MappingContext) -> Order:
    """Map a REST v3 order (bare, or wrapped in `"order"`)."""
    with failures_are_skippable(ctx, Platform.WOOCOMMERCE, peek_id(raw)):
        return flag_totals(_order(unwrapped(raw, "order"), ctx))


def _order(raw: Mapping[str, Any], ctx: MappingContext) -> Order:
    external_id = identifier(required(raw, "id"))
    currency = parse_currency(required(raw, "currency"))
    status = text(raw.get("status"))
    priced = [_line(item, index, currency) for index, item in enumerate(listed(raw, "line_items"), 1)]
    shipping_lines = records(raw.get("shipping_lines"), "shipping_lines")
    pickup = _pickup_location(shipping_lines)
    return Order(
        store=ctx.store,
        platform=Platform.WOOCOMMERCE,
        external_id=external_id,
        number=text(raw.get("number")) or external_id,
        kind=_kind(ctx, status, pickup),
        payment_status=_payment_status(raw, status),
        platform_status=status,
        currency=currency,
        subtotal=money_of(sum((subtotal for _, subtotal in priced), Decimal(0)), currency),
        shipping_total=money_of(_charges(raw), currency),
        tax_total=parse_money(raw.get("total_tax") or 0, currency, "total_tax"),
        discount_total=parse_money(raw.get("discount_total") or 0, currency, "discount_total"),
        total=parse_money(required(raw, "total"), currency, "total"),
        created_at=parse_gmt(required(raw, "date_created_gmt"), "date_created_gmt"),
        updated_at=parse_gmt(raw.get("date_modified_gmt") or raw["date_created_gmt"], "date_modified_gmt"),
        lines=tuple(line for line, _ in priced),
        customer=_customer(mapping(raw.get("billing") or {}, "billing")),
        shipping_address=_address(mapping(raw.get("shipping") or {}, "shipping")),
        note=text(raw.get("customer_note")),
        cancelled=status == CANCELLED,
        status=OrderStatus.CANCELLED if status == CANCELLED else OrderStatus.OPEN,
        pickup_location=ctx.location_for(*pickup) if pickup else "",
    )


def _line(item: Mapping[str, Any], index: int, currency: str) -> tuple[Line, Decimal]:
    """The line, and its subtotal (before coupons, without tax)."""
    where = f"line {index}"
    subtotal = parse_decimal(required(item, "subtotal", where), f"{where} subtotal")
    line = Line(
        sku=text(item.get("sku")),
        name=html.unescape(text(item.get("name"))),  # WooCommerce sends product titles HTML-escaped
        quantity=parse_quantity(item.get("quantity"), f"{where} quantity"),
        unit_price=parse_money(required(item, "price", where), currency, f"{where} price"),
        total=parse_money(required(item, "total", where), currency, f"{where} total"),
        external_id=identifier(item.get("id")),
    )
    return line, subtotal


def _charges(raw: Mapping[str, Any]) -> Decimal:
    shipping = parse_decimal(raw.get("shipping_total") or 0, "shipping_total")
    fees = records(raw.get("fee_lines"), "fee_lines")
    return shipping + sum_decimals((fee.get("total") for fee in fees), "fee total")


def _kind(ctx: MappingContext, status: str, pickup: Sequence[str] | None) -> OrderKind:
    if ctx.reservation.matches(statuses=(status,)):
        return OrderKind.RESERVATION
    return OrderKind.DELIVERY if pickup is None else OrderKind.PICKUP


def _pickup_location(shipping_lines: Sequence[Mapping[str, Any]]) -> Sequence[str] | None:
    """The keys that may name the pickup location (meta name, instance id); None when not a pickup."""
    for line in shipping_lines:
        method = text(line.get("method_id"))
        if method.split(":", 1)[0] in PICKUP_METHODS:
            instance = text(line.get("instance_id")) or method.partition(":")[2]
            return (_meta(line, "pickup_location"), "" if instance == "0" else instance)
    return None


def _meta(line: Mapping[str, Any], key: str) -> str:
    for entry in records(line.get("meta_data"), "meta_data"):
        if entry.get("key") == key:
            return text(entry.get("value"))
    return ""


def _payment_status(raw: Mapping[str, Any], status: str) -> PaymentStatus:
    if status == REFUNDED:
        return PaymentStatus.REFUNDED
    if status in PAID_STATUSES or raw.get("date_paid_gmt"):
        refunded = bool(records(raw.get("refunds"), "refunds"))
        return PaymentStatus.PARTIALLY_REFUNDED if refunded else PaymentStatus.PAID
    return PaymentStatus.UNPAID


def _customer(billing: Mapping[str, Any]) -> Customer:
    return Customer(
        name=joined(billing.get("first_name"), billing.get("last_name")),
        email=text(billing.get("email")),
        phone=text(billing.get("phone")),
    )


def _address(shipping: Mapping[str, Any]) -> Address | None:
    address = Address(
        name=joined(shipping.get("first_name"), shipping.get("last_name")),
        company=text(shipping.get("company")),
        line1=text(shipping.get("address_1")),
        line2=text(shipping.get("address_2")),
        city=text(shipping.get("city")),
        postcode=text(shipping.get("postcode")),
        region=text(shipping.get("state")),
        country=text(shipping.get("country")).upper(),
        phone=text(shipping.get("phone")),
    )
    return address_or_none(address)
