"""What every layer may import: configuration, logging, metrics and the exception tree.

Owns: `config` (the TOML file, validated), `logs` (structlog set-up and secret redaction), `metrics` (the daemon's
Prometheus registry), `errors` (exceptions grouped by what the caller should do).
May import: the standard library, third-party packages and `connector.orders.model` (pure values); nothing else
of `connector`.
"""
