"""Stores as rows: kept in step with the configuration, and their sync state for `status`."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.storage.tables import Cursor, Store


def sync_stores(session: Session, stores: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Make sure every configured (name, platform) has a row; returns name -> id. Rows are never deleted:
    their orders and history stay readable after a store leaves the configuration."""
    existing = {s.name: s for s in session.scalars(select(Store))}
    for name, platform in stores:
        row = existing.get(name)
        if row is None:
            row = Store(name=name, platform=platform)
            session.add(row)
            existing[name] = row
        elif row.platform != platform:
            row.platform = platform
    session.flush()
    return {name: row.id for name, row in existing.items()}


def store_cursor(session: Session, store_name: str, stream: str = "orders") -> Cursor | None:
    return session.scalar(
        select(Cursor).join(Store, Store.id == Cursor.store_id).where(Store.name == store_name, Cursor.stream == stream)
    )
