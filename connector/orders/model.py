"""The internal order model: pure values shared by mapping, allocation, fulfilment and storage.

Everything here is a frozen dataclass or an Enum. Money is a `Decimal` amount with an ISO-4217 currency; datetimes
are timezone-aware UTC. Nothing here does I/O. `order_json` renders the order JSON of the public interface
(API and `--json` output), with amounts as decimal strings and times as ISO-8601 UTC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

_CURRENCY = re.compile(r"^[A-Z]{3}$")


class Platform(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    BIGCOMMERCE = "bigcommerce"
    LIGHTSPEED = "lightspeed"


class OrderKind(StrEnum):
    DELIVERY = "delivery"
    PICKUP = "pickup"
    RESERVATION = "reservation"


class OrderStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PENDING = "pending"
    AUTHORIZED = "authorized"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    VOIDED = "voided"

    @property
    def settled(self) -> bool:
        """True when the money is in (a refund later does not make an order unpaid for fulfilment)."""
        return self in {PaymentStatus.PAID, PaymentStatus.PARTIALLY_REFUNDED, PaymentStatus.REFUNDED}


class FulfilmentStatus(StrEnum):
    NEW = "new"
    IN_PROGRESS = "in_progress"
    PACKED = "packed"
    SHIPPED = "shipped"
    PICKED_UP = "picked_up"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in {FulfilmentStatus.SHIPPED, FulfilmentStatus.PICKED_UP, FulfilmentStatus.CANCELLED}


# Order of progress, used to derive an order's fulfilment status as its least advanced fulfilment.
FULFILMENT_PROGRESS: dict[FulfilmentStatus, int] = {
    FulfilmentStatus.NEW: 0,
    FulfilmentStatus.IN_PROGRESS: 1,
    FulfilmentStatus.PACKED: 2,
    FulfilmentStatus.SHIPPED: 3,
    FulfilmentStatus.PICKED_UP: 3,
    FulfilmentStatus.CANCELLED: 4,
}


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount in one currency. Arithmetic across currencies is an error, never a conversion."""

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money amount must be a Decimal, got {type(self.amount).__name__}")
        if not self.amount.is_finite():
            raise ValueError(f"Money amount must be finite, got {self.amount}")
        if not _CURRENCY.match(self.currency):
            raise ValueError(f"currency must be an ISO-4217 code like 'EUR', got {self.currency!r}")

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(Decimal(0), currency)

    def _same(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        return Money(self.amount * factor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


@dataclass(frozen=True, slots=True)
class Address:
    name: str = ""
    company: str = ""
    line1: str = ""
    line2: str = ""
    city: str = ""
    postcode: str = ""
    region: str = ""
    country: str = ""  # ISO-3166 alpha-2 where the platform gives it
    phone: str = ""

    def as_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "company": self.company,
            "line1": self.line1,
            "line2": self.line2,
            "city": self.city,
            "postcode": self.postcode,
            "region": self.region,
            "country": self.country,
            "phone": self.phone,
        }


@dataclass(frozen=True, slots=True)
class Customer:
    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    """One order line: `total` is what the platform charges for the line (after line discounts)."""

    sku: str
    name: str
    quantity: int
    unit_price: Money
    total: Money
    external_id: str = ""

    def __post_init__(self) -> None:
        if self.quantity < 0:
            raise ValueError(f"line {self.sku!r}: quantity must not be negative, got {self.quantity}")
        if self.unit_price.currency != self.total.currency:
            raise ValueError(f"line {self.sku!r}: unit price and total have different currencies")


@dataclass(frozen=True, slots=True)
class Tracking:
    number: str
    carrier: str = ""
    url: str = ""


@dataclass(frozen=True, slots=True)
class FulfilmentLine:
    sku: str
    quantity: int


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """The part of an order that one location serves.

    `assigned_user` is the member of staff doing the work (ours alone: never sent to the platform); None when
    nobody has it.
    """

    location: str
    status: FulfilmentStatus = FulfilmentStatus.NEW
    lines: tuple[FulfilmentLine, ...] = ()
    tracking: Tracking | None = None
    id: int | None = None
    assigned_user: str | None = None


@dataclass(frozen=True, slots=True)
class Order:
    """An order as the connector knows it, whatever platform it came from."""

    store: str
    platform: Platform
    external_id: str
    number: str
    kind: OrderKind
    payment_status: PaymentStatus
    platform_status: str
    currency: str
    subtotal: Money
    shipping_total: Money
    tax_total: Money
    discount_total: Money
    total: Money
    created_at: datetime
    updated_at: datetime
    lines: tuple[Line, ...] = ()
    customer: Customer = field(default_factory=Customer)
    shipping_address: Address | None = None
    note: str = ""
    cancelled: bool = False
    pickup_location: str = ""  # the platform's pickup location id or name, for pickup orders
    fulfilments: tuple[Fulfilment, ...] = ()
    status: OrderStatus = OrderStatus.OPEN
    totals_difference: Money | None = None  # set when the parts do not add up to the platform's total
    id: int | None = None

    def __post_init__(self) -> None:
        for name in ("created_at", "updated_at"):
            value: datetime = getattr(self, name)
            if value.tzinfo is None or value.utcoffset() != UTC.utcoffset(None):
                raise ValueError(f"{name} must be timezone-aware UTC, got {value!r}")
        money = (self.subtotal, self.shipping_total, self.tax_total, self.discount_total, self.total)
        if any(m.currency != self.currency for m in money):
            raise ValueError(f"order {self.external_id}: every amount must be in {self.currency}")

    @property
    def fulfilment_status(self) -> FulfilmentStatus:
        """The least advanced live fulfilment; `new` when there is none yet."""
        live = [f.status for f in self.fulfilments if f.status is not FulfilmentStatus.CANCELLED]
        if not live:
            if self.fulfilments:
                return FulfilmentStatus.CANCELLED
            return FulfilmentStatus.NEW
        return min(live, key=FULFILMENT_PROGRESS.__getitem__)

    def with_changes(self, **changes: Any) -> Order:
        return replace(self, **changes)


def address_lines(address: dict[str, str] | None) -> tuple[str, ...]:
    """A stored address (`Address.as_dict`) as the lines of a label; postcode and city share one."""
    if not address:
        return ()
    city = " ".join(p for p in (address.get("postcode", ""), address.get("city", "")) if p)
    parts = [address.get(k, "") for k in ("name", "company", "line1", "line2")]
    parts += [city, address.get("region", ""), address.get("country", ""), address.get("phone", "")]
    return tuple(p for p in parts if p)


def expected_total(order: Order) -> Money:
    """What the parts add up to: subtotal + shipping + tax - discount.

    Platforms that quote tax-inclusive prices report tax inside the subtotal; their mapper states the parts so that
    this sum is comparable (see each mapping module).
    """
    return order.subtotal + order.shipping_total + order.tax_total - order.discount_total


def utc(value: datetime) -> datetime:
    """Normalise an aware datetime to UTC; refuse a naive one (its zone would be a guess)."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: its timezone is unknown")
    return value.astimezone(UTC)


def _money(value: Money | None) -> str | None:
    return None if value is None else format(value.amount, "f")


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def order_json(order: Order) -> dict[str, Any]:
    """The order JSON of the public interface (design section 7)."""
    return {
        "id": order.id,
        "store": order.store,
        "platform": order.platform.value,
        "external_id": order.external_id,
        "number": order.number,
        "kind": order.kind.value,
        "status": order.status.value,
        "fulfilment_status": order.fulfilment_status.value,
        "payment_status": order.payment_status.value,
        "currency": order.currency,
        "subtotal": _money(order.subtotal),
        "shipping_total": _money(order.shipping_total),
        "tax_total": _money(order.tax_total),
        "discount_total": _money(order.discount_total),
        "total": _money(order.total),
        "totals_difference": _money(order.totals_difference),
        "customer": {"name": order.customer.name, "email": order.customer.email, "phone": order.customer.phone},
        "shipping_address": order.shipping_address.as_dict() if order.shipping_address else None,
        "note": order.note,
        "lines": [
            {
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "unit_price": _money(line.unit_price),
                "total": _money(line.total),
            }
            for line in order.lines
        ],
        "fulfilments": [
            {
                "id": f.id,
                "location": f.location,
                "status": f.status.value,
                "lines": [{"sku": fl.sku, "quantity": fl.quantity} for fl in f.lines],
                "tracking": (
                    {"number": f.tracking.number, "carrier": f.tracking.carrier, "url": f.tracking.url}
                    if f.tracking
                    else None
                ),
                "assigned_user": f.assigned_user,
            }
            for f in order.fulfilments
        ],
        "platform_status": order.platform_status,
        "created_at": _iso(order.created_at),
        "updated_at": _iso(order.updated_at),
    }
