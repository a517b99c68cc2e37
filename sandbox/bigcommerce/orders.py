"""BigCommerce V2 order documents for the BigCommerce sandbox: building, repricing, rendering and selecting them.

Everything here follows `reference/orders.v2.oas2.yml` of bigcommerce/docs field for field: money as 4-decimal
strings (`"54.0000"`), dates as RFC-2822 (`"Wed, 05 Dec 2018 20:16:55 +0000"`), `status_id` plus the status text from
the order-status table, sub-resources (`products`, `shipping_addresses`, `coupons`, `consignments`) as
`{"url", "resource"}` links unless `include=consignments[.line_items]&consignment_structure=object` embeds the
consignments. The sandbox store sells in EUR with tax-inclusive prices and 21 % VAT, so `*_inc_tax` are the prices
the shopper saw and `*_ex_tax` are derived from them; line totals add up to the subtotal and
`total_inc_tax = subtotal_inc_tax + shipping_cost_inc_tax - discount_amount`.

No I/O and no locking here: `BigCommerceState` owns the state and the events.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

VAT = Decimal("1.21")
CENT = Decimal("0.0001")
DELIVERY_FEE = Decimal("4.95")

# status_id -> (name, system description, position in the control panel), from `GET /order_statuses` in the spec.
STATUSES: dict[int, tuple[str, str, int]] = {
    0: (
        "Incomplete",
        "An incomplete order happens when a shopper reached the payment page, but did not complete the transaction.",
        0,
    ),
    1: ("Pending", "Customer started the checkout process, but did not complete it.", 1),
    2: (
        "Shipped",
        "Order has been shipped, but receipt has not been confirmed; seller has used the Ship Items action.",
        8,
    ),
    3: (
        "Partially Shipped",
        "Only some items in the order have been shipped, due to some products being pre-order only or other reasons.",
        6,
    ),
    4: ("Refunded", "Seller has used the Refund action.", 11),
    5: ("Cancelled", "Seller has cancelled an order, due to a stock inconsistency or other reasons.", 9),
    6: ("Declined", "Seller has marked the order as declined for lack of manual payment, or other reasons.", 10),
    7: ("Awaiting Payment", "Customer has completed checkout process, but payment has yet to be confirmed.", 2),
    8: (
        "Awaiting Pickup",
        "Order has been pulled, and is awaiting customer pickup from a seller-specified location.",
        5,
    ),
    9: (
        "Awaiting Shipment",
        "Order has been pulled and packaged, and is awaiting collection from a shipping provider.",
        4,
    ),
    10: ("Completed", "Client has paid for their digital product and their file(s) are available for download.", 7),
    11: ("Awaiting Fulfillment", "Customer has completed the checkout process and payment has been confirmed.", 3),
    12: ("Manual Verification Required", "Order is on hold while some aspect needs to be manually confirmed.", 13),
    13: (
        "Disputed",
        "Customer has initiated a dispute resolution process for the PayPal transaction that paid for the order.",
        12,
    ),
    14: ("Partially Refunded", "Seller has partially refunded the order.", 14),
}
AWAITING_PAYMENT, AWAITING_FULFILLMENT, SHIPPED, PARTIALLY_SHIPPED, CANCELLED = 7, 11, 2, 3, 5


class QueryError(ValueError):
    """A query parameter BigCommerce would refuse (answered 400)."""


def money(value: Decimal) -> str:
    return f"{value.quantize(CENT)}"


def ex_tax(inc: Decimal) -> Decimal:
    return (inc / VAT).quantize(CENT)


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC))


def parse_date(text: str) -> datetime:
    """An RFC-2822 or ISO-8601 date as the `min_date_*` / `max_date_*` filters take it; naive means UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = parsedate_to_datetime(text)  # raises ValueError itself when this fails too
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def link(base: str, resource: str) -> dict[str, str]:
    return {"url": base + resource, "resource": resource}


