"""Inbound sync per store: the inbox worker (webhook deliveries) and the poller (incremental sync and backfill).

Both end in `connector.sync.ingest.ingest_orders` (a poll page is one batch, a webhook delivery a batch of one).
Errors are decided here, one boundary per unit of work:

* `SkippableError` (a payload we cannot map, an order the platform no longer has) — the item goes to the
  dead-letter list with its reason and raw body; the rest goes on.
* `RetriableError` (platform outage, 429 after retries) — the delivery waits and is tried again; a poll keeps
  its cursor where it was, so the next poll starts from there: delayed, never dropped.
* `FatalError` (bad credentials) — recorded as the store's last error (status shows it unhealthy).

Poll cursor: `(updated_at, external_id)` of the newest order of the page, advanced in the same transaction as
the page's upserts, never beyond the poll's own start time (an order changing during the run is read again
next time), and each poll re-reads an overlap window before the cursor (platform clocks and eventual
consistency). Re-read orders that did not change cost nothing: ingest skips them by content hash.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, Protocol

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from connector.mapping import MappingContext, ReservationRule, map_order
from connector.orders.model import Order
from connector.platforms import PLATFORMS, Platform, RateBudget, WebhookDelivery, open_client
from connector.runtime.config import StoreConfig
from connector.runtime.errors import (
    FatalError,
    RetriableError,
    SkippableError,
    Stopped,
    SyncError,
    WebhookRejected,
)
from connector.storage import inbox
from connector.storage import tables as t
from connector.storage.runtime import Runtime
from connector.storage.types import InboxStatus
from connector.sync.ingest import Origin, Outcome, distinct_runs, ingest_orders, mark_deleted
from connector.sync.receipts_first import receipts_waiting, yield_to_receipts

log = structlog.get_logger(__name__)

OVERLAP = timedelta(minutes=5)
# Webhook deliveries prepared (parsed, completed, mapped) before a transaction ingests them, and ingested per step
# of it: the transaction ends after any step at which a webhook receipt is in flight (it may need the database, and
# SQLite has one writer), so a receipt waits for one step, not for the whole chunk.
WEBHOOK_CHUNK = 25
WEBHOOK_STEP = 2
MAX_STORE_WORKERS = 8  # stores whose inbox is processed at the same time


class StoredDelivery(NamedTuple):
    """An inbox item as the worker needs it."""

    id: int
    headers: dict[str, str]
    body: bytes
    topic: str
    source: str


_DELIVERY_COLUMNS = (t.InboxItem.id, t.InboxItem.headers, t.InboxItem.body, t.InboxItem.topic, t.InboxItem.source)


class IngestHooks(Protocol):
    """What reacts to ingest inside its transaction (stock and fulfilments: `connector.stock.order_effects.Stocker`).

    `on_outcomes` gets the outcomes of a batch of distinct orders in order, and must react as if it got them one
    at a time (each seeing the effects of those before it).
    """

    def on_outcomes(self, session: Session, outcomes: Sequence[Outcome]) -> None: ...

    def on_deleted(self, session: Session, order_id: int) -> None: ...


@dataclass
class PollResult:
    pages: int = 0
    seen: int = 0
    stored: int = 0
    dead: int = 0


def mapping_context(store: StoreConfig, locations: Iterable[Any]) -> MappingContext:
    ids: dict[str, str] = {}
    for loc in locations:
        platform_id = loc.platform_ids.get(store.platform)
        if platform_id:
            ids[platform_id] = loc.name
            if platform_id.startswith("gid://"):  # Shopify REST payloads carry the number, GraphQL the gid
                ids[platform_id.rsplit("/", 1)[-1]] = loc.name
    rule = ReservationRule(frozenset(store.reservation.tags), frozenset(store.reservation.statuses))
    return MappingContext(store=store.name, reservation=rule, currency=store.currency, locations=ids)


class StoreSync:
    """Everything inbound for one store: its client (lazily opened), budget, mapping context."""

    def __init__(
        self,
        runtime: Runtime,
        store: StoreConfig,
        client: Platform | None = None,
        *,
        stop: threading.Event | None = None,
    ) -> None:
        self.runtime = runtime
        self.store = store
        self.stop = stop or threading.Event()  # set: polls end after their page, waits for rate end at once
        self.budget: RateBudget = PLATFORMS[store.platform].budget()
        self.budget.sleep = self._sleep
        self._client = client
        self.context = mapping_context(store, runtime.config.locations)
        self.location_ids = {  # our location name -> this platform's id for it
            loc.name: loc.platform_ids[store.platform]
            for loc in runtime.config.locations
            if store.platform in loc.platform_ids
        }
        self.hooks: list[IngestHooks] = []
        self._poll_lock = threading.Lock()
        self._client_lock = threading.Lock()

    def _sleep(self, seconds: float) -> None:
        """The budget's and the retries' waits: cut short by `stop` (SIGTERM must not wait out a rate window)."""
        if self.stop.wait(seconds):
            raise Stopped("stopping: the call was not made", store=self.store.name)

    @property
    def store_id(self) -> int:
        return self.runtime.store_ids[self.store.name]

    @property
    def client(self) -> Platform:
        """Opened on first use, once: polls, the inbox and the outbox run on different threads."""
        with self._client_lock:
            if self._client is None:
                self._client = open_client(self.store, self.budget)
            return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def map(self, raw: Mapping[str, Any]) -> Order:
        return map_order(self.store.platform, raw, self.context)

    def ingest(
        self,
        session: Session,
        orders: Sequence[Order],
        origin: Origin | Sequence[Origin],
    ) -> list[Outcome]:
        """Ingest mapped orders in the caller's transaction and let the hooks react. `origin` is where they all came
        from (a poll page), or one per order (webhook deliveries).

        A run of distinct orders is one batch; an order repeated later in the page starts the next run, so it is
        ingested after the hooks have reacted to its first version.
        """
        origins = [origin] * len(orders) if isinstance(origin, Origin) else origin
        outcomes: list[Outcome] = []
        for run in distinct_runs(orders):
            run_origins = origins[len(outcomes) : len(outcomes) + len(run)]
            batch = ingest_orders(session, self.store_id, run, source="", origins=run_origins)
            for hook in self.hooks:
                hook.on_outcomes(session, batch)
            outcomes += batch
        stored = sum(outcome.stored for outcome in outcomes)
        if stored:  # one call, one source (a poll page, webhook deliveries, a replay)
            self.runtime.metrics.orders_ingested.labels(self.store.name, origins[0].source).inc(stored)
        return outcomes

    # --- inbox -------------------------------------------------------------------------------------------------
    def process_delivery(self, item_id: int) -> None:
        """Ingest one claimed webhook delivery."""
        with self.runtime.reads() as session:
            row = session.execute(select(*_DELIVERY_COLUMNS).where(t.InboxItem.id == item_id)).one_or_none()
        if row is not None:
            self.process_deliveries([StoredDelivery(*row)])

    def process_deliveries(self, deliveries: Sequence[StoredDelivery]) -> None:
        """Ingest claimed webhook deliveries, in order, in a few transactions for all of them.

        Each delivery is parsed and completed (thin payloads fetched from the platform) on its own, outside any
        transaction; the mapped orders are then ingested in chunks of `WEBHOOK_CHUNK`, each chunk one transaction
        that also finishes its inbox items. A delivery that fails is dead-lettered or postponed alone. Deletions
        and replayed poll items go alone in their turn (the chunk so far is written first, so events keep their
        order).
        """
        ready: list[tuple[int, Order, str]] = []
        for n, delivery in enumerate(deliveries):
            if self.stop.is_set():  # the rest goes back to the queue at once, for the next start
                self._ingest_deliveries(ready)
                self._release([d.id for d in deliveries[n:]])
                return
            yield_to_receipts()
            prepared = self._prepare(delivery)
            if prepared is None:
                continue
            if prepared == "alone":
                self._ingest_deliveries(ready)
                ready = []
                self._process_alone(delivery)
                continue
            assert isinstance(prepared, tuple)
            ready.append(prepared)
            if len(ready) >= WEBHOOK_CHUNK:
                self._ingest_deliveries(ready)
                ready = []
        self._ingest_deliveries(ready)

    def _prepare(self, stored: StoredDelivery) -> tuple[int, Order, str] | str | None:
        """A delivery ready to ingest as (item, order, topic); "alone" for a deletion or a replayed poll item;
        None when it failed here (then it is already dead-lettered or postponed)."""
        if stored.source == "poll":
            return "alone"
        try:
            delivery = PLATFORMS[self.store.platform].parse_webhook(stored.headers, stored.body)
            if delivery.contradiction:
                raise SkippableError(f"the {delivery.topic} delivery contradicts its body: {delivery.contradiction}")
            if delivery.deleted:
                return "alone"
            return stored.id, self._confirmed_order(delivery), stored.topic
        except SyncError as exc:
            self._delivery_failed(stored.id, exc)
        except (ValueError, WebhookRejected) as exc:  # a stored body that no longer parses
            self._delivery_failed(stored.id, SkippableError(f"unreadable delivery: {exc}", store=self.store.name))
        return None

    def _confirmed_order(self, delivery: WebhookDelivery) -> Order:
        """The order a delivery brings, a cancellation only as the platform confirms it when read back.

        Platforms sign the body, not the topic: a captured body re-sent under a cancelling topic, or an old body
        that says cancelled, must not cancel an order (and give its stock back) that the platform still has open.
        Shopify and BigCommerce deliveries are read back anyway (`complete`); the others are read back here when
        the topic or the body says cancelled. An outage while reading raises `RetriableError`: delayed, not dropped.
        """
        raw = self.client.complete(delivery)
        if raw is None:
            raise SkippableError(f"order {delivery.external_id} no longer exists on {self.store.platform.value}")
        order = self.map(raw)
        if (delivery.cancelled or order.cancelled) and raw is delivery.payload:
            raw = self.client.fetch_order(delivery.external_id)
            if raw is None:
                raise SkippableError(f"order {delivery.external_id} no longer exists on {self.store.platform.value}")
            order = self.map(raw)
        if delivery.cancelled and not order.cancelled:
            raise SkippableError(
                f"{delivery.topic} not confirmed: {self.store.platform.value} says order {delivery.external_id} "
                "is not cancelled"
            )
        return order

    def _confirm_deleted(self, delivery: WebhookDelivery) -> None:
        """A deletion is applied only when the platform no longer has the order (gone, archived, trashed)."""
        if self.client.fetch_order(delivery.external_id) is not None:
            raise SkippableError(
                f"{delivery.topic} not confirmed: {self.store.platform.value} still has order {delivery.external_id}"
            )

    def _ingest_deliveries(self, ready: Sequence[tuple[int, Order, str]]) -> None:
        """Ingest the orders of these deliveries and finish them, a few at a time in one transaction that ends early
        when a webhook receipt is in flight (it may need the database: SQLite has one writer); the rest follows in
        the next transaction, once the receipt is answered (`yield_to_receipts`). If a transaction fails as a whole
        (a hook refusing one order), each delivery of it is tried alone, so only the culprit is set aside."""
        while ready:
            yield_to_receipts()
            try:
                with self.runtime.sessions.begin() as session:
                    done = 0
                    while done < len(ready):
                        part = ready[done : done + WEBHOOK_STEP]
                        origins = [Origin("webhook", topic, item_id) for item_id, _, topic in part]
                        self.ingest(session, [order for _, order, _ in part], origins)
                        inbox.finish_many(session, {item_id: order.external_id for item_id, order, _ in part})
                        done += len(part)
                        if receipts_waiting():
                            break
            except SyncError as exc:
                if len(ready) == 1:
                    self._delivery_failed(ready[0][0], exc)
                    return
                for one in ready:
                    self._ingest_deliveries([one])
                return
            ready = ready[done:]

    def _process_alone(self, stored: StoredDelivery) -> None:
        """A deletion, or a dead poll item put back by `inbox replay` (its body is the raw order)."""
        try:
            if stored.source == "poll":
                self._ingest_raw(stored.id, json.loads(stored.body), stored.topic)
                return
            delivery = PLATFORMS[self.store.platform].parse_webhook(stored.headers, stored.body)
            self._confirm_deleted(delivery)
            with self.runtime.sessions.begin() as session:
                source = f"webhook {stored.topic}"
                order_id = mark_deleted(session, self.store_id, delivery.external_id, source=source)
                if order_id is not None:
                    for hook in self.hooks:
                        hook.on_deleted(session, order_id)
                inbox.finish(session, stored.id)
        except SyncError as exc:
            self._delivery_failed(stored.id, exc)
        except (ValueError, WebhookRejected) as exc:
            self._delivery_failed(stored.id, SkippableError(f"unreadable delivery: {exc}", store=self.store.name))

    def _ingest_raw(self, item_id: int, raw: Mapping[str, Any], topic: str, source: str = "replay") -> None:
        order = self.map(raw)
        with self.runtime.sessions.begin() as session:
            self.ingest(session, [order], Origin(source, topic, item_id))
            inbox.finish(session, item_id, external_id=order.external_id)

    def _release(self, item_ids: Sequence[int]) -> None:
        with self.runtime.sessions.begin() as session:
            for item_id in item_ids:
                inbox.postpone(session, item_id, "the daemon stopped before it was processed", 0)

    def _delivery_failed(self, item_id: int, exc: SyncError) -> None:
        if isinstance(exc, Stopped):
            self._release([item_id])
            return
        with self.runtime.sessions.begin() as session:
            if isinstance(exc, SkippableError):
                inbox.dead_letter(session, item_id, str(exc))
                self.runtime.metrics.dead_letters.labels(self.store.name).inc()
                log.warning("delivery_dead_lettered", store=self.store.name, inbox_id=item_id, reason=str(exc))
                return
            row = session.get(t.InboxItem, item_id)
            attempts = row.attempts if row else 1
            delay = min(600.0, 5.0 * 2 ** min(attempts, 7))
            inbox.postpone(session, item_id, str(exc), delay)
            log.warning("delivery_postponed", store=self.store.name, inbox_id=item_id, error=str(exc), wait_s=delay)
            if isinstance(exc, FatalError):
                self._record_error(session, str(exc))

    # --- polling -----------------------------------------------------------------------------------------------
    def poll(
        self, *, since: datetime | None = None, progress: Callable[[int, int | None], None] | None = None
    ) -> PollResult:
        """One incremental poll (or a backfill from `since`): page by page, cursor advanced with each page."""
        with self._poll_lock:
            return self._poll(since, progress)

    def _poll(self, since: datetime | None, progress: Callable[[int, int | None], None] | None) -> PollResult:
        started = datetime.now(UTC)
        result = PollResult()
        cursor_start = self._begin_poll(started)
        start = since if since is not None else (cursor_start - OVERLAP if cursor_start else None)
        try:
            for page in self.client.iter_order_pages(start):
                self.ingest_page(page.orders, started, result)
                result.pages += 1
                if progress:
                    progress(len(page.orders), page.total)
                if self.stop.is_set():
                    raise Stopped("stopping after this page", store=self.store.name)
        except Stopped:
            # The cursor stays at the last page ingested: the next poll (or `resync` again) goes on from there.
            log.info("poll_stopped", store=self.store.name, pages=result.pages, seen=result.seen)
            return result
        except (RetriableError, FatalError) as exc:
            with self.runtime.sessions.begin() as session:
                self._record_error(session, str(exc))
            log.warning("poll_failed", store=self.store.name, error=str(exc), pages=result.pages)
            raise
        self._end_poll(started, result)
        return result

    def _cursor(self, session: Session) -> t.Cursor:
        cursor = session.get(t.Cursor, (self.store_id, "orders"))
        if cursor is None:
            cursor = t.Cursor(store_id=self.store_id, stream="orders", orders_seen=0)
            session.add(cursor)
        return cursor

    def _begin_poll(self, started: datetime) -> datetime | None:
        with self.runtime.sessions.begin() as session:
            cursor = self._cursor(session)
            cursor.last_poll_started_at = started
            return cursor.cursor_updated_at

    def _end_poll(self, started: datetime, result: PollResult) -> None:
        with self.runtime.sessions.begin() as session:
            cursor = self._cursor(session)
            now = datetime.now(UTC)
            cursor.last_poll_finished_at = now
            cursor.last_success_at = now
            cursor.last_error = None
            self.record_budget(cursor)
        self.runtime.metrics.poll_lag.labels(self.store.name).set(0)
        log.info("orders_polled", store=self.store.name, pages=result.pages, seen=result.seen, stored=result.stored)

    def record_budget(self, cursor: t.Cursor) -> None:
        """Keep the rate budget's counters where `status` can read them; count new 429s in the metrics."""
        throttled_before = cursor.budget_throttled or 0
        cursor.budget_calls = self.budget.calls
        cursor.budget_throttled = self.budget.throttled
        if self.budget.throttled > throttled_before:
            self.runtime.metrics.throttled.labels(self.store.name).inc(self.budget.throttled - throttled_before)

    def _record_error(self, session: Session, message: str) -> None:
        cursor = self._cursor(session)
        cursor.last_error = message
        cursor.last_poll_finished_at = datetime.now(UTC)
        self.record_budget(cursor)

    def ingest_page(self, raws: list[Mapping[str, Any]], started: datetime, result: PollResult) -> None:
        """Map and ingest one page of raw orders in one transaction, advancing the cursor with it."""
        mapped: list[tuple[Order | None, Mapping[str, Any], str]] = []
        for raw in raws:
            try:
                mapped.append((self.map(raw), raw, ""))
            except SkippableError as exc:
                mapped.append((None, raw, str(exc)))
        with self.runtime.sessions.begin() as session:
            orders: list[Order] = []
            newest: tuple[datetime, str] | None = None
            for order, raw, error in mapped:
                result.seen += 1
                if order is None:
                    self._dead_poll_item(session, raw, error)
                    result.dead += 1
                    continue
                orders.append(order)
                key = (min(order.updated_at, started), order.external_id)
                newest = key if newest is None or key > newest else newest
            outcomes = self.ingest(session, orders, Origin("poll"))
            result.stored += sum(outcome.stored for outcome in outcomes)
            cursor = self._cursor(session)
            cursor.orders_seen = (cursor.orders_seen or 0) + len(raws)
            if newest and (cursor.cursor_updated_at is None or newest[0] >= cursor.cursor_updated_at):
                cursor.cursor_updated_at, cursor.cursor_external_id = newest

    def _dead_poll_item(self, session: Session, raw: Mapping[str, Any], reason: str) -> None:
        external_id = str(raw.get("id", "")) if isinstance(raw, Mapping) else ""
        body = json.dumps(raw, default=str).encode()
        delivery_id = f"poll:{external_id}:{hashlib.sha256(body).hexdigest()[:16]}"
        values = inbox.delivery_values(
            store_id=self.store_id,
            delivery_id=delivery_id,
            source="poll",
            topic="poll",
            headers={},
            body=body,
            external_id=external_id,
            status=InboxStatus.DEAD,
            error=reason,
        )
        inbox.keep_deliveries(session, [values])
        self.runtime.metrics.dead_letters.labels(self.store.name).inc()
        log.warning("poll_item_dead_lettered", store=self.store.name, external_id=external_id, reason=reason)


