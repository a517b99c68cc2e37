"""`connector status`: the daemon's heartbeat and each store's sync state, in 80 columns; a monitoring check.

Exit codes: 0 when every store is healthy or degraded (orders sync; something may wait for a person), 1 when a
store is unhealthy (orders are not syncing, e.g. the daemon is not running). What each level means is decided in
`connector.sync.status`.
"""

from __future__ import annotations

from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from connector.cli.common import ConfigOption, JsonOption, console, open_config, print_json
from connector.cli.timeutil import ago
from connector.stock import back_orders
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.status import Health, overview

BADGE = {Health.HEALTHY: "[green]ok[/]", Health.DEGRADED: "[yellow]degraded[/]", Health.UNHEALTHY: "[red]unhealthy[/]"}


def register(app: typer.Typer) -> None:
    app.command()(status)


def status(config: ConfigOption = None, as_json: JsonOption = False) -> None:
    """Show the daemon's heartbeat, each store (health, last poll, webhooks, inbox, outbox, problems), back-orders.

    Exits 1 when a store is unhealthy (not syncing), 0 when all are healthy or degraded.
    """
    cfg = open_config(config)
    runtime = Runtime.open(cfg)
    try:
        upgrade(runtime.engine)
        with runtime.reads() as session:
            view = overview(session, cfg)
            view["back_orders"] = back_orders.summary(session)
    finally:
        runtime.close()
    if as_json:
        print_json(view)
    else:
        render(view, console)
    if view["health"] == Health.UNHEALTHY:
        raise typer.Exit(1)


def _back_orders(waiting: list[dict[str, Any]], out: Console) -> None:
    """Orders waiting for stock per location (pickup orders at their shop; the others wherever stock arrives)."""
    if not waiting:
        out.print("No back-orders: every open order has its stock.")
        return
    table = Table(title="Back-ordered", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False)
    for column in ("location", "orders", "units"):
        table.add_column(column, justify="left" if column == "location" else "right")
    for w in waiting:
        table.add_row(escape(str(w["location"])), str(w["orders"]), str(w["units"]))
    out.print(table)


def render(view: dict[str, Any], out: Console) -> None:
    """The daemon line, one table row per store, each store's problems as wrapped lines, then back-orders."""
    out.print(_daemon_line(view["daemon"]), highlight=False)
    table = Table(title="Stores", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("store", overflow="fold")  # a long name folds onto the next line instead of being cut
    for column in ("health", "last poll", "webhooks\nlast hour", "inbox", "outbox"):  # short cells: never wrapped
        table.add_column(column, no_wrap=True, justify="left" if column in {"health", "last poll"} else "right")
    for s in view["stores"]:
        inbox, outbox = s["inbox"], s["outbox"]
        table.add_row(
            f"{escape(s['store'])}\n[dim]{s['platform']}[/]",
            BADGE[Health(s["health"])],
            "never" if s["last_poll_age_s"] is None else ago(s["last_poll_age_s"]),
            str(s["webhooks"]["last_hour"]),
            f"{inbox['pending']} pending\n{inbox['dead']} dead",
            f"{outbox['pending']} pending\n{outbox['failed']} failed",
        )
    out.print(table)
    for s in view["stores"]:
        for problem in s["problems"]:
            out.print(f"{s['store']}: {problem}", highlight=False, markup=False)
    if "back_orders" in view:
        _back_orders(view["back_orders"], out)


def _daemon_line(daemon: dict[str, Any]) -> str:
    age = daemon["heartbeat_age_s"]
    if daemon["running"]:
        return f"daemon: [green]running[/] ({escape(daemon['holder'])}, heartbeat {ago(age)})"
    if age is None:
        return "daemon: [red]not running[/] (no heartbeat: stopped, or never started)"
    return f"daemon: [red]not running[/] (last heartbeat {ago(age)})"


__all__ = ["render"]