def status_fields(status_id: int) -> dict[str, Any]:
    name = STATUSES[status_id][0]
    return {"status_id": status_id, "status": name, "custom_status": name}


@dataclass
class BcOrder:
    """One order as the sandbox keeps it: the order fields, its sub-resources and its shipments."""

    data: dict[str, Any]
    created: datetime
    modified: datetime
    products: list[dict[str, Any]] = field(default_factory=list)
    addresses: list[dict[str, Any]] = field(default_factory=list)
    pickups: list[dict[str, Any]] = field(default_factory=list)
    shipments: list[dict[str, Any]] = field(default_factory=list)
    status_before_cancel: int = AWAITING_FULFILLMENT

    @property
    def id(self) -> int:
        order_id: int = self.data["id"]
        return order_id

    @property
    def status_id(self) -> int:
        status_id: int = self.data["status_id"]
        return status_id

    def touch(self, moment: datetime) -> None:
        self.modified = moment
        self.data["date_modified"] = rfc2822(moment)

    def product(self, product_id: int) -> dict[str, Any] | None:
        return next((p for p in self.products if p["id"] == product_id), None)


# --- building ---------------------------------------------------------------------------------------------------


def order_fields(order_id: int, created: datetime, customer: Mapping[str, Any], paid: bool) -> dict[str, Any]:
    """The order's own fields in the spec's order, with zero totals (`reprice` fills them in)."""
    zero = money(Decimal(0))
    stamp = rfc2822(created)
    return {
        "id": order_id,
        "customer_id": customer["customer_id"],
        "date_created": stamp,
        "date_modified": stamp,
        "date_shipped": "",
        **status_fields(AWAITING_FULFILLMENT if paid else AWAITING_PAYMENT),
        "subtotal_ex_tax": zero,
        "subtotal_inc_tax": zero,
        "subtotal_tax": zero,
        "base_shipping_cost": zero,
        "shipping_cost_ex_tax": zero,
        "shipping_cost_inc_tax": zero,
        "shipping_cost_tax": zero,
        "shipping_cost_tax_class_id": 2,
        "base_handling_cost": zero,
        "handling_cost_ex_tax": zero,
        "handling_cost_inc_tax": zero,
        "handling_cost_tax": zero,
        "handling_cost_tax_class_id": 2,
        "base_wrapping_cost": zero,
        "wrapping_cost_ex_tax": zero,
        "wrapping_cost_inc_tax": zero,
        "wrapping_cost_tax": zero,
        "wrapping_cost_tax_class_id": 3,
        "total_ex_tax": zero,
        "total_inc_tax": zero,
        "total_tax": zero,
        "is_tax_inclusive_pricing": True,
        "items_total": 0,
        "items_shipped": 0,
        **payment_fields(paid, customer["pickup"]),
        "refunded_amount": zero,
        "order_is_digital": False,
        "store_credit_amount": zero,
        "gift_certificate_amount": zero,
        "ip_address": customer["ip"],
        "ip_address_v6": "",
        "geoip_country": "Netherlands",
        "geoip_country_iso2": "NL",
        "currency_id": 1,
        "currency_code": "EUR",
        "currency_exchange_rate": "1.0000000000",
        "default_currency_id": 1,
        "default_currency_code": "EUR",
        "staff_notes": "",
        "customer_message": customer.get("message", ""),
        "discount_amount": zero,
        "coupon_discount": zero,
        "shipping_address_count": 0 if customer["pickup"] else 1,
        "ebay_order_id": "0",
        "cart_id": customer["cart_id"],
        "billing_address": customer["billing_address"],
        "is_email_opt_in": False,
        "credit_card_type": None,
        "order_source": "www",
        "channel_id": 1,
        "external_source": None,
        "products": None,
        "shipping_addresses": None,
        "coupons": None,
        "external_id": None,
        "external_merchant_id": None,
        "tax_provider_id": "BasicTaxProvider",
        "store_default_currency_code": "",
        "store_default_to_transactional_exchange_rate": "1.0000000000",
        "customer_locale": "nl",
        "external_order_id": "",
        "is_deleted": False,
        "consignments": None,
    }


