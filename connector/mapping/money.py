"""Parsing helpers shared by the platform mappers: money, quantities, timestamps, text and payload structure.

Platforms write money three ways: decimal strings (`"199.00"`, Shopify, WooCommerce), 4-decimal strings
(`"54.0000"`, BigCommerce) and JSON numbers (`3.49`, Lightspeed, WooCommerce's line `price`). Every one of them
becomes an exact `Decimal`: a float goes through `repr`, which gives back the shortest text that reads as the same
float, i.e. the digits the JSON carried (`0.3` stays `Decimal('0.3')`, never `0.299999…`). An amount is then
written with its currency's number of decimals (two for EUR, none for JPY, three for KWD) when that loses
nothing (`"54.0000"` -> `54.00`); an amount with more significant digits keeps them all, because rounding is
not ours to do. Timestamps come back timezone-aware in UTC.

Every helper raises `PayloadError` (a `ValueError`) with a reason a support engineer can act on; the mapper
turns it into a `SkippableError` that names the store, platform and order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any

from connector.orders.model import Address, Money, Order, expected_total

_DECIMAL_TEXT = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$")  # as platforms write amounts: no exponent
_CURRENCY_TEXT = re.compile(r"^[A-Za-z]{3}$")

# ISO 4217 minor units where they are not two.
_MINOR_UNITS: dict[str, int] = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND", "VUV"), 0
    ),
    **dict.fromkeys(("XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


class PayloadError(ValueError):
    """A payload value that cannot be mapped; the message says which value and why."""


def minor_units(currency: str) -> int:
    """How many decimals the currency is written with (ISO 4217)."""
    return _MINOR_UNITS.get(currency, 2)


def parse_decimal(value: object, what: str) -> Decimal:
    """An exact decimal from a decimal string, an int, a JSON float or a Decimal."""
    if isinstance(value, bool) or value is None:
        raise PayloadError(f"{what} {value!r} is not a number")
    if isinstance(value, str):
        text = value.strip()
        if not _DECIMAL_TEXT.match(text):
            raise PayloadError(f"{what} {value!r} is not a decimal")
        return Decimal(text)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float | Decimal):
        number = Decimal(repr(value)) if isinstance(value, float) else value
        if not number.is_finite():
            raise PayloadError(f"{what} {value!r} is not a finite number")
        return number
    raise PayloadError(f"{what} {value!r} is not a number")


def scaled(amount: Decimal, currency: str) -> Decimal:
    """The amount written with the currency's decimals when that is exact; otherwise unchanged."""
    places = minor_units(currency)
    if amount.as_tuple().exponent != -places:
        try:
            fitted = amount.quantize(Decimal(1).scaleb(-places))
        except InvalidOperation:  # more digits than the context holds: leave it as written
            return amount
        if fitted == amount:
            amount = fitted
    return amount + 0  # `+ 0` turns a negative zero into zero


def parse_money(value: object, currency: str, what: str) -> Money:
    """A `Money` from any of the platforms' amount formats."""
    return Money(scaled(parse_decimal(value, what), currency), currency)


def money_of(amount: Decimal, currency: str) -> Money:
    """A `Money` from an amount computed here (a sum or a difference of parsed amounts)."""
    return Money(scaled(amount, currency), currency)


def sum_decimals(values: Iterable[object], what: str) -> Decimal:
    """The exact sum of several payload amounts."""
    return sum((parse_decimal(value, what) for value in values), Decimal(0))


def parse_quantity(value: object, what: str) -> int:
    """A non-negative whole quantity: an int, an integral JSON float (`2.0`) or a digit string."""
    if isinstance(value, bool) or value is None:
        raise PayloadError(f"{what} {value!r} is not a whole number")
    number = parse_decimal(value, what) if isinstance(value, str | float | Decimal) else value
    if not isinstance(number, int | Decimal) or number != int(number):
        raise PayloadError(f"{what} {value!r} is not a whole number")
    if number < 0:
        raise PayloadError(f"{what} {value!r} is negative")
    return int(number)


def parse_currency(value: object, what: str = "currency") -> str:
    """An ISO 4217 code, upper-cased."""
    if not isinstance(value, str) or not _CURRENCY_TEXT.match(value.strip()):
        raise PayloadError(f"{what} {value!r} is not an ISO 4217 code")
    return value.strip().upper()


