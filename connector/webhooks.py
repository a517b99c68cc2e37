"""Webhook receipt: verify the signature over the raw body, keep the delivery in the inbox, acknowledge.

Nothing is processed here: the answer goes back to the platform as soon as the delivery is safely stored, and
the inbox worker ingests it (the same ingest function as polling). A bad or missing signature is refused with
401 and nothing is kept; an unknown store is 404; a body over the cap is 413 (checked by the HTTP layer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.orm import Session, sessionmaker

from connector.config import StoreConfig
from connector.errors import WebhookRejected
from connector.metrics import Metrics
from connector.platforms import PLATFORMS
from connector.storage.inbox import keep_delivery

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


def receive(
    sessions: sessionmaker[Session],
    metrics: Metrics,
    store: StoreConfig | None,
    store_id: int | None,
    headers: Mapping[str, str],
    body: bytes,
) -> Receipt:
    """Verify and keep one delivery. `headers` must have lower-case names."""
    if store is None or store_id is None:
        return Receipt(404, {"error": "unknown store"})
    module = PLATFORMS[store.platform]
    try:
        module.verify_webhook(headers, body, store.webhook_secret)
        delivery = module.parse_webhook(headers, body)
    except WebhookRejected as exc:
        metrics.webhooks_rejected.labels(store.name, str(exc.status)).inc()
        log.warning("webhook_rejected", store=store.name, status=exc.status, reason=exc.reason)
        return Receipt(exc.status, {"error": exc.reason})
    if delivery.ping:
        log.info("webhook_ping_answered", store=store.name)
        return Receipt(200, {"ok": True, "ping": True})
    with sessions.begin() as session:
        kept = keep_delivery(
            session,
            store_id=store_id,
            delivery_id=delivery.delivery_id,
            source="webhook",
            topic=delivery.topic,
            headers=_kept_headers(headers),
            body=body,
            external_id=delivery.external_id,
        )
    metrics.webhooks_received.labels(store.name).inc()
    log.info(
        "webhook_received",
        store=store.name,
        delivery_id=delivery.delivery_id,
        topic=delivery.topic,
        duplicate=kept is None,
    )
    return Receipt(200, {"ok": True, "duplicate": kept is None, "inbox_id": kept})
