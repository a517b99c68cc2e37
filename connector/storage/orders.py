"""Orders as rows and back: load a stored order as the internal `Order`, find orders for the CLI and API.

The write side (upsert from ingest) lives with ingest; this module only knows the table shapes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, select
from sqlalchemy.orm import Session

from connector.orders.model import (
    Address,
    Customer,
    Fulfilment,
    FulfilmentLine,
    FulfilmentStatus,
    Line,
    Money,
    Order,
    OrderKind,
    OrderStatus,
    PaymentStatus,
    Platform,
    Tracking,
)
from connector.storage import tables as t


def to_model(row: t.Order) -> Order:
    """The stored order as the internal model."""
    fulfilments = tuple(_fulfilment(f) for f in row.fulfilments)
    return _order(row, row.store.name, row.store.platform, row.lines, fulfilments)


def _order(row: Any, store: str, platform: str, lines: Iterable[Any], fulfilments: tuple[Fulfilment, ...]) -> Order:
    """An `Order` from an `orders` row, ORM object or plain row alike (the same column names), and its parts."""
    cur = row.currency

    def money(amount: Any) -> Money:
        return Money(amount, cur)

    return Order(
        id=row.id,
        store=store,
        platform=Platform(platform),
        external_id=row.external_id,
        number=row.number,
        kind=OrderKind(row.kind),
        status=OrderStatus(row.status),
        payment_status=PaymentStatus(row.payment_status),
        platform_status=row.platform_status,
        currency=cur,
        subtotal=money(row.subtotal),
        shipping_total=money(row.shipping_total),
        tax_total=money(row.tax_total),
        discount_total=money(row.discount_total),
        total=money(row.total),
        totals_difference=None if row.totals_difference is None else money(row.totals_difference),
        created_at=row.platform_created_at,
        updated_at=row.platform_updated_at,
        customer=Customer(row.customer_name, row.customer_email, row.customer_phone),
        shipping_address=Address(**row.shipping_address) if row.shipping_address else None,
        note=row.note,
        cancelled=row.cancelled,
        pickup_location=row.pickup_location,
        lines=tuple(
            Line(ln.sku, ln.name, ln.quantity, money(ln.unit_price), money(ln.total), ln.external_id) for ln in lines
        ),
        fulfilments=fulfilments,
    )


def _fulfilment(row: t.Fulfilment) -> Fulfilment:
    return _fulfilment_parts(row, tuple(FulfilmentLine(fl.sku, fl.quantity) for fl in row.lines))


def _fulfilment_parts(row: t.Fulfilment | Row[Any], lines: tuple[FulfilmentLine, ...]) -> Fulfilment:
    tracking = None
    if row.tracking_number:
        tracking = Tracking(row.tracking_number, row.tracking_carrier or "", row.tracking_url or "")
    return Fulfilment(
        id=row.id,
        location=row.location,
        status=FulfilmentStatus(row.status),
        lines=lines,
        tracking=tracking,
        assigned_user=row.assigned_user or None,
    )


def order_query(*, store: str | None = None, status: str | None = None, backordered: bool = False) -> Select[t.Order]:
    query = select(t.Order).join(t.Store, t.Store.id == t.Order.store_id).where(t.Order.deleted.is_(False))
    if backordered:  # waiting for stock: what `connector.stock.back_orders` serves
        query = query.where(t.Order.back_ordered.is_(True), t.Order.cancelled.is_(False), t.Order.status != "cancelled")
    if store:
        query = query.where(t.Store.name == store)
    if status:
        query = query.where(t.Order.status == status)
    return query.order_by(t.Order.platform_created_at.desc(), t.Order.id.desc())


def list_orders(
    session: Session, *, store: str | None = None, status: str | None = None, limit: int = 50, backordered: bool = False
) -> list[Order]:
    rows = session.scalars(order_query(store=store, status=status, backordered=backordered).limit(limit))
    return [to_model(row) for row in rows]


def iter_orders(
    session: Session,
    *,
    store: str | None = None,
    status: str | None = None,
    since: datetime | None = None,
    batch: int = 500,
) -> Iterator[Order]:
    """Every matching order, oldest first by id, read `batch` orders at a time (keyset on id), so memory stays flat.

    `since` keeps orders the platform changed at or after that time (an accounting export's "new since last run").
    Reads plain rows (four statements a batch: orders, their lines, fulfilments, fulfilment lines) rather than ORM
    objects: an export of 100,000 orders spends its time writing, not building an identity map.
    """
    o = t.Order
    columns = (
        o.id, t.Store.name, t.Store.platform, o.external_id, o.number, o.kind, o.status, o.payment_status,
        o.platform_status, o.currency, o.subtotal, o.shipping_total, o.tax_total, o.discount_total, o.total,
        o.totals_difference, o.platform_created_at, o.platform_updated_at, o.customer_name, o.customer_email,
        o.customer_phone, o.shipping_address, o.note, o.cancelled, o.pickup_location,
    )  # fmt: skip
    query = select(*columns).join(t.Store, t.Store.id == o.store_id).where(o.deleted.is_(False))
    if store:
        query = query.where(t.Store.name == store)
    if status:
        query = query.where(o.status == status)
    if since is not None:
        query = query.where(o.platform_updated_at >= since)
    last = 0
    while True:
        rows = session.execute(query.where(o.id > last).order_by(o.id).limit(batch)).all()
        if not rows:
            return
        last = rows[-1].id
        yield from _orders_from_rows(session, rows)


def _orders_from_rows(session: Session, rows: Sequence[Row[Any]]) -> Iterator[Order]:
    ids = [row.id for row in rows]
    lines: dict[int, list[Any]] = defaultdict(list)
    line_columns = (t.OrderLine.order_id, t.OrderLine.sku, t.OrderLine.name, t.OrderLine.quantity)
    prices = (t.OrderLine.unit_price, t.OrderLine.total, t.OrderLine.external_id)
    for line in session.execute(
        select(*line_columns, *prices).where(t.OrderLine.order_id.in_(ids)).order_by(t.OrderLine.position)
    ):
        lines[line.order_id].append(line)
    parts_of: dict[int, list[Any]] = defaultdict(list)
    f = t.Fulfilment
    part_columns = (f.id, f.order_id, f.location, f.status, f.tracking_number, f.tracking_carrier, f.tracking_url)
    for part in session.execute(select(*part_columns, f.assigned_user).where(f.order_id.in_(ids)).order_by(f.id)):
        parts_of[part.order_id].append(part)
    part_lines: dict[int, list[FulfilmentLine]] = defaultdict(list)
    part_ids = [p.id for group in parts_of.values() for p in group]
    if part_ids:
        columns = (t.FulfilmentLine.fulfilment_id, t.FulfilmentLine.sku, t.FulfilmentLine.quantity)
        for fl in session.execute(
            select(*columns).where(t.FulfilmentLine.fulfilment_id.in_(part_ids)).order_by(t.FulfilmentLine.id)
        ):
            part_lines[fl.fulfilment_id].append(FulfilmentLine(fl.sku, fl.quantity))
    for row in rows:
        parts = tuple(_fulfilment_parts(part, tuple(part_lines[part.id])) for part in parts_of[row.id])
        yield _order(row, row.name, row.platform, lines[row.id], parts)


def find_order_row(session: Session, ref: str) -> t.Order | None:
    """An order by internal id (`42`), by `store:external_id`, or by its display number (`#1001`, `ORD00001`)."""
    if ref.isdigit():
        row = session.get(t.Order, int(ref))
        if row is not None:
            return row
    if ":" in ref:
        store, _, external_id = ref.partition(":")
        found = session.scalar(
            select(t.Order).join(t.Store).where(t.Store.name == store, t.Order.external_id == external_id)
        )
        if found is not None:
            return found
    numbers = {ref, ref.lstrip("#"), f"#{ref.lstrip('#')}"}
    return session.scalar(select(t.Order).where(t.Order.number.in_(numbers)).order_by(t.Order.id.desc()).limit(1))
