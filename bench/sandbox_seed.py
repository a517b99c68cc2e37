"""How long each platform's sandbox takes to seed a history of orders (`POST /_sandbox/seed`, what the demo, the
integration tests and the other benchmarks start with). Prints a table.

    .venv/bin/python bench/sandbox_seed.py [--orders 10000] [--platform woocommerce ...]

Targets (they were assertions in the sandbox tests, where a loaded machine made them flaky): 10,000 orders in
under 5 s (BigCommerce), 6 s (WooCommerce) or 8 s (Shopify, Lightspeed) on a 2-core machine.
"""

from __future__ import annotations

import argparse
import time

from connector.orders.model import Platform
from sandbox import SANDBOXES

TARGET_S = {Platform.BIGCOMMERCE: 5.0, Platform.WOOCOMMERCE: 6.0, Platform.SHOPIFY: 8.0, Platform.LIGHTSPEED: 8.0}


def seed_seconds(platform: Platform, orders: int) -> float:
    box = SANDBOXES[platform](seed=11)
    started = time.perf_counter()
    seeded = box.seed_orders(11, orders)
    elapsed = time.perf_counter() - started
    if seeded != orders:
        raise SystemExit(f"{platform.value}: seeded {seeded} orders, not {orders}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--platform", action="append", choices=[p.value for p in Platform])
    args = parser.parse_args()
    platforms = [Platform(p) for p in args.platform] if args.platform else list(Platform)
    print(f"{'platform':<12} {'orders':>7} {'seconds':>8} {'target':>7}")
    for platform in platforms:
        elapsed = seed_seconds(platform, args.orders)
        target = TARGET_S[platform] * args.orders / 10_000
        verdict = "ok" if elapsed < target else "SLOW"
        print(f"{platform.value:<12} {args.orders:>7} {elapsed:>8.2f} {target:>6.1f}s {verdict}")


if __name__ == "__main__":
    main()
