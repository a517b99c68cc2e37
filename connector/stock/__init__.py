"""Stock: the ledger per `(sku, location)`, levels, allocation, reservations and back-orders.

Owns: `movements` (movement kinds, idempotency keys, the in-memory reference ledger), `ledger` (the same ledger
in the database, levels derived from it, POS counts), `allocation` (the pure function that splits an order over
locations), `order_effects` (what an order's life does to stock and to its fulfilments).
May import: `connector.runtime`, `connector.orders.model`, `connector.storage` and `connector.sync.ingest` (whose
outcomes it reacts to). Never a platform client, never the web or the CLI.
"""
