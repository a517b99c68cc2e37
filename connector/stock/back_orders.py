"""Orders waiting for stock: which they are (oldest first), which SKUs they want, and how many wait where.

An order is waiting while it has back-ordered units (`orders.back_ordered`) and is neither cancelled on the
platform, deleted, nor cancelled here (staff cancelled every part). `Stocker.serve_back_orders` gives them arriving
stock in the order `waiting` returns; `summary` is what `connector status` and the dashboard show.

A back-order has no location until stock arrives somewhere, except a pickup order's, which waits at its shop:
`summary` counts pickup orders under their pickup location and the others under `ANYWHERE`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from connector.orders.model import OrderKind, OrderStatus
from connector.storage import tables as t

ANYWHERE = "(any location)"
# Above this many SKUs the database is not asked to match order lines (SQLite caps a statement's variables).
SKU_FILTER_LIMIT = 500


def is_waiting() -> ColumnElement[bool]:
    return and_(
        t.Order.back_ordered.is_(True),
        t.Order.cancelled.is_(False),
        t.Order.deleted.is_(False),
        t.Order.status != OrderStatus.CANCELLED.value,
    )


def waiting(session: Session, skus: set[str]) -> Sequence[t.Order]:
    """Orders waiting for stock, oldest first (by the platform's creation time), that want one of `skus`."""
    query = select(t.Order).where(is_waiting()).order_by(t.Order.platform_created_at, t.Order.id)
    if len(skus) <= SKU_FILTER_LIMIT:
        lines = select(t.OrderLine.id).where(t.OrderLine.order_id == t.Order.id, t.OrderLine.sku.in_(sorted(skus)))
        query = query.where(lines.exists())
    return session.scalars(query).all()


def waiting_skus(session: Session) -> set[str]:
    """The SKUs that waiting orders want: stock of any other SKU rising serves nobody."""
    query = select(t.OrderLine.sku).join(t.Order, t.Order.id == t.OrderLine.order_id).where(is_waiting()).distinct()
    return set(session.scalars(query))


def summary(session: Session) -> list[dict[str, Any]]:
    """Per location (`ANYWHERE` for orders that may be served from any), waiting orders and back-ordered units."""
    query = select(t.Order.kind, t.Order.pickup_location, t.Order.back_orders).where(is_waiting())
    found: dict[str, dict[str, Any]] = {}
    for kind, pickup, owed in session.execute(query):
        where = pickup if kind == OrderKind.PICKUP.value and pickup else ANYWHERE
        row = found.setdefault(where, {"location": where, "orders": 0, "units": 0})
        row["orders"] += 1
        row["units"] += sum((owed or {}).values())
    return sorted(found.values(), key=lambda r: (r["location"] == ANYWHERE, r["location"]))
