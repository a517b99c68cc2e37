"""Lightspeed eCom (C-Series) → `Order`, from the order object.

The order comes bare (`GET /orders.json` lists) or wrapped (`{"order": {...}}`, single GET and webhooks); its
lines come either attached by the client as `"products": [...]` (from `GET /orders/{id}/products.json`) or
embedded as the webhook sends them (`"products": {"resource": {"embedded": [...]}}`). An order whose products
are only a resource link is refused: its lines are unknown.

Rules:

* Money: JSON numbers, in excl/incl VAT pairs. The payload names no currency: `ctx.currency` (the shop's) is
  used unless the payload carries a `currency` code.
* Status: `status` is `platform_status`; `cancelled` means cancelled. A reservation is an order whose status,
  or custom status id (`customStatusId`, as a string), is in `ctx.reservation.statuses`.
* Pickup: `shipmentIsPickup`, or a status of the pickup family (`processing_awaiting_pickup`,
  `processing_ready_for_pickup`, `completed_picked_up`). The order names the pickup method, not a location:
  `shipmentId`, then `shipmentTitle`, is looked up in `ctx.locations`.
* Payment: `paymentStatus`, see `PAYMENT_STATUSES`; an unknown value counts as unpaid.
* Lines, all without VAT: unit price `basePriceExcl` (before discount), line total `priceExcl` (after the line
  discount), SKU `sku` or else `articleCode` (shops fill one or the other).
* Totals, without VAT: subtotal = the lines' `basePriceExcl * quantityOrdered`, discount = the lines'
  `discountExcl`, shipping = `shipmentPriceExcl` + the payment fee `paymentPriceExcl`, tax = `priceIncl -
  priceExcl` (the order's own VAT), total = `priceIncl`. The parts add up when the lines, shipping and fee
  add up to the order's `priceExcl`; otherwise the difference shows in `totals_difference`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from connector.mapping.context import MappingContext, failures_are_skippable
from connector.mapping.money import (
    PayloadError,
    address_or_none,
    flag_totals,
    identifier,
    joined,
    mapping,
    money_of,
    parse_currency,
    parse_decimal,
    parse_iso,
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

PAYMENT_STATUSES: dict[str, PaymentStatus] = {
    "not_paid": PaymentStatus.UNPAID,
    "partially_paid": PaymentStatus.PARTIALLY_PAID,
    "paid": PaymentStatus.PAID,
    "cancelled": PaymentStatus.VOIDED,
}
PICKUP_STATUSES = frozenset({"processing_awaiting_pickup", "processing_ready_for_pickup", "completed_picked_up"})
CANCELLED = "cancelled"


def map_order(raw: Mapping[str, Any], ctx: MappingContext) -> Order:
    """Map an order, bare or wrapped in `"order"`, with its products attached or embedded."""
    with failures_are_skippable(ctx, Platform.LIGHTSPEED, peek_id(raw)):
        return flag_totals(_order(unwrapped(raw, "order"), ctx))


def _order(raw: Mapping[str, Any], ctx: MappingContext) -> Order:
    external_id = identifier(required(raw, "id"))
    currency = parse_currency(raw["currency"]) if isinstance(raw.get("currency"), str) else ctx.currency
    status = text(raw.get("status"))
    products = _products(raw)
    pickup = bool(raw.get("shipmentIsPickup")) or status in PICKUP_STATUSES
    excl = parse_decimal(required(raw, "priceExcl"), "priceExcl")
    incl = parse_decimal(required(raw, "priceIncl"), "priceIncl")
    subtotal = sum((_base_total(p, index) for index, p in enumerate(products, 1)), Decimal(0))
    discount = sum_decimals((p.get("discountExcl") or 0 for p in products), "line discountExcl")
    return Order(
        store=ctx.store,
        platform=Platform.LIGHTSPEED,
        external_id=external_id,
        number=text(raw.get("number")) or external_id,
        kind=_kind(ctx, raw, status, pickup),
        payment_status=PAYMENT_STATUSES.get(text(raw.get("paymentStatus")), PaymentStatus.UNPAID),
        platform_status=status,
        currency=currency,
        subtotal=money_of(subtotal, currency),
        shipping_total=money_of(_charges(raw), currency),
        tax_total=money_of(incl - excl, currency),
        discount_total=money_of(discount, currency),
        total=money_of(incl, currency),
        created_at=parse_iso(required(raw, "createdAt"), "createdAt"),
        updated_at=parse_iso(raw.get("updatedAt") or raw["createdAt"], "updatedAt"),
        lines=tuple(_line(p, index, currency) for index, p in enumerate(products, 1)),
        customer=_customer(raw),
        shipping_address=_address(raw),
        note=text(raw.get("comment")),
        cancelled=status == CANCELLED,
        status=OrderStatus.CANCELLED if status == CANCELLED else OrderStatus.OPEN,
        pickup_location=_pickup_location(ctx, raw) if pickup else "",
    )


def _pickup_location(ctx: MappingContext, raw: Mapping[str, Any]) -> str:
    """Lightspeed names the pickup shipping method, not a location: the method's id, then its title."""
    return ctx.location_for(text(raw.get("shipmentId")), text(raw.get("shipmentTitle")))


