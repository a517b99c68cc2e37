"""`connector sandbox` (the four platform sandboxes in the foreground) and `connector demo`."""

from __future__ import annotations

import json
import signal
import sys
import threading
from enum import StrEnum
from typing import Annotated

import typer

from connector.cli.common import fail
from connector.orders.model import Platform
from connector.runtime.errors import DaemonLocked


class PlatformChoice(StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"
    BIGCOMMERCE = "bigcommerce"
    LIGHTSPEED = "lightspeed"
    ALL = "all"


class RateLimitChoice(StrEnum):
    REALISTIC = "realistic"
    OFF = "off"


def _wait_for_signal() -> None:
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass


def sandbox(
    platform: Annotated[PlatformChoice, typer.Option(help="One platform, or all four.")] = PlatformChoice.ALL,
    port: Annotated[int, typer.Option(help="First port (all: N..N+3); 0 picks free ports.")] = 8700,
    seed: Annotated[int, typer.Option(help="Seed for the catalogue and historical orders.")] = 1,
    orders: Annotated[int, typer.Option(help="Historical orders to create at start.")] = 0,
    locations: Annotated[str, typer.Option(help="Comma-separated location names.")] = "amsterdam,utrecht,rotterdam",
    webhook_url: Annotated[
        str | None, typer.Option(help="Subscribe this URL to the order topics; {platform} is replaced.")
    ] = None,
    rate_limit: Annotated[RateLimitChoice, typer.Option(help="Realistic platform rate limits, or off.")] = (
        RateLimitChoice.REALISTIC
    ),
) -> None:
    """Run platform sandboxes in the foreground; prints one JSON line per platform when ready."""
    from connector.app.demo import serve_sandboxes

    chosen = list(Platform) if platform is PlatformChoice.ALL else [Platform(platform.value)]
    names = tuple(n.strip() for n in locations.split(",") if n.strip())

    def ready(description: dict[str, object]) -> None:
        sys.stdout.write(json.dumps(description) + "\n")
        sys.stdout.flush()

    with serve_sandboxes(chosen, port, seed, orders, names, webhook_url, rate_limit.value, ready):
        _wait_for_signal()


def demo(
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON line when everything is up.")] = False,
    port: Annotated[
        int | None,
        typer.Option(
            min=0,
            max=65535,
            help="Serve the dashboard and API on this port instead of the demo template's 8080 (0 picks a free one).",
            show_default=False,
        ),
    ] = None,
    keep_state: Annotated[
        bool, typer.Option("--keep-state", help="Keep the last run's database, orders and stock in state/.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Log to the terminal (stderr with --json) instead of state/demo.log.")
    ] = False,
    order_interval: Annotated[float, typer.Option(min=0.05, help="Seconds between the trickle's new orders.")] = 3.0,
) -> None:
    """Run the four sandboxes with a trickle of new orders, stock at the locations, and the daemon (Ctrl-C stops all).

    Each run starts from a fresh state/ (database, log, stock count file) unless --keep-state."""
    from connector.app.demo import DemoOptions, run_demo

    options = DemoOptions(
        as_json=as_json, port=port, keep_state=keep_state, verbose=verbose, order_interval=order_interval
    )
    try:
        code = run_demo(options)
    except DaemonLocked as exc:
        fail(str(exc), code=1)
    raise SystemExit(code)
