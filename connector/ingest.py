"""The one ingest function, for webhooks and polls alike: upsert a mapped order by `(store, external_id)`.

    ingest_order(session, store, order, source=...) -> Outcome

* a version older than the stored one (out-of-order or late delivery) changes nothing;
* an unchanged order (same content hash) changes nothing;
* anything else is stored, with a timeline entry that says what changed and where it came from.

The caller owns the transaction (one webhook delivery, or one poll page). Stock allocation and the fulfilment
workflow react to the `Outcome` (what changed), never to raw payloads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.model import Order, OrderStatus, PaymentStatus, order_json
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


def _fill(row: t.Order, order: Order, digest: str) -> None:
    row.number = order.number
    row.kind = order.kind.value
    locally_paid = row.paid_amount is not None and row.paid_amount >= order.total.amount
    row.payment_status = PaymentStatus.PAID.value if locally_paid else order.payment_status.value
    row.platform_status = order.platform_status
    row.currency = order.currency
    row.subtotal = order.subtotal.amount
    row.shipping_total = order.shipping_total.amount
    row.tax_total = order.tax_total.amount
    row.discount_total = order.discount_total.amount
    row.total = order.total.amount
    row.totals_difference = order.totals_difference.amount if order.totals_difference else None
    row.customer_name, row.customer_email, row.customer_phone = (
        order.customer.name,
        order.customer.email,
        order.customer.phone,
    )
    row.shipping_address = order.shipping_address.as_dict() if order.shipping_address else None
    row.note = order.note
    row.cancelled = order.cancelled
    row.pickup_location = order.pickup_location
    row.platform_created_at = order.created_at
    row.platform_updated_at = order.updated_at
    row.payload_hash = digest
    if order.cancelled:
        row.status = OrderStatus.CANCELLED.value
    elif row.status == OrderStatus.CANCELLED.value or not row.status:
        row.status = OrderStatus.OPEN.value


def _lines(order: Order) -> list[t.OrderLine]:
    return [
        t.OrderLine(
            position=n,
            external_id=line.external_id,
            sku=line.sku,
            name=line.name,
            quantity=line.quantity,
            unit_price=line.unit_price.amount,
            total=line.total.amount,
        )
        for n, line in enumerate(order.lines)
    ]


def _source_text(source: str, topic: str) -> str:
    return f"{source} {topic}".strip()


def ingest_order(
    session: Session,
    store_id: int,
    order: Order,
    *,
    source: str,
    topic: str = "",
    inbox_id: int | None = None,
    existing: t.Order | None = None,
) -> Outcome:
    """Upsert one mapped order. `existing` may be passed when the caller already loaded the row (a poll page)."""
    row = existing or session.scalar(
        select(t.Order).where(t.Order.store_id == store_id, t.Order.external_id == order.external_id)
    )
    digest = content_hash(order)
    details: dict[str, Any] = {"source": source, "topic": topic, "inbox_id": inbox_id}
    if row is None:
        return _create(session, store_id, order, digest, details)
    if order.updated_at < row.platform_updated_at:
        return Outcome(Result.STALE, row.id)
    if row.payload_hash == digest:
        return Outcome(Result.UNCHANGED, row.id)
    previous = to_model(row)
    changes = diff(previous, order)
    _fill(row, order, digest)
    if "lines" in changes or "line_details" in changes:
        row.lines = _lines(order)
    if row.deleted and not order.cancelled:
        row.deleted = False
    summary = ", ".join(sorted(changes)) or "platform timestamp"
    session.add(
        t.TimelineEntry(
            order_id=row.id,
            kind="change",
            summary=f"updated from {_source_text(source, topic)}: {summary}",
            details={**details, "changes": changes, "platform_updated_at": order.updated_at.isoformat()},
            actor=source,
        )
    )
    session.flush()
    return Outcome(Result.UPDATED, row.id, changes, previous, to_model(row))


def _create(session: Session, store_id: int, order: Order, digest: str, details: dict[str, Any]) -> Outcome:
    row = t.Order(store_id=store_id, external_id=order.external_id, status="")
    _fill(row, order, digest)
    row.lines = _lines(order)
    session.add(row)
    session.flush()
    flag = f"; totals differ by {order.totals_difference}" if order.totals_difference else ""
    session.add(
        t.TimelineEntry(
            order_id=row.id,
            kind="inbound",
            summary=f"created from {_source_text(details['source'], details['topic'])}{flag}",
            details={**details, "platform_updated_at": order.updated_at.isoformat()},
            actor=details["source"],
        )
    )
    session.flush()
    return Outcome(Result.CREATED, row.id, {}, None, to_model(row))


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