def payment_fields(paid: bool, pickup: bool) -> dict[str, Any]:
    if paid:
        return {"payment_method": "Credit Card", "payment_provider_id": "", "payment_status": "captured"}
    method = "Pay in Store" if pickup else "Bank Deposit"
    return {"payment_method": method, "payment_provider_id": "", "payment_status": "pending"}


@dataclass(frozen=True)
class LineSpec:
    """One order line as the sandbox builds it: catalogue identity, quantity and tax-inclusive unit price."""

    sku: str
    name: str
    product_id: int
    variant_id: int
    quantity: int
    price: Decimal


def product_fields(pid: int, order_id: int, line: LineSpec, address_id: int, pickup_id: int) -> dict[str, Any]:
    """An order product (`orderProducts` in the spec), priced by `reprice_product`."""
    zero = money(Decimal(0))
    return {
        "id": pid,
        "order_id": order_id,
        "product_id": line.product_id,
        "variant_id": line.variant_id,
        "order_pickup_method_id": pickup_id,
        "order_address_id": address_id,
        "name": line.name,
        "name_customer": line.name,
        "name_merchant": line.name,
        "sku": line.sku,
        "upc": "",
        "type": "physical",
        "base_price": money(line.price),
        "price_ex_tax": money(ex_tax(line.price)),
        "price_inc_tax": money(line.price),
        "price_tax": zero,
        "base_total": zero,
        "total_ex_tax": zero,
        "total_inc_tax": zero,
        "total_tax": zero,
        "weight": "1.0000",
        "width": "1.0000",
        "height": "1.0000",
        "depth": "1.0000",
        "quantity": line.quantity,
        "base_cost_price": zero,
        "cost_price_inc_tax": zero,
        "cost_price_ex_tax": zero,
        "cost_price_tax": zero,
        "is_refunded": False,
        "quantity_refunded": 0,
        "refund_amount": zero,
        "return_id": 0,
        "wrapping_id": 0,
        "wrapping_name": "",
        "base_wrapping_cost": zero,
        "wrapping_cost_ex_tax": zero,
        "wrapping_cost_inc_tax": zero,
        "wrapping_cost_tax": zero,
        "wrapping_message": "",
        "quantity_shipped": 0,
        "event_name": None,
        "event_date": None,
        "fixed_shipping_cost": zero,
        "ebay_item_id": "",
        "ebay_transaction_id": "",
        "option_set_id": None,
        "parent_order_product_id": None,
        "is_bundled_product": False,
        "bin_picking_number": "",
        "external_id": None,
        "brand": "",
        "applied_discounts": [],
        "product_options": [],
        "configurable_fields": [],
        "gift_certificate_id": None,
        "discounted_total_inc_tax": zero,
    }


def reprice_product(product: dict[str, Any]) -> None:
    """Recompute a product's taxes and totals from its tax-inclusive unit price and quantity."""
    inc, qty = Decimal(product["price_inc_tax"]), product["quantity"]
    ex = ex_tax(inc)
    total_inc, total_ex = inc * qty, ex * qty
    product.update(
        price_ex_tax=money(ex),
        price_tax=money(inc - ex),
        base_total=money(total_inc),
        total_ex_tax=money(total_ex),
        total_inc_tax=money(total_inc),
        total_tax=money(total_inc - total_ex),
        discounted_total_inc_tax=money(total_inc),
    )


