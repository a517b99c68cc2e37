"""The inbox table's operations: keep a delivery once, claim pending work, finish or dead-letter it.

A redelivery (same store and delivery id) is a no-op thanks to the unique key, written as an
`INSERT ... ON CONFLICT DO NOTHING` on both SQLite and PostgreSQL. Claims use `FOR UPDATE SKIP LOCKED` on
PostgreSQL (replicas never take the same row) and a plain select on SQLite (one daemon per file).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.storage.tables import InboxItem, core
from connector.storage.types import InboxStatus


def delivery_values(
    *,
    store_id: int,
    delivery_id: str,
    source: str,
    topic: str,
    headers: dict[str, Any],
    body: bytes,
    external_id: str = "",
    status: InboxStatus = InboxStatus.PENDING,
    error: str | None = None,
) -> dict[str, Any]:
    """The inbox row of one delivery, as `keep_deliveries` inserts it."""
    return {
        "store_id": store_id,
        "delivery_id": delivery_id,
        "source": source,
        "topic": topic,
        "headers": headers,
        "body": body,
        "external_id": external_id or None,
        "status": status.value,
        "attempts": 0,
        "error": error,
        "received_at": datetime.now(UTC),
    }


def _dialect(session: Session | Connection) -> str:
    return (session.dialect if isinstance(session, Connection) else session.get_bind().dialect).name


def _insert(session: Session | Connection) -> Any:
    return postgresql.insert if _dialect(session) == "postgresql" else sqlite.insert


_KEEP: dict[str, Any] = {}


def keep_deliveries(session: Session | Connection, rows: Sequence[dict[str, Any]]) -> list[int | None]:
    """Insert many deliveries in one statement (a group commit of webhook receipts): for each, its new id, or None
    when the store already had that delivery id (before, or earlier in `rows`). Runs in the caller's transaction,
    on a session or (the receipt writer, which skips the ORM's per-transaction cost) a connection."""
    keys = [(row["store_id"], row["delivery_id"]) for row in rows]
    first = {key: n for n, key in reversed(list(enumerate(keys)))}
    fresh = [row for n, row in enumerate(rows) if first[keys[n]] == n]
    if not fresh:
        return []
    dialect = _dialect(session)
    statement = _KEEP.get(dialect)
    if statement is None:  # built once per dialect: the statement object memoizes its cache key
        table = core(InboxItem)
        statement = _insert(session)(table).on_conflict_do_nothing()
        statement = _KEEP[dialect] = statement.returning(table.c.store_id, table.c.delivery_id, table.c.id)
    inserted = {(store_id, delivery_id): id_ for store_id, delivery_id, id_ in session.execute(statement, fresh)}
    return [inserted.get(key) if first[key] == n else None for n, key in enumerate(keys)]


def claim(session: Session, store_ids: list[int], worker: str, *, limit: int = 50, hold: float = 120) -> list[int]:
    """Claim up to `limit` pending (or abandoned) deliveries of these stores, oldest first: one select, one update."""
    now = datetime.now(UTC)
    ids = list(
        session.scalars(
            select(InboxItem.id)
            .where(
                InboxItem.store_id.in_(store_ids),
                or_(
                    InboxItem.status == InboxStatus.PENDING.value,
                    (InboxItem.status == InboxStatus.PROCESSING.value) & (InboxItem.claimed_until < now),
                ),
                or_(InboxItem.claimed_until.is_(None), InboxItem.claimed_until < now),
            )
            .order_by(InboxItem.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if ids:
        table = core(InboxItem)
        session.execute(
            update(table)
            .where(table.c.id.in_(ids))
            .values(
                status=InboxStatus.PROCESSING.value,
                claimed_by=worker,
                claimed_until=now + timedelta(seconds=hold),
                attempts=table.c.attempts + 1,
            )
        )
    return ids


def finish(session: Session, item_id: int, *, external_id: str = "") -> None:
    row = session.get(InboxItem, item_id)
    if row is not None:
        row.status = InboxStatus.DONE.value
        row.processed_at = datetime.now(UTC)
        row.claimed_by = None
        row.error = None
        if external_id:
            row.external_id = external_id


_FINISH = (
    update(core(InboxItem))
    .where(core(InboxItem).c.id == bindparam("item_id"))
    .values(
        status=InboxStatus.DONE.value,
        processed_at=bindparam("now"),
        claimed_by=None,
        error=None,
        external_id=bindparam("external_id"),
    )
)


def finish_many(session: Session, external_ids: dict[int, str]) -> None:
    """Mark many deliveries done at once (item id -> the external id of the order it carried): one executemany."""
    if not external_ids:
        return
    now = datetime.now(UTC)
    rows = [{"item_id": i, "external_id": e, "now": now} for i, e in external_ids.items()]
    session.connection().execute(_FINISH, rows)


def dead_letter(session: Session, item_id: int, reason: str) -> None:
    row = session.get(InboxItem, item_id)
    if row is not None:
        row.status = InboxStatus.DEAD.value
        row.error = reason
        row.processed_at = datetime.now(UTC)
        row.claimed_by = None


def postpone(session: Session, item_id: int, reason: str, delay: float) -> None:
    """A retriable failure: back to pending, not before `delay` seconds from now."""
    row = session.get(InboxItem, item_id)
    if row is not None:
        row.status = InboxStatus.PENDING.value
        row.error = reason
        row.claimed_by = None
        row.claimed_until = datetime.now(UTC) + timedelta(seconds=delay)


def replay(session: Session, item_id: int) -> bool:
    """Put a dead or finished delivery back in the queue."""
    row = session.get(InboxItem, item_id)
    if row is None:
        return False
    row.status = InboxStatus.PENDING.value
    row.claimed_until = None
    row.claimed_by = None
    return True
