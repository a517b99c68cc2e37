"""BigCommerce → `Order`, from the V2 order with its sub-resources attached by the platform client.

The client replaces the order's resource links with the resources themselves: `"products"` (the order products),
`"shipping_addresses"` and, when it fetched them, `"consignments": {"shipping": [...], "pickups": [...],
"digital": [...]}`. An order whose `products` is still a link is refused: its lines are unknown. So is a webhook
body (BigCommerce webhooks carry only the order id; the client fetches the order first).

Rules:

* Money: 4-decimal strings in the transactional currency, `default_currency_code`.
* Dates: RFC-2822 (`"Wed, 05 Dec 2018 20:16:55 +0000"`), always UTC.
* Status: keyed on `status_id` (the `status` label can be renamed by the store); `platform_status` is the id
  as a string, cancelled is 5. A reservation status (`ctx.reservation.statuses`, ids as strings) makes the
  order a reservation.
* Pickup: a pickup consignment, or a product with `order_pickup_method_id` other than 0; the location is the
  pickup consignment's `location.id`, looked up in `ctx.locations`.
* Payment, checked in this order: status Refunded (4) / Partially Refunded (14); then `payment_status`
  (see `PAYMENT_STATUSES`); when that is empty (offline payment methods), the status: a status reached only
  after payment was confirmed (`PAID_STATUS_IDS`, from Awaiting Fulfillment on) → paid, anything else → unpaid.
* Lines and totals, as the store quotes prices (`is_tax_inclusive_pricing`):
  - tax-exclusive: unit price `price_ex_tax`, line total `total_ex_tax` minus the line's applied discounts;
    subtotal = the lines' `total_ex_tax`;
  - tax-inclusive: unit price `price_inc_tax`, line total `total_inc_tax` minus the applied discounts;
    subtotal = the lines' `total_inc_tax` minus the order's `subtotal_tax` (the tax inside them).
  Shipping = shipping + handling + gift wrapping + fees, each without tax; tax = `total_tax`;
  discount = `discount_amount` + `coupon_discount`; total = `total_inc_tax`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from connector.mapping.context import MappingContext, failures_are_skippable
from connector.mapping.money import (
    PayloadError,
    flag_totals,
    identifier,
    joined,
    mapping,
    money_of,
    parse_currency,
    parse_decimal,
    parse_money,
    parse_quantity,
    parse_rfc2822,
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

CANCELLED = 5
REFUNDED = 4
PARTIALLY_REFUNDED = 14
# Shipped, Partially Shipped, Awaiting Pickup, Awaiting Shipment, Completed, Awaiting Fulfillment.
PAID_STATUS_IDS = frozenset({2, 3, 8, 9, 10, 11})

PAYMENT_STATUSES: dict[str, PaymentStatus] = {
    "paid": PaymentStatus.PAID,
    "captured": PaymentStatus.PAID,
    "authorized": PaymentStatus.AUTHORIZED,
    "pending": PaymentStatus.PENDING,
    "capture pending": PaymentStatus.PENDING,
    "held for review": PaymentStatus.PENDING,
    "declined": PaymentStatus.UNPAID,
    "partially refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "refunded": PaymentStatus.REFUNDED,
    "void": PaymentStatus.VOIDED,
    "void pending": PaymentStatus.VOIDED,
}

_CHARGES = ("shipping_cost_ex_tax", "handling_cost_ex_tax", "wrapping_cost_ex_tax")


def map_order(raw: Mapping[str, Any], ctx: MappingContext) -> Order:
    """Map a V2 order with `products`, `shipping_addresses` and (optionally) `consignments` attached."""
    with failures_are_skippable(ctx, Platform.BIGCOMMERCE, peek_id(raw) or peek_id(raw, wrapper="data")):
        return flag_totals(_order(unwrapped(raw, "order"), ctx))


def _order(raw: Mapping[str, Any], ctx: MappingContext) -> Order:
    if "scope" in raw and isinstance(raw.get("data"), Mapping):
        data = raw["data"]
        raise PayloadError(f"a {raw['scope']} webhook body, not an order: fetch order {data.get('id')} first")
    external_id = identifier(required(raw, "id"))
    currency = parse_currency(required(raw, "default_currency_code"), "default_currency_code")
    status_id = parse_quantity(raw.get("status_id"), "status_id")
    inclusive = bool(raw.get("is_tax_inclusive_pricing"))
    products = _products(raw)
    pickups = records(mapping(raw.get("consignments") or {}, "consignments").get("pickups"), "pickups")
    return Order(
        store=ctx.store,
        platform=Platform.BIGCOMMERCE,
        external_id=external_id,
        number=external_id,
        kind=_kind(ctx, status_id, products, pickups),
        payment_status=_payment_status(text(raw.get("payment_status")).lower(), status_id),
        platform_status=str(status_id),
        currency=currency,
        subtotal=money_of(_subtotal(raw, products, inclusive), currency),
        shipping_total=money_of(_charges(raw), currency),
        tax_total=parse_money(raw.get("total_tax") or 0, currency, "total_tax"),
        discount_total=money_of(_discounts(raw), currency),
        total=parse_money(required(raw, "total_inc_tax"), currency, "total_inc_tax"),
        created_at=parse_rfc2822(required(raw, "date_created"), "date_created"),
        updated_at=parse_rfc2822(raw.get("date_modified") or raw["date_created"], "date_modified"),
        lines=tuple(_line(p, index, currency, inclusive) for index, p in enumerate(products, 1)),
        customer=_customer(mapping(raw.get("billing_address") or {}, "billing_address")),
        shipping_address=_address(raw.get("shipping_addresses")),
        note=text(raw.get("customer_message")),
        cancelled=status_id == CANCELLED,
        status=OrderStatus.CANCELLED if status_id == CANCELLED else OrderStatus.OPEN,
        pickup_location=_pickup_location(ctx, pickups),
    )


def _products(raw: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    products = raw.get("products")
    if not isinstance(products, list):
        raise PayloadError("order products are not attached (the payload has a resource link or nothing)")
    return records(products, "products")


def _line(product: Mapping[str, Any], index: int, currency: str, inclusive: bool) -> Line:
    where = f"line {index}"
    basis = "inc_tax" if inclusive else "ex_tax"
    total = parse_decimal(required(product, f"total_{basis}", where), f"{where} total_{basis}")
    discounts = records(product.get("applied_discounts"), f"{where} applied_discounts")
    discount = sum_decimals((d.get("amount") for d in discounts), f"{where} discount")
    return Line(
        sku=text(product.get("sku")),
        name=text(product.get("name")),
        quantity=parse_quantity(product.get("quantity"), f"{where} quantity"),
        unit_price=parse_money(required(product, f"price_{basis}", where), currency, f"{where} price_{basis}"),
        total=money_of(total - discount, currency),
        external_id=identifier(product.get("id")),
    )


def _subtotal(raw: Mapping[str, Any], products: Sequence[Mapping[str, Any]], inclusive: bool) -> Decimal:
    key = "total_inc_tax" if inclusive else "total_ex_tax"
    totals = (required(p, key, f"line {index}") for index, p in enumerate(products, 1))
    lines = sum_decimals(totals, f"line {key}")
    return lines - parse_decimal(raw.get("subtotal_tax") or 0, "subtotal_tax") if inclusive else lines


def _charges(raw: Mapping[str, Any]) -> Decimal:
    fixed = sum_decimals((raw.get(key) or 0 for key in _CHARGES), "shipping, handling or wrapping cost")
    fees = raw.get("fees")
    if not isinstance(fees, list):  # absent, or still a resource link: the order has no fee lines we know of
        return fixed
    costs = (required(fee, "cost_ex_tax", f"fee {i}") for i, fee in enumerate(records(fees, "fees"), 1))
    return fixed + sum_decimals(costs, "fee cost_ex_tax")


def _discounts(raw: Mapping[str, Any]) -> Decimal:
    manual = parse_decimal(raw.get("discount_amount") or 0, "discount_amount")
    return manual + parse_decimal(raw.get("coupon_discount") or 0, "coupon_discount")


def _kind(
    ctx: MappingContext, status_id: int, products: Sequence[Mapping[str, Any]], pickups: Sequence[Any]
) -> OrderKind:
    if ctx.reservation.matches(statuses=(str(status_id),)):
        return OrderKind.RESERVATION
    if pickups or any(p.get("order_pickup_method_id") not in (None, 0, "0") for p in products):
        return OrderKind.PICKUP
    return OrderKind.DELIVERY


def _pickup_location(ctx: MappingContext, pickups: Sequence[Mapping[str, Any]]) -> str:
    for pickup in pickups:
        location = mapping(pickup.get("location") or {}, "pickup location")
        return ctx.location_for(identifier(location.get("id")), text(location.get("name")))
    return ""


def _payment_status(payment_status: str, status_id: int) -> PaymentStatus:
    if status_id == REFUNDED:
        return PaymentStatus.REFUNDED
    if status_id == PARTIALLY_REFUNDED:
        return PaymentStatus.PARTIALLY_REFUNDED
    if payment_status in PAYMENT_STATUSES:
        return PAYMENT_STATUSES[payment_status]
    return PaymentStatus.PAID if status_id in PAID_STATUS_IDS else PaymentStatus.UNPAID


def _customer(billing: Mapping[str, Any]) -> Customer:
    return Customer(
        name=joined(billing.get("first_name"), billing.get("last_name")),
        email=text(billing.get("email")),
        phone=text(billing.get("phone")),
    )


def _address(value: object) -> Address | None:
    """The first shipping address (BigCommerce allows several; the others are not in our model)."""
    if not isinstance(value, list) or not value:
        return None
    a = records(value, "shipping_addresses")[0]
    return Address(
        name=joined(a.get("first_name"), a.get("last_name")),
        company=text(a.get("company")),
        line1=text(a.get("street_1")),
        line2=text(a.get("street_2")),
        city=text(a.get("city")),
        postcode=text(a.get("zip")),
        region=text(a.get("state")),
        country=text(a.get("country_iso2")).upper(),
        phone=text(a.get("phone")),
    )
