"""The fulfilment workflow per location, payment gating, and the write-backs it causes (design section 6).

    new -> in_progress -> packed -> shipped      (delivery)
                                 -> picked_up    (pickup)
    cancelled from any state that is not final

The order's status is derived: `completed` when every live fulfilment is final, `cancelled` when all were
cancelled, else `open` (an order split over two locations stays open while one of them is only packed).

Gating: an unpaid order cannot be shipped or picked up until a payment is recorded (recording one takes no
money; it keeps the systems equal), and a pickup order must be fully paid before it is packed.

Each change commits together with its outbox rows (the transactional outbox): `connector.sync.outbox` applies them
to the platform later. A write the platform cannot represent is recorded on the timeline as skipped. The
"queued", "skipped" and "waiting" entries carry the actor who caused them (the CLI user, the API, the dashboard);
what the outbox worker later hears from the platform is its own entry.

A fulfilment can be assigned to a member of staff (free text, as a POS's fulfilment list shows it); that is local
bookkeeping only: no platform has a field for it, so nothing is queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.mapping.statuses import Event, Overrides, Scope, Write, writes_for
from connector.orders.model import FulfilmentStatus, OrderKind, OrderStatus, PaymentStatus, Platform
from connector.runtime.config import StoreConfig
from connector.stock import ledger
from connector.stock.allocation import Demand, Part
from connector.stock.movements import release_movements, ship_movements, unreserve_movements
from connector.stock.order_effects import Stocker
from connector.storage import tables as t

FS = FulfilmentStatus
FINAL = {FS.SHIPPED.value, FS.PICKED_UP.value, FS.CANCELLED.value}
MAX_USER_NAME = 80
ALLOWED: dict[FS, set[FS]] = {
    FS.NEW: {FS.IN_PROGRESS, FS.PACKED, FS.CANCELLED},
    FS.IN_PROGRESS: {FS.PACKED, FS.CANCELLED},
    FS.PACKED: {FS.SHIPPED, FS.PICKED_UP, FS.CANCELLED, FS.IN_PROGRESS},
    FS.SHIPPED: set(),
    FS.PICKED_UP: set(),
    FS.CANCELLED: set(),
}


class ActionRefused(Exception):
    """A fulfilment action that is not allowed now; the message says why and what to do."""


class LocationNeeded(ActionRefused):
    """Shipping a split order where several parts could ship: which one? (`choices`: location and what it holds).

    A parcel has one tracking number and leaves from one place, so the staff member names the location; the CLI
    exits 2 and the API answers 422 with the choices.
    """

    def __init__(self, number: str, parts: list[t.Fulfilment]) -> None:
        self.choices: list[dict[str, Any]] = [
            {"location": f.location, "lines": [{"sku": fl.sku, "quantity": fl.quantity} for fl in f.lines]}
            for f in parts
        ]
        held = "; ".join(f"{f.location} ({_holds(f)})" for f in parts)
        super().__init__(f"order {number} has {len(parts)} parts that can ship; choose one with --location: {held}")


@dataclass(frozen=True)
class Tracking:
    number: str
    carrier: str = ""
    url: str = ""


def overrides(store: StoreConfig) -> Overrides:
    wb = store.writeback
    return Overrides(
        ready_for_pickup=wb.ready_for_pickup,
        shipments=wb.shipments,
        detailed_statuses=wb.detailed_statuses,
        cancel=wb.cancel,
        notify=frozenset(Event(e) for e in wb.notify),
        statuses=tuple((Event(k), v) for k, v in wb.statuses.items()),
    )


class Workflow:
    def __init__(self, stores: dict[str, StoreConfig], stocker: Stocker) -> None:
        self.stores = stores
        self.stocker = stocker

    # --- actions ----------------------------------------------------------------------------------------------------
    def transition(
        self,
        session: Session,
        row: t.Order,
        target: FS,
        *,
        actor: str,
        location: str | None = None,
        tracking: Tracking | None = None,
        notify: bool = False,
    ) -> list[t.Fulfilment]:
        """Move the order's fulfilment(s) (one location, or all that can move) to `target`."""
        chosen = self._chosen(row, target, location)
        self._gate(row, target)
        for f in chosen:
            before = f.status
            f.status = target.value
            f.updated_at = datetime.now(UTC)
            if tracking and target is FS.SHIPPED:
                f.tracking_number, f.tracking_carrier, f.tracking_url = tracking.number, tracking.carrier, tracking.url
            if target in {FS.SHIPPED, FS.PICKED_UP}:
                self._ship_stock(session, row, f)
            if target is FS.CANCELLED:
                self._release_one(session, row, f)
            text = f"{f.location}: {before} -> {target.value}"
            if tracking and target is FS.SHIPPED:
                text += f" (tracking {tracking.carrier} {tracking.number})".replace("  ", " ")
            _timeline(session, row, "state", text, {"fulfilment": f.id, "from": before, "to": target.value}, actor)
        previous_status = row.status
        row.status = derived_status(row)
        self._queue_writes(session, row, chosen, target, notify, previous_status, actor)
        return chosen

    def _chosen(self, row: t.Order, target: FS, location: str | None) -> list[t.Fulfilment]:
        if row.status == OrderStatus.CANCELLED.value:
            raise ActionRefused(f"order {row.number} is cancelled")
        live = [f for f in row.fulfilments if f.status != FS.CANCELLED.value]
        if location:
            live = [f for f in live if f.location == location]
            if not live:
                raise ActionRefused(f"order {row.number} has no fulfilment at {location!r}")
        if not live:
            raise ActionRefused(f"order {row.number} has no fulfilment to act on (back-ordered or not allocated)")
        movable = [f for f in live if target in ALLOWED[FS(f.status)]]
        if not movable:
            f = live[0]
            raise ActionRefused(_why(row, f, target))
        if target is FS.SHIPPED and len(movable) > 1:
            raise LocationNeeded(row.number, movable)  # location is None here: a choice already left one part
        return movable  # without --location: every part that can take this step (others are further or final)

    def _gate(self, row: t.Order, target: FS) -> None:
        kind = OrderKind(row.kind)
        if target is FS.SHIPPED and kind is not OrderKind.DELIVERY:
            raise ActionRefused(f"order {row.number} is a {kind.value} order: mark it picked up, not shipped")
        if target is FS.PICKED_UP and kind is OrderKind.DELIVERY:
            raise ActionRefused(f"order {row.number} is a delivery order: mark it shipped, not picked up")
        if kind is OrderKind.RESERVATION and target is not FS.CANCELLED:
            raise ActionRefused(f"order {row.number} is a reservation: confirm it first")
        paid = PaymentStatus(row.payment_status).settled
        if target in {FS.SHIPPED, FS.PICKED_UP} and not paid:
            raise ActionRefused(f"order {row.number} is not paid: record a payment first (connector orders pay)")
        if target is FS.PACKED and kind is OrderKind.PICKUP and not paid:
            raise ActionRefused(
                f"order {row.number} is a pickup order and must be fully paid before it is packed: "
                "record a payment first"
            )

    def _ship_stock(self, session: Session, row: t.Order, f: t.Fulfilment) -> None:
        lines = tuple(Demand(fl.sku, fl.quantity) for fl in f.lines if fl.quantity)
        event = self.stocker.next_event(row)
        ledger.apply_movements(session, ship_movements(str(row.id), f.location, lines, event), row.id)

    def _release_one(self, session: Session, row: t.Order, f: t.Fulfilment) -> None:
        part = Part(f.location, tuple(Demand(fl.sku, fl.quantity) for fl in f.lines if fl.quantity))
        event = self.stocker.next_event(row)
        release = unreserve_movements if row.kind == OrderKind.RESERVATION.value else release_movements
        ledger.apply_movements(session, release(str(row.id), [part], event), row.id)
        why = f"order {row.number}: {f.location} part cancelled"
        self.stocker.serve_back_orders(ledger.StockBook(session), {d.sku for d in part.lines}, why=why, besides=row.id)

    # --- assignment -------------------------------------------------------------------------------------------------
    def assign(self, session: Session, row: t.Order, location: str, user: str, actor: str) -> t.Fulfilment:
        """Give one location's open part of the order to `user`; an empty `user` takes it back.

        Assigning the same user again changes nothing and adds no timeline entry (the API may be called twice).
        """
        name = _user_name(user)
        f = self._open_part(row, location)
        before = f.assigned_user or ""
        if name == before:
            return f
        f.assigned_user = name or None
        f.updated_at = datetime.now(UTC)
        text = f"{location}: assigned to {name}" if name else f"{location}: unassigned"
        if before:
            text += f" (was {before})"
        details = {"fulfilment": f.id, "location": location, "from": before or None, "to": name or None}
        _timeline(session, row, "assignment", text, details, actor)
        return f

    def _open_part(self, row: t.Order, location: str) -> t.Fulfilment:
        if row.status == OrderStatus.CANCELLED.value:
            raise ActionRefused(f"order {row.number} is cancelled")
        parts = [f for f in row.fulfilments if f.location == location and f.status != FS.CANCELLED.value]
        if not parts:
            raise ActionRefused(f"order {row.number} has no fulfilment at {location!r}")
        open_parts = [f for f in parts if f.status not in FINAL]
        if not open_parts:  # done work keeps the name of whoever did it
            raise ActionRefused(f"the {location} part of order {row.number} is already {parts[0].status}")
        return open_parts[0]

    # --- payments and notes -----------------------------------------------------------------------------------------
    def record_payment(self, session: Session, row: t.Order, amount: Decimal, method: str, actor: str) -> None:
        if amount <= 0:
            raise ActionRefused("a payment amount must be positive")
        row.paid_amount = (row.paid_amount or Decimal(0)) + amount
        if row.paid_amount >= row.total:
            row.payment_status = PaymentStatus.PAID.value
        elif row.payment_status in {PaymentStatus.UNPAID.value, PaymentStatus.PENDING.value}:
            row.payment_status = PaymentStatus.PARTIALLY_PAID.value
        details = {"amount": str(amount), "method": method, "paid_total": str(row.paid_amount)}
        _timeline(session, row, "payment", f"payment of {amount} {row.currency} recorded ({method})", details, actor)

    def add_note(self, session: Session, row: t.Order, text: str, actor: str) -> None:
        if not text.strip():
            raise ActionRefused("a note needs text")
        _timeline(session, row, "note", text.strip(), {"internal": True}, actor)

    # --- write-back ---------------------------------------------------------------------------------------------------
    def _queue_writes(
        self,
        session: Session,
        row: t.Order,
        chosen: list[t.Fulfilment],
        target: FS,
        notify: bool,
        before: str,
        actor: str,
    ) -> None:
        event = _event_for(row, target)
        if event is None:
            return
        store = self.stores.get(row.store.name)
        if store is None:
            return
        ov = overrides(store)
        writes = writes_for(Platform(row.store.platform), event, ov)
        if not writes:
            _timeline(
                session,
                row,
                "outbound",
                f"{event.value}: skipped, unsupported by {row.store.platform}",
                {"event": event.value, "result": "skipped"},
                actor,
            )
            return
        tell = notify or event in ov.notify
        for write in writes:
            if write.scope is Scope.FULFILMENT:
                for f in chosen:
                    _queue(session, row, write, event, f, tell, actor)
            elif _order_reached(row, target, before):
                _queue(session, row, write, event, None, tell, actor)
            else:
                _timeline(
                    session,
                    row,
                    "outbound",
                    f"{event.value} at {', '.join(f.location for f in chosen)}: "
                    f"the platform is updated when every location is done",
                    {"event": event.value, "result": "waiting"},
                    actor,
                )


