"""POS files into the ledger: a count CSV or a movement CSV, streamed in chunks, all or nothing.

A count file (`sku,location,on_hand`) sets absolute on-hand levels; a movement file (`key,sku,location,delta,
reason`) applies POS movements, each key at most once (`movements.pos_movement`). The header says which it is.

Both are read row by row and written in chunks inside the caller's transaction, so memory stays flat however long
the file is, and the first bad row (its line and column named in a `CsvError`) raises before the caller commits:
nothing of a refused file is applied. Counts go through a temporary table first, because two rows for the same SKU
and location with different counts contradict each other and the file is refused naming both lines; identical
repeats are harmless and count once. The ledger then gets the difference between each count and the current
on-hand in one INSERT ... SELECT, the database reading the staged rows and the levels itself.

Stock that rose serves waiting back-orders (`Stocker.serve_back_orders`) before the transaction ends.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TextIO

from sqlalchemy import Column, ColumnElement, Integer, MetaData, String, Table, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.stock import ledger
from connector.stock.back_orders import waiting_skus
from connector.stock.ledger import StockBook
from connector.stock.movements import Movement, MovementKind, Reason, delta_problem, pos_movement
from connector.stock.order_effects import Stocker
from connector.storage.tables import StockMovement, core
from connector.storage.types import UTCDateTime

CHUNK = 1000  # rows per statement
SKUS_PER_QUERY = 500  # SQLite caps the variables of one statement
COUNT_COLUMNS = ("sku", "location", "on_hand")
MOVEMENT_COLUMNS = ("key", "sku", "location", "delta", "reason")


class CsvError(ValueError):
    """A file refused whole; the message names the line (1 is the header) and the column."""


@dataclass(frozen=True)
class ImportResult:
    kind: str  # "counts" or "movements"
    rows: int  # data rows read
    changed: int  # ledger movements written (levels changed, movements not seen before)
    served: int  # back-ordered orders that took the new stock


def import_csv(session: Session, stream: TextIO, stocker: Stocker, *, batch: str) -> ImportResult:
    """Import a count or movement CSV in the caller's transaction; `batch` keys a count file's movements.

    Raises CsvError (the caller rolls back: nothing is applied).
    """
    reader = csv.reader(stream)
    header = [name.strip() for name in next(reader, [])]
    raised: set[str] = set()
    if set(COUNT_COLUMNS) <= set(header):
        rows, changed = _import_counts(session, _Rows(reader, header, stocker.names), batch, raised)
        kind = "counts"
    elif set(MOVEMENT_COLUMNS) <= set(header):
        rows, changed = _import_movements(session, _Rows(reader, header, stocker.names), raised)
        kind = "movements"
    else:
        raise CsvError(
            f"line 1: the header must name the columns {','.join(COUNT_COLUMNS)} (counts) "
            f"or {','.join(MOVEMENT_COLUMNS)} (movements)"
        )
    served = stocker.serve_back_orders(StockBook(session), raised, why=f"stock import {batch}")
    return ImportResult(kind, rows, changed, served)


class _Rows:
    """The data rows of a CSV with their line numbers, and the checks that name a bad line and column."""

    def __init__(self, reader: Iterator[list[str]], header: list[str], locations: set[str]) -> None:
        self.reader = reader
        self.columns = {name: i for i, name in reversed(list(enumerate(header)))}
        self.width = len(header)
        self.locations = locations

    def __iter__(self) -> Iterator[tuple[int, list[str]]]:
        for row in self.reader:
            line = getattr(self.reader, "line_num", 0)
            if not any(cell.strip() for cell in row):
                continue  # a blank line
            if len(row) != self.width:
                raise CsvError(f"line {line}: {len(row)} fields, the header has {self.width}")
            yield line, row

    def text(self, line: int, row: list[str], name: str) -> str:
        value = row[self.columns[name]].strip()
        if not value:
            raise self.error(line, name, "is empty")
        return value

    def location(self, line: int, row: list[str]) -> str:
        value = self.text(line, row, "location")
        if value not in self.locations:
            raise self.error(line, "location", f"unknown location {value!r} (configured: {sorted(self.locations)})")
        return value

    def whole(self, line: int, row: list[str], name: str) -> int:
        raw = row[self.columns[name]].strip()
        try:
            return int(raw)
        except ValueError:
            raise self.error(line, name, f"{raw!r} is not a whole number") from None

    def error(self, line: int, name: str, message: str) -> CsvError:
        return CsvError(f"line {line}, column {self.columns[name] + 1} ({name}): {message}")


# --- counts -----------------------------------------------------------------------------------------------------------
def _staging() -> Table:
    """A temporary table for one count file (a new MetaData each time: the table lives only in this transaction)."""
    return Table(
        "stock_import_rows",
        MetaData(),
        Column("line", Integer, primary_key=True),
        Column("sku", String, nullable=False),
        Column("location", String, nullable=False),
        Column("on_hand", Integer, nullable=False),
        prefixes=["TEMPORARY"],
    )


def _import_counts(session: Session, rows: _Rows, batch: str, raised: set[str]) -> tuple[int, int]:
    staging = _staging()
    connection = session.connection()
    staging.create(connection)
    try:
        read = _stage_counts(session, staging, rows)
        connection.exec_driver_sql("CREATE INDEX ix_stock_import_rows ON stock_import_rows (sku, location, line)")
        _refuse_conflicts(session, staging)
        changed = _apply_counts(session, staging, batch, raised)
    finally:
        staging.drop(connection)
    return read, changed


def _stage_counts(session: Session, staging: Table, rows: _Rows) -> int:
    chunk: list[dict[str, object]] = []
    read = 0
    for line, row in rows:
        sku, location = rows.text(line, row, "sku"), rows.location(line, row)
        on_hand = rows.whole(line, row, "on_hand")
        if on_hand < 0:
            raise rows.error(line, "on_hand", "must not be negative")
        chunk.append({"line": line, "sku": sku, "location": location, "on_hand": on_hand})
        read += 1
        if len(chunk) >= CHUNK:
            session.execute(staging.insert(), chunk)
            chunk = []
    if chunk:
        session.execute(staging.insert(), chunk)
    return read


def _refuse_conflicts(session: Session, staging: Table) -> None:
    """Two rows for one SKU and location with different counts: the file contradicts itself."""
    a, b = staging.alias("a"), staging.alias("b")
    clash = (
        select(a.c.line, b.c.line, a.c.sku, a.c.location, a.c.on_hand, b.c.on_hand)
        .join(b, (a.c.sku == b.c.sku) & (a.c.location == b.c.location) & (a.c.line < b.c.line))
        .where(a.c.on_hand != b.c.on_hand)
        .order_by(b.c.line, a.c.line)
        .limit(1)
    )
    found = session.execute(clash).first()
    if found is not None:
        first, second, sku, location, one, other = found
        raise CsvError(
            f"line {second}, column on_hand: {sku} at {location} is counted {other} here "
            f"but {one} on line {first}; one count per SKU and location"
        )


def _apply_counts(session: Session, staging: Table, batch: str, raised: set[str]) -> int:
    """Write each count's difference from the current on-hand in one INSERT ... SELECT: the database does the work
    and nothing of the file is held here. Keys are `movements.count_movement`'s, built in SQL."""
    current = (
        select(func.coalesce(func.sum(StockMovement.on_hand_delta), 0))
        .where(StockMovement.sku == staging.c.sku, StockMovement.location == staging.c.location)
        .scalar_subquery()
    )
    _note_raised(session, staging, current, raised)
    counted = (
        select(staging.c.sku, staging.c.location, func.min(staging.c.on_hand).label("on_hand"))
        .group_by(staging.c.sku, staging.c.location)
        .subquery()
    )
    level = (
        select(func.coalesce(func.sum(StockMovement.on_hand_delta), 0))
        .where(StockMovement.sku == counted.c.sku, StockMovement.location == counted.c.location)
        .scalar_subquery()
    )
    inner = f"count/{batch}/"
    key = (
        literal("count/")
        + _escaped(literal(inner) + counted.c.sku + literal("/") + counted.c.location)
        + literal("/")
        + _escaped(counted.c.location)
        + literal("/")
        + _escaped(counted.c.sku)
    )
    rows = select(
        counted.c.sku,
        counted.c.location,
        literal(MovementKind.COUNT.value),
        counted.c.on_hand - level,
        literal(0),
        literal(0),
        key,
        literal(datetime.now(UTC), UTCDateTime()),
        literal(""),
        literal(""),
    ).where(counted.c.on_hand != level)
    columns = ["sku", "location", "kind", "on_hand_delta", "allocated_delta", "reserved_delta"]
    columns += ["idempotency_key", "at", "note", "reason"]
    table = core(StockMovement)
    if session.get_bind().dialect.name == "postgresql":
        # psycopg reports no row count for INSERT ... SELECT here: count what the statement returns instead.
        written = postgresql.insert(table).from_select(columns, rows).on_conflict_do_nothing()
        counted_rows = written.returning(table.c.id).cte("written")
        return int(session.scalar(select(func.count()).select_from(counted_rows)) or 0)
    result = session.execute(sqlite.insert(table).from_select(columns, rows).on_conflict_do_nothing())
    return int(getattr(result, "rowcount", 0))


