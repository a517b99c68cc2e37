"""The outbox worker: applies queued write-backs to the platforms, at most once in effect.

Rows are created by `connector.fulfilment` in the same transaction as the state change. The worker claims due
rows of the stores this replica owns (`FOR UPDATE SKIP LOCKED` on PostgreSQL), marks them in flight, calls the
platform outside any transaction, then records the answer:

* done — the platform took it (or already had it: clients read the platform's state before re-sending where
  the platform has no idempotency key, so a crash between the platform's accept and our commit, which leaves the
  row in flight, never produces a second fulfillment);
* retriable failure — tried again later with exponential backoff; after `MAX_ATTEMPTS` it is `failed`
  (visible in `status`, `outbox list --failed`; `outbox retry ID` queues it again);
* skippable — the platform cannot take it: `skipped` with the reason.

Every outcome is a timeline entry on the order with the platform's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from connector.errors import FatalError, RetriableError, SkippableError, SyncError
from connector.mapping.statuses import Action
from connector.metrics import Metrics
from connector.platforms.base import Platform, PlatformWrite
from connector.storage import tables as t
from connector.storage.types import OutboxStatus

log = structlog.get_logger(__name__)
MAX_ATTEMPTS = 8
IN_FLIGHT_HOLD = timedelta(minutes=2)


def claim(session: Session, store_ids: list[int], worker: str, limit: int = 20) -> list[int]:
    now = datetime.now(UTC)
    rows = session.scalars(
        select(t.OutboxItem)
        .where(
            t.OutboxItem.store_id.in_(store_ids),
            or_(
                (t.OutboxItem.status == OutboxStatus.PENDING.value) & (t.OutboxItem.next_attempt_at <= now),
                (t.OutboxItem.status == OutboxStatus.IN_FLIGHT.value) & (t.OutboxItem.claimed_until < now),
            ),
        )
        .order_by(t.OutboxItem.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    for row in rows:
        row.status = OutboxStatus.IN_FLIGHT.value
        row.claimed_by = worker
        row.claimed_until = now + IN_FLIGHT_HOLD
        row.attempts += 1
    return [row.id for row in rows]


def to_write(row: t.OutboxItem, location_ids: Mapping[str, str]) -> PlatformWrite:
    payload = row.payload or {}
    location = str(payload.get("location", ""))
    return PlatformWrite(
        external_id=str(payload.get("external_id", "")),
        action=row.action,
        target=row.target_state,
        idempotency_key=row.idempotency_key,
        notify=bool(payload.get("notify", False)),
        location=location,
        location_id=location_ids.get(location, ""),
        lines=dict(payload.get("lines") or {}),
        tracking=dict(payload.get("tracking") or {}),
    )


def drain(
    sessions: sessionmaker[Session],
    clients: Mapping[int, Platform],
    location_ids: Mapping[int, Mapping[str, str]],
    worker: str,
    metrics: Metrics,
    store_names: Mapping[int, str],
    stop: Callable[[], bool] = lambda: False,
) -> int:
    """Apply every due write of these stores; returns how many were attempted."""
    done = 0
    while not stop():
        with sessions.begin() as session:
            ids = claim(session, list(clients), worker)
            rows = [row for i in ids if (row := session.get(t.OutboxItem, i)) is not None]
            stale = {row.id for row in rows if _superseded(session, row)}
            items = {
                row.id: (row.store_id, to_write(row, location_ids.get(row.store_id, {})))
                for row in rows
                if row.id not in stale
            }
        for item_id in stale:
            _finish(
                sessions, item_id, OutboxStatus.SKIPPED, {"superseded": True}, "skipped: a later status replaces it"
            )
            done += 1
        if not items and not stale:
            return done
        for item_id, (store_id, write) in items.items():
            _apply(sessions, clients[store_id], item_id, write, metrics, store_names.get(store_id, ""))
            done += 1
    return done


def _apply(
    sessions: sessionmaker[Session], client: Platform, item_id: int, write: PlatformWrite, metrics: Metrics, store: str
) -> None:
    try:
        answer = client.apply_write(write)
    except SkippableError as exc:
        _finish(sessions, item_id, OutboxStatus.SKIPPED, {"error": str(exc)}, f"skipped: {exc}")
        return
    except (RetriableError, FatalError) as exc:
        _retry_later(sessions, item_id, exc, metrics, store)
        return
    except SyncError as exc:  # any other branch of the tree: keep it, say why
        _retry_later(sessions, item_id, exc, metrics, store)
        return
    already = " (already on the platform)" if answer.get("already") else ""
    _finish(sessions, item_id, OutboxStatus.DONE, answer, f"written{already}")


def _superseded(session: Session, row: t.OutboxItem) -> bool:
    """An order status write is pointless once a later status write for the same order exists: applying it
    would move the platform backwards (e.g. Awaiting Shipment after Completed)."""
    if row.action != Action.SET_STATUS.value:
        return False
    later = session.scalar(
        select(t.OutboxItem.id)
        .where(t.OutboxItem.order_id == row.order_id, t.OutboxItem.action == row.action, t.OutboxItem.id > row.id)
        .limit(1)
    )
    return later is not None


def _summary(row: t.OutboxItem) -> str:
    where = (row.payload or {}).get("location") or "order"
    return f"{row.action} -> {row.target_state} ({where})"


def _finish(
    sessions: sessionmaker[Session], item_id: int, status: OutboxStatus, answer: dict[str, Any], text: str
) -> None:
    with sessions.begin() as session:
        row = session.get(t.OutboxItem, item_id)
        if row is None:
            return
        row.status = status.value
        row.response = answer
        row.claimed_by = None
        row.last_error = answer.get("error") if status is OutboxStatus.SKIPPED else None
        session.add(
            t.TimelineEntry(
                order_id=row.order_id,
                kind="outbound",
                summary=f"{_summary(row)}: {text}",
                details={"outbox_id": row.id, "result": status.value, "answer": answer},
                actor="outbox",
            )
        )
    log.info("status_written", outbox_id=item_id, result=status.value)


def _retry_later(sessions: sessionmaker[Session], item_id: int, exc: Exception, metrics: Metrics, store: str) -> None:
    with sessions.begin() as session:
        row = session.get(t.OutboxItem, item_id)
        if row is None:
            return
        row.last_error = str(exc)
        row.claimed_by = None
        if row.attempts >= MAX_ATTEMPTS:
            row.status = OutboxStatus.FAILED.value
            metrics.outbox_failures.labels(store).inc()
            text = f"{_summary(row)}: failed after {row.attempts} attempts: {exc}"
        else:
            row.status = OutboxStatus.PENDING.value
            row.next_attempt_at = datetime.now(UTC) + timedelta(seconds=min(3600, 5 * 2**row.attempts))
            text = f"{_summary(row)}: attempt {row.attempts} failed, will retry: {exc}"
        session.add(
            t.TimelineEntry(
                order_id=row.order_id,
                kind="outbound",
                summary=text,
                details={"outbox_id": row.id, "result": row.status, "error": str(exc)},
                actor="outbox",
            )
        )
    log.warning("status_write_failed", outbox_id=item_id, error=str(exc))


def retry(session: Session, item_id: int) -> bool:
    row = session.get(t.OutboxItem, item_id)
    if row is None:
        return False
    row.status = OutboxStatus.PENDING.value
    row.attempts = 0
    row.next_attempt_at = datetime.now(UTC)
    return True
