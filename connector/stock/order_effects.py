"""What an order's life does to stock and to its per-location fulfilments.

Reacts to ingest outcomes (new order, cancel, un-cancel, edit, kind change, deletion) and to reservation events
(confirm, cancel, expiry), inside the caller's transaction:

* a new order is allocated at once (`connector.stock.allocation`), one fulfilment per location, stock allocated; a
  reservation holds stock (`reserved`) instead, until it is confirmed, cancelled or expires;
* cancel and delete give back the stock of every fulfilment not yet shipped; un-cancel takes it again
  (re-allocating, since the stock may have gone elsewhere meanwhile);
* an edit re-allocates only the difference: removed units come off back-orders first, then off the least
  preferred location; added units are allocated like a small new order;
* a fulfilment already packed (or further) is never moved silently: a conflict is recorded on the order.

Every stock event bumps the order's `stock_event`, which goes into the movements' idempotency keys: replaying
the same event moves nothing, a later event (cancel, un-cancel, cancel again) moves stock each time.

A poll page's outcomes come as one batch (`on_outcomes`). Stock is read once per page (`ledger.StockBook`) and
kept current in memory, so each order sees what the ones before it took. Orders the batch created are allocated
from their model and written with one statement per table (`_NewOrders`); every other event works on the stored
row. Both take the same decisions (`_take`, `_allocated_entry`, `_owed`); only the writing differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from connector.orders.model import FulfilmentStatus, Order, OrderKind, OrderStatus
from connector.runtime.config import Config
from connector.stock import ledger
from connector.stock.allocation import (
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
from connector.stock.back_orders import waiting
from connector.stock.ledger import StockBook
from connector.stock.movements import (
    Movement,
    allocate_movements,
    confirm_movements,
    release_movements,
    reserve_movements,
    unreserve_movements,
)
from connector.storage import tables as t
from connector.sync.ingest import Outcome, Result

MOVABLE = {FulfilmentStatus.NEW.value, FulfilmentStatus.IN_PROGRESS.value}
HOLDING = MOVABLE | {FulfilmentStatus.PACKED.value}  # statuses whose stock is still allocated or reserved


class Stocker:
    def __init__(self, config: Config) -> None:
        self.locations = [LocationInfo(loc.name, loc.priority, loc.pickup) for loc in config.locations]
        self.names = {loc.name for loc in config.locations}
        self.stores = {s.name: s for s in config.stores}

    # --- ingest outcomes ------------------------------------------------------------------------------------------
    def on_outcome(self, session: Session, outcome: Outcome) -> None:
        self.on_outcomes(session, [outcome])

    def on_outcomes(self, session: Session, outcomes: Sequence[Outcome]) -> None:
        """React to a batch of outcomes (a poll page) in order: each allocation sees the stock the ones before took.

        New orders are allocated from the model the outcome carries and written one statement per table; every
        other event works on the stored order.
        """
        if not self.locations:
            return
        book = ledger.StockBook(session)
        new = _NewOrders()
        created = [_created(session, outcome) for outcome in outcomes]
        book.load(line.sku for order in created if order for line in order.lines)
        for outcome, order in zip(outcomes, created, strict=True):
            if order is not None:
                if not order.cancelled:
                    self._allocate_new(book, order, new)
            elif outcome.stored and outcome.order_id is not None:
                if new.orders:  # an event on a stored order may serve back-orders: the new ones must be visible
                    new.write(session)
                    new = _NewOrders()
                self._react(book, outcome)
        new.write(session)
        book.flush()

    def _react(self, book: StockBook, outcome: Outcome) -> None:
        row = book.session.get(t.Order, outcome.order_id)
        if row is None:
            return
        changes = outcome.changes
        if outcome.result is Result.CREATED:
            if not row.cancelled:
                self.allocate_order(book, row, reason="new order")
        elif "cancelled" in changes:
            if row.cancelled:
                self.release_order(book, row, why="cancelled on the platform")
            else:
                self.allocate_order(book, row, reason="un-cancelled on the platform")
        elif row.cancelled:
            return
        elif "kind" in changes or "pickup_location" in changes:
            why = f"kind/pickup changed: {changes.get('kind') or changes.get('pickup_location')}"
            held_as = changes["kind"][0] if "kind" in changes else row.kind  # what the stock is held as now
            self.reallocate(book, row, why=why, held_as=held_as)
        elif "lines" in changes:
            self.apply_edit(book, row, changes["lines"])

    def on_deleted(self, session: Session, order_id: int) -> None:
        row = session.get(t.Order, order_id)
        if row is not None:
            self.release_order(ledger.StockBook(session), row, why="deleted on the platform")

    # --- the events -------------------------------------------------------------------------------------------------
    def _strategy(self, store_name: str) -> Strategy:
        store = self.stores.get(store_name)
        return Strategy(store.allocation) if store else Strategy.FEWEST_LOCATIONS

    def _hold_until(self, store_name: str) -> datetime:
        store = self.stores.get(store_name)
        return datetime.now(UTC) + (store.reservation.hold if store else _DEFAULT_HOLD)

    def next_event(self, row: t.Order) -> int:
        row.stock_event = (row.stock_event or 0) + 1
        return row.stock_event

    def _take(self, book: StockBook, order: _Subject, demands: Sequence[Demand], event: str | int) -> _Taken:
        """Decide where `demands` go on the book's stock (a pickup order pinned to its location), and the movements."""
        pickup = order.pickup_location if order.kind == OrderKind.PICKUP.value else None
        conflict = None
        if pickup and pickup not in self.names:
            conflict = f"pickup location {pickup!r} is not a configured location; allocated freely"
            pickup = None
        stock = book.availability(sorted({d.sku for d in demands}))
        result = allocate(demands, stock, self.locations, self._strategy(order.store), pickup_location=pickup)
        reserving = order.kind == OrderKind.RESERVATION.value
        moves = (reserve_movements if reserving else allocate_movements)(str(order.id), result, event)
        return _Taken(result, moves, reserving, conflict)

    def _allocate_new(self, book: StockBook, order: Order, new: _NewOrders) -> None:
        """`allocate_order` for an order created in this batch: its first stock event, nothing allocated yet."""
        demands = merge_demands(order.lines)
        if not demands or order.id is None:
            return
        subject = _Subject(order.id, order.kind.value, order.pickup_location, order.store)
        taken = self._take(book, subject, demands, _FIRST_EVENT)
        book.stage(taken.movements, order.id)
        hold_until = self._hold_until(order.store) if taken.reserving else None
        new.add(order.id, taken, hold_until, _allocated_entry(taken, "new order", _FIRST_EVENT))

    def allocate_order(self, book: StockBook, row: t.Order, *, reason: str) -> None:
        """Allocate (or, for a reservation, hold) the whole order: one fulfilment per location."""
        demands = merge_demands(row.lines)
        if not demands:
            return
        event = self.next_event(row)
        taken = self._take(book, _Subject.of(row), demands, event)
        if taken.conflict:
            _conflict(book.session, row, taken.conflict)
        book.apply(taken.movements, row.id)
        for part in taken.allocation.parts:
            _add_to_fulfilment(row, part)
        _set_back_orders(row, taken.allocation.back_orders)
        if taken.reserving:
            row.hold_until = self._hold_until(row.store.name)
        row.allocation = _allocation_record(taken.allocation)
        _timeline(book.session, row, "allocation", *_allocated_entry(taken, reason, event))

    def release_order(
        self, book: StockBook, row: t.Order, *, why: str, serve: bool = True, held_as: str | None = None
    ) -> None:
        """Give back the stock of every fulfilment not yet shipped, and cancel those fulfilments.

        Waiting back-orders then take what was given back (`serve`; off when the order re-allocates at once).
        `held_as` is the kind the stock was taken under when the row already carries a new one (a reservation's
        units are reserved, not allocated, and go back as such).
        """
        live = [f for f in row.fulfilments if f.status in HOLDING]
        packed = [f.location for f in live if f.status == FulfilmentStatus.PACKED.value]
        if packed:
            _conflict(book.session, row, f"{why} after packing at {', '.join(packed)}: unpack and put the items back")
        if not live:
            _set_back_orders(row, ())
            return
        event = self.next_event(row)
        parts = [_part(f) for f in live]
        reserving = (held_as or row.kind) == OrderKind.RESERVATION.value
        book.apply((unreserve_movements if reserving else release_movements)(str(row.id), parts, event), row.id)
        for f in live:
            f.status = FulfilmentStatus.CANCELLED.value
        _set_back_orders(row, ())
        row.hold_until = None
        _timeline(
            book.session,
            row,
            "allocation",
            f"stock released: {why}",
            {"parts": [_part_json(p) for p in parts], "stock_event": event},
        )
        if serve:
            self.serve_back_orders(book, _skus(parts), why=f"order {row.number} {why}")

    def reallocate(self, book: StockBook, row: t.Order, *, why: str, held_as: str | None = None) -> None:
        if any(f.status not in MOVABLE | {FulfilmentStatus.CANCELLED.value} for f in row.fulfilments):
            _conflict(book.session, row, f"{why}, but a fulfilment is already packed or shipped: not moved")
            return
        self.release_order(book, row, why=why, serve=False, held_as=held_as)
        self.allocate_order(book, row, reason=why)
        self.serve_back_orders(book, _skus(_part(f) for f in row.fulfilments), why=f"order {row.number} re-allocated")

    def apply_edit(self, book: StockBook, row: t.Order, line_changes: dict[str, list[int]]) -> None:
        """Re-allocate only what the edit changed."""
        old = [Demand(sku, q[0]) for sku, q in line_changes.items() if q[0]]
        new = [Demand(sku, q[1]) for sku, q in line_changes.items() if q[1]]
        added, removed = diff_demands(old, new)
        live = [f for f in row.fulfilments if f.status in HOLDING]
        touched = {f.location for f in live if any(fl.sku in line_changes for fl in f.lines)}
        frozen = [f.location for f in live if f.location in touched and f.status not in MOVABLE]
        if frozen:
            message = f"order edited on the platform after packing at {', '.join(frozen)}: not moved"
            _conflict(book.session, row, message)
            return
        event = self.next_event(row)
        reserving = row.kind == OrderKind.RESERVATION.value
        if removed:
            cut = shrink([_part(f) for f in live], _back_orders(row), removed)
            undo = (unreserve_movements if reserving else release_movements)(str(row.id), cut.released, event)
            book.apply(undo, row.id)
            _replace_fulfilment_lines(row, cut.parts)
            _set_back_orders(row, cut.back_orders)
            self.serve_back_orders(book, _skus(cut.released), why=f"order {row.number} edited")
        if added:
            taken = self._take(book, _Subject.of(row), added, f"{event}+")
            if taken.conflict:
                _conflict(book.session, row, taken.conflict)
            book.apply(taken.movements, row.id)
            for part in taken.allocation.parts:
                _add_to_fulfilment(row, part)
            _set_back_orders(row, [*_back_orders(row), *taken.allocation.back_orders])
        _timeline(
            book.session,
            row,
            "allocation",
            "re-allocated the edited lines",
            {"added": _demands_json(added), "removed": _demands_json(removed), "stock_event": event},
        )

    # --- back-orders ----------------------------------------------------------------------------------------------
    def serve_back_orders(self, book: StockBook, skus: Iterable[str], *, why: str, besides: int | None = None) -> int:
        """Stock of `skus` rose: waiting back-orders take it, oldest order first, each under its store's strategy.

        Called in the transaction that raised the stock (a count, a POS movement, a cancel, an expired hold), so
        newer orders never get the units first. Each order served gets the units as fulfilment lines (a new
        fulfilment, or its open one at that location) and a timeline entry; what is still missing stays owed.
        `besides`: an order that must not take the stock back (staff just cancelled its part). Returns how many
        orders took stock.
        """
        wanted = set(skus)
        if not wanted or not self.locations:
            return 0
        served = 0
        for row in waiting(book.session, wanted):
            if row.id == besides:
                continue
            owed = _back_orders(row)
            if any(d.sku in wanted for d in owed) and self._serve(book, row, owed, why):
                served += 1
        return served

    def _serve(self, book: StockBook, row: t.Order, owed: Sequence[Demand], why: str) -> bool:
        subject = _Subject.of(row)
        pinned = subject.pickup_location if subject.kind == OrderKind.PICKUP.value else None
        pinned = pinned if pinned in self.names else None
        stock = book.availability(sorted({d.sku for d in owed}))
        if not any(units > 0 and pinned in (None, loc) for (_sku, loc), units in stock.items()):
            return False  # nothing it could take: no stock event, nothing on the timeline
        event = self.next_event(row)
        taken = self._take(book, subject, owed, event)
        book.apply(taken.movements, row.id)
        for part in taken.allocation.parts:
            _add_to_fulfilment(row, part)
        _set_back_orders(row, taken.allocation.back_orders)
        units = sum(p.units for p in taken.allocation.parts)
        left = taken.allocation.back_ordered_units
        summary = f"back-order served ({why}): {units} unit{'s' if units != 1 else ''} from "
        summary += ", ".join(p.location for p in taken.allocation.parts)
        summary += f"; {left} still back-ordered" if left else "; nothing back-ordered any more"
        details = {
            "parts": [_part_json(p) for p in taken.allocation.parts],
            "back_orders": _owed(taken.allocation.back_orders),
            "strategy": taken.allocation.strategy.value,
            "stock_event": event,
        }
        _timeline(book.session, row, "allocation", summary, details)
        return True

    # --- reservations -------------------------------------------------------------------------------------------
    def confirm_reservation(self, session: Session, row: t.Order, actor: str) -> None:
        """The customer confirmed: the held stock becomes allocated; the order becomes a pickup."""
        live = [f for f in row.fulfilments if f.status in HOLDING]
        event = self.next_event(row)
        ledger.apply_movements(session, confirm_movements(str(row.id), [_part(f) for f in live], event), row.id)
        row.kind = OrderKind.PICKUP.value
        row.hold_until = None
        _timeline(session, row, "state", "reservation confirmed: held stock allocated", {"stock_event": event}, actor)

    def cancel_reservation(
        self, session: Session, row: t.Order, actor: str, why: str = "reservation cancelled"
    ) -> None:
        self.release_order(ledger.StockBook(session), row, why=why)
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
_FIRST_EVENT = 1  # a new order's stock_event is 0: its first allocation is event 1