def process_inbox(syncs: Mapping[str, StoreSync], worker: str, limit: int = 50) -> int:
    """Claim and ingest pending deliveries of the given stores; returns how many were handled.

    Each store claims its own (up to `limit`) and is processed in a thread of its own, at most
    `MAX_STORE_WORKERS` at a time: a store waiting on its platform (rate budget, a slow answer) holds up only its
    own deliveries, never another store's.
    """
    if not syncs:
        return 0
    stores = list(syncs.values())
    if len(stores) == 1:
        return _process_store_inbox(stores[0], worker, limit)
    with ThreadPoolExecutor(max_workers=min(len(stores), MAX_STORE_WORKERS), thread_name_prefix="inbox") as pool:
        return sum(done.result() for done in [pool.submit(_process_store_inbox, s, worker, limit) for s in stores])


def _process_store_inbox(sync: StoreSync, worker: str, limit: int) -> int:
    with sync.runtime.sessions.begin() as session:
        claimed = inbox.claim(session, [sync.store_id], worker, limit=limit)
        rows = session.execute(
            select(*_DELIVERY_COLUMNS).where(t.InboxItem.id.in_(claimed)).order_by(t.InboxItem.id)
        ).all()
    if rows:
        sync.process_deliveries([StoredDelivery(*fields) for fields in rows])
    return len(claimed)


__all__ = ["OVERLAP", "PollResult", "StoreSync", "StoredDelivery", "mapping_context", "process_inbox"]