def _event_for(row: t.Order, target: FS) -> Event | None:
    if target is FS.PACKED:
        return Event.PACKED_PICKUP if row.kind == OrderKind.PICKUP.value else Event.PACKED_DELIVERY
    return {FS.SHIPPED: Event.SHIPPED, FS.PICKED_UP: Event.PICKED_UP, FS.CANCELLED: Event.CANCELLED}.get(target)


def _order_reached(row: t.Order, target: FS, before: str) -> bool:
    """An order-scope write fires once the whole order has reached the event."""
    live = [f for f in row.fulfilments if f.status != FS.CANCELLED.value]
    if target is FS.CANCELLED:
        return row.status == OrderStatus.CANCELLED.value and before != OrderStatus.CANCELLED.value
    if target is FS.PACKED:
        return all(f.status in {FS.PACKED.value} | FINAL for f in live)
    return all(f.status in FINAL for f in live)


def _queue(
    session: Session, row: t.Order, write: Write, event: Event, f: t.Fulfilment | None, notify: bool, actor: str
) -> None:
    """Add the outbox row for one write; its timeline entry names `actor`, who caused it (not the worker)."""
    where = f.location if f is not None else "order"
    key = f"{row.id}:{where}:{write.action.value}:{write.target}"
    payload: dict[str, Any] = {"event": event.value, "notify": notify, "external_id": row.external_id}
    if f is not None:
        payload |= {
            "location": f.location,
            "lines": {fl.sku: fl.quantity for fl in f.lines},
            "tracking": {
                "number": f.tracking_number or "",
                "carrier": f.tracking_carrier or "",
                "url": f.tracking_url or "",
            },
        }
    existing = session.scalar(select(t.OutboxItem).where(t.OutboxItem.idempotency_key == key))
    if existing is not None:  # the same write for the same part was queued before (e.g. after an un-cancel)
        if existing.status == "failed":
            existing.status, existing.attempts = "pending", 0
        return
    item = t.OutboxItem(
        store_id=row.store_id,
        order_id=row.id,
        fulfilment_id=f.id if f else None,
        action=write.action.value,
        target_state=write.target,
        idempotency_key=key,
        payload=payload,
    )
    session.add(item)
    _timeline(
        session,
        row,
        "outbound",
        f"queued {write.action.value} -> {write.target} ({where})",
        {"event": event.value, "key": key, "result": "queued"},
        actor,
    )