@dataclass(frozen=True, slots=True)
class _Subject:
    """What allocation needs to know of an order, stored (`of`) or just created (the ingest outcome's model)."""

    id: int
    kind: str
    pickup_location: str
    store: str

    @classmethod
    def of(cls, row: t.Order) -> _Subject:
        return cls(row.id, row.kind, row.pickup_location, row.store.name)


@dataclass(frozen=True, slots=True)
class _Taken:
    """An allocation decided on the book's stock, with its movements (not yet written)."""

    allocation: Allocation
    movements: tuple[Movement, ...]
    reserving: bool
    conflict: str | None  # set when the pickup location is not ours and the order was allocated freely


def _allocation_record(result: Allocation) -> dict[str, Any]:
    """The order's `allocation` column: the last decision."""
    return {"strategy": result.strategy.value, "reason": result.reason, "candidates": list(result.candidates)}


def _allocated_entry(taken: _Taken, reason: str, event: int) -> tuple[str, dict[str, Any]]:
    """The timeline entry of an allocation: summary and details."""
    result = taken.allocation
    verb = "held (reservation)" if taken.reserving else "allocated"
    details = {
        "strategy": result.strategy.value,
        "candidates": list(result.candidates),
        "parts": [_part_json(p) for p in result.parts],
        "back_orders": {d.sku: d.quantity for d in result.back_orders},
        "stock_event": event,
    }
    return f"{verb} ({reason}): {result.reason}", details