def address_fields(address_id: int, order_id: int, billing: Mapping[str, Any]) -> dict[str, Any]:
    """The order's one shipping address (`orderShippingAddress`), shipped at the flat delivery fee."""
    ex, zero = ex_tax(DELIVERY_FEE), money(Decimal(0))
    person = {k: billing[k] for k in ("first_name", "last_name", "company", "street_1", "street_2", "city", "zip")}
    return {
        "id": address_id,
        "order_id": order_id,
        **person,
        "country": "Netherlands",
        "country_iso2": "NL",
        "state": billing["state"],
        "email": billing["email"],
        "phone": billing["phone"],
        "items_total": 0,
        "items_shipped": 0,
        "shipping_method": "Flat Rate",
        "base_cost": money(DELIVERY_FEE),
        "cost_ex_tax": money(ex),
        "cost_inc_tax": money(DELIVERY_FEE),
        "cost_tax": money(DELIVERY_FEE - ex),
        "cost_tax_class_id": 2,
        "base_handling_cost": zero,
        "handling_cost_ex_tax": zero,
        "handling_cost_inc_tax": zero,
        "handling_cost_tax": zero,
        "handling_cost_tax_class_id": 2,
        "shipping_zone_id": 1,
        "shipping_zone_name": "Netherlands",
        "shipping_quotes": None,
        "form_fields": [],
    }


def pickup_fields(consignment_id: int, location: Mapping[str, Any]) -> dict[str, Any]:
    """A pickup consignment (`pickupConsignment_Get`) at a store location; `line_items` are added when rendered."""
    return {
        "id": consignment_id,
        "pickup_method_id": 1,
        "pickup_method_display_name": "Pick up in store",
        "collection_instructions": "Bring your order confirmation",
        "collection_time_description": "Ready within 2 hours",
        "location": dict(location),
    }


def ship_address_costs(order: BcOrder) -> None:
    """Copy the shipping cost of the order's addresses onto the order."""
    inc = sum((Decimal(a["cost_inc_tax"]) for a in order.addresses), Decimal(0))
    ex = sum((Decimal(a["cost_ex_tax"]) for a in order.addresses), Decimal(0))
    order.data.update(
        base_shipping_cost=money(inc),
        shipping_cost_ex_tax=money(ex),
        shipping_cost_inc_tax=money(inc),
        shipping_cost_tax=money(inc - ex),
    )


def reprice(order: BcOrder) -> None:
    """Recompute the order's subtotals, totals and item counts from its products and shipping."""
    data = order.data
    sub_inc = sum((Decimal(p["total_inc_tax"]) for p in order.products), Decimal(0))
    sub_ex = sum((Decimal(p["total_ex_tax"]) for p in order.products), Decimal(0))
    discount = Decimal(data["discount_amount"])
    total_inc = sub_inc + Decimal(data["shipping_cost_inc_tax"]) - discount
    total_ex = sub_ex + Decimal(data["shipping_cost_ex_tax"]) - ex_tax(discount)
    data.update(
        subtotal_ex_tax=money(sub_ex),
        subtotal_inc_tax=money(sub_inc),
        subtotal_tax=money(sub_inc - sub_ex),
        total_ex_tax=money(total_ex),
        total_inc_tax=money(total_inc),
        total_tax=money(total_inc - total_ex),
    )
    count_items(order)


def count_items(order: BcOrder) -> None:
    order.data["items_total"] = sum(p["quantity"] for p in order.products)
    order.data["items_shipped"] = sum(p["quantity_shipped"] for p in order.products)
    for address in order.addresses:
        mine = [p for p in order.products if p["order_address_id"] == address["id"]]
        address["items_total"] = sum(p["quantity"] for p in mine)
        address["items_shipped"] = sum(p["quantity_shipped"] for p in mine)


# --- rendering --------------------------------------------------------------------------------------------------


def render_order(order: BcOrder, base: str, include: set[str], as_object: bool) -> dict[str, Any]:
    """The order as `GET /v2/orders[/{id}]` answers it; `base` is the store's absolute `.../v2` URL."""
    oid = order.id
    out = dict(order.data)
    out["products"] = link(base, f"/orders/{oid}/products")
    out["shipping_addresses"] = link(base, f"/orders/{oid}/shippingaddresses")
    out["coupons"] = link(base, f"/orders/{oid}/coupons")
    embed = as_object and bool(include & {"consignments", "consignments.line_items"})
    lines = "consignments.line_items" in include
    out["consignments"] = consignments(order, base, lines) if embed else link(base, f"/orders/{oid}/consignments")
    if "fees" in include:
        out["fees"] = []
    return out


