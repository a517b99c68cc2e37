"""`connector status`: per-store sync state; exit 1 when any store is unhealthy (usable as a monitoring check)."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from connector.cli.common import ConfigOption, JsonOption, console, open_config, print_json
from connector.stock import back_orders
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.status import store_status


def register(app: typer.Typer) -> None:
    app.command()(status)


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show each configured store (last poll, cursor, webhooks, inbox and outbox, last error) and back-orders."""
    cfg = open_config(config)
    runtime = Runtime.open(cfg)
    try:
        upgrade(runtime.engine)
        with runtime.reads() as session:
            stores = store_status(session, cfg)
            waiting = back_orders.summary(session)
    finally:
        runtime.close()
    if as_json:
        print_json({"stores": stores, "back_orders": waiting})
    else:
        _table(stores)
        _back_orders(waiting)
    if not all(s["healthy"] for s in stores):
        raise typer.Exit(1)


def _back_orders(waiting: list[dict[str, Any]]) -> None:
    """Orders waiting for stock per location (pickup orders at their shop; the others wherever stock arrives)."""
    if not waiting:
        console.print("No back-orders: every open order has its stock.")
        return
    table = Table(title="Back-ordered")
    for column in ("location", "orders", "units"):
        table.add_column(column, justify="left" if column == "location" else "right")
    for w in waiting:
        table.add_row(str(w["location"]), str(w["orders"]), str(w["units"]))
    console.print(table)


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