def _created(session: Session, outcome: Outcome) -> Order | None:
    """The model of an order this batch created, unless the session holds its row (then that row is worked on, since
    writing past it would leave it stale)."""
    if outcome.result is not Result.CREATED or outcome.current is None or outcome.order_id is None:
        return None
    if identity_key(t.Order, outcome.order_id) in session.identity_map:
        return None
    return outcome.current


class _NewOrders:
    """The allocations of orders created in this batch, written at the end: one statement per table.

    A new order has one fulfilment per location (`allocate` gives one part per location), so `(order, location)`
    names each fulfilment and matches the inserted ids back without RETURNING in parameter order.
    """

    def __init__(self) -> None:
        self.fulfilments: list[tuple[dict[str, Any], tuple[Demand, ...]]] = []
        self.orders: list[dict[str, Any]] = []
        self.timeline: list[dict[str, Any]] = []

    def add(self, order_id: int, taken: _Taken, hold_until: datetime | None, entry: tuple[str, dict[str, Any]]) -> None:
        """What `allocate_order` does to a stored order, as rows: one fulfilment per part, the order's columns."""
        for part in taken.allocation.parts:
            self.fulfilments.append(
                ({"order_id": order_id, "location": part.location, "status": FulfilmentStatus.NEW.value}, part.lines)
            )
        owed = _owed(taken.allocation.back_orders)
        self.orders.append(
            {
                "b_id": order_id,
                "stock_event": _FIRST_EVENT,
                "back_orders": owed or None,
                "back_ordered": bool(owed),
                "hold_until": hold_until,
                "allocation": _allocation_record(taken.allocation),
                "conflict": taken.conflict,
            }
        )
        if taken.conflict:
            self.timeline.append(_entry(order_id, "conflict", taken.conflict, {}))
        self.timeline.append(_entry(order_id, "allocation", *entry))

    def write(self, session: Session) -> None:
        """Write the rows; the ORM's copies of those orders (if it holds any) are expired, so later reads see them."""
        if not self.orders:
            return
        for values in self.orders:
            held = session.identity_map.get(identity_key(t.Order, values["b_id"]))
            if held is not None:
                session.expire(held)
        if self.fulfilments:  # none when nothing was in stock: everything back-ordered
            table = t.core(t.Fulfilment)
            returning = insert(table).returning(table.c.order_id, table.c.location, table.c.id)
            ids = {(o, loc): id_ for o, loc, id_ in session.execute(returning, [row for row, _ in self.fulfilments])}
            lines = [
                {"fulfilment_id": ids[row["order_id"], row["location"]], "sku": d.sku, "quantity": d.quantity}
                for row, demands in self.fulfilments
                for d in demands
            ]
            session.execute(insert(t.core(t.FulfilmentLine)), lines)
        orders = t.core(t.Order)
        columns = ("stock_event", "back_orders", "back_ordered", "hold_until", "allocation", "conflict")
        by_id = (
            update(orders)
            .where(orders.c.id == bindparam("b_id"))
            .values({name: bindparam(name) for name in columns} | {"version": orders.c.version + 1})
        )
        session.execute(by_id, self.orders)
        session.execute(insert(t.core(t.TimelineEntry)), self.timeline)


