"""Stock in the database: the append-only ledger of `connector.stock` movements, and levels derived from it.

Movements are inserted with `ON CONFLICT DO NOTHING` on their idempotency key, so replaying any event (a
redelivered webhook, a retried job) never moves stock twice. Levels are sums over the ledger per
`(sku, location)`; `available = on_hand - allocated - reserved`.

Stock enters by counts (a POS export, `connector stock import`, `PUT /api/stock`): each count is stored as the
difference from the current on-hand, keyed by the import batch, so one import applied twice moves nothing.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.stock import Movement, StockLevel, count_movement
from connector.storage.tables import StockMovement


@dataclass(frozen=True)
class Count:
    sku: str
    location: str
    on_hand: int


def apply_movements(session: Session, movements: Iterable[Movement], order_id: int | None = None) -> int:
    """Append movements; returns how many were new (a replayed key is skipped)."""
    rows = [
        {
            "sku": m.sku,
            "location": m.location,
            "kind": m.kind.value,
            "on_hand_delta": m.on_hand_delta,
            "allocated_delta": m.allocated_delta,
            "reserved_delta": m.reserved_delta,
            "idempotency_key": m.idempotency_key,
            "order_id": order_id,
            "note": m.order_ref,
        }
        for m in movements
    ]
    if not rows:
        return 0
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    new = 0
    for row in rows:
        statement = insert(StockMovement).values(**row).on_conflict_do_nothing().returning(StockMovement.id)
        new += session.scalar(statement) is not None
    return new


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
    batch = batch or uuid.uuid4().hex
    counts = list(counts)
    current = levels(session, skus=sorted({c.sku for c in counts}))
    movements = []
    for c in counts:
        level = current.get((c.sku, c.location), StockLevel(0, 0, 0))
        if level.on_hand != c.on_hand:
            movements.append(
                count_movement(c.sku, c.location, c.on_hand, level.on_hand, f"count/{batch}/{c.sku}/{c.location}")
            )
    return apply_movements(session, movements)


class CsvError(ValueError):
    pass


def parse_counts_csv(text: str, known_locations: Iterable[str]) -> list[Count]:
    """Rows `sku,location,on_hand` (header required); refuses the whole file on the first bad row."""
    known = set(known_locations)
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"sku", "location", "on_hand"} <= set(reader.fieldnames):
        raise CsvError("the header must name the columns sku,location,on_hand")
    counts = []
    for n, row in enumerate(reader, start=2):
        sku, location, raw = (row.get("sku") or "").strip(), (row.get("location") or "").strip(), row.get("on_hand")
        if not sku:
            raise CsvError(f"line {n}: sku is empty")
        if location not in known:
            raise CsvError(f"line {n}: unknown location {location!r} (configured: {', '.join(sorted(known))})")
        try:
            on_hand = int((raw or "").strip())
        except ValueError:
            raise CsvError(f"line {n}: on_hand {raw!r} is not a whole number") from None
        if on_hand < 0:
            raise CsvError(f"line {n}: on_hand must not be negative")
        counts.append(Count(sku, location, on_hand))
    return counts
