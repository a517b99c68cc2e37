"""Shopify → `Order`, from either shape the platform client hands over.

* REST: the order resource (`GET /orders/{id}.json`'s `order`, or a webhook body), optionally with the order's
  fulfillment orders attached by the client under `"fulfillment_orders": [...]` (REST shape).
* GraphQL: an `Order` node as selected by `ORDER_QUERY_FIELDS` (validated against the 2022-07 schema in tests).

`map_order` tells them apart by their field names (camelCase `legacyResourceId`/`lineItems` mean GraphQL).
Both shapes map to the same `Order`.

Rules:

* Pickup: a live fulfillment order (any status but cancelled) whose delivery method type is `pick_up`
  (compared case-insensitively; `pickup_point` is shipping to a parcel point, not in-store pickup). Its assigned
  location id (numeric; the GraphQL gid's last segment) is looked up in `ctx.locations`. Without fulfillment
  orders attached an order is a delivery. A reservation tag (`ctx.reservation.tags`) wins over both.
* Payment: the financial status (`financial_status`, GraphQL `displayFinancialStatus`), see `PAYMENT_STATUSES`;
  an unknown value counts as unpaid. `platform_status` is that financial status in lower case.
* Cancelled: `cancelled_at` is set.
* Lines: the quantity after order edits (`current_quantity` / `currentQuantity`, else `quantity`; a line edited
  down to 0 is left out), unit price `price`, line
  total `price * quantity` minus the discounts allocated to the line, as the shop quotes them (tax-inclusive when
  `taxes_included`). A payload without `line_items` (trimmed) is refused rather than read as an empty order.
* Totals: subtotal = the lines' `price * quantity` (before discounts), shipping = the shipping lines' prices
  (before discounts), tax = `total_tax`, discount = `total_discounts`, total = `total_price`, each in its
  `current_` (after edits) version when the payload has one. With
  `taxes_included` the tax sits inside the prices, so the tax on the lines is taken out of the subtotal and the
  tax on shipping out of the shipping, and the parts add up again. Duties and tips are not parts of our model:
  an order that has them shows them in `totals_difference`, as does one whose lines do not add up to its totals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from connector.mapping.context import MappingContext, failures_are_skippable
from connector.mapping.money import (
    flag_totals,
    identifier,
    joined,
    listed,
    mapping,
    money_of,
    parse_currency,
    parse_decimal,
    parse_iso,
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

_MONEY = "shopMoney { amount currencyCode }"

ORDER_QUERY_FIELDS = f"""
fragment OrderFields on Order {{
  id
  legacyResourceId
  name
  createdAt
  updatedAt
  cancelledAt
  displayFinancialStatus
  tags
  note
  email
  phone
  currencyCode
  taxesIncluded
  totalPriceSet {{ {_MONEY} }}
  totalTaxSet {{ {_MONEY} }}
  totalDiscountsSet {{ {_MONEY} }}
  currentTotalPriceSet {{ {_MONEY} }}
  currentTotalTaxSet {{ {_MONEY} }}
  currentTotalDiscountsSet {{ {_MONEY} }}
  customer {{ firstName lastName email phone }}
  billingAddress {{ name phone }}
  shippingAddress {{
    name firstName lastName company address1 address2 city zip province provinceCode countryCodeV2 phone
  }}
  shippingLines(first: 5) {{
    nodes {{ originalPriceSet {{ {_MONEY} }} taxLines {{ priceSet {{ {_MONEY} }} }} }}
  }}
  lineItems(first: 20) {{
    nodes {{
      id sku name quantity currentQuantity
      originalUnitPriceSet {{ {_MONEY} }}
      discountAllocations {{ allocatedAmountSet {{ {_MONEY} }} }}
      taxLines {{ priceSet {{ {_MONEY} }} }}
    }}
  }}
  fulfillmentOrders(first: 5) {{
    nodes {{
      id status
      assignedLocation {{ location {{ id }} }}
      deliveryMethod {{ methodType }}
      lineItems(first: 10) {{ nodes {{ id remainingQuantity lineItem {{ id sku }} }} }}
    }}
  }}
}}
"""

PAYMENT_STATUSES: dict[str, PaymentStatus] = {
    "pending": PaymentStatus.PENDING,
    "authorized": PaymentStatus.AUTHORIZED,
    "partially_paid": PaymentStatus.PARTIALLY_PAID,
    "paid": PaymentStatus.PAID,
    "partially_refunded": PaymentStatus.PARTIALLY_REFUNDED,
    "refunded": PaymentStatus.REFUNDED,
    "voided": PaymentStatus.VOIDED,
    "expired": PaymentStatus.UNPAID,  # the authorisation lapsed before capture
}

_PICKUP = "pick_up"


class _PricedLine(NamedTuple):
    line: Line
    gross: Decimal  # price x quantity, before discounts
    tax: Decimal  # tax charged on the line


class _Charge(NamedTuple):
    price: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class _Facts:
    """What either shape says, in plain values; `_order` turns it into an `Order`."""

    external_id: str
    number: str
    currency: str
    taxes_included: bool
    lines: Sequence[_PricedLine]
    shipping: Sequence[_Charge]
    tax: Decimal
    discount: Decimal
    total: Decimal
    financial_status: str
    cancelled: bool
    tags: Sequence[str]
    pickup_location: str | None  # None: not a pickup
    customer: Customer
    address: Address | None
    note: str
    created: str
    updated: str


def map_order(raw: Mapping[str, Any], ctx: MappingContext) -> Order:
    """Map either shape: a GraphQL `Order` node or the REST order resource (bare or wrapped in `"order"`)."""
    if isinstance(raw, Mapping) and ("legacyResourceId" in raw or "lineItems" in raw):
        return map_graphql_order(raw, ctx)
    return map_rest_order(raw, ctx)


def map_rest_order(raw: Mapping[str, Any], ctx: MappingContext) -> Order:
    """Map the REST order resource, with the client's `fulfillment_orders` if attached."""
    with failures_are_skippable(ctx, Platform.SHOPIFY, peek_id(raw)):
        return _order(_rest_facts(unwrapped(raw, "order")), ctx)


