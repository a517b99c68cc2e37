"""Shopify sandbox: order state, its money, and Shopify's routing of order lines to fulfillment orders.

`ShopifyState` keeps one `OrderState` per order and renders it with `shopify_json.render_order` whenever it
changes. Nothing here does HTTP, takes locks or reads the clock: callers pass times in and hold the sandbox lock.

Money follows Shopify's convention for a shop that shows prices without tax (`taxes_included: false`):
`subtotal_price` = line items - discounts and `total_price` = subtotal + shipping + tax, all decimal strings.
The original totals stay as ordered; the `current_*` fields and line `current_quantity` follow order edits, as
Shopify's do. Routing sends a whole order to the first location that has every line in stock, else each line to
a location that has it, and a pickup order to its pickup location: one fulfillment order per location.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.core import CatalogueItem

Json = dict[str, Any]

SHOP_TZ = ZoneInfo("Europe/Amsterdam")
CURRENCY = "EUR"
TAX_RATE = Decimal("0.21")
TAX_TITLE = "NL BTW"
STANDARD_SHIPPING = Decimal("4.95")
FREE_SHIPPING_FROM = Decimal("75.00")
USD_PER_EUR = Decimal("1.08")
CENT = Decimal("0.01")
GRAMS = 250

# Shopify ids are large integers; each resource kind counts up from its own base so ids look like the real thing.
ID_BASES = {
    "order": 5_820_000_000_000,
    "line": 14_300_000_000_000,
    "fo": 6_710_000_000_000,
    "fo_line": 14_900_000_000_000,
    "fulfillment": 5_260_000_000_000,
    "customer": 7_410_000_000_000,
    "shipping_line": 4_620_000_000_000,
    "delivery_method": 811_000_000_000,
    "webhook": 1_340_000_000,
    "edit": 1_830_000_000,
}
SHOP_ID = 60_750_000_000
SHOP_DOMAIN = "sandbox-shop.myshopify.com"
LOCATION_BASE = 71_000_000_000
STREETS = {
    "amsterdam": ("Damrak 70", "1012 LM", "North Holland", "NH"),
    "utrecht": ("Oudegracht 158", "3511 AZ", "Utrecht", "UT"),
    "rotterdam": ("Lijnbaan 45", "3012 EL", "South Holland", "ZH"),
}
CUSTOMER_CITIES = (
    ("Amsterdam", "1017 CE", "North Holland", "NH"),
    ("Utrecht", "3512 JE", "Utrecht", "UT"),
    ("Rotterdam", "3011 BD", "South Holland", "ZH"),
    ("Den Haag", "2511 CV", "South Holland", "ZH"),
    ("Eindhoven", "5611 AZ", "North Brabant", "NB"),
    ("Groningen", "9711 LM", "Groningen", "GR"),
)


class IdBank:
    """Hands out Shopify-looking ids per resource kind (thread-safe: `itertools.count` is atomic)."""

    def __init__(self) -> None:
        self._counters = {kind: itertools.count(base + 1) for kind, base in ID_BASES.items()}

    def next(self, kind: str) -> int:
        return next(self._counters[kind])


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, ROUND_HALF_UP)


@lru_cache(maxsize=8192)
def money(value: Decimal) -> str:
    return f"{cents(value):.2f}"


@lru_cache(maxsize=8192)
def money_set(value: Decimal) -> Json:
    """Shopify's `*_set` money bag (cached: rendered JSON is never mutated, so bags can be shared)."""
    amount = {"amount": money(value), "currency_code": CURRENCY}
    return {"shop_money": amount, "presentment_money": dict(amount)}