def _escaped(value: ColumnElement[str]) -> ColumnElement[str]:
    """`movements._escape` in SQL: '%' -> '%25', '/' -> '%2F'."""
    return func.replace(func.replace(value, "%", "%25"), "/", "%2F")


def _note_raised(session: Session, staging: Table, current: ColumnElement[int], raised: set[str]) -> None:
    """Add the SKUs waiting orders want whose count is above the current on-hand (a few hundred at a time)."""
    owed = sorted(waiting_skus(session))
    for start in range(0, len(owed), SKUS_PER_QUERY):
        chunk = owed[start : start + SKUS_PER_QUERY]
        query = select(staging.c.sku).where(staging.c.sku.in_(chunk), staging.c.on_hand > current).distinct()
        raised.update(session.scalars(query))


# --- movements --------------------------------------------------------------------------------------------------------
def _import_movements(session: Session, rows: _Rows, raised: set[str]) -> tuple[int, int]:
    owed = waiting_skus(session)
    chunk: list[Movement] = []
    read = changed = 0
    for line, row in rows:
        chunk.append(_movement(rows, line, row))
        read += 1
        if len(chunk) >= CHUNK:
            changed += _apply_movements(session, chunk, owed, raised)
            chunk = []
    return read, changed + _apply_movements(session, chunk, owed, raised)


def _movement(rows: _Rows, line: int, row: list[str]) -> Movement:
    key, sku = rows.text(line, row, "key"), rows.text(line, row, "sku")
    location = rows.location(line, row)
    delta = rows.whole(line, row, "delta")
    raw_reason = rows.text(line, row, "reason")
    try:
        reason = Reason(raw_reason)
    except ValueError:
        raise rows.error(line, "reason", f"{raw_reason!r} is not one of {', '.join(r.value for r in Reason)}") from None
    problem = delta_problem(reason, delta)
    if problem:
        raise rows.error(line, "delta", f"{delta} {problem}")
    return pos_movement(key, sku, location, delta, reason)


def _apply_movements(session: Session, chunk: Sequence[Movement], owed: set[str], raised: set[str]) -> int:
    applied = ledger.apply_pos_movements(session, chunk)
    raised.update(m.sku for m, new in zip(chunk, applied, strict=True) if new and m.on_hand_delta > 0 and m.sku in owed)
    return sum(applied)


__all__ = ["COUNT_COLUMNS", "MOVEMENT_COLUMNS", "CsvError", "ImportResult", "import_csv"]
