"""Leases: which replica owns a named piece of work (a store's platform traffic) until when.

A lease is taken with one conditional UPDATE (free, expired or already ours) or, when the row does not exist yet,
one INSERT; both are atomic on SQLite and PostgreSQL, so two replicas never both believe they hold it.

Each daemon also holds `daemon:<identity>`, the identity its inbox and outbox claims carry: a claim whose holder has
no live daemon lease (or any claim not ours, when this daemon is known to be the only one) was left by a dead
daemon, and `release_orphaned_claims` makes it claimable at once instead of after its hold expires.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connector.storage.tables import InboxItem, Lease, OutboxItem
from connector.storage.types import InboxStatus, OutboxStatus


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


def release_orphaned_claims(session: Session, holder: str, *, sole: bool, now: datetime | None = None) -> int:
    """Make in-flight inbox and outbox claims of dead daemons claimable now; returns how many.

    `sole`: this daemon is the only one on the database (SQLite's file lock says so), so every claim that is not
    `holder`'s is a dead predecessor's. Otherwise a claim is orphaned when its holder holds no live `daemon:` lease.
    Outbox rows stay in flight: whoever claims them goes through the clients' at-most-once checks (read first).
    """
    now = now or datetime.now(UTC)
    live = {holder}
    if not sole:
        rows = session.scalars(select(Lease.holder).where(Lease.name.like("daemon:%"), Lease.expires_at >= now))
        live |= set(rows)
    released = 0
    for table, status in ((OutboxItem, OutboxStatus.IN_FLIGHT.value), (InboxItem, InboxStatus.PROCESSING.value)):
        result = session.execute(
            update(table)
            .where(table.status == status, table.claimed_until > now, table.claimed_by.not_in(live))
            .values(claimed_until=now)
            .execution_options(synchronize_session=False)
        )
        released += result.rowcount  # type: ignore[attr-defined]
    return released
