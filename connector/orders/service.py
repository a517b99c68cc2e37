"""Use cases shared by the CLI, the JSON API and the dashboard: each owns its transaction.

Reading: an order with its timeline, lists of orders, deliveries and write-backs. Acting: fulfilment steps,
assigning a location's part to a member of staff, payments, internal notes, reservation confirm/cancel, stock
counts, replays and retries.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, TextIO

from sqlalchemy import select

from connector.orders import export, paper
from connector.orders.export import ExportFormat
from connector.orders.fulfilment import ActionRefused, Tracking, Workflow
from connector.orders.model import FulfilmentStatus, OrderKind, OrderStatus, address_lines, order_json
from connector.orders.paper import PageSize
from connector.stock import imports, ledger
from connector.stock.movements import Movement
from connector.stock.order_effects import Stocker
from connector.storage import inbox as inbox_store
from connector.storage import tables as t
from connector.storage.orders import find_order_row, iter_orders, list_orders, to_model
from connector.storage.runtime import Runtime
from connector.sync.outbox import retry as retry_outbox

TO_PICK = (FulfilmentStatus.NEW.value, FulfilmentStatus.IN_PROGRESS.value)
ACTIONS: dict[str, FulfilmentStatus] = {
    "start": FulfilmentStatus.IN_PROGRESS,
    "pack": FulfilmentStatus.PACKED,
    "ship": FulfilmentStatus.SHIPPED,
    "pickup": FulfilmentStatus.PICKED_UP,
    "cancel": FulfilmentStatus.CANCELLED,
}


class NotFound(Exception):
    pass


class InvalidChoice(ValueError):
    """A filter value that is not one of the valid ones (the CLI exits 2, the API answers 422); names them."""

    def __init__(self, option: str, value: str, choices: list[str]) -> None:
        super().__init__(f"{option} {value!r} is not one of: {', '.join(choices) or '(none configured)'}")
        self.option, self.value, self.choices = option, value, choices


class BadInput(ValueError):
    """Input refused before anything was applied; `where` names the item and field (e.g. `(3, "location")`)."""

    def __init__(self, where: tuple[int | str, ...], message: str) -> None:
        super().__init__(message)
        self.where = where
        self.message = message


@dataclass
class Service:
    runtime: Runtime
    stocker: Stocker = field(init=False)
    workflow: Workflow = field(init=False)

    def __post_init__(self) -> None:
        self.stocker = Stocker(self.runtime.config)
        self.workflow = Workflow({s.name: s for s in self.runtime.config.stores}, self.stocker)

    # --- reading ----------------------------------------------------------------------------------------------------
    def order(self, ref: str, *, raw: bool = False) -> dict[str, Any]:
        with self.runtime.reads() as session:
            row = find_order_row(session, ref)
            if row is None:
                raise NotFound(f"no order {ref!r}")
            return order_detail(session, row, raw=raw)

    def orders(
        self, *, store: str | None = None, status: str | None = None, limit: int = 50, backordered: bool = False
    ) -> list[dict[str, Any]]:
        """Orders, newest first; `backordered`: only those waiting for stock, each with the units it still waits for."""
        self.check_filters(store=store, status=status)
        with self.runtime.reads() as session:
            found = list_orders(session, store=store, status=status, limit=limit, backordered=backordered)
            listed = [order_json(o) for o in found]
            if backordered:
                owed: dict[int, dict[str, Any] | None] = dict(
                    session.execute(
                        select(t.Order.id, t.Order.back_orders).where(t.Order.id.in_([o["id"] for o in listed]))
                    ).all()
                )
                for o in listed:
                    o["back_orders"] = owed.get(o["id"]) or {}
            return listed

    def check_store(self, store: str | None) -> None:
        """An unknown store name raises `InvalidChoice` naming the configured ones."""
        names = [s.name for s in self.runtime.config.stores]
        if store is not None and store not in names:
            raise InvalidChoice("store", store, names)

    # --- acting -----------------------------------------------------------------------------------------------------
    def export(
        self,
        fmt: ExportFormat,
        *,
        store: str | None = None,
        status: str | None = None,
        since: datetime | None = None,
        **options: Any,
    ) -> Iterator[str]:
        """The orders in `fmt` as text chunks, streamed from one read snapshot (see `orders.export`).

        Filters are checked before the first chunk, so a bad one is an error, never an empty export.
        """
        self.check_filters(store=store, status=status)
        chunks = self._export(fmt, store=store, status=status, since=since, **options)
        first = next(chunks, None)  # opens the snapshot and checks the writer's options now, not mid-stream
        return chunks if first is None else itertools.chain((first,), chunks)

    def _export(self, fmt: ExportFormat, **kwargs: Any) -> Iterator[str]:
        store, status, since = kwargs.pop("store"), kwargs.pop("status"), kwargs.pop("since")
        with self.runtime.reads() as session:
            found = iter_orders(session, store=store, status=status, since=since)
            yield from export.write(fmt, (order_json(o) for o in found), **kwargs)

    # --- paper --------------------------------------------------------------------------------------------------------
    def picklist(self, location: str, *, size: PageSize = PageSize.A4, now: datetime | None = None) -> bytes:
        """A PDF pick list of every fulfilment at `location` still to pick (new or in progress), oldest order first."""
        self._check_location(location)
        query = (
            select(t.Fulfilment)
            .join(t.Order)
            .where(t.Fulfilment.location == location, t.Fulfilment.status.in_(TO_PICK))
            .where(t.Order.status == OrderStatus.OPEN.value, t.Order.deleted.is_(False))
            .order_by(t.Order.platform_created_at, t.Order.id, t.Fulfilment.id)
        )
        with self.runtime.reads() as session:
            orders = [
                paper.PickOrder(
                    number=part.order.number,
                    store=part.order.store.name,
                    kind=part.order.kind,
                    customer=part.order.customer_name,
                    status=part.status,
                    lines=_paper_lines(part),
                )
                for part in session.scalars(query)
            ]
        return paper.picklist_pdf(location, orders, generated_at=now or datetime.now(UTC), size=size)

    def slips(self, ref: str, *, location: str | None = None, size: PageSize = PageSize.A4) -> bytes:
        """A PDF packing slip per live fulfilment of the order (one page each), or only the one at `location`."""
        if location is not None:
            self._check_location(location)
        with self.runtime.reads() as session:
            row = self._row(session, ref)
            live = [f for f in row.fulfilments if f.status != FulfilmentStatus.CANCELLED.value]
            parts = [f for f in live if location is None or f.location == location]
            if not parts:
                where = f" at {location}" if location else ""
                held = ", ".join(sorted({f.location for f in live})) or "none yet"
                raise NotFound(f"order {row.number} has no fulfilment{where} (locations: {held})")
            store = self.runtime.config.store(row.store.name)
            address = row.shipping_address if row.kind != OrderKind.PICKUP.value else None
            slips = [
                paper.Slip(
                    shop=store.shop_name or store.name,
                    number=row.number,
                    location=part.location,
                    kind=row.kind,
                    ordered_at=row.platform_created_at,
                    customer=row.customer_name,
                    email=row.customer_email,
                    phone=row.customer_phone,
                    address=address_lines(address),
                    lines=_paper_lines(part),
                    note=row.note,
                    part=f"{live.index(part) + 1} of {len(live)}" if len(live) > 1 else "",
                )
                for part in parts
            ]
        return paper.slips_pdf(slips, size=size)

    def _check_location(self, location: str) -> None:
        names = [loc.name for loc in self.runtime.config.locations]
        if location not in names:
            raise InvalidChoice("location", location, names)

    def check_filters(self, *, store: str | None = None, status: str | None = None) -> None:
        """Refuse a store or status nobody has, naming the valid ones (`InvalidChoice`)."""
        if status is not None and status not in {s.value for s in OrderStatus}:
            raise InvalidChoice("status", status, [s.value for s in OrderStatus])
        self.check_store(store)

    def act(
        self,
        ref: str,
        action: str,
        *,
        actor: str,
        location: str | None = None,
        tracking: Tracking | None = None,
        notify: bool = False,
    ) -> dict[str, Any]:
        if action not in ACTIONS:
            raise ActionRefused(f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
        with self.runtime.sessions.begin() as session:
            row = self._row(session, ref)
            if action == "cancel" and row.kind == OrderKind.RESERVATION.value:
                self.stocker.cancel_reservation(session, row, actor)
            else:
                self.workflow.transition(
                    session, row, ACTIONS[action], actor=actor, location=location, tracking=tracking, notify=notify
                )
            session.flush()
            return order_detail(session, row)

    def assign(self, ref: str, location: str, user: str, *, actor: str) -> dict[str, Any]:
        """Assign the order's part at `location` to `user` (empty: unassign)."""
        with self.runtime.sessions.begin() as session:
            row = self._row(session, ref)
            self.workflow.assign(session, row, location, user, actor)
            session.flush()
            return order_detail(session, row)

    def pay(self, ref: str, amount: str, method: str, *, actor: str) -> dict[str, Any]:
        try:
            value = Decimal(amount)
        except InvalidOperation:
            raise ActionRefused(f"amount {amount!r} is not a number") from None
        with self.runtime.sessions.begin() as session:
            row = self._row(session, ref)
            self.workflow.record_payment(session, row, value, method, actor)
            session.flush()
            return order_detail(session, row)

    def note(self, ref: str, text: str, *, actor: str) -> dict[str, Any]:
        with self.runtime.sessions.begin() as session:
            row = self._row(session, ref)
            self.workflow.add_note(session, row, text, actor)
            session.flush()
            return order_detail(session, row)

    def confirm(self, ref: str, *, actor: str) -> dict[str, Any]:
        with self.runtime.sessions.begin() as session:
            row = self._row(session, ref)
            if row.kind != OrderKind.RESERVATION.value:
                raise ActionRefused(f"order {row.number} is not a reservation")
            self.stocker.confirm_reservation(session, row, actor)
            session.flush()
            return order_detail(session, row)

    def set_stock(self, counts: list[ledger.Count], batch: str | None = None) -> int:
        """Absolute on-hand counts; waiting back-orders take what rose, in the same transaction."""
        known = {loc.name for loc in self.runtime.config.locations}
        for c in counts:
            if c.location not in known:
                raise ActionRefused(f"unknown location {c.location!r} (configured: {', '.join(sorted(known))})")
            if c.on_hand < 0:
                raise ActionRefused(f"{c.sku} at {c.location}: on_hand must not be negative")
        with self.runtime.sessions.begin() as session:
            moved = ledger.count_changes(session, counts, batch or uuid.uuid4().hex)
            raised = {m.sku for m in moved if m.on_hand_delta > 0}
            self.stocker.serve_back_orders(ledger.StockBook(session), raised, why="stock count")
            return len(moved)

    def move_stock(self, movements: Sequence[Movement]) -> list[bool]:
        """POS movements as one transaction; per movement True (applied) or False (its key was seen: a no-op).

        BadInput names the first movement at an unknown location; nothing is applied then.
        """
        known = {loc.name for loc in self.runtime.config.locations}
        for index, m in enumerate(movements):
            if m.location not in known:
                message = f"unknown location {m.location!r} (configured: {', '.join(sorted(known))})"
                raise BadInput((index, "location"), message)
        with self.runtime.sessions.begin() as session:
            applied = ledger.apply_pos_movements(session, movements)
            raised = {m.sku for m, new in zip(movements, applied, strict=True) if new and m.on_hand_delta > 0}
            self.stocker.serve_back_orders(ledger.StockBook(session), raised, why="stock received at the POS")
            return applied

    def import_stock(self, stream: TextIO, *, batch: str) -> imports.ImportResult:
        """A count or movement CSV, all or nothing (`imports.CsvError` names the line and column)."""
        with self.runtime.sessions.begin() as session:
            return imports.import_csv(session, stream, self.stocker, batch=batch)

    def stock_history(self, sku: str, *, location: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        with self.runtime.reads() as session:
            return ledger.history(session, sku, location=location, limit=limit)

    def stock(self, *, sku: str | None = None, location: str | None = None) -> list[dict[str, Any]]:
        with self.runtime.reads() as session:
            return ledger.stock_rows(session, sku=sku, location=location)

    def replay(self, item_id: int) -> None:
        with self.runtime.sessions.begin() as session:
            if not inbox_store.replay(session, item_id):
                raise NotFound(f"no delivery {item_id}")

    def retry(self, item_id: int) -> None:
        with self.runtime.sessions.begin() as session:
            if not retry_outbox(session, item_id):
                raise NotFound(f"no write-back {item_id}")

    def inbox(self, *, dead: bool = False, store: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        self.check_store(store)
        with self.runtime.reads() as session:
            query = (
                select(t.InboxItem, t.Store.name)
                .join(t.Store, t.Store.id == t.InboxItem.store_id)
                .order_by(t.InboxItem.id.desc())
                .limit(limit)
            )
            if dead:
                query = query.where(t.InboxItem.status == "dead")
            if store:
                query = query.where(t.Store.name == store)
            return [inbox_json(item, name) for item, name in session.execute(query)]

    def outbox(self, *, failed: bool = False, store: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        self.check_store(store)
        with self.runtime.reads() as session:
            query = (
                select(t.OutboxItem, t.Store.name, t.Order.number)
                .join(t.Store, t.Store.id == t.OutboxItem.store_id)
                .join(t.Order, t.Order.id == t.OutboxItem.order_id)
            )
            query = query.order_by(t.OutboxItem.id.desc()).limit(limit)
            if failed:
                query = query.where(t.OutboxItem.status == "failed")
            if store:
                query = query.where(t.Store.name == store)
            return [outbox_json(item, name, number) for item, name, number in session.execute(query)]

    def _row(self, session: Any, ref: str) -> t.Order:
        row = find_order_row(session, ref)
        if row is None:
            raise NotFound(f"no order {ref!r}")
        return row


def _paper_lines(part: t.Fulfilment) -> tuple[paper.PaperLine, ...]:
    names = {line.sku: line.name for line in part.order.lines}
    return tuple(paper.PaperLine(fl.sku, names.get(fl.sku, ""), fl.quantity) for fl in part.lines if fl.quantity)


def order_detail(session: Any, row: t.Order, *, raw: bool = False) -> dict[str, Any]:
    data = order_json(to_model(row))
    assigned = {f.id: f.assigned_user for f in row.fulfilments}
    for part in data["fulfilments"]:
        part["assigned_user"] = assigned.get(part["id"])
    data["back_orders"] = row.back_orders or {}
    data["conflict"] = row.conflict
    data["paid_amount"] = None if row.paid_amount is None else format(row.paid_amount, "f")
    data["allocation"] = row.allocation
    data["hold_until"] = row.hold_until.isoformat() if row.hold_until else None
    entries = session.scalars(
        select(t.TimelineEntry)
        .where(t.TimelineEntry.order_id == row.id)
        .order_by(t.TimelineEntry.at, t.TimelineEntry.id)
    )
    data["timeline"] = [timeline_json(session, e, raw) for e in entries]
    return data


def timeline_json(session: Any, entry: t.TimelineEntry, raw: bool) -> dict[str, Any]:
    item = {
        "at": entry.at.isoformat(),
        "kind": entry.kind,
        "summary": entry.summary,
        "actor": entry.actor,
        "details": entry.details,
    }
    inbox_id = (entry.details or {}).get("inbox_id")
    if raw and inbox_id:
        delivery = session.get(t.InboxItem, inbox_id)
        if delivery is not None:
            item["raw"] = delivery.body.decode("utf-8", "replace")
    return item


def inbox_json(item: t.InboxItem, store: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "store": store,
        "delivery_id": item.delivery_id,
        "source": item.source,
        "topic": item.topic,
        "external_id": item.external_id,
        "status": item.status,
        "attempts": item.attempts,
        "error": item.error,
        "received_at": item.received_at.isoformat(),
        "size": len(item.body),
    }


def outbox_json(item: t.OutboxItem, store: str, number: str) -> dict[str, Any]:
    return {
        "id": item.id,
        "store": store,
        "order_id": item.order_id,
        "order": number,
        "action": item.action,
        "target": item.target_state,
        "status": item.status,
        "attempts": item.attempts,
        "last_error": item.last_error,
        "response": item.response,
        "created_at": item.created_at.isoformat(),
        "next_attempt_at": item.next_attempt_at.isoformat(),
        "location": (item.payload or {}).get("location"),
    }