def map_graphql_order(node: Mapping[str, Any], ctx: MappingContext) -> Order:
    """Map a GraphQL `Order` node selected with `ORDER_QUERY_FIELDS`."""
    with failures_are_skippable(ctx, Platform.SHOPIFY, peek_id(node, "legacyResourceId")):
        return _order(_graphql_facts(mapping(node, "payload")), ctx)


def _order(facts: _Facts, ctx: MappingContext) -> Order:
    currency = facts.currency
    subtotal, shipping = _goods_and_shipping(facts)
    order = Order(
        store=ctx.store,
        platform=Platform.SHOPIFY,
        external_id=facts.external_id,
        number=facts.number,
        kind=_kind(ctx, facts),
        payment_status=PAYMENT_STATUSES.get(facts.financial_status, PaymentStatus.UNPAID),
        platform_status=facts.financial_status,
        currency=currency,
        subtotal=money_of(subtotal, currency),
        shipping_total=money_of(shipping, currency),
        tax_total=money_of(facts.tax, currency),
        discount_total=money_of(facts.discount, currency),
        total=money_of(facts.total, currency),
        created_at=parse_iso(facts.created, "created_at"),
        updated_at=parse_iso(facts.updated, "updated_at"),
        lines=tuple(p.line for p in facts.lines),
        customer=facts.customer,
        shipping_address=facts.address,
        note=facts.note,
        cancelled=facts.cancelled,
        status=OrderStatus.CANCELLED if facts.cancelled else OrderStatus.OPEN,
        pickup_location=ctx.location_for(facts.pickup_location or ""),
    )
    return flag_totals(order)


def _goods_and_shipping(facts: _Facts) -> tuple[Decimal, Decimal]:
    """Subtotal and shipping before discounts, without the tax that tax-inclusive prices carry inside them."""
    subtotal = sum((p.gross for p in facts.lines), Decimal(0))
    shipping = sum((c.price for c in facts.shipping), Decimal(0))
    if not facts.taxes_included:
        return subtotal, shipping
    line_tax = sum((p.tax for p in facts.lines), Decimal(0))
    return subtotal - line_tax, shipping - sum((c.tax for c in facts.shipping), Decimal(0))


def _kind(ctx: MappingContext, facts: _Facts) -> OrderKind:
    if ctx.reservation.matches(tags=facts.tags):
        return OrderKind.RESERVATION
    return OrderKind.DELIVERY if facts.pickup_location is None else OrderKind.PICKUP


def _tail(gid: object) -> str:
    """The numeric id at the end of a GraphQL global id (`gid://shopify/Location/12` -> "12")."""
    return identifier(gid).rsplit("/", 1)[-1]


# --- REST ---------------------------------------------------------------------------------------------------


