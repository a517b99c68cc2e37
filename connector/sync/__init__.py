"""Sync with the platforms: webhook receipt, the inbox, polls, the one ingest function, the outbox, status.

Owns: `webhooks` (verify, keep, acknowledge), `receipts_first` (background work steps aside while a webhook is
being answered), `ingest` (upsert mapped orders, for webhooks and polls alike), `store_sync` (per store: the
inbox worker and the poller), `outbox` (write-backs applied at most once in effect), `status` (per-store sync
health).
May import: `connector.runtime`, `connector.orders.model`, `connector.storage`, `connector.mapping` and
`connector.platforms`. Never `connector.stock` or `connector.orders`' workflow: what ingest means for stock is
handed in through `IngestHooks`.
"""