def derived_status(row: t.Order) -> str:
    if row.cancelled or row.deleted:
        return OrderStatus.CANCELLED.value
    statuses = [f.status for f in row.fulfilments]
    live = [s for s in statuses if s != FS.CANCELLED.value]
    if statuses and not live:
        return OrderStatus.CANCELLED.value
    if live and all(s in FINAL for s in live) and not row.back_ordered:
        return OrderStatus.COMPLETED.value
    return OrderStatus.OPEN.value


def _user_name(user: str) -> str:
    """A staff member's name as typed, trimmed; refused when it could not be shown on one line of the queue."""
    name = user.strip()
    if len(name) > MAX_USER_NAME:
        raise ActionRefused(f"a user name has at most {MAX_USER_NAME} characters")
    if not name.isprintable():
        raise ActionRefused("a user name must be printable text on one line")
    return name


def _holds(f: t.Fulfilment) -> str:
    return ", ".join(f"{fl.quantity} x {fl.sku}" for fl in f.lines)


def _why(row: t.Order, f: t.Fulfilment, target: FS) -> str:
    state = FS(f.status)
    if state.final:
        return f"the {f.location} part of order {row.number} is already {state.value}"
    hints = {FS.SHIPPED: "pack it first", FS.PICKED_UP: "pack it first", FS.IN_PROGRESS: "it is past that"}
    hint = hints.get(target, "that step does not follow")
    return f"cannot mark the {f.location} part of order {row.number} {target.value}: it is {state.value}; {hint}"


def _timeline(
    session: Session, row: t.Order, kind: str, summary: str, details: dict[str, Any], actor: str = "connector"
) -> None:
    session.add(t.TimelineEntry(order_id=row.id, kind=kind, summary=summary, details=details, actor=actor))