def consignments(order: BcOrder, base: str, with_lines: bool) -> dict[str, Any]:
    """`GET /v2/orders/{id}/consignments`: pickups and shipping consignments with their line items."""

    def items(key: str, value: int) -> list[dict[str, Any]]:
        mine = [p for p in order.products if p[key] == value]
        if with_lines:
            return [dict(p) for p in mine]
        return [link(base, f"/orders/{order.id}/products/{p['id']}") for p in mine]

    pickups = [{**c, "line_items": items("order_pickup_method_id", c["id"])} for c in order.pickups]
    shipping = [shipping_consignment(a, base, items("order_address_id", a["id"])) for a in order.addresses]
    return {"pickups": pickups, "shipping": shipping, "downloads": [], "email": {"gift_certificates": []}}


SHIPPING_KEYS = ("first_name", "last_name", "company", "street_1", "street_2", "city", "zip", "country")
COST_KEYS = ("base_cost", "cost_ex_tax", "cost_inc_tax", "cost_tax")
HANDLING_KEYS = ("base_handling_cost", "handling_cost_ex_tax", "handling_cost_inc_tax", "handling_cost_tax")


def shipping_consignment(address: dict[str, Any], base: str, items: list[dict[str, Any]]) -> dict[str, Any]:
    """A shipping consignment (`shippingConsignment_Get`): the spec gives its costs as numbers, not strings."""
    resource = f"/orders/{address['order_id']}/consignments/shipping/{address['id']}/shipping_quotes"
    return {
        "id": address["id"],
        **{k: address[k] for k in SHIPPING_KEYS},
        "country_iso2": address["country_iso2"],
        "state": address["state"],
        "email": address["email"],
        "phone": address["phone"],
        "form_fields": [],
        "shipping_method": address["shipping_method"],
        "line_items": items,
        "items_total": address["items_total"],
        "items_shipped": address["items_shipped"],
        **{k: float(address[k]) for k in (*COST_KEYS, *HANDLING_KEYS)},
        "cost_tax_class_id": 2,
        "handling_cost_tax_class_id": 2,
        "shipping_zone_id": 1,
        "shipping_zone_name": "Netherlands",
        "shipping_quotes": link(base, resource),
    }


def render_address(address: dict[str, Any], base: str) -> dict[str, Any]:
    resource = f"/orders/{address['order_id']}/shippingaddresses/{address['id']}/shippingquotes"
    return {**address, "shipping_quotes": link(base, resource)}


# --- selecting (GET /v2/orders and /v2/orders/count) --------------------------------------------------------------


def _total(order: BcOrder) -> Decimal:
    return Decimal(order.data["total_inc_tax"])


def _field(name: str) -> Callable[[BcOrder], Any]:
    return lambda order: order.data[name]


# query parameter -> (what it compares, how to read the parameter, comparison)
FILTERS: dict[str, tuple[Callable[[BcOrder], Any], Callable[[str], Any], Callable[[Any, Any], bool]]] = {
    "min_id": (lambda o: o.id, int, operator.ge),
    "max_id": (lambda o: o.id, int, operator.le),
    "min_total": (_total, Decimal, operator.ge),
    "max_total": (_total, Decimal, operator.le),
    "min_date_created": (lambda o: o.created, parse_date, operator.ge),
    "max_date_created": (lambda o: o.created, parse_date, operator.le),
    "min_date_modified": (lambda o: o.modified, parse_date, operator.ge),
    "max_date_modified": (lambda o: o.modified, parse_date, operator.le),
    "status_id": (_field("status_id"), int, operator.eq),
    "customer_id": (_field("customer_id"), int, operator.eq),
    "channel_id": (_field("channel_id"), int, operator.eq),
    "email": (lambda o: o.data["billing_address"]["email"], str, operator.eq),
    "cart_id": (_field("cart_id"), str, operator.eq),
    "payment_method": (_field("payment_method"), str, operator.eq),
    "external_order_id": (_field("external_order_id"), str, operator.eq),
}
SORT_KEYS: dict[str, Callable[[BcOrder], Any]] = {
    "id": lambda o: o.id,
    "customer_id": _field("customer_id"),
    "date_created": lambda o: o.created,
    "date_modified": lambda o: o.modified,
    "status_id": _field("status_id"),
    "channel_id": _field("channel_id"),
    "external_id": lambda o: o.data["external_id"] or "",
}


