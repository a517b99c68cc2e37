"""Per-store sync state for `connector status`, the API and the dashboard: what a support engineer checks first.

Health, decided here and only here (`status`, `GET /api/stores` and the dashboard badge all read it):

    healthy     nothing to report
    degraded    orders still sync, but something waits for a person: dead letters in the inbox, write-backs that
                failed for good, webhooks silent while polls find new orders (polls cover for them)
    unhealthy   orders are not syncing: no daemon holds the store (the daemon is not running: its heartbeat, the
                leases it renews every third of `lease_ttl`, is older than one `lease_ttl`), the last poll failed,
                or no poll has succeeded for three poll intervals

A store's health is its worst problem's; the overall health is the worst store's.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.runtime.config import Config
from connector.storage import tables as t
from connector.storage.types import InboxStatus, OutboxStatus


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _age(value: datetime | None, now: datetime) -> int | None:
    return None if value is None else max(int((now - value).total_seconds()), 0)


def _counts(session: Session, model: type[t.InboxItem] | type[t.OutboxItem], store_id: int) -> dict[str, int]:
    rows = session.execute(select(model.status, func.count()).where(model.store_id == store_id).group_by(model.status))
    return {status: count for status, count in rows}


class Health(StrEnum):
    HEALTHY = "healthy"
    DEGRADED = "degraded"
    UNHEALTHY = "unhealthy"

    @staticmethod
    def worst(levels: list[Health]) -> Health:
        order = [Health.HEALTHY, Health.DEGRADED, Health.UNHEALTHY]
        return max(levels, key=order.index, default=Health.HEALTHY)


def overview(session: Session, config: Config, now: datetime | None = None) -> dict[str, Any]:
    """The daemon's heartbeat, every store's state, and the overall health (the worst store's)."""
    now = now or datetime.now(UTC)
    stores = store_status(session, config, now)
    return {
        "health": Health.worst([Health(s["health"]) for s in stores]).value,
        "daemon": daemon_heartbeat(session, config.daemon.lease_ttl, now),
        "stores": stores,
    }


def daemon_heartbeat(session: Session, ttl: timedelta, now: datetime) -> dict[str, Any]:
    """The newest daemon lease: a running daemon renews it every `ttl / 3`, so one older than `ttl` is a stopped one.

    A daemon that stops cleanly deletes its lease (no heartbeat at all); one that crashed leaves it to expire.
    """
    lease = session.scalar(
        select(t.Lease).where(t.Lease.name.startswith("daemon:")).order_by(t.Lease.expires_at.desc()).limit(1)
    )
    if lease is None:
        return {"running": False, "holder": None, "last_heartbeat": None, "heartbeat_age_s": None}
    beat = lease.expires_at - ttl
    return {
        "running": lease.expires_at >= now,
        "holder": lease.holder,
        "last_heartbeat": _iso(beat),
        "heartbeat_age_s": max(int((now - beat).total_seconds()), 0),
    }


def store_status(session: Session, config: Config, now: datetime | None = None) -> list[dict[str, Any]]:
    """One entry per configured store, healthy or not, with the reasons when not."""
    now = now or datetime.now(UTC)
    rows = {s.name: s for s in session.scalars(select(t.Store))}
    daemon = daemon_heartbeat(session, config.daemon.lease_ttl, now)
    return [
        _one(session, store.name, store.platform.value, store.base_url, store.poll_interval, rows, now, daemon)
        for store in config.stores
    ]


def _unhealthy(
    session: Session, name: str, cursor: t.Cursor | None, interval: timedelta, daemon: dict[str, Any], now: datetime
) -> list[tuple[Health, str]]:
    """What stops this store's orders from syncing."""
    found = []
    not_synced = _not_synced(session, name, daemon, now)
    if not_synced:
        found.append(not_synced)
    if cursor and cursor.last_error:
        found.append(f"last poll failed: {cursor.last_error}")
    last_success = cursor.last_success_at if cursor else None
    if last_success and now - last_success > interval * 3 + timedelta(minutes=1):
        found.append(f"no successful poll for {int((now - last_success).total_seconds())} s")
    return [(Health.UNHEALTHY, text) for text in found]


def _degraded(inbox: dict[str, int], outbox: dict[str, int], webhooks: dict[str, Any]) -> list[tuple[Health, str]]:
    """What waits for a person while orders still sync."""
    found = []
    if inbox.get(InboxStatus.DEAD.value):
        found.append(f"{inbox[InboxStatus.DEAD.value]} dead letters (`connector inbox list --dead`)")
    if outbox.get(OutboxStatus.FAILED.value):
        found.append(f"{outbox[OutboxStatus.FAILED.value]} write-backs failed (`connector outbox list --failed`)")
    if webhooks["silent"]:
        found.append(
            f"webhooks silent: polls found {webhooks['found_by_poll_last_hour']} new orders in the last hour "
            "but no webhook arrived (run `connector webhooks register`)"
        )
    return [(Health.DEGRADED, text) for text in found]


def _not_synced(session: Session, name: str, daemon: dict[str, Any], now: datetime) -> str | None:
    """Why no daemon syncs this store now (its lease is not held), or None when one does."""
    lease = session.get(t.Lease, f"store:{name}")
    if lease is not None and lease.expires_at >= now:
        return None
    if daemon["running"]:
        return f"no running daemon holds this store (is it in {daemon['holder']}'s configuration?)"
    if daemon["heartbeat_age_s"] is None:
        return "daemon not running: no heartbeat (stopped, or never started: `connector run`)"
    return f"daemon not running: last heartbeat {daemon['heartbeat_age_s']} s ago"


def _one(
    session: Session,
    name: str,
    platform: str,
    base_url: str,
    interval: timedelta,
    rows: dict[str, t.Store],
    now: datetime,
    daemon: dict[str, Any],
) -> dict[str, Any]:
    row = rows.get(name)
    cursor = None
    inbox: dict[str, int] = {}
    outbox: dict[str, int] = {}
    webhooks: dict[str, Any] = {"last_delivery": None, "last_hour": 0, "found_by_poll_last_hour": 0, "silent": False}
    if row is not None:
        cursor = session.get(t.Cursor, (row.id, "orders"))
        inbox, outbox = _counts(session, t.InboxItem, row.id), _counts(session, t.OutboxItem, row.id)
        webhooks = _webhooks(session, row.id, now)
    last_success = cursor.last_success_at if cursor else None
    last_poll = cursor.last_poll_finished_at if cursor else None
    problems = [
        *_unhealthy(session, name, cursor, interval, daemon, now),
        *_degraded(inbox, outbox, webhooks),
    ]
    health = Health.worst([level for level, _ in problems])
    return {
        "store": name,
        "platform": platform,
        "base_url": base_url,
        "health": health.value,
        "healthy": health is Health.HEALTHY,
        "problems": [text for _, text in problems],
        "last_poll": _iso(last_poll),
        "last_poll_age_s": _age(last_poll, now),
        "last_success": _iso(last_success),
        "last_success_age_s": _age(last_success, now),
        "cursor": {
            "updated_at": _iso(cursor.cursor_updated_at) if cursor else None,
            "external_id": cursor.cursor_external_id if cursor else None,
        },
        "orders_seen": cursor.orders_seen if cursor else 0,
        "webhooks": webhooks,
        "inbox": {"pending": inbox.get(InboxStatus.PENDING.value, 0), "dead": inbox.get(InboxStatus.DEAD.value, 0)},
        "outbox": {
            "pending": outbox.get(OutboxStatus.PENDING.value, 0) + outbox.get(OutboxStatus.IN_FLIGHT.value, 0),
            "failed": outbox.get(OutboxStatus.FAILED.value, 0),
        },
        "last_error": cursor.last_error if cursor else None,
        "rate_budget": {
            "calls": cursor.budget_calls if cursor else 0,
            "throttled": cursor.budget_throttled if cursor else 0,
        },
    }


def _webhooks(session: Session, store_id: int, now: datetime) -> dict[str, Any]:
    """Webhook health: deliveries, and whether polls keep finding new orders while webhooks stay silent."""
    hour_ago = now - timedelta(hours=1)
    webhook = (t.InboxItem.store_id == store_id) & (t.InboxItem.source == "webhook")
    last = session.scalar(select(func.max(t.InboxItem.received_at)).where(webhook))
    hour = int(session.scalar(select(func.count()).where(webhook, t.InboxItem.received_at >= hour_ago)) or 0)
    found_by_poll = int(
        session.scalar(
            select(func.count())
            .select_from(t.TimelineEntry)
            .join(t.Order, t.Order.id == t.TimelineEntry.order_id)
            .where(
                t.Order.store_id == store_id,
                t.TimelineEntry.kind == "inbound",
                t.TimelineEntry.actor == "poll",
                t.TimelineEntry.at >= hour_ago,
                t.Order.platform_created_at >= hour_ago,  # new orders, not a backfill of old ones
            )
        )
        or 0
    )
    return {
        "last_delivery": _iso(last),
        "last_hour": hour,
        "found_by_poll_last_hour": found_by_poll,
        "silent": found_by_poll > 0 and hour == 0,
    }