def shop_time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(SHOP_TZ).isoformat()


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def token(*parts: object) -> str:
    return hashlib.md5("/".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def product_id(item: CatalogueItem) -> int:
    return 8_100_000_000_000 + item.product_id


def variant_id(item: CatalogueItem) -> int:
    return 44_200_000_000_000 + item.variant_id


def inventory_item_id(item: CatalogueItem) -> int:
    return 46_300_000_000_000 + item.variant_id


@dataclass(frozen=True)
class Location:
    key: str  # the location's name in the connector config (amsterdam)
    id: int
    name: str  # what the merchant calls it in Shopify (Amsterdam)
    address1: str
    zip: str
    province: str
    province_code: str


def make_locations(keys: tuple[str, ...]) -> dict[str, Location]:
    out = {}
    for n, key in enumerate(keys, start=1):
        street, zip_code, province, code = STREETS.get(key, (f"{key.title()}straat 1", "1000 AA", "Utrecht", "UT"))
        out[key] = Location(key, LOCATION_BASE + n, key.title(), street, zip_code, province, code)
    return out


@dataclass
class Line:
    id: int
    item: CatalogueItem
    price: Decimal
    quantity: int  # as ordered
    current: int  # after order edits
    fulfilled: int = 0

    @property
    def unfulfilled(self) -> int:
        return max(self.current - self.fulfilled, 0)


@dataclass
class FoLine:
    id: int
    line: Line
    quantity: int
    remaining: int


@dataclass
class FulfillmentOrder:
    id: int
    order_id: int
    location: Location
    method: str  # REST delivery_method.method_type: shipping | pick_up
    delivery_method_id: int
    lines: list[FoLine]
    created_at: datetime
    updated_at: datetime
    status: str = "open"  # open | in_progress | closed
    prepared_at: datetime | None = None  # marked ready for pickup (GraphQL only)

    @property
    def fulfillable(self) -> bool:
        return self.status in {"open", "in_progress"}


@dataclass
class Tracking:
    company: str | None = None
    numbers: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)


@dataclass
class Fulfillment:
    id: int
    name: str
    location: Location
    lines: list[tuple[Line, int]]
    tracking: Tracking
    created_at: datetime
    updated_at: datetime
    fo_ids: list[int]
    pickup: bool = False


@dataclass(frozen=True)
class Customer:
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str | None
    created_at: datetime


@dataclass(frozen=True)
class Totals:
    line_items: Decimal
    discounts: Decimal
    shipping: Decimal
    tax: Decimal

    @property
    def subtotal(self) -> Decimal:
        return self.line_items - self.discounts

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.shipping + self.tax


def line_tax(amount: Decimal) -> Decimal:
    return cents(amount * TAX_RATE)


def allocate(discount: Decimal, amounts: list[Decimal]) -> list[Decimal]:
    """Spread an order discount over line amounts in proportion, the rounding rest on the last line."""
    total = sum(amounts, Decimal(0))
    if not discount or not total:
        return [Decimal(0)] * len(amounts)
    shares = [cents(discount * amount / total) for amount in amounts[:-1]]
    return [*shares, discount - sum(shares, Decimal(0))]


def totals(lines: list[Line], shipping: Decimal, discount: Decimal, *, current: bool) -> Totals:
    amounts = [line.price * (line.current if current else line.quantity) for line in lines]
    line_items = cents(sum(amounts, Decimal(0)))
    applied = min(discount, line_items)
    taxed = [amount - share for amount, share in zip(amounts, allocate(applied, amounts), strict=True)]
    tax = sum((line_tax(amount) for amount in taxed), Decimal(0)) + line_tax(shipping)
    return Totals(line_items, applied, cents(shipping), tax)


def shipping_price(lines: list[Line], pickup: bool) -> Decimal:
    subtotal = sum((line.price * line.quantity for line in lines), Decimal(0))
    return Decimal("0.00") if pickup or subtotal >= FREE_SHIPPING_FROM else STANDARD_SHIPPING


