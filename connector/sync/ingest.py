"""The one ingest function, for webhooks and polls alike: upsert mapped orders by `(store, external_id)`.

    ingest_orders(session, store, orders, source=...) -> [Outcome]   a poll page, one outcome per order
    ingest_order(session, store, order, source=...) -> Outcome       one order: a batch of one

A batch of webhook deliveries passes `origins`, one `Origin` (topic and inbox item) per order, so each order's
timeline names the delivery it came from.

* a version older than the stored one (out-of-order or late delivery) changes nothing;
* an unchanged order (same content hash) changes nothing;
* anything else is stored, with a timeline entry that says what changed and where it came from.

A batch reads the stored versions of its orders in one query, without their lines; only orders that changed are
loaded whole, and new ones are inserted with one statement per table. The caller owns the transaction (one
webhook delivery, or one poll page). Stock allocation and the fulfilment workflow react to the `Outcome` (what
changed), never to raw payloads.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from connector.orders.model import Order, OrderStatus, PaymentStatus, Platform, order_json
from connector.storage import tables as t
from connector.storage.orders import to_model

# Fields whose change is worth a timeline line; lines are compared separately.
_TRACKED = (
    "number",
    "kind",
    "payment_status",
    "platform_status",
    "cancelled",
    "currency",
    "subtotal",
    "shipping_total",
    "tax_total",
    "discount_total",
    "total",
    "totals_difference",
    "customer",
    "shipping_address",
    "note",
    "pickup_location",
)


class Result(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    STALE = "stale"


@dataclass(frozen=True)
class Outcome:
    result: Result
    order_id: int | None
    changes: dict[str, Any] = field(default_factory=dict)
    previous: Order | None = None
    current: Order | None = None

    @property
    def stored(self) -> bool:
        return self.result in {Result.CREATED, Result.UPDATED}

    @property
    def needs_allocation(self) -> bool:
        """Lines, quantities, kind or cancellation changed (or the order is new)."""
        return self.result is Result.CREATED or bool({"lines", "kind", "cancelled"} & set(self.changes))


def content_hash(order: Order) -> str:
    """A fingerprint of what the platform says about the order (not our own state)."""
    data = order_json(order)
    for ours in ("id", "status", "fulfilment_status", "fulfilments"):
        data.pop(ours, None)
    data["cancelled"] = order.cancelled
    data["pickup_location"] = order.pickup_location
    encoded = json.dumps(data, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(encoded).hexdigest()


def _plain(value: Any) -> Any:
    """A JSON-friendly rendering of one order field, for timeline details."""
    if hasattr(value, "amount") and hasattr(value, "currency"):
        return format(value.amount, "f")
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if hasattr(value, "__dataclass_fields__"):
        return {k: getattr(value, k) for k in value.__dataclass_fields__}
    if hasattr(value, "value"):
        return value.value
    return value


def _line_map(order: Order) -> dict[str, int]:
    quantities: dict[str, int] = {}
    for line in order.lines:
        quantities[line.sku] = quantities.get(line.sku, 0) + line.quantity
    return quantities


def diff(old: Order, new: Order) -> dict[str, Any]:
    """What changed from `old` to `new`: {field: [old, new]}, lines as {sku: [old qty, new qty]}."""
    changes: dict[str, Any] = {}
    for name in _TRACKED:
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            changes[name] = [_plain(before), _plain(after)]
    old_lines, new_lines = _line_map(old), _line_map(new)
    line_changes = {
        sku: [old_lines.get(sku, 0), new_lines.get(sku, 0)]
        for sku in sorted(old_lines.keys() | new_lines.keys())
        if old_lines.get(sku, 0) != new_lines.get(sku, 0)
    }
    if line_changes:
        changes["lines"] = line_changes
    elif [(ln.sku, ln.name, ln.unit_price, ln.total) for ln in old.lines] != [
        (ln.sku, ln.name, ln.unit_price, ln.total) for ln in new.lines
    ]:
        changes["line_details"] = True
    return changes


def _status(order: Order, current: str) -> str:
    """Our status after the platform's word: cancelled follows the platform, anything else of ours is kept."""
    if order.cancelled:
        return OrderStatus.CANCELLED.value
    if current == OrderStatus.CANCELLED.value or not current:
        return OrderStatus.OPEN.value
    return current


