"""Orders as rows and back: load a stored order as the internal `Order`, find orders for the CLI and API.

The write side (upsert from ingest) lives with ingest; this module only knows the table shapes.
"""

from __future__ import annotations

from sqlalchemy import Select, select
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
    cur = row.currency

    def money(amount: object) -> Money:
        return Money(amount, cur)  # type: ignore[arg-type]

    return Order(
        id=row.id,
        store=row.store.name,
        platform=Platform(row.store.platform),
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
            Line(ln.sku, ln.name, ln.quantity, money(ln.unit_price), money(ln.total), ln.external_id)
            for ln in row.lines
        ),
        fulfilments=tuple(_fulfilment(f) for f in row.fulfilments),
    )


def _fulfilment(row: t.Fulfilment) -> Fulfilment:
    tracking = None
    if row.tracking_number:
        tracking = Tracking(row.tracking_number, row.tracking_carrier or "", row.tracking_url or "")
    return Fulfilment(
        id=row.id,
        location=row.location,
        status=FulfilmentStatus(row.status),
        lines=tuple(FulfilmentLine(fl.sku, fl.quantity) for fl in row.lines),
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