@dataclass
class OrderState:
    id: int
    number: int
    customer: Customer
    address: Json | None  # REST shipping address; None for local pickup
    lines: list[Line]
    shipping: Decimal
    shipping_line_id: int
    pickup: Location | None
    financial_status: str  # pending | paid | partially_paid | voided | refunded
    created_at: datetime
    updated_at: datetime
    discount_code: str | None = None
    discount: Decimal = Decimal(0)  # a fixed-amount discount code over the whole order
    received: Decimal = Decimal(0)  # what the customer has paid so far
    fos: list[FulfillmentOrder] = field(default_factory=list)
    fulfillments: list[Fulfillment] = field(default_factory=list)
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    closed_at: datetime | None = None
    deleted: bool = False
    native: Json = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"#{1000 + self.number}"

    @property
    def original(self) -> Totals:
        return totals(self.lines, self.shipping, self.discount, current=False)

    @property
    def current(self) -> Totals:
        return totals(self.lines, self.shipping, self.discount, current=True)

    def allocations(self) -> dict[int, Decimal]:
        """Line id -> its share of the order discount, on current quantities."""
        amounts = [line.price * line.current for line in self.lines]
        shares = allocate(min(self.discount, cents(sum(amounts, Decimal(0)))), amounts)
        return {line.id: share for line, share in zip(self.lines, shares, strict=True)}

    def fulfillment_status(self) -> str | None:
        active = [line for line in self.lines if line.current > 0]
        if active and all(line.fulfilled >= line.current for line in active):
            return "fulfilled"
        return "partial" if any(line.fulfilled for line in self.lines) else None

    def line(self, line_id: int) -> Line | None:
        return next((line for line in self.lines if line.id == line_id), None)

    def fo(self, fo_id: int) -> FulfillmentOrder | None:
        return next((fo for fo in self.fos if fo.id == fo_id), None)


# --- routing: which location Shopify assigns each line to ---------------------------------------------------------
def stock(line: Line, location: Location) -> int:
    return line.item.stock.get(location.key, 0)


def best_location(line: Line, locations: list[Location]) -> Location:
    stocked = [loc for loc in locations if stock(line, loc) >= line.current]
    return stocked[0] if stocked else max(locations, key=lambda loc: stock(line, loc))


def route(lines: list[Line], locations: list[Location], pickup: Location | None) -> dict[str, list[Line]]:
    """Location key -> lines: one location that has everything if any does, else each line where it is in stock."""
    if pickup is not None:
        return {pickup.key: list(lines)}
    for loc in locations:
        if all(stock(line, loc) >= line.current for line in lines):
            return {loc.key: list(lines)}
    routed: dict[str, list[Line]] = {}
    for line in lines:
        routed.setdefault(best_location(line, locations).key, []).append(line)
    return routed


def new_fo(order: OrderState, location: Location, lines: list[FoLine], ids: IdBank, now: datetime) -> FulfillmentOrder:
    method = "pick_up" if order.pickup is not None else "shipping"
    return FulfillmentOrder(ids.next("fo"), order.id, location, method, ids.next("delivery_method"), lines, now, now)


def place(order: OrderState, location: Location, lines: list[FoLine], ids: IdBank, now: datetime) -> None:
    """Add `lines` to the order's open fulfillment order at `location`, opening one if there is none."""
    fo = next((f for f in order.fos if f.location.key == location.key and f.status == "open"), None)
    if fo is None:
        order.fos.append(new_fo(order, location, lines, ids, now))
        return
    fo.lines += lines
    fo.updated_at = now


def assign(order: OrderState, lines: list[Line], locations: dict[str, Location], ids: IdBank, now: datetime) -> None:
    """Route `lines` (their current quantities) to fulfillment orders, as Shopify does when an order comes in."""
    for key, routed in route(lines, list(locations.values()), order.pickup).items():
        fo_lines = [FoLine(ids.next("fo_line"), line, line.current, line.current) for line in routed]
        place(order, locations[key], fo_lines, ids, now)


def reassign(
    order: OrderState, line: Line, delta: int, locations: dict[str, Location], ids: IdBank, now: datetime
) -> None:
    """An order edit changed `line` by `delta`: follow it on its open fulfillment order, or route the extra units."""
    for fo in order.fos:
        fo_line = next((x for x in fo.lines if x.line is line), None) if fo.fulfillable else None
        if fo_line is not None:
            fo_line.quantity += delta
            fo_line.remaining = max(fo_line.remaining + delta, 0)
            fo.lines = [x for x in fo.lines if x.quantity > 0]
            fo.status = fo.status if fo.lines else "closed"
            fo.updated_at = now
            return
    if delta > 0:
        location = order.pickup or best_location(line, list(locations.values()))
        place(order, location, [FoLine(ids.next("fo_line"), line, delta, delta)], ids, now)