def _values(order: Order, digest: str, *, status: str, paid_amount: Decimal | None) -> dict[str, Any]:
    """The `orders` columns the platform's version of the order decides (ours: status, stock, payments kept)."""
    locally_paid = paid_amount is not None and paid_amount >= order.total.amount
    return {
        "number": order.number,
        "kind": order.kind.value,
        "payment_status": PaymentStatus.PAID.value if locally_paid else order.payment_status.value,
        "platform_status": order.platform_status,
        "currency": order.currency,
        "subtotal": order.subtotal.amount,
        "shipping_total": order.shipping_total.amount,
        "tax_total": order.tax_total.amount,
        "discount_total": order.discount_total.amount,
        "total": order.total.amount,
        "totals_difference": order.totals_difference.amount if order.totals_difference else None,
        "customer_name": order.customer.name,
        "customer_email": order.customer.email,
        "customer_phone": order.customer.phone,
        "shipping_address": order.shipping_address.as_dict() if order.shipping_address else None,
        "note": order.note,
        "cancelled": order.cancelled,
        "pickup_location": order.pickup_location,
        "platform_created_at": order.created_at,
        "platform_updated_at": order.updated_at,
        "payload_hash": digest,
        "status": _status(order, status),
    }


def _line_values(order: Order) -> list[dict[str, Any]]:
    return [
        {
            "position": n,
            "external_id": line.external_id,
            "sku": line.sku,
            "name": line.name,
            "quantity": line.quantity,
            "unit_price": line.unit_price.amount,
            "total": line.total.amount,
        }
        for n, line in enumerate(order.lines)
    ]


@dataclass(frozen=True, slots=True)
class Origin:
    """Where an order came from, for its timeline entry: a poll page, or one webhook delivery (topic, inbox item)."""

    source: str
    topic: str = ""
    inbox_id: int | None = None

    @property
    def details(self) -> dict[str, Any]:
        return {"source": self.source, "topic": self.topic, "inbox_id": self.inbox_id}

    @property
    def text(self) -> str:
        return f"{self.source} {self.topic}".strip()


class _Head(NamedTuple):
    """What deciding stale / unchanged needs of a stored order: no lines, no fulfilments."""

    id: int
    platform_updated_at: datetime
    payload_hash: str


def ingest_order(
    session: Session,
    store_id: int,
    order: Order,
    *,
    source: str,
    topic: str = "",
    inbox_id: int | None = None,
) -> Outcome:
    """Upsert one mapped order: `ingest_orders` with a batch of one."""
    return ingest_orders(session, store_id, [order], source=source, topic=topic, inbox_id=inbox_id)[0]


def ingest_orders(
    session: Session,
    store_id: int,
    orders: Sequence[Order],
    *,
    source: str,
    topic: str = "",
    inbox_id: int | None = None,
    origins: Sequence[Origin] | None = None,
) -> list[Outcome]:
    """Upsert a batch of mapped orders (a poll page, or webhook deliveries); one outcome per order, in order.

    The external ids must be distinct (`distinct_runs` splits a batch that repeats one). The stored versions are
    read in one query without their lines; only changed orders are loaded whole, and new ones are written with
    one statement per table. `origins` (one per order) overrides `source`, `topic` and `inbox_id`.
    """
    if len({o.external_id for o in orders}) != len(orders):
        raise ValueError("a batch must not repeat an external id: split it with distinct_runs")
    if origins is None:
        origins = [Origin(source, topic, inbox_id)] * len(orders)
    elif len(origins) != len(orders):
        raise ValueError("origins must name one origin per order")
    digests = [content_hash(order) for order in orders]
    heads = _heads(session, store_id, [order.external_id for order in orders])
    results = [_decide(heads.get(o.external_id), o, digest) for o, digest in zip(orders, digests, strict=True)]
    batch = list(zip(orders, digests, results, origins, strict=True))
    changed = _load(session, [heads[o.external_id].id for o, _, result, _ in batch if result is Result.UPDATED])
    created = iter(
        _create(session, store_id, [(o, d, origin) for o, d, result, origin in batch if result is Result.CREATED])
    )
    outcomes = []
    for order, digest, result, origin in batch:
        if result is Result.CREATED:
            outcomes.append(next(created))
        elif result is Result.UPDATED:
            outcomes.append(_update(session, changed[heads[order.external_id].id], order, digest, origin))
        else:
            outcomes.append(Outcome(result, heads[order.external_id].id))
    if changed:
        session.flush()
    return outcomes


def distinct_runs(orders: Sequence[Order]) -> Iterator[list[Order]]:
    """Consecutive runs of orders in which no external id repeats, so each repeat sees the one before it."""
    run: list[Order] = []
    seen: set[str] = set()
    for order in orders:
        if order.external_id in seen:
            yield run
            run, seen = [], set()
        run.append(order)
        seen.add(order.external_id)
    if run:
        yield run


def _decide(head: _Head | None, order: Order, digest: str) -> Result:
    """New, stale (older than the stored version), unchanged (same content), or an update."""
    if head is None:
        return Result.CREATED
    if order.updated_at < head.platform_updated_at:
        return Result.STALE
    if head.payload_hash == digest:
        return Result.UNCHANGED
    return Result.UPDATED


