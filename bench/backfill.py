"""Backfill against each platform's sandbox with its realistic rate limits: how close to the platform's ceiling
the connector runs, how many 429s it provokes, and whether memory stays flat while pages stream.

    .venv/bin/python bench/backfill.py [--orders 10000] [--platform bigcommerce ...]

Each platform's orders are seeded in its sandbox, then one `StoreSync.poll(since=None)` reads them all into a fresh
SQLite database (map, store, allocate), exactly as `connector resync` does. Rates are calls per second as the
sandbox logged them; the ceiling is the platform's sustained limit (Shopify's is in GraphQL cost points, so its
row shows the points the client was charged per second). Resident memory is sampled every 0.2 s: "RSS at 25 %"
vs "RSS at end" shows whether memory grows with the number of orders.
"""

from __future__ import annotations

import argparse
import resource
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

from connector.orders.model import Platform
from connector.runtime import logs
from connector.runtime.config import validate_config
from connector.stock.order_effects import Stocker
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.store_sync import StoreSync
from sandbox import SANDBOXES
from sandbox.runner import serve

CEILING = {  # sustained calls per second (Shopify: GraphQL points per second)
    Platform.SHOPIFY: 100.0,
    Platform.WOOCOMMERCE: None,
    Platform.BIGCOMMERCE: 150 / 30,
    Platform.LIGHTSPEED: 300 / 300,
}
PAGE = 4096


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE / 2**20


class Sampler(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, float]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.samples.append((time.monotonic(), rss_mb()))


class Progress(threading.Thread):
    """Every `every` seconds, one line on stderr: orders stored so far, the sandbox's call and 429 counts, RSS (a
    run too long to wait for still shows its rate, its 429s and whether memory stays flat)."""

    def __init__(self, every: float, database: Path, root_url: str) -> None:
        super().__init__(daemon=True)
        self.every, self.database, self.root_url = every, database, root_url
        self.stop = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.wait(self.every):
            with sqlite3.connect(self.database) as db:
                (stored,) = db.execute("SELECT count(*) FROM orders").fetchone()
            log = httpx.get(f"{self.root_url}/_sandbox/requests", timeout=60).json()
            print(f"{time.monotonic() - started:8.0f}s {stored:>7} orders {log['count']:>7} calls "
                  f"{log['throttled']:>4} 429s  RSS {rss_mb():.0f}MB", file=sys.stderr, flush=True)  # fmt: skip


def backfill(platform: Platform, orders: int, tmp: Path, progress: float = 0) -> dict[str, object]:
    box = SANDBOXES[platform](locations=("amsterdam", "utrecht", "rotterdam"), seed=9)
    with serve(box):
        box.seed_orders(9, orders)
        d = box.describe()
        config = validate_config({
            "daemon": {"admin_token": "x" * 20, "database_url": f"sqlite:///{tmp / f'{platform.value}.db'}"},
            "locations": [{"name": n, "priority": i, "platform_ids": {platform.value: str(d["locations"][n])}}
                          for i, n in enumerate(("amsterdam", "utrecht", "rotterdam"))],
            "stores": [{"name": "bench", "platform": platform.value, "base_url": d["base_url"],
                        "credentials": d["credentials"]}],
        }, env={})  # fmt: skip
        runtime = Runtime.open(config)
        upgrade(runtime.engine)
        runtime.sync_stores()
        sync = StoreSync(runtime, config.stores[0])
        sync.hooks.append(Stocker(config))
        httpx.delete(f"{box.root_url}/_sandbox/requests")
        sampler = Sampler()
        sampler.start()
        reporter = Progress(progress, tmp / f"{platform.value}.db", box.root_url) if progress else None
        if reporter:
            reporter.start()
        started = time.monotonic()
        result = sync.poll(since=None)
        elapsed = time.monotonic() - started
        if reporter:
            reporter.stop.set()
        points = float(getattr(getattr(sync.client, "gauge", None), "spent", 0.0))
        sampler.stop.set()
        log = httpx.get(f"{box.root_url}/_sandbox/requests", timeout=60).json()
        sync.close()
        runtime.close()
    calls = log["count"]
    quarter = [rss for t, rss in sampler.samples if t <= started + elapsed / 4] or [rss_mb()]
    rate = calls / elapsed
    ceiling = CEILING[platform]
    shown_rate = (points / elapsed) if platform is Platform.SHOPIFY and points else rate
    return {
        "platform": platform.value, "orders": result.seen, "seconds": elapsed, "calls": calls, "rate": shown_rate,
        "ceiling": ceiling, "share": (shown_rate / ceiling) if ceiling else None, "throttled": log["throttled"],
        "budget_waits": sync.budget.throttled, "rss_quarter": quarter[-1], "rss_end": sampler.samples[-1][1]
        if sampler.samples else rss_mb(), "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }  # fmt: skip


def main() -> None:
    logs.configure(json=False, level="warning")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--platform", action="append", choices=[p.value for p in Platform])
    parser.add_argument("--progress", type=float, default=0, help="print progress to stderr every N seconds")
    args = parser.parse_args()
    chosen = [Platform(p) for p in args.platform] if args.platform else list(Platform)
    head = ("platform", "orders", "seconds", "calls", "rate/s", "ceiling", "share", "429s", "RSS@25%", "RSS@end")
    print(" ".join(f"{h:>11}" for h in head))
    with tempfile.TemporaryDirectory() as tmp:
        for platform in chosen:
            r = backfill(platform, args.orders, Path(tmp), args.progress)
            share = f"{r['share']:.0%}" if r["share"] is not None else "n/a"
            ceiling = f"{r['ceiling']:.1f}" if r["ceiling"] else "none"
            row = (r["platform"], r["orders"], f"{r['seconds']:.0f}", r["calls"], f"{r['rate']:.2f}", ceiling, share,
                   r["throttled"], f"{r['rss_quarter']:.0f}MB", f"{r['rss_end']:.0f}MB")  # fmt: skip
            print(" ".join(f"{v:>11}" for v in row), flush=True)


if __name__ == "__main__":
    main()
