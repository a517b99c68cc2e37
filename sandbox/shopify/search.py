"""Shopify's search syntax for the GraphQL `orders(query: ...)` argument, as much of it as an order sync uses.

Terms are `field:value`, `field:>value` (also `>=`, `<`, `<=`), optionally negated with `-`, and are ANDed:
`updated_at:>='2024-05-01T00:00:00Z' status:open`. Fields: `created_at`, `updated_at`, `processed_at`, `id`,
`name`, `status`, `financial_status`, `fulfillment_status`, `email`, `sku`, `tag`. Bounds are inclusive the way
Shopify's are, and a date without a time means that day in the shop's time zone.

Two quirks copied from Shopify on purpose: an unquoted value ends at its first colon, so an unquoted timestamp is
cut to the hour and its tail turns into a bogus term; and an unknown field is ignored with an "Invalid search
field for this query." warning (reported under `extensions.search`) instead of failing the query.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sandbox.shopify.orders import SHOP_TZ, Json, OrderState

Check = Callable[[OrderState], bool]
TERM = re.compile(r"(?P<neg>-)?(?P<field>[\w.]+):(?P<op><=|>=|<|>)?(?P<value>'[^']*'|\"[^\"]*\"|\S*)")
TOKENS = re.compile(r"""(?:[^\s'"]+|'[^']*'|"[^"]*")+""")
OPS: dict[str, Callable[[Any, Any], bool]] = {
    "": operator.eq,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
STATUS: dict[str, Check] = {
    "open": lambda o: o.cancelled_at is None and o.closed_at is None,
    "closed": lambda o: o.closed_at is not None,
    "cancelled": lambda o: o.cancelled_at is not None,
    "not_closed": lambda o: o.closed_at is None,
    "any": lambda o: True,
}
FULFILMENT: dict[str, set[str | None]] = {
    "shipped": {"fulfilled"},
    "fulfilled": {"fulfilled"},
    "partial": {"partial"},
    "unshipped": {None},
    "unfulfilled": {None, "partial"},
}
TIMES = {"created_at": "created_at", "processed_at": "created_at", "updated_at": "updated_at"}


def order_search(query: str | None) -> tuple[Check, list[Json]]:
    """(predicate, warnings) for a Shopify order search query; no query matches every order."""
    checks: list[Check] = []
    warnings: list[Json] = []
    pending = TOKENS.findall(query or "")
    while pending:
        term = TERM.fullmatch(pending.pop(0))
        if term is None:
            continue  # free text and AND/OR: the connector never relies on them
        value = term["value"]
        if value[:1] in {"'", '"'}:
            value = value[1:-1]
        elif ":" in value:
            value, rest = value.split(":", 1)
            pending.insert(0, rest)
        check = build(term["field"], term["op"] or "", value)
        if check is None:
            warnings.append(
                {"field": term["field"], "message": "Invalid search field for this query.", "code": "invalid_field"}
            )
            continue
        checks.append((lambda c: lambda o: not c(o))(check) if term["neg"] else check)
    return (lambda order: all(check(order) for check in checks)), warnings


def build(field: str, op: str, value: str) -> Check | None:
    if field in TIMES:
        return time_check(TIMES[field], op, value)
    compare = OPS[op]
    builders: dict[str, Callable[[], Check]] = {
        "id": lambda: lambda o: compare(o.id, _int(value)),
        "name": lambda: lambda o: o.name == f"#{value.lstrip('#')}",
        "status": lambda: STATUS.get(value, STATUS["any"]),
        "financial_status": lambda: lambda o: o.financial_status == value,
        "fulfillment_status": lambda: lambda o: o.fulfillment_status() in FULFILMENT.get(value, {value or None}),
        "email": lambda: lambda o: o.customer.email.lower() == value.lower(),
        "sku": lambda: lambda o: any(line.item.sku == value for line in o.lines),
        "tag": lambda: lambda o: False,  # sandbox orders carry no tags
    }
    return builders[field]() if field in builders else None


def time_check(attr: str, op: str, value: str) -> Check:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return lambda o: False
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHOP_TZ)
    if op == "" and "T" not in value:
        day_end = moment + timedelta(days=1)
        return lambda o: moment <= getattr(o, attr) < day_end
    compare = OPS[op]
    return lambda o: compare(getattr(o, attr), moment)


def _int(value: str) -> int:
    digits = value.rsplit("/", 1)[-1]
    return int(digits) if digits.isdigit() else -1