def _entry(order_id: int, kind: str, summary: str, details: dict[str, Any]) -> dict[str, Any]:
    return {"order_id": order_id, "kind": kind, "summary": summary, "details": details, "actor": "connector"}


def _part(f: t.Fulfilment) -> Part:
    return Part(f.location, tuple(Demand(fl.sku, fl.quantity) for fl in f.lines if fl.quantity))


def _skus(parts: Iterable[Part]) -> set[str]:
    return {line.sku for part in parts for line in part.lines}


def _part_json(part: Part) -> dict[str, Any]:
    return {"location": part.location, "lines": _demands_json(part.lines)}


def _demands_json(demands: Iterable[Demand]) -> dict[str, int]:
    return {d.sku: d.quantity for d in demands}


def _back_orders(row: t.Order) -> list[Demand]:
    return [Demand(sku, q) for sku, q in (row.back_orders or {}).items() if q]


def _owed(demands: Iterable[Demand]) -> dict[str, int]:
    """Back-orders as the order's `back_orders` column holds them: units per SKU."""
    return {d.sku: d.quantity for d in merge_demands(demands) if d.quantity}


def _set_back_orders(row: t.Order, demands: Iterable[Demand]) -> None:
    owed = _owed(demands)
    row.back_orders = owed or None
    row.back_ordered = bool(owed)


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