def _rest_facts(raw: Mapping[str, Any]) -> _Facts:
    external_id = identifier(required(raw, "id"))
    currency = parse_currency(required(raw, "currency"))
    items = listed(raw, "line_items")
    return _Facts(
        external_id=external_id,
        number=text(raw.get("name")) or external_id,
        currency=currency,
        taxes_included=bool(raw.get("taxes_included")),
        lines=[
            _rest_line(item, index, currency) for index, item in enumerate(items, 1) if _kept(item, "current_quantity")
        ],
        shipping=[_rest_charge(s) for s in records(raw.get("shipping_lines"), "shipping_lines")],
        tax=parse_decimal(_current(raw, "total_tax") or 0, "total_tax"),
        discount=parse_decimal(_current(raw, "total_discounts") or 0, "total_discounts"),
        total=parse_decimal(_current(raw, "total_price") or required(raw, "total_price"), "total_price"),
        financial_status=text(raw.get("financial_status")).lower(),
        cancelled=raw.get("cancelled_at") is not None,
        tags=[tag.strip() for tag in text(raw.get("tags")).split(",") if tag.strip()],
        pickup_location=_rest_pickup(records(raw.get("fulfillment_orders"), "fulfillment_orders")),
        customer=_customer(raw, mapping(raw.get("customer") or {}, "customer"), "first_name", "last_name"),
        address=_rest_address(raw.get("shipping_address")),
        note=text(raw.get("note")),
        created=required(raw, "created_at"),
        updated=required(raw, "updated_at"),
    )


def _rest_line(item: Mapping[str, Any], index: int, currency: str) -> _PricedLine:
    where = f"line {index}"
    price = parse_decimal(required(item, "price", where), f"{where} price")
    quantity = parse_quantity(_current(item, "quantity"), f"{where} quantity")
    allocations = records(item.get("discount_allocations"), f"{where} discount_allocations")
    discount = sum_decimals((d.get("amount") for d in allocations), f"{where} discount")
    taxes = records(item.get("tax_lines"), f"{where} tax_lines")
    tax = sum_decimals((t.get("price") for t in taxes), f"{where} tax")
    return _priced(item, identifier(item.get("id")), price, quantity, discount, tax, currency)


def _current(raw: Mapping[str, Any], field: str) -> Any:
    """After an order edit Shopify keeps the original `field` and reports the edited value as `current_field`."""
    value = raw.get(f"current_{field}")
    return value if value is not None else raw.get(field)


def _kept(item: Mapping[str, Any], current_field: str) -> bool:
    """A line an order edit removed entirely (current quantity 0) is no longer part of the order."""
    return item.get(current_field) != 0


def _rest_charge(line: Mapping[str, Any]) -> _Charge:
    tax = sum_decimals((t.get("price") for t in records(line.get("tax_lines"), "shipping tax")), "shipping tax")
    return _Charge(parse_decimal(line.get("price"), "shipping line price"), tax)


def _rest_pickup(fulfillment_orders: Iterable[Mapping[str, Any]]) -> str | None:
    for fo in fulfillment_orders:
        method = mapping(fo.get("delivery_method") or {}, "fulfillment order delivery_method")
        if _is_pickup(method.get("method_type"), fo.get("status")):
            return identifier(fo.get("assigned_location_id"))
    return None


def _rest_address(value: object) -> Address | None:
    if not value:
        return None
    a = mapping(value, "shipping_address")
    return Address(
        name=text(a.get("name")) or joined(a.get("first_name"), a.get("last_name")),
        company=text(a.get("company")),
        line1=text(a.get("address1")),
        line2=text(a.get("address2")),
        city=text(a.get("city")),
        postcode=text(a.get("zip")),
        region=text(a.get("province_code")) or text(a.get("province")),
        country=text(a.get("country_code")).upper(),
        phone=text(a.get("phone")),
    )


# --- GraphQL ------------------------------------------------------------------------------------------------


def _graphql_facts(node: Mapping[str, Any]) -> _Facts:
    currency = parse_currency(required(node, "currencyCode", "order"), "currencyCode")
    external_id = identifier(required(node, "legacyResourceId")) or _tail(node.get("id"))
    items = _nodes(required(node, "lineItems"), "lineItems")
    return _Facts(
        external_id=external_id,
        number=text(node.get("name")) or external_id,
        currency=currency,
        taxes_included=bool(node.get("taxesIncluded")),
        lines=[
            _graphql_line(item, index, currency)
            for index, item in enumerate(items, 1)
            if _kept(item, "currentQuantity")
        ],
        shipping=[_graphql_charge(s) for s in _nodes(node.get("shippingLines"), "shippingLines")],
        tax=_shop_amount(node.get("currentTotalTaxSet") or node.get("totalTaxSet"), "totalTaxSet"),
        discount=_shop_amount(
            node.get("currentTotalDiscountsSet") or node.get("totalDiscountsSet"), "totalDiscountsSet"
        ),
        total=_shop_amount(node.get("currentTotalPriceSet") or required(node, "totalPriceSet"), "totalPriceSet"),
        financial_status=text(node.get("displayFinancialStatus")).lower(),
        cancelled=node.get("cancelledAt") is not None,
        tags=[text(tag) for tag in node.get("tags") or () if text(tag)],
        pickup_location=_graphql_pickup(_nodes(node.get("fulfillmentOrders"), "fulfillmentOrders")),
        customer=_customer(node, mapping(node.get("customer") or {}, "customer"), "firstName", "lastName"),
        address=_graphql_address(node.get("shippingAddress")),
        note=text(node.get("note")),
        created=required(node, "createdAt"),
        updated=required(node, "updatedAt"),
    )


