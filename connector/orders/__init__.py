"""Orders: the internal model, the fulfilment workflow per location and the use cases built on them.

Owns: `model` (pure frozen values and enums: the bottom of the import graph beside `connector.runtime`),
`fulfilment` (states, transitions, payment gating, the write-backs each step queues), `service` (the use cases
shared by the CLI, the JSON API and the dashboard; each owns its transaction).
May import: `connector.runtime`, `connector.storage`, `connector.mapping`, `connector.sync` and `connector.stock`.
`model` imports nothing of `connector`.
"""
