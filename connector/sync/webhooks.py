"""Webhook receipt: verify the signature over the raw body, keep the delivery in the inbox, acknowledge.

Nothing is processed here: the answer goes back to the platform as soon as the delivery is safely stored, and
the inbox worker ingests it (the same ingest function as polling). A bad or missing signature is refused with
401 and nothing is kept; an unknown store is 404; a body over the cap is 413 (checked by the HTTP layer).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy import Connection, Engine

from connector.platforms import PLATFORMS
from connector.runtime.config import StoreConfig
from connector.runtime.errors import WebhookRejected
from connector.runtime.metrics import Metrics
from connector.storage.db import urgent_writer
from connector.storage.inbox import delivery_values, keep_deliveries

log = structlog.get_logger(__name__)

# Headers worth keeping with a delivery (for support and replays); signatures are dropped.
_KEEP_HEADERS = ("content-type", "user-agent")
_KEEP_PREFIXES = ("x-shopify-", "x-wc-webhook-", "webhook-", "x-", "x-lightspeed")
_DROP = ("signature", "hmac", "authorization", "token")


@dataclass(frozen=True)
class Receipt:
    status: int
    body: dict[str, Any]


def _kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    kept = {}
    for name, value in headers.items():
        if any(part in name for part in _DROP):
            continue
        if name in _KEEP_HEADERS or name.startswith(_KEEP_PREFIXES):
            kept[name] = value
    return kept


@dataclass(frozen=True)
class _Kept:
    """A verified delivery on its way into the inbox."""

    store: str
    delivery_id: str
    topic: str
    values: dict[str, Any]


def check(
    metrics: Metrics, store: StoreConfig | None, store_id: int | None, headers: Mapping[str, str], body: bytes
) -> Receipt | _Kept:
    """Verify one delivery: the answer when it ends here (refused, unknown store, a ping), else what to keep.
    CPU only (an HMAC and a JSON parse), so the web server runs it on its own loop."""
    if store is None or store_id is None:
        return Receipt(404, {"error": "unknown store"})
    module = PLATFORMS[store.platform]
    try:
        module.verify_webhook(headers, body, store.webhook_secret)
        delivery = module.parse_webhook(headers, body)
    except WebhookRejected as exc:
        metrics.webhooks_rejected.labels(store.name, exc.kind).inc()
        log.warning("webhook_rejected", store=store.name, status=exc.status, kind=exc.kind, reason=exc.reason)
        return Receipt(exc.status, {"error": exc.reason})
    if delivery.ping:
        log.info("webhook_ping_answered", store=store.name)
        return Receipt(200, {"ok": True, "ping": True})
    values = delivery_values(
        store_id=store_id,
        delivery_id=delivery.delivery_id,
        source="webhook",
        topic=delivery.topic,
        headers=_kept_headers(headers),
        body=body,
        external_id=delivery.external_id,
    )
    return _Kept(store.name, delivery.delivery_id, delivery.topic, values)


def _acknowledge(metrics: Metrics, kept: _Kept, inbox_id: int | None) -> Receipt:
    metrics.webhooks_received.labels(kept.store).inc()
    log.info(
        "webhook_received",
        store=kept.store,
        delivery_id=kept.delivery_id,
        topic=kept.topic,
        duplicate=inbox_id is None,
    )
    return Receipt(200, {"ok": True, "duplicate": inbox_id is None, "inbox_id": inbox_id})


class DeliveryWriter:
    """Group commit for webhook receipts: one thread keeps every delivery that arrived meanwhile in one transaction.

    Under load, a transaction per request makes hundreds of threads queue for SQLite's single writer, each
    handover paying for a thread switch (and the GIL). Here requests wait on a future while one writer inserts
    what has queued up with one statement and one commit, then answers them all. A delivery is answered only
    after its commit: 2xx still means "safely kept". The thread starts on first use and ends with `close`.
    """

    def __init__(self, engine: Engine, metrics: Metrics, *, max_batch: int = 500) -> None:
        self._engine = engine
        self._connection: Connection | None = None  # the writer thread's own, kept between batches
        self._metrics = metrics
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[_Kept, Future[int | None]] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    async def receive(
        self, store: StoreConfig | None, store_id: int | None, headers: Mapping[str, str], body: bytes
    ) -> Receipt:
        """Verify on the caller's loop, keep through the writer, then answer. `headers` have lower-case names."""
        checked = check(self._metrics, store, store_id, headers, body)
        if isinstance(checked, Receipt):
            return checked
        inbox_id = await asyncio.wrap_future(self.submit(checked))
        return _acknowledge(self._metrics, checked, inbox_id)

    def submit(self, kept: _Kept) -> Future[int | None]:
        self._ensure_started()
        future: Future[int | None] = Future()
        self._queue.put((kept, future))
        return future

    def close(self) -> None:
        """Finish what is queued and stop the thread."""
        with self._start_lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout=30)

    def _disconnect(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def _ensure_started(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="inbox-writer", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        urgent_writer()
        while True:
            item = self._queue.get()
            if item is None:
                self._disconnect()
                return
            batch = [item]
            while len(batch) < self._max_batch:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)  # stop after this batch (the connection is closed then)
                    break
                batch.append(more)
            self._write(batch)

    def _write(self, batch: list[tuple[_Kept, Future[int | None]]]) -> None:
        try:
            if self._connection is None:
                self._connection = self._engine.connect()
            with self._connection.begin():
                ids = keep_deliveries(self._connection, [kept.values for kept, _ in batch])
        except Exception as exc:  # noqa: BLE001 -- every waiting request must get an answer, whatever failed
            log.error("webhook_keep_failed", deliveries=len(batch), error=repr(exc))
            self._disconnect()  # the next batch starts on a fresh connection (the database may have gone away)
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), inbox_id in zip(batch, ids, strict=True):
            future.set_result(inbox_id)
