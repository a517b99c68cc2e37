"""What the dashboard's pages read from the database: the fulfilment queue of a location and sync activity.

    queue(session, location)        open fulfilments at one location, newest order first (a POS fulfilment list)
    back_ordered(session, location) orders waiting for stock that may be served here, oldest first (served first)
    open_counts(session)            {location: open fulfilments}
    failed_writes(session)          write-backs that gave up, newest first
    hourly_activity(session, now)   the last 24 hours: orders stored per hour and store, and how late they came

Reads only; the caller owns the session. Everything returned is a frozen value the templates can show as is.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.orders.model import FulfilmentStatus, OrderKind, OrderStatus, PaymentStatus, address_lines
from connector.stock import back_orders
from connector.storage import tables as t
from connector.storage.types import OutboxStatus

OPEN = (FulfilmentStatus.NEW.value, FulfilmentStatus.IN_PROGRESS.value, FulfilmentStatus.PACKED.value)


@dataclass(frozen=True)
class Item:
    sku: str
    name: str
    quantity: int


@dataclass(frozen=True)
class QueueRow:
    """One open fulfilment as the fulfilment list shows it."""

    fulfilment_id: int
    order_id: int
    number: str
    store: str
    created_at: datetime
    status: str
    kind: str
    customer: str
    contact: str
    items: tuple[Item, ...]
    note: str
    address: tuple[str, ...]
    assigned_user: str
    payment_status: str
    paid: bool
    total: Decimal
    outstanding: Decimal
    currency: str


@dataclass(frozen=True)
class FailedWrite:
    id: int
    store: str
    order_id: int
    number: str
    action: str
    target: str
    location: str
    attempts: int
    last_error: str


@dataclass(frozen=True)
class Hour:
    start: datetime
    orders: dict[str, int]  # store -> orders stored in this hour
    delay_s: float | None  # median seconds from the platform's creation to ours


def queue(session: Session, location: str, limit: int = 200) -> list[QueueRow]:
    query = (
        select(t.Fulfilment)
        .join(t.Order)
        .where(t.Fulfilment.location == location, t.Fulfilment.status.in_(OPEN))
        .where(t.Order.status == OrderStatus.OPEN.value, t.Order.deleted.is_(False))
        .order_by(t.Order.platform_created_at.desc(), t.Order.id.desc(), t.Fulfilment.id)
        .limit(limit)
    )
    return [_row(f) for f in session.scalars(query)]


def _row(f: t.Fulfilment) -> QueueRow:
    order = f.order
    names = {line.sku: line.name for line in order.lines}
    paid = order.paid_amount or Decimal(0)
    return QueueRow(
        fulfilment_id=f.id,
        order_id=order.id,
        number=order.number,
        store=order.store.name,
        created_at=order.platform_created_at,
        status=f.status,
        kind=order.kind,
        customer=order.customer_name,
        contact=order.customer_email or order.customer_phone,
        items=tuple(Item(fl.sku, names.get(fl.sku, ""), fl.quantity) for fl in f.lines if fl.quantity),
        note=order.note,
        address=address_lines(order.shipping_address),
        assigned_user=f.assigned_user or "",
        payment_status=order.payment_status,
        paid=PaymentStatus(order.payment_status).settled,
        total=order.total,
        outstanding=max(order.total - paid, Decimal(0)),
        currency=order.currency,
    )


@dataclass(frozen=True)
class BackOrderRow:
    order_id: int
    number: str
    store: str
    created_at: datetime
    kind: str
    customer: str
    waits_at: str  # the pickup shop, or "any location"
    items: tuple[Item, ...]  # the units still owed


def back_ordered(session: Session, location: str, limit: int = 200) -> list[BackOrderRow]:
    """Waiting orders that stock arriving at `location` could serve: its pickup orders and every non-pickup one."""
    here = (t.Order.kind != OrderKind.PICKUP.value) | (t.Order.pickup_location == location)
    query = (
        select(t.Order)
        .where(back_orders.is_waiting(), here)
        .order_by(t.Order.platform_created_at, t.Order.id)
        .limit(limit)
    )
    rows = []
    for order in session.scalars(query):
        names = {line.sku: line.name for line in order.lines}
        owed = tuple(Item(sku, names.get(sku, ""), q) for sku, q in (order.back_orders or {}).items() if q)
        pickup = order.kind == OrderKind.PICKUP.value
        rows.append(
            BackOrderRow(
                order.id,
                order.number,
                order.store.name,
                order.platform_created_at,
                order.kind,
                order.customer_name,
                location if pickup else "any location",
                owed,
            )
        )
    return rows


def open_counts(session: Session) -> dict[str, int]:
    query = (
        select(t.Fulfilment.location, func.count())
        .join(t.Order)
        .where(t.Fulfilment.status.in_(OPEN), t.Order.status == OrderStatus.OPEN.value, t.Order.deleted.is_(False))
        .group_by(t.Fulfilment.location)
    )
    return {location: int(count) for location, count in session.execute(query)}


def hourly_activity(session: Session, now: datetime, hours: int = 24) -> list[Hour]:
    """Orders stored per hour (by the row's `created_at`) over the last `hours` hours, oldest hour first."""
    first = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    query = (
        select(t.Order.created_at, t.Order.platform_created_at, t.Store.name)
        .join(t.Store, t.Store.id == t.Order.store_id)
        .where(t.Order.created_at >= first)
    )
    counts: list[Counter[str]] = [Counter() for _ in range(hours)]
    delays: list[list[float]] = [[] for _ in range(hours)]
    for stored, created, store in session.execute(query):
        slot = int((stored - first).total_seconds() // 3600)
        if 0 <= slot < hours:
            counts[slot][store] += 1
            delays[slot].append(max((stored - created).total_seconds(), 0.0))
    return [
        Hour(first + timedelta(hours=n), dict(counts[n]), statistics.median(delays[n]) if delays[n] else None)
        for n in range(hours)
    ]


def failed_writes(session: Session, limit: int = 200) -> list[FailedWrite]:
    query = (
        select(t.OutboxItem, t.Store.name, t.Order.number)
        .join(t.Store, t.Store.id == t.OutboxItem.store_id)
        .join(t.Order, t.Order.id == t.OutboxItem.order_id)
        .where(t.OutboxItem.status == OutboxStatus.FAILED.value)
        .order_by(t.OutboxItem.id.desc())
        .limit(limit)
    )
    return [
        FailedWrite(
            item.id,
            store,
            item.order_id,
            number,
            item.action,
            item.target_state,
            str((item.payload or {}).get("location") or ""),
            item.attempts,
            item.last_error or "",
        )
        for item, store, number in session.execute(query)
    ]