def predicates(query: Mapping[str, str]) -> list[Callable[[BcOrder], bool]]:
    """One test per filter in `query`; archived orders are left out unless `is_deleted=true` asks for them."""
    archived = query.get("is_deleted", "false").lower() == "true"
    tests: list[Callable[[BcOrder], bool]] = [lambda o: o.data["is_deleted"] is archived]
    for name, (getter, read, compare) in FILTERS.items():
        if name in query:
            value = _read(name, query[name], read)
            tests.append(_test(getter, compare, value))
    return tests


def _test(
    getter: Callable[[BcOrder], Any], compare: Callable[[Any, Any], bool], value: Any
) -> Callable[[BcOrder], bool]:
    return lambda order: bool(compare(getter(order), value))


def _read(name: str, raw: str, read: Callable[[str], Any]) -> Any:
    try:
        return read(raw)
    except (ValueError, ArithmeticError) as exc:
        raise QueryError(f"The field '{name}' is invalid.") from exc


def select(orders: Iterable[BcOrder], query: Mapping[str, str]) -> list[BcOrder]:
    """The orders matching the query's filters, in the order its `sort` asks (default: id ascending)."""
    tests = predicates(query)
    found = [o for o in orders if all(test(o) for test in tests)]
    key, _, direction = query.get("sort", "id").partition(":")
    if key not in SORT_KEYS or direction not in {"", "asc", "desc"}:
        raise QueryError("The field 'sort' is invalid.")
    if key != "id" or direction == "desc":
        found.sort(key=lambda o: (SORT_KEYS[key](o), o.id), reverse=direction == "desc")
    return found


def paging(query: Mapping[str, str], default: int = 50, maximum: int = 250) -> tuple[int, int]:
    """(page, limit) from `page` and `limit`; a limit over the maximum is refused as BigCommerce does (413)."""
    page = _read("page", query.get("page", "1"), lambda s: int(float(s)))
    limit = _read("limit", query.get("limit", str(default)), lambda s: int(float(s)))
    if page < 1 or limit < 1:
        raise QueryError("The field 'page' is invalid." if page < 1 else "The field 'limit' is invalid.")
    if limit > maximum:
        raise OverflowError(f"The limit parameter exceeded the maximum of {maximum}.")
    return page, limit


def status_counts(orders: Iterable[BcOrder]) -> dict[str, Any]:
    """`GET /v2/orders/count`: orders per status, in the control panel's order."""
    counts = dict.fromkeys(STATUSES, 0)
    total = 0
    for order in orders:
        counts[order.status_id] += 1
        total += 1
    statuses = [
        {
            "id": sid,
            "name": name,
            "system_label": name,
            "custom_label": name,
            "system_description": text,
            "count": counts[sid],
            "sort_order": position,
        }
        for sid, (name, text, position) in sorted(STATUSES.items(), key=lambda kv: kv[1][2])
    ]
    return {"statuses": statuses, "count": total}


def status_json(status_id: int) -> dict[str, Any]:
    name, text, position = STATUSES[status_id]
    return {
        "id": status_id,
        "name": name,
        "system_label": name,
        "custom_label": name,
        "system_description": text,
        "order": position,
    }