def _graphql_line(item: Mapping[str, Any], index: int, currency: str) -> _PricedLine:
    where = f"line {index}"
    price = _shop_amount(required(item, "originalUnitPriceSet", where), f"{where} price")
    current = item.get("currentQuantity")
    quantity = parse_quantity(current if current is not None else item.get("quantity"), f"{where} quantity")
    discounts = records(item.get("discountAllocations"), f"{where} discountAllocations")
    discount = sum((_shop_amount(d.get("allocatedAmountSet"), f"{where} discount") for d in discounts), Decimal(0))
    taxes = records(item.get("taxLines"), f"{where} taxLines")
    tax = sum((_shop_amount(t.get("priceSet"), f"{where} tax") for t in taxes), Decimal(0))
    return _priced(item, _tail(item.get("id")), price, quantity, discount, tax, currency)


def _graphql_charge(line: Mapping[str, Any]) -> _Charge:
    taxes = records(line.get("taxLines"), "shipping taxLines")
    tax = sum((_shop_amount(t.get("priceSet"), "shipping tax") for t in taxes), Decimal(0))
    return _Charge(_shop_amount(line.get("originalPriceSet"), "shipping line price"), tax)


def _graphql_pickup(fulfillment_orders: Iterable[Mapping[str, Any]]) -> str | None:
    for fo in fulfillment_orders:
        method = mapping(fo.get("deliveryMethod") or {}, "fulfillment order deliveryMethod")
        if _is_pickup(method.get("methodType"), fo.get("status")):
            assigned = mapping(fo.get("assignedLocation") or {}, "assignedLocation")
            location = mapping(assigned.get("location") or {}, "assignedLocation.location")
            return _tail(location.get("id"))
    return None


def _graphql_address(value: object) -> Address | None:
    if not value:
        return None
    a = mapping(value, "shippingAddress")
    return Address(
        name=text(a.get("name")) or joined(a.get("firstName"), a.get("lastName")),
        company=text(a.get("company")),
        line1=text(a.get("address1")),
        line2=text(a.get("address2")),
        city=text(a.get("city")),
        postcode=text(a.get("zip")),
        region=text(a.get("provinceCode")) or text(a.get("province")),
        country=text(a.get("countryCodeV2")).upper(),
        phone=text(a.get("phone")),
    )


def _nodes(connection: object, what: str) -> Sequence[Mapping[str, Any]]:
    if connection is None:
        return ()
    return records(mapping(connection, what).get("nodes"), f"{what}.nodes")


def _shop_amount(money_bag: object, what: str) -> Decimal:
    """The shop-currency amount of a `MoneyBag` (`{"shopMoney": {"amount": "1.00", ...}}`); null is zero."""
    if money_bag is None:
        return Decimal(0)
    shop = mapping(mapping(money_bag, what).get("shopMoney"), f"{what}.shopMoney")
    return parse_decimal(shop.get("amount"), what)


# --- shared -------------------------------------------------------------------------------------------------


def _priced(
    item: Mapping[str, Any],
    external_id: str,
    price: Decimal,
    quantity: int,
    discount: Decimal,
    tax: Decimal,
    currency: str,
) -> _PricedLine:
    gross = price * quantity
    line = Line(
        sku=text(item.get("sku")),
        name=text(item.get("name")) or text(item.get("title")),
        quantity=quantity,
        unit_price=money_of(price, currency),
        total=money_of(gross - discount, currency),
        external_id=external_id,
    )
    return _PricedLine(line, gross, tax)


def _is_pickup(method_type: object, status: object) -> bool:
    if text(status).casefold() == "cancelled":
        return False
    return text(method_type).casefold() == _PICKUP


def _customer(order: Mapping[str, Any], customer: Mapping[str, Any], first: str, last: str) -> Customer:
    billing = order.get("billing_address") or order.get("billingAddress") or {}
    billing_name = text(mapping(billing, "billing address").get("name"))
    return Customer(
        name=joined(customer.get(first), customer.get(last)) or billing_name,
        email=text(order.get("email")) or text(customer.get("email")),
        phone=text(order.get("phone")) or text(customer.get("phone")),
    )
