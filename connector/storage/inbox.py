"""The inbox table's operations: keep a delivery once, claim pending work, finish or dead-letter it.

A redelivery (same store and delivery id) is a no-op thanks to the unique key, written as an
`INSERT ... ON CONFLICT DO NOTHING` on both SQLite and PostgreSQL. Claims use `FOR UPDATE SKIP LOCKED` on
PostgreSQL (replicas never take the same row) and a plain select on SQLite (one daemon per file).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from connector.storage.tables import InboxItem
from connector.storage.types import InboxStatus


def keep_delivery(
    session: Session,
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
) -> int | None:
    """Insert a delivery; returns its id, or None when this store already had that delivery id."""
    values = {
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
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(InboxItem).values(**values).on_conflict_do_nothing().returning(InboxItem.id)
    return session.scalar(statement)


def claim(session: Session, store_ids: list[int], worker: str, *, limit: int = 50, hold: float = 120) -> list[int]:
    """Claim up to `limit` pending (or abandoned) deliveries of these stores, oldest first."""
    now = datetime.now(UTC)
    rows = session.scalars(
        select(InboxItem)
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
    ).all()
    for row in rows:
        row.status = InboxStatus.PROCESSING.value
        row.claimed_by = worker
        row.claimed_until = now + timedelta(seconds=hold)
        row.attempts += 1
    return [row.id for row in rows]


def finish(session: Session, item_id: int, *, external_id: str = "") -> None:
    row = session.get(InboxItem, item_id)
    if row is not None:
        row.status = InboxStatus.DONE.value
        row.processed_at = datetime.now(UTC)
        row.claimed_by = None
        row.error = None
        if external_id:
            row.external_id = external_id


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