def text(value: object) -> str:
    """A display string: absent, null and `false` (Lightspeed's "not set") become empty."""
    if value is None or value is False:
        return ""
    return str(value).strip()


def joined(*parts: object, sep: str = " ") -> str:
    """Non-empty parts joined, e.g. first and last name."""
    return sep.join(part for part in (text(p) for p in parts) if part)


def parse_iso(value: object, what: str) -> datetime:
    """An ISO-8601 timestamp that carries its UTC offset (Shopify, Lightspeed), in UTC."""
    moment = _from_iso(value, what)
    if moment.tzinfo is None:
        raise PayloadError(f"{what} {value!r} has no UTC offset")
    return moment.astimezone(UTC)


def parse_gmt(value: object, what: str) -> datetime:
    """A timestamp written in GMT without an offset (WooCommerce `*_gmt`), in UTC."""
    moment = _from_iso(value, what)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_rfc2822(value: object, what: str) -> datetime:
    """An RFC-2822 timestamp (BigCommerce V2; it also takes ISO-8601), in UTC.

    BigCommerce documents its response times as UTC, so a `-0000` ("zone unknown") offset is read as UTC.
    """
    if not isinstance(value, str) or not value.strip():
        raise PayloadError(f"{what} {value!r} is not a date")
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        moment = _from_iso(value, what)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _from_iso(value: object, what: str) -> datetime:
    if not isinstance(value, str):
        raise PayloadError(f"{what} {value!r} is not a date")
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise PayloadError(f"{what} {value!r} is not an ISO-8601 date") from None


def mapping(value: object, what: str) -> Mapping[str, Any]:
    """A JSON object, or a clear error naming what was expected."""
    if not isinstance(value, Mapping):
        raise PayloadError(f"{what} is not a JSON object (got {type(value).__name__})")
    return value


def records(value: object, what: str) -> Sequence[Mapping[str, Any]]:
    """A JSON array of objects; absent or null is empty."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise PayloadError(f"{what} is not a JSON array (got {type(value).__name__})")
    return [mapping(item, f"{what}[{index}]") for index, item in enumerate(value)]


def listed(raw: Mapping[str, Any], key: str, what: str = "order") -> Sequence[Mapping[str, Any]]:
    """A JSON array of objects that must be present; it may be empty.

    Used for an order's lines: a payload without them (trimmed, or a sub-resource the client did not attach)
    must never look like an order whose lines were all removed.
    """
    if raw.get(key) is None:
        raise PayloadError(f"{what} has no {key!r}")
    return records(raw[key], key)


def required(raw: Mapping[str, Any], key: str, what: str = "order") -> Any:
    """A field that must be present and not null."""
    value = raw.get(key)
    if value is None or value == "":
        raise PayloadError(f"{what} has no {key!r}")
    return value


def identifier(value: object) -> str:
    """A platform id as text (`450789469` -> "450789469"); empty when absent or not an id."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return ""
    return str(value).strip()


def flag_totals(order: Order) -> Order:
    """The order, with `totals_difference` set when its parts do not add up to the platform's total.

    The platform's total stays the truth: nothing is rounded or corrected, the difference is only recorded.
    """
    difference = order.total - expected_total(order)
    if difference.amount == 0:
        return order
    return order.with_changes(totals_difference=money_of(difference.amount, order.currency))


def unwrapped(raw: object, key: str) -> Mapping[str, Any]:
    """The resource itself, whether it came bare or wrapped (`{"order": {...}}`, as single GETs and some webhooks
    send it); keys the client attached beside the wrapper are kept."""
    payload = mapping(raw, "payload")
    inner = payload.get(key)
    if not isinstance(inner, Mapping):
        return payload
    extra = {k: v for k, v in payload.items() if k != key}
    return {**inner, **extra} if extra else inner


def peek_id(raw: object, key: str = "id", wrapper: str = "order") -> str:
    """The order's id for error reports, read without trusting the payload's shape."""
    if isinstance(raw, Mapping) and isinstance(raw.get(wrapper), Mapping):
        raw = raw[wrapper]
    return identifier(raw.get(key)) if isinstance(raw, Mapping) else ""


def address_or_none(address: Address) -> Address | None:
    """None when the payload's address has no place in it (pickup and virtual orders send blank ones)."""
    place = (address.name, address.company, address.line1, address.line2, address.city, address.postcode)
    return address if any(place) or address.country else None
