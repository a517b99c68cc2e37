"""The outbox worker: applies queued write-backs to the platforms, at most once in effect.

Rows are created by `connector.orders.fulfilment` in the same transaction as the state change. The worker claims due
rows of the stores this replica owns (`FOR UPDATE SKIP LOCKED` on PostgreSQL), marks them in flight, calls the
platform outside any transaction, then records the answer:

* done — the platform took it (or already had it: clients read the platform's state before re-sending where
  the platform has no idempotency key, so a crash between the platform's accept and our commit, which leaves the
  row in flight, never produces a second fulfillment);
* retriable failure — tried again later with exponential backoff; after `MAX_ATTEMPTS` it is `failed`
  (visible in `status`, `outbox list --failed`; `outbox retry ID` queues it again);
* skippable — the platform cannot take it: `skipped` with the reason;
* refused for rate (`RateLimited`, longer than `RATE_PATIENCE`) — the platform did nothing: the row is pending again
  from the platform's signalled reset (Retry-After, or the store budget's pause), and the attempt is given back.

Every outcome is a timeline entry on the order with the platform's answer.

Stores are drained side by side, one thread each, and every call waits at most `RATE_PATIENCE` for the store's
rate limit (`rate_patience`): a store whose window is spent (Lightspeed's hour, a BigCommerce window) is left for
later rather than slept on, so it never holds up the write-backs of the other stores.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from connector.mapping.statuses import Action
from connector.platforms.base import Platform, PlatformWrite, RateBudget, rate_patience
from connector.runtime.errors import FatalError, RateLimited, RetriableError, SkippableError, SyncError
from connector.runtime.metrics import Metrics
from connector.storage import tables as t
from connector.storage.types import OutboxStatus

log = structlog.get_logger(__name__)
MAX_ATTEMPTS = 8
IN_FLIGHT_HOLD = timedelta(minutes=2)
RATE_PATIENCE = 5.0  # seconds a write may wait for its store's rate limit before it is postponed instead
MAX_STORE_WORKERS = 8  # stores drained at the same time


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


def due_stores(session: Session, store_ids: list[int]) -> list[int]:
    """The stores among `store_ids` that have a write to claim now."""
    now = datetime.now(UTC)
    return list(
        session.scalars(
            select(t.OutboxItem.store_id)
            .where(
                t.OutboxItem.store_id.in_(store_ids),
                or_(
                    (t.OutboxItem.status == OutboxStatus.PENDING.value) & (t.OutboxItem.next_attempt_at <= now),
                    (t.OutboxItem.status == OutboxStatus.IN_FLIGHT.value) & (t.OutboxItem.claimed_until < now),
                ),
            )
            .distinct()
            .order_by(t.OutboxItem.store_id)
        )
    )


def drain(
    sessions: sessionmaker[Session],
    clients: Mapping[int, Platform],
    location_ids: Mapping[int, Mapping[str, str]],
    worker: str,
    metrics: Metrics,
    store_names: Mapping[int, str],
    stop: Callable[[], bool] = lambda: False,
    budgets: Mapping[int, RateBudget] | None = None,
) -> int:
    """Apply every due write of these stores; returns how many were attempted.

    Each store is drained in a thread of its own, so that one waiting on its platform does not delay the others;
    `budgets` (the stores' `RateBudget`s, shared with their clients) tell which stores are paused for rate."""
    with sessions() as session:
        due = due_stores(session, list(clients))

    def one(store_id: int) -> int:
        budget = (budgets or {}).get(store_id)
        store = _Store(
            store_id, clients[store_id], budget, location_ids.get(store_id, {}), store_names.get(store_id, "")
        )
        return _drain_store(sessions, store, worker, metrics, stop)

    if len(due) <= 1:
        return sum(one(store_id) for store_id in due)
    with ThreadPoolExecutor(max_workers=min(len(due), MAX_STORE_WORKERS), thread_name_prefix="outbox") as pool:
        return sum(done.result() for done in [pool.submit(one, store_id) for store_id in due])


@dataclass(frozen=True)
class _Store:
    """What draining one store needs: its client and budget, its locations' platform ids, its name."""

    id: int
    client: Platform
    budget: RateBudget | None
    location_ids: Mapping[str, str]
    name: str

    def rate_wait(self) -> float:
        """Seconds until the store's budget lets a call through (0 when it is not paused)."""
        return max(0.0, self.budget.pause_until - self.budget.clock()) if self.budget is not None else 0.0


def _drain_store(
    sessions: sessionmaker[Session], store: _Store, worker: str, metrics: Metrics, stop: Callable[[], bool]
) -> int:
    """Apply the store's due writes until none is left, or until its rate limit is spent for longer than
    `RATE_PATIENCE`: then what is left stays pending for a later drain (nothing is claimed, no attempt used)."""
    done = 0
    with rate_patience(RATE_PATIENCE):
        while not stop():
            if store.rate_wait() > RATE_PATIENCE:
                log.info("outbox_store_rate_limited", store=store.name, wait_s=round(store.rate_wait(), 3))
                return done
            with sessions.begin() as session:
                ids = claim(session, [store.id], worker)
                rows = [row for i in ids if (row := session.get(t.OutboxItem, i)) is not None]
                stale = {row.id for row in rows if _superseded(session, row)}
                items = {row.id: to_write(row, store.location_ids) for row in rows if row.id not in stale}
            for item_id in stale:
                _finish(
                    sessions, item_id, OutboxStatus.SKIPPED, {"superseded": True}, "skipped: a later status replaces it"
                )
                done += 1
            if not items and not stale:
                return done
            for item_id, write in items.items():
                _apply(sessions, store, item_id, write, metrics)
                done += 1
    return done


def _apply(
    sessions: sessionmaker[Session], store: _Store, item_id: int, write: PlatformWrite, metrics: Metrics
) -> None:
    try:
        answer = store.client.apply_write(write)
    except SkippableError as exc:
        _finish(sessions, item_id, OutboxStatus.SKIPPED, {"error": str(exc)}, f"skipped: {exc}")
        return
    except RateLimited as exc:  # the platform did nothing: not a failed attempt
        _wait_for_rate_limit(sessions, item_id, exc, store)
        return
    except (RetriableError, FatalError) as exc:
        _retry_later(sessions, item_id, exc, metrics, store.name)
        return
    except SyncError as exc:  # any other branch of the tree: keep it, say why
        _retry_later(sessions, item_id, exc, metrics, store.name)
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


def _wait_for_rate_limit(sessions: sessionmaker[Session], item_id: int, exc: RateLimited, store: _Store) -> None:
    """Pending again from the platform's signalled reset (its Retry-After, or the store budget's pause, whichever
    is later; a second when it said nothing), with the attempt given back: a refusal for rate is no failure."""
    wait = max(exc.retry_after or 0.0, store.rate_wait(), 1.0)
    at = datetime.now(UTC) + timedelta(seconds=wait)
    with sessions.begin() as session:
        row = session.get(t.OutboxItem, item_id)
        if row is None:
            return
        row.status = OutboxStatus.PENDING.value
        row.attempts = max(0, row.attempts - 1)
        row.next_attempt_at = at
        row.claimed_by = None
        row.last_error = str(exc)
        session.add(
            t.TimelineEntry(
                order_id=row.order_id,
                kind="outbound",
                summary=f"{_summary(row)}: waiting for the platform's rate limit, next try at {at:%H:%M:%S} UTC",
                details={
                    "outbox_id": row.id,
                    "result": row.status,
                    "rate_limited": True,
                    "next_attempt_at": at.isoformat(),
                    "error": str(exc),
                },
                actor="outbox",
            )
        )
    log.info("status_write_rate_limited", outbox_id=item_id, store=store.name, wait_s=round(wait, 3), error=str(exc))


def retry(session: Session, item_id: int) -> bool:
    row = session.get(t.OutboxItem, item_id)
    if row is None:
        return False
    row.status = OutboxStatus.PENDING.value
    row.attempts = 0
    row.next_attempt_at = datetime.now(UTC)
    return True
