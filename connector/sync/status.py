"""Per-store sync state for `connector status` and the API: what a support engineer checks first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connector.runtime.config import Config
from connector.storage import tables as t
from connector.storage.types import InboxStatus, OutboxStatus


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _counts(session: Session, model: type[t.InboxItem] | type[t.OutboxItem], store_id: int) -> dict[str, int]:
    rows = session.execute(select(model.status, func.count()).where(model.store_id == store_id).group_by(model.status))
    return {status: count for status, count in rows}


def store_status(session: Session, config: Config, now: datetime | None = None) -> list[dict[str, Any]]:
    """One entry per configured store, healthy or not, with the reasons when not."""
    now = now or datetime.now(UTC)
    rows = {s.name: s for s in session.scalars(select(t.Store))}
    return [
        _one(session, store.name, store.platform.value, store.base_url, store.poll_interval, rows, now)
        for store in config.stores
    ]


def _one(
    session: Session,
    name: str,
    platform: str,
    base_url: str,
    interval: timedelta,
    rows: dict[str, t.Store],
    now: datetime,
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
    problems = []
    if cursor and cursor.last_error:
        problems.append(f"last poll failed: {cursor.last_error}")
    if last_success and now - last_success > interval * 3 + timedelta(minutes=1):
        problems.append(f"no successful poll for {int((now - last_success).total_seconds())} s")
    if outbox.get(OutboxStatus.FAILED.value):
        problems.append(f"{outbox[OutboxStatus.FAILED.value]} write-backs failed")
    if webhooks["silent"]:
        problems.append(
            f"webhooks silent: polls found {webhooks['found_by_poll_last_hour']} new orders in the last hour "
            "but no webhook arrived (run `connector webhooks register`)"
        )
    return {
        "store": name,
        "platform": platform,
        "base_url": base_url,
        "healthy": not problems,
        "problems": problems,
        "last_poll": _iso(cursor.last_poll_finished_at) if cursor else None,
        "last_success": _iso(last_success),
        "last_success_age_s": int((now - last_success).total_seconds()) if last_success else None,
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
