"""Prometheus metrics, on a registry of the daemon's own (so tests can build several apps in one process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))

    def __post_init__(self) -> None:
        r = self.registry
        self.orders_ingested = Counter(
            "connector_orders_ingested", "Order versions stored (new or changed)", ["store", "source"], registry=r
        )
        self.webhooks_received = Counter(
            "connector_webhooks_received", "Webhook deliveries accepted", ["store"], registry=r
        )
        # Label values come from the configuration (store names) and fixed words (reason classes, see
        # `WebhookRejected.kind`), never from a request: an unknown store is one label-free count.
        self.webhooks_rejected = Counter(
            "connector_webhooks_rejected",
            "Webhook deliveries refused, by reason class",
            ["store", "reason"],
            registry=r,
        )
        self.webhooks_unknown_store = Counter(
            "connector_webhooks_unknown_store", "Webhook deliveries to a store name that is not configured", registry=r
        )
        self.poll_lag = Gauge(
            "connector_poll_lag_seconds", "Seconds since the last successful poll", ["store"], registry=r
        )
        self.outbox_depth = Gauge("connector_outbox_depth", "Outbox rows waiting to be written", ["store"], registry=r)
        self.outbox_failures = Counter(
            "connector_outbox_failures", "Write-backs that failed for good", ["store"], registry=r
        )
        self.throttled = Counter(
            "connector_platform_throttled", "429 answers received from a platform", ["store"], registry=r
        )
        self.dead_letters = Counter(
            "connector_dead_letters", "Payloads set aside as unprocessable", ["store"], registry=r
        )
        self.back_orders = Gauge(
            "connector_back_ordered_orders",
            "Orders waiting for stock, per location (pickup orders at their shop, the others under '(any location)')",
            ["location"],
            registry=r,
        )