def _products(raw: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    products = raw.get("products")
    if isinstance(products, Mapping):  # the webhook's {"resource": {"embedded": [...]}}
        products = mapping(products.get("resource") or {}, "products.resource").get("embedded")
    if not isinstance(products, list):
        raise PayloadError("order products are not attached (the payload has a resource link or nothing)")
    return records(products, "products")


def _line(product: Mapping[str, Any], index: int, currency: str) -> Line:
    where = f"line {index}"
    return Line(
        sku=text(product.get("sku")) or text(product.get("articleCode")),
        name=joined(product.get("productTitle"), product.get("variantTitle"), sep=" - "),
        quantity=parse_quantity(product.get("quantityOrdered"), f"{where} quantityOrdered"),
        unit_price=parse_money(required(product, "basePriceExcl", where), currency, f"{where} basePriceExcl"),
        total=parse_money(required(product, "priceExcl", where), currency, f"{where} priceExcl"),
        external_id=identifier(product.get("id")),
    )


def _base_total(product: Mapping[str, Any], index: int) -> Decimal:
    where = f"line {index}"
    price = parse_decimal(required(product, "basePriceExcl", where), f"{where} basePriceExcl")
    return price * parse_quantity(product.get("quantityOrdered"), f"{where} quantityOrdered")


def _charges(raw: Mapping[str, Any]) -> Decimal:
    shipment = parse_decimal(raw.get("shipmentPriceExcl") or 0, "shipmentPriceExcl")
    return shipment + parse_decimal(raw.get("paymentPriceExcl") or 0, "paymentPriceExcl")


def _kind(ctx: MappingContext, raw: Mapping[str, Any], status: str, pickup: bool) -> OrderKind:
    statuses = (status, identifier(raw.get("customStatusId")))
    if ctx.reservation.matches(statuses=[s for s in statuses if s]):
        return OrderKind.RESERVATION
    return OrderKind.PICKUP if pickup else OrderKind.DELIVERY


def _customer(raw: Mapping[str, Any]) -> Customer:
    return Customer(
        name=joined(raw.get("firstname"), raw.get("middlename"), raw.get("lastname")),
        email=text(raw.get("email")),
        phone=text(raw.get("phone")) or text(raw.get("mobile")),
    )


def _address(raw: Mapping[str, Any]) -> Address | None:
    country = raw.get("addressShippingCountry")
    address = Address(
        name=text(raw.get("addressShippingName")),
        company=text(raw.get("addressShippingCompany")),
        line1=joined(
            raw.get("addressShippingStreet"), raw.get("addressShippingNumber"), raw.get("addressShippingExtension")
        ),
        line2=text(raw.get("addressShippingStreet2")),
        city=text(raw.get("addressShippingCity")),
        postcode=text(raw.get("addressShippingZipcode")),
        region=text(raw.get("addressShippingRegion")),
        country=text(country.get("code")).upper() if isinstance(country, Mapping) else "",
        phone=text(raw.get("phone")) or text(raw.get("mobile")),
    )
    return address_or_none(address)
