"""Order export throughput and memory: `connector orders export` over 100,000 stored orders, per format.

Loads N orders (1-4 lines each, allocated over three locations, so most have fulfilments) into a fresh SQLite file
through the ingest path, then runs the export as a user would (a fresh `connector` process writing to a file) for
each format and prints orders/s and the process's peak RSS. A second row per format exports 1/10 of the orders: when
RSS does not grow with the order count, the export streams. Targets: ≥ 5,000 orders/s, peak RSS under 150 MB.

    .venv/bin/python bench/export.py [--orders 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from connector.orders.model import Customer, Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.runtime import logs
from connector.runtime.config import load_config
from connector.stock import ledger
from connector.stock.order_effects import Stocker
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.ingest import ingest_order

LOCATIONS = ("amsterdam", "utrecht", "rotterdam")
SKUS = [f"SKU-{n:04d}" for n in range(200)]
CONFIG = """\
[daemon]
database_url = "sqlite:///{db}"
admin_token = "bench-admin-token-0123456789"

{locations}
[[stores]]
name = "bench"
platform = "woocommerce"
base_url = "https://shop.example.com"
credentials = {{ consumer_key = "ck_bench", consumer_secret = "cs_bench" }}
webhook_secret = "bench-secret"
"""


def stolen_percent(before: list[int], after: list[int]) -> float:
    """The hypervisor's steal over the interval, from /proc/stat's cpu line (percent of all CPU time)."""
    deltas = [b - a for a, b in zip(before, after, strict=True)]
    return 100.0 * deltas[7] / max(sum(deltas), 1)


def cpu_times() -> list[int]:
    with open("/proc/stat") as stat:
        return [int(x) for x in stat.readline().split()[1:]]


def load(runtime: Runtime, count: int) -> float:
    rng = random.Random(16)
    stocker = Stocker(runtime.config)
    store_id = runtime.store_ids["bench"]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    began = time.perf_counter()
    with runtime.sessions.begin() as session:
        ledger.import_counts(session, [ledger.Count(s, loc, 10**6) for s in SKUS for loc in LOCATIONS])
    for first in range(0, count, 1000):
        with runtime.sessions.begin() as session:
            for n in range(first, min(first + 1000, count)):
                lines = tuple(
                    Line(sku, f"Product {sku}", q, Money(Decimal(p), "EUR"), Money(Decimal(p) * q, "EUR"))
                    for sku in rng.sample(SKUS, rng.randint(1, 4))
                    for q, p in [(rng.randint(1, 3), f"{rng.randint(100, 9999) / 100:.2f}")]
                )
                subtotal = sum((line.total.amount for line in lines), Decimal(0))
                at = start + timedelta(seconds=n * 30)
                order = Order(
                    store="bench",
                    platform=Platform.WOOCOMMERCE,
                    external_id=str(n + 1),
                    number=str(n + 1),
                    kind=OrderKind.DELIVERY,
                    payment_status=PaymentStatus.PAID,
                    platform_status="processing",
                    currency="EUR",
                    subtotal=Money(subtotal, "EUR"),
                    shipping_total=Money(Decimal("4.95"), "EUR"),
                    tax_total=Money(Decimal(0), "EUR"),
                    discount_total=Money(Decimal(0), "EUR"),
                    total=Money(subtotal + Decimal("4.95"), "EUR"),
                    created_at=at,
                    updated_at=at,
                    customer=Customer(f"Customer {n}", f"c{n}@example.com", "+31 20 555 0100"),
                    lines=lines,
                )
                stocker.on_outcome(session, ingest_order(session, store_id, order, source="bench"))
    return time.perf_counter() - began


def export(config: Path, fmt: str, out: Path, *extra: str) -> tuple[float, float, int]:
    """Seconds, peak RSS in MB, and bytes written, for one `connector orders export` process."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "connector", "orders", "export", "--format", fmt, "--out", str(out),
         "--config", str(config), *extra],
        cwd=config.parent,
    )  # fmt: skip
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - began
    if process.returncode:
        raise SystemExit(f"export {fmt} failed with status {process.returncode}")
    return seconds, usage.ru_maxrss / 1024, out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--orders", type=int, default=100_000)
    args = parser.parse_args()
    logs.configure(secrets=[], json=False, level="warning")
    with tempfile.TemporaryDirectory(prefix="bench-export-") as tmp:
        root = Path(tmp)
        locations = "".join(f'[[locations]]\nname = "{n}"\npriority = {i + 1}\n\n' for i, n in enumerate(LOCATIONS))
        config = root / "c.toml"
        config.write_text(CONFIG.format(db=root / "c.db", locations=locations))
        runtime = Runtime.open(load_config(config))
        upgrade(runtime.engine)
        runtime.sync_stores()
        loaded = load(runtime, args.orders)
        runtime.close()
        print(f"loaded {args.orders:,} orders in {loaded:.1f} s ({args.orders / loaded:,.0f}/s, ingest + allocation)")
        tenth = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=int(args.orders * 0.9) * 30)
        head = ("format", "orders", "seconds", "orders/s", "peak RSS MB", "MB written", "steal %")
        print(" ".join(f"{h:>12}" for h in head))
        for fmt in ("csv", "xml", "json"):
            for count, extra in ((args.orders // 10, ("--since", tenth.isoformat())), (args.orders, ())):
                before = cpu_times()
                seconds, rss, size = export(config, fmt, root / f"out.{fmt}", *extra)
                steal = stolen_percent(before, cpu_times())
                row = (fmt, f"{count:,}", f"{seconds:.1f}", f"{count / seconds:,.0f}", f"{rss:.0f}",
                       f"{size / 1e6:.0f}", f"{steal:.0f}")  # fmt: skip
                print(" ".join(f"{v:>12}" for v in row))
        print(
            "seconds include the process's start (about a second of imports); targets: ≥ 5,000 orders/s, RSS < 150 MB"
        )


if __name__ == "__main__":
    main()
