"""Stock in the database: the append-only ledger of `connector.stock.movements` movements, and levels derived from it.

Movements are inserted with `ON CONFLICT DO NOTHING` on their idempotency key, so replaying any event (a
redelivered webhook, a retried job) never moves stock twice. Levels are sums over the ledger per
`(sku, location)`; `available = on_hand - allocated - reserved`. A `StockBook` reads them once per transaction
and keeps them current in memory while a batch of orders is allocated (see the class).

Stock enters by counts (a POS export, `connector stock import`, `PUT /api/stock`): each count is stored as the
difference from the current on-hand, keyed by the import batch, so one import applied twice moves nothing. POS
movements (`POST /api/stock/movements`, a movement CSV) carry the POS's own key: a key seen before is a no-op.
Files are parsed in `connector.stock.imports`; `history` lists a SKU's movements with the level each one left.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.stock.movements import Movement, StockLevel, count_movement
from connector.storage.tables import StockMovement, core


@dataclass(frozen=True)
class Count:
    sku: str
    location: str
    on_hand: int


def apply_movements(session: Session, movements: Iterable[Movement], order_id: int | None = None) -> int:
    """Append movements; returns how many were new (a replayed key is skipped)."""
    return len(_insert(session, movements, order_id))


def _insert(session: Session, movements: Iterable[Movement], order_id: int | None) -> list[Movement]:
    """Insert in one statement, a replayed key skipped; returns the movements that were new."""
    by_key = {m.idempotency_key: m for m in movements}
    return [by_key[key] for key in _write(session, [_row(m, order_id) for m in by_key.values()])]


def _write(session: Session, rows: list[dict[str, Any]]) -> list[str]:
    """One executemany `INSERT ... ON CONFLICT DO NOTHING`; returns the keys that were new."""
    if not rows:
        return []
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    table = core(StockMovement)
    statement = insert(table).on_conflict_do_nothing().returning(table.c.idempotency_key)
    return list(session.execute(statement, rows).scalars())


def _row(m: Movement, order_id: int | None) -> dict[str, Any]:
    return {
        "sku": m.sku,
        "location": m.location,
        "kind": m.kind.value,
        "on_hand_delta": m.on_hand_delta,
        "allocated_delta": m.allocated_delta,
        "reserved_delta": m.reserved_delta,
        "idempotency_key": m.idempotency_key,
        "order_id": order_id,
        "note": m.order_ref,
        "reason": m.reason,
    }


class StockBook:
    """The stock of one transaction's SKUs: read from the ledger once, kept current in memory as movements are made.

    A poll page allocates its orders one after the other, each seeing the stock the ones before it took, without
    a query per order. Movements of an order's first allocation (`stage`) cannot be replays: their keys carry the
    id of an order that did not exist before this transaction, so they wait for `flush` and go in as one
    statement. Any other movement (`apply`) is written at once, because only the ledger knows whether its key was
    applied before, and the levels here follow only what it really moved.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._levels: dict[str, dict[str, StockLevel]] = {}  # sku -> location -> level
        self._staged: list[tuple[Movement, int | None]] = []

    def load(self, skus: Iterable[str]) -> None:
        """Read the levels of the SKUs not read yet (one query for all of them)."""
        missing = sorted(set(skus) - self._levels.keys())
        if not missing:
            return
        for sku in missing:
            self._levels[sku] = {}
        for (sku, location), level in levels(self.session, skus=missing).items():
            self._levels[sku][location] = level

    def availability(self, skus: Iterable[str]) -> dict[tuple[str, str], int]:
        """`available` per `(sku, location)` of these SKUs, as `allocation.allocate` takes it."""
        skus = list(skus)
        self.load(skus)
        return {(sku, loc): level.available for sku in skus for loc, level in self._levels[sku].items()}

    def apply(self, movements: Iterable[Movement], order_id: int | None = None) -> int:
        """Write movements now (a replayed key is skipped); returns how many were new."""
        movements = list(movements)
        self.load(m.sku for m in movements)
        new = _insert(self.session, movements, order_id)
        self._follow(new)
        return len(new)

    def stage(self, movements: Iterable[Movement], order_id: int) -> None:
        """Count movements of a new order's first allocation now and write them at `flush`."""
        movements = list(movements)
        self.load(m.sku for m in movements)
        self._follow(movements)
        self._staged.extend((m, order_id) for m in movements)

    def flush(self) -> None:
        """Write the staged movements in one statement."""
        rows = [_row(m, order_id) for m, order_id in self._staged]
        written = _write(self.session, rows)
        if len(written) != len(rows):  # the levels counted here would be wrong: refuse rather than mis-allocate
            raise RuntimeError(f"{len(rows) - len(written)} staged stock movements were already in the ledger")
        self._staged.clear()

    def _follow(self, movements: Iterable[Movement]) -> None:
        for m in movements:
            at = self._levels[m.sku]
            level = at.get(m.location, StockLevel())
            at[m.location] = StockLevel(
                level.on_hand + m.on_hand_delta,
                level.allocated + m.allocated_delta,
                level.reserved + m.reserved_delta,
            )