# Built once: SQLAlchemy memoizes a statement's cache key on the statement object, and the webhook path runs these
# hundreds of times a second with a handful of orders each.
_HEADS = select(t.Order.external_id, t.Order.id, t.Order.platform_updated_at, t.Order.payload_hash).where(
    t.Order.store_id == bindparam("store_id"), t.Order.external_id.in_(bindparam("external_ids", expanding=True))
)
_ORDER_TABLE = t.core(t.Order)
# Matched back by external id: RETURNING in parameter order would cost SQLite one statement per row.
_INSERT_ORDERS = insert(_ORDER_TABLE).returning(_ORDER_TABLE.c.external_id, _ORDER_TABLE.c.id)
_INSERT_LINES = insert(t.core(t.OrderLine))
_INSERT_ENTRIES = insert(t.core(t.TimelineEntry))
_STORE = select(t.Store.name, t.Store.platform).where(t.Store.id == bindparam("store_id"))


def _heads(session: Session, store_id: int, external_ids: list[str]) -> dict[str, _Head]:
    rows = session.connection().execute(_HEADS, {"store_id": store_id, "external_ids": external_ids})
    return {external_id: _Head(id_, updated_at, digest) for external_id, id_, updated_at, digest in rows}


def _load(session: Session, ids: list[int]) -> dict[int, t.Order]:
    """The stored orders that change, whole (lines and fulfilments), in one query per relationship."""
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(t.Order).where(t.Order.id.in_(ids)))}


def _update(session: Session, row: t.Order, order: Order, digest: str, origin: Origin) -> Outcome:
    previous = to_model(row)
    changes = diff(previous, order)
    for name, value in _values(order, digest, status=row.status, paid_amount=row.paid_amount).items():
        setattr(row, name, value)
    if "lines" in changes or "line_details" in changes:
        row.lines = [t.OrderLine(**values) for values in _line_values(order)]
    if row.deleted and not order.cancelled:
        row.deleted = False
    summary = ", ".join(sorted(changes)) or "platform timestamp"
    session.add(
        t.TimelineEntry(
            order_id=row.id,
            kind="change",
            summary=f"updated from {origin.text}: {summary}",
            details={**origin.details, "changes": changes, "platform_updated_at": order.updated_at.isoformat()},
            actor=origin.source,
        )
    )
    return Outcome(Result.UPDATED, row.id, changes, previous, to_model(row))


def _create(session: Session, store_id: int, fresh: list[tuple[Order, str, Origin]]) -> list[Outcome]:
    """Insert new orders, their lines and timeline entries: one executemany per table, no ORM unit of work."""
    if not fresh:
        return []
    rows = [
        _values(order, digest, status="", paid_amount=None)
        | {"store_id": store_id, "external_id": order.external_id, "version": 1}
        for order, digest, _ in fresh
    ]
    connection = session.connection()  # Core statements: the ORM's execution layer would only add cost here
    returned: dict[str, int] = {external_id: id_ for external_id, id_ in connection.execute(_INSERT_ORDERS, rows)}
    ids = [returned[order.external_id] for order, _, _ in fresh]
    lines = [
        values | {"order_id": id_}
        for id_, (order, _, _) in zip(ids, fresh, strict=True)
        for values in _line_values(order)
    ]
    if lines:
        connection.execute(_INSERT_LINES, lines)
    entries = [_created_entry(id_, order, origin) for id_, (order, _, origin) in zip(ids, fresh, strict=True)]
    connection.execute(_INSERT_ENTRIES, entries)
    store = connection.execute(_STORE, {"store_id": store_id}).one()
    return [
        Outcome(Result.CREATED, id_, current=_as_stored(order, id_, store.name, store.platform, row["status"]))
        for id_, (order, _, _), row in zip(ids, fresh, rows, strict=True)
    ]


def _as_stored(order: Order, order_id: int, store: str, platform: str, status: str) -> Order:
    """The new order as `to_model` would read it back: the mapped order is that already, with our id and status."""
    return order.with_changes(
        id=order_id, store=store, platform=Platform(platform), status=OrderStatus(status), fulfilments=()
    )


def _created_entry(order_id: int, order: Order, origin: Origin) -> dict[str, Any]:
    flag = f"; totals differ by {order.totals_difference}" if order.totals_difference else ""
    return {
        "order_id": order_id,
        "kind": "inbound",
        "summary": f"created from {origin.text}{flag}",
        "details": {**origin.details, "platform_updated_at": order.updated_at.isoformat()},
        "actor": origin.source,
    }


def mark_deleted(session: Session, store_id: int, external_id: str, *, source: str) -> int | None:
    """The platform deleted the order: keep it (history), flag it, and let allocation give its stock back."""
    row = session.scalar(select(t.Order).where(t.Order.store_id == store_id, t.Order.external_id == external_id))
    if row is None or row.deleted:
        return None
    row.deleted = True
    row.status = OrderStatus.CANCELLED.value
    session.add(
        t.TimelineEntry(
            order_id=row.id,
            kind="change",
            summary=f"deleted on the platform ({source})",
            details={"source": source},
            actor=source,
        )
    )
    session.flush()
    return row.id
