"""Leases: which replica owns a named piece of work (a store's platform traffic) until when.

A lease is taken with one conditional UPDATE (free, expired or already ours) or, when the row does not exist yet,
one INSERT; both are atomic on SQLite and PostgreSQL, so two replicas never both believe they hold it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.storage.tables import Lease


def renew_lease(session: Session, name: str, holder: str, ttl: timedelta, now: datetime | None = None) -> bool:
    """Take or extend lease `name` for `holder`; False when another live holder has it."""
    now = now or datetime.now(UTC)
    result = session.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at < now))
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount:  # type: ignore[attr-defined]
        return True
    try:
        with session.begin_nested():
            session.add(Lease(name=name, holder=holder, acquired_at=now, expires_at=now + ttl))
    except IntegrityError:
        return False
    return True


def release_lease(session: Session, name: str, holder: str) -> None:
    lease = session.get(Lease, name)
    if lease is not None and lease.holder == holder:
        session.delete(lease)


def lease_holder(session: Session, name: str, now: datetime | None = None) -> str | None:
    now = now or datetime.now(UTC)
    lease = session.scalar(select(Lease).where(Lease.name == name))
    if lease is None or lease.expires_at < now:
        return None
    return lease.holder
