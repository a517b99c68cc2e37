"""Copy every row of one connector database into another: how a SQLite install moves to PostgreSQL.

    copy_rows(source, target)   -> {table: rows copied}

Both databases must be at the newest schema revision, and the target's tables empty (a copy never merges). Tables
go in foreign-key order, in batches, through the same column types that wrote them (so money stays exact text and
times stay UTC), all in one transaction on the target: a failure leaves it as empty as it was. On PostgreSQL the
id sequences are then moved past the copied ids, or the next insert would collide with a copied row.
"""

from __future__ import annotations

from sqlalchemy import Engine, Integer, Table, func, insert, select, text
from sqlalchemy.engine import Connection

from connector.storage.db import current_revision, head_revision
from connector.storage.tables import Base

BATCH = 1000


class CopyRefused(Exception):
    """The copy would not give a faithful database: the message says why and what to do."""


def copy_rows(source: Engine, target: Engine, batch: int = BATCH) -> dict[str, int]:
    """Copy all rows of `source` into the empty `target`; the number of rows per table."""
    _check_revisions(source, target)
    copied: dict[str, int] = {}
    with source.connect() as read, target.begin() as write:
        _check_empty(write)
        for table in Base.metadata.sorted_tables:
            copied[table.name] = _copy_table(read, write, table, batch)
            if write.dialect.name == "postgresql":
                _move_sequence(write, table)
    return copied


def _check_revisions(source: Engine, target: Engine) -> None:
    head = head_revision()
    for name, engine in (("source", source), ("target", target)):
        revision = current_revision(engine)
        if revision != head:
            raise CopyRefused(
                f"the {name} database is at revision {revision}, not {head}: run `connector db upgrade` on it first"
            )


def _check_empty(write: Connection) -> None:
    tables = Base.metadata.sorted_tables
    filled = [t.name for t in tables if write.execute(select(func.count()).select_from(t)).scalar()]
    if filled:
        raise CopyRefused(f"the target database already has rows in {', '.join(filled)}: copy only into a new one")


def _copy_table(read: Connection, write: Connection, table: Table, batch: int) -> int:
    rows = read.execution_options(yield_per=batch).execute(select(table).order_by(*table.primary_key.columns))
    count = 0
    for part in rows.partitions():
        write.execute(insert(table), [dict(row._mapping) for row in part])
        count += len(part)
    return count


def _move_sequence(write: Connection, table: Table) -> None:
    """Set a serial id's sequence past the largest copied id (tables without one are left alone)."""
    (column, *others) = table.primary_key.columns
    if others or not isinstance(column.type, Integer):
        return
    sequence = write.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": column.name})
    name = sequence.scalar()
    if name is None:
        return
    largest = write.execute(select(func.max(column))).scalar()
    write.execute(text("SELECT setval(:s, :v, :called)"), {"s": name, "v": largest or 1, "called": largest is not None})