def levels(
    session: Session, *, skus: Sequence[str] | None = None, locations: Sequence[str] | None = None
) -> dict[tuple[str, str], StockLevel]:
    """Current levels per (sku, location), summed from the ledger."""
    query = select(
        StockMovement.sku,
        StockMovement.location,
        func.sum(StockMovement.on_hand_delta),
        func.sum(StockMovement.allocated_delta),
        func.sum(StockMovement.reserved_delta),
    ).group_by(StockMovement.sku, StockMovement.location)
    if skus:
        query = query.where(StockMovement.sku.in_(list(skus)))
    if locations:
        query = query.where(StockMovement.location.in_(list(locations)))
    return {
        (sku, loc): StockLevel(int(on_hand or 0), int(allocated or 0), int(reserved or 0))
        for sku, loc, on_hand, allocated, reserved in session.execute(query)
    }


def availability(session: Session, skus: Sequence[str]) -> dict[tuple[str, str], int]:
    return {key: level.available for key, level in levels(session, skus=skus).items()}


def stock_rows(session: Session, *, sku: str | None = None, location: str | None = None) -> list[dict[str, Any]]:
    """Rows for `stock show` and the API: `{sku, location, on_hand, allocated, reserved, available}`."""
    found = levels(session, skus=[sku] if sku else None, locations=[location] if location else None)
    return [
        {
            "sku": s,
            "location": loc,
            "on_hand": lv.on_hand,
            "allocated": lv.allocated,
            "reserved": lv.reserved,
            "available": lv.available,
        }
        for (s, loc), lv in sorted(found.items())
    ]


def import_counts(session: Session, counts: Iterable[Count], batch: str | None = None) -> int:
    """Set absolute on-hand counts (as a POS exports them); returns how many (sku, location) levels moved."""
    return len(count_changes(session, counts, batch or uuid.uuid4().hex))


def count_changes(session: Session, counts: Iterable[Count], batch: str) -> list[Movement]:
    """Write each count as its difference from the current on-hand; returns the movements written (a level already
    at its count, or a batch applied before, moves nothing). Levels are read `_LEVELS_CHUNK` SKUs at a time."""
    counts = list(counts)
    skus = sorted({c.sku for c in counts})
    current: dict[tuple[str, str], StockLevel] = {}
    for start in range(0, len(skus), _LEVELS_CHUNK):
        current.update(levels(session, skus=skus[start : start + _LEVELS_CHUNK]))
    movements = []
    for c in counts:
        level = current.get((c.sku, c.location), StockLevel(0, 0, 0))
        if level.on_hand != c.on_hand:
            movements.append(
                count_movement(c.sku, c.location, c.on_hand, level.on_hand, f"count/{batch}/{c.sku}/{c.location}")
            )
    return _insert(session, movements, None)


_LEVELS_CHUNK = 500  # SKUs per levels query: SQLite caps the variables of one statement


def apply_pos_movements(session: Session, movements: Sequence[Movement]) -> list[bool]:
    """Append POS movements in one statement; per movement True when applied, False when its key was seen before
    (in the ledger, or earlier in this list)."""
    first: dict[str, Movement] = {}
    for m in movements:
        first.setdefault(m.idempotency_key, m)
    new = set(_write(session, [_row(m, None) for m in first.values()]))
    applied = []
    for m in movements:
        fresh = m.idempotency_key in new and first[m.idempotency_key] is m
        applied.append(fresh)
    return applied


def history(session: Session, sku: str, *, location: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """A SKU's movements, newest first, with the level each one left (per location): what `stock history` shows."""
    query = select(StockMovement).where(StockMovement.sku == sku)
    if location:
        query = query.where(StockMovement.location == location)
    rows = session.scalars(query.order_by(StockMovement.id.desc()).limit(limit)).all()
    after = {loc: level for (_s, loc), level in levels(session, skus=[sku]).items()}
    out = []
    for m in rows:
        level = after.get(m.location, StockLevel())
        out.append(_history_row(m, level))
        after[m.location] = StockLevel(
            level.on_hand - m.on_hand_delta, level.allocated - m.allocated_delta, level.reserved - m.reserved_delta
        )
    return out


def _history_row(m: StockMovement, after: StockLevel) -> dict[str, Any]:
    return {
        "at": m.at.isoformat(),
        "location": m.location,
        "kind": m.kind,
        "reason": m.reason or None,
        "on_hand_delta": m.on_hand_delta,
        "allocated_delta": m.allocated_delta,
        "reserved_delta": m.reserved_delta,
        "on_hand": after.on_hand,
        "available": after.available,
        "order_id": m.order_id,
        "key": m.idempotency_key,
    }
