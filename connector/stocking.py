"""What an order's life does to stock and to its per-location fulfilments.

Reacts to ingest outcomes (new order, cancel, un-cancel, edit, kind change, deletion) and to reservation events
(confirm, cancel, expiry), inside the caller's transaction:

* a new order is allocated at once (`connector.allocation`), one fulfilment per location, stock allocated; a
  reservation holds stock (`reserved`) instead, until it is confirmed, cancelled or expires;
* cancel and delete give back the stock of every fulfilment not yet shipped; un-cancel takes it again
  (re-allocating, since the stock may have gone elsewhere meanwhile);
* an edit re-allocates only the difference: removed units come off back-orders first, then off the least
  preferred location; added units are allocated like a small new order;
* a fulfilment already packed (or further) is never moved silently: a conflict is recorded on the order.

Every stock event bumps the order's `stock_event`, which goes into the movements' idempotency keys: replaying
the same event moves nothing, a later event (cancel, un-cancel, cancel again) moves stock each time.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector import inventory
from connector.allocation import (
    Allocation,
    Demand,
    LocationInfo,
    Part,
    Strategy,
    allocate,
    diff_demands,
    merge_demands,
    shrink,
)
from connector.config import Config
from connector.ingest import Outcome, Result
from connector.model import FulfilmentStatus, OrderKind, OrderStatus
from connector.stock import (
    allocate_movements,
    confirm_movements,
    release_movements,
    reserve_movements,
    unreserve_movements,
)
from connector.storage import tables as t

MOVABLE = {FulfilmentStatus.NEW.value, FulfilmentStatus.IN_PROGRESS.value}
HOLDING = MOVABLE | {FulfilmentStatus.PACKED.value}  # statuses whose stock is still allocated or reserved


class Stocker:
    def __init__(self, config: Config) -> None:
        self.locations = [LocationInfo(loc.name, loc.priority, loc.pickup) for loc in config.locations]
        self.names = {loc.name for loc in config.locations}
        self.stores = {s.name: s for s in config.stores}

    # --- ingest outcomes ------------------------------------------------------------------------------------------
    def on_outcome(self, session: Session, outcome: Outcome) -> None:
        if not outcome.stored or outcome.order_id is None or not self.locations:
            return
        row = session.get(t.Order, outcome.order_id)
        if row is None:
            return
        changes = outcome.changes
        if outcome.result is Result.CREATED:
            if not row.cancelled:
                self.allocate_order(session, row, reason="new order")
        elif "cancelled" in changes:
            if row.cancelled:
                self.release_order(session, row, why="cancelled on the platform")
            else:
                self.allocate_order(session, row, reason="un-cancelled on the platform")
        elif row.cancelled:
            return
        elif "kind" in changes or "pickup_location" in changes:
            self.reallocate(
                session, row, why=f"kind/pickup changed: {changes.get('kind') or changes.get('pickup_location')}"
            )
        elif "lines" in changes:
            self.apply_edit(session, row, changes["lines"])

    def on_deleted(self, session: Session, order_id: int) -> None:
        row = session.get(t.Order, order_id)
        if row is not None:
            self.release_order(session, row, why="deleted on the platform")

    # --- the events -------------------------------------------------------------------------------------------------
    def _strategy(self, row: t.Order) -> Strategy:
        store = self.stores.get(row.store.name)
        return Strategy(store.allocation) if store else Strategy.FEWEST_LOCATIONS

    def next_event(self, row: t.Order) -> int:
        row.stock_event = (row.stock_event or 0) + 1
        return row.stock_event

    def _allocate(self, session: Session, row: t.Order, demands: Sequence[Demand]) -> Allocation:
        pickup = row.pickup_location if row.kind == OrderKind.PICKUP.value else None
        if pickup and pickup not in self.names:
            _conflict(session, row, f"pickup location {pickup!r} is not a configured location; allocated freely")
            pickup = None
        stock = inventory.availability(session, sorted({d.sku for d in demands}))
        return allocate(demands, stock, self.locations, self._strategy(row), pickup_location=pickup)

    def allocate_order(self, session: Session, row: t.Order, *, reason: str) -> None:
        """Allocate (or, for a reservation, hold) the whole order: one fulfilment per location."""
        demands = merge_demands(row.lines)
        if not demands:
            return
        result = self._allocate(session, row, demands)
        event = self.next_event(row)
        reserving = row.kind == OrderKind.RESERVATION.value
        moves = (reserve_movements if reserving else allocate_movements)(str(row.id), result, event)
        inventory.apply_movements(session, moves, row.id)
        for part in result.parts:
            _add_to_fulfilment(row, part)
        _set_back_orders(row, result.back_orders)
        if reserving:
            store = self.stores.get(row.store.name)
            row.hold_until = datetime.now(UTC) + (store.reservation.hold if store else _DEFAULT_HOLD)
        row.allocation = {
            "strategy": result.strategy.value,
            "reason": result.reason,
            "candidates": list(result.candidates),
        }
        verb = "held (reservation)" if reserving else "allocated"
        _timeline(
            session,
            row,
            "allocation",
            f"{verb} ({reason}): {result.reason}",
            {
                "strategy": result.strategy.value,
                "candidates": list(result.candidates),
                "parts": [_part_json(p) for p in result.parts],
                "back_orders": {d.sku: d.quantity for d in result.back_orders},
                "stock_event": event,
            },
        )

    def release_order(self, session: Session, row: t.Order, *, why: str) -> None:
        """Give back the stock of every fulfilment not yet shipped, and cancel those fulfilments."""
        live = [f for f in row.fulfilments if f.status in HOLDING]
        packed = [f.location for f in live if f.status == FulfilmentStatus.PACKED.value]
        if packed:
            _conflict(session, row, f"{why} after packing at {', '.join(packed)}: unpack and put the items back")
        if not live:
            _set_back_orders(row, ())
            return
        event = self.next_event(row)
        parts = [_part(f) for f in live]
        reserving = row.kind == OrderKind.RESERVATION.value
        moves = (unreserve_movements if reserving else release_movements)(str(row.id), parts, event)
        inventory.apply_movements(session, moves, row.id)
        for f in live:
            f.status = FulfilmentStatus.CANCELLED.value
        _set_back_orders(row, ())
        row.hold_until = None
        _timeline(
            session,
            row,
            "allocation",
            f"stock released: {why}",
            {"parts": [_part_json(p) for p in parts], "stock_event": event},
        )

    def reallocate(self, session: Session, row: t.Order, *, why: str) -> None:
        if any(f.status not in MOVABLE | {FulfilmentStatus.CANCELLED.value} for f in row.fulfilments):
            _conflict(session, row, f"{why}, but a fulfilment is already packed or shipped: not moved")
            return
        self.release_order(session, row, why=why)
        self.allocate_order(session, row, reason=why)

    def apply_edit(self, session: Session, row: t.Order, line_changes: dict[str, list[int]]) -> None:
        """Re-allocate only what the edit changed."""
        old = [Demand(sku, q[0]) for sku, q in line_changes.items() if q[0]]
        new = [Demand(sku, q[1]) for sku, q in line_changes.items() if q[1]]
        added, removed = diff_demands(old, new)
        live = [f for f in row.fulfilments if f.status in HOLDING]
        touched = {f.location for f in live if any(fl.sku in line_changes for fl in f.lines)}
        frozen = [f.location for f in live if f.location in touched and f.status not in MOVABLE]
        if frozen:
            _conflict(session, row, f"order edited on the platform after packing at {', '.join(frozen)}: not moved")
            return
        event = self.next_event(row)
        reserving = row.kind == OrderKind.RESERVATION.value
        if removed:
            cut = shrink([_part(f) for f in live], _back_orders(row), removed)
            undo = (unreserve_movements if reserving else release_movements)(str(row.id), cut.released, event)
            inventory.apply_movements(session, undo, row.id)
            _replace_fulfilment_lines(row, cut.parts)
            _set_back_orders(row, cut.back_orders)
        if added:
            result = self._allocate(session, row, added)
            moves = (reserve_movements if reserving else allocate_movements)(str(row.id), result, f"{event}+")
            inventory.apply_movements(session, moves, row.id)
            for part in result.parts:
                _add_to_fulfilment(row, part)
            _set_back_orders(row, [*_back_orders(row), *result.back_orders])
        _timeline(
            session,
            row,
            "allocation",
            "re-allocated the edited lines",
            {"added": _demands_json(added), "removed": _demands_json(removed), "stock_event": event},
        )

    # --- reservations -------------------------------------------------------------------------------------------
    def confirm_reservation(self, session: Session, row: t.Order, actor: str) -> None:
        """The customer confirmed: the held stock becomes allocated; the order becomes a pickup."""
        live = [f for f in row.fulfilments if f.status in HOLDING]
        event = self.next_event(row)
        inventory.apply_movements(session, confirm_movements(str(row.id), [_part(f) for f in live], event), row.id)
        row.kind = OrderKind.PICKUP.value
        row.hold_until = None
        _timeline(session, row, "state", "reservation confirmed: held stock allocated", {"stock_event": event}, actor)

    def cancel_reservation(
        self, session: Session, row: t.Order, actor: str, why: str = "reservation cancelled"
    ) -> None:
        self.release_order(session, row, why=why)
        row.status = OrderStatus.CANCELLED.value
        _timeline(session, row, "state", why, {}, actor)

    def expire_holds(self, session: Session, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        due = session.scalars(
            select(t.Order).where(
                t.Order.kind == OrderKind.RESERVATION.value,
                t.Order.hold_until.is_not(None),
                t.Order.hold_until < now,
                t.Order.status == OrderStatus.OPEN.value,
            )
        ).all()
        for row in due:
            self.cancel_reservation(session, row, "connector", why="reservation expired: hold released")
        return len(due)


_DEFAULT_HOLD = timedelta(days=2)


def _part(f: t.Fulfilment) -> Part:
    return Part(f.location, tuple(Demand(fl.sku, fl.quantity) for fl in f.lines if fl.quantity))


def _part_json(part: Part) -> dict[str, Any]:
    return {"location": part.location, "lines": _demands_json(part.lines)}


def _demands_json(demands: Iterable[Demand]) -> dict[str, int]:
    return {d.sku: d.quantity for d in demands}


def _back_orders(row: t.Order) -> list[Demand]:
    return [Demand(sku, q) for sku, q in (row.back_orders or {}).items() if q]


def _set_back_orders(row: t.Order, demands: Iterable[Demand]) -> None:
    merged = {d.sku: d.quantity for d in merge_demands(demands) if d.quantity}
    row.back_orders = merged or None
    row.back_ordered = bool(merged)


def _add_to_fulfilment(row: t.Order, part: Part) -> None:
    target = next((f for f in row.fulfilments if f.location == part.location and f.status in MOVABLE), None)
    if target is None:
        target = t.Fulfilment(location=part.location, status=FulfilmentStatus.NEW.value)
        row.fulfilments.append(target)
    for demand in part.lines:
        line = next((fl for fl in target.lines if fl.sku == demand.sku), None)
        if line is None:
            target.lines.append(t.FulfilmentLine(sku=demand.sku, quantity=demand.quantity))
        else:
            line.quantity += demand.quantity


def _replace_fulfilment_lines(row: t.Order, parts: Sequence[Part]) -> None:
    kept = {p.location: p for p in parts}
    for f in row.fulfilments:
        if f.status not in MOVABLE:
            continue
        part = kept.get(f.location)
        f.lines = [t.FulfilmentLine(sku=d.sku, quantity=d.quantity) for d in (part.lines if part else ())]
        if not f.lines:
            f.status = FulfilmentStatus.CANCELLED.value


def _timeline(
    session: Session, row: t.Order, kind: str, summary: str, details: dict[str, Any], actor: str = "connector"
) -> None:
    session.add(t.TimelineEntry(order_id=row.id, kind=kind, summary=summary, details=details, actor=actor))


def _conflict(session: Session, row: t.Order, message: str) -> None:
    row.conflict = message if not row.conflict else f"{row.conflict}\n{message}"
    _timeline(session, row, "conflict", message, {})


__all__ = ["Stocker"]
