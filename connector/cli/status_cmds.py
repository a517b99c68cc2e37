"""`connector status`: per-store sync state; exit 1 when any store is unhealthy (usable as a monitoring check)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from connector.cli.common import ConfigOption, JsonOption, console, open_config, print_json
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.status import store_status


def register(app: typer.Typer) -> None:
    app.command()(status)


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show each configured store: last poll, cursor, webhooks, inbox and outbox, last error."""
    cfg = open_config(config)
    runtime = Runtime.open(cfg)
    try:
        upgrade(runtime.engine)
        with runtime.reads() as session:
            stores = store_status(session, cfg)
    finally:
        runtime.close()
    if as_json:
        print_json({"stores": stores})
    else:
        _table(stores)
    if not all(s["healthy"] for s in stores):
        raise typer.Exit(1)


def _table(stores: list[dict[str, Any]]) -> None:
    table = Table(title="Stores")
    for column in ("store", "platform", "health", "last success", "cursor", "webhooks 1h", "inbox", "outbox"):
        table.add_column(column)
    for s in stores:
        inbox, outbox, webhooks, cursor = s["inbox"], s["outbox"], s["webhooks"], s["cursor"]
        table.add_row(
            str(s["store"]),
            str(s["platform"]),
            "ok" if s["healthy"] else "; ".join(s["problems"]),
            str(s["last_success"] or "never"),
            str(cursor["updated_at"] or "-"),
            str(webhooks["last_hour"]),
            f"{inbox['pending']} pending / {inbox['dead']} dead",
            f"{outbox['pending']} pending / {outbox['failed']} failed",
        )
    console.print(table)
