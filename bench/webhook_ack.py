"""Webhook acknowledgement latency under load: the real daemon (`connector run`, SQLite in WAL mode) receives
signed WooCommerce-style order webhooks at a fixed rate from a separate process; each answer's latency is
measured from the moment the request was due (so a queue building up is counted, not hidden).

    .venv/bin/python bench/webhook_ack.py [--rate 300] [--seconds 20]

Target: p99 under 20 ms at 300 requests/s on a 2-core machine. Prints a table.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
SECRET = "bench-webhook-secret"
TOKEN = "bench-admin-token-0123456789"


def write_config(tmp: Path, port: int) -> Path:
    path = tmp / "bench.toml"
    path.write_text(f"""
[daemon]
database_url = "sqlite:///{tmp / "bench.db"}"
listen = "127.0.0.1:{port}"
public_url = "http://127.0.0.1:{port}"
admin_token = "{TOKEN}"

[[stores]]
name = "woo"
platform = "woocommerce"
base_url = "http://127.0.0.1:9"
credentials = {{ consumer_key = "ck_bench", consumer_secret = "cs_bench" }}
webhook_secret = "{SECRET}"
poll_interval = "1h"
""")
    return path


def delivery(n: int) -> tuple[bytes, dict[str, str]]:
    sample = json.loads((ROOT.parent / "shared/samples/woocommerce/orders--retrieve-an-order.json").read_text())
    sample["id"] = 100000 + n
    sample["date_modified_gmt"] = f"2026-05-01T10:{n // 3600 % 60:02d}:{n % 60:02d}"
    body = json.dumps(sample).encode()
    signature = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    headers = {"content-type": "application/json", "x-wc-webhook-topic": "order.updated",
               "x-wc-webhook-resource": "order", "x-wc-webhook-event": "updated", "x-wc-webhook-id": "7",
               "x-wc-webhook-delivery-id": f"d{n}", "x-wc-webhook-signature": signature}  # fmt: skip
    return body, headers


async def load(url: str, rate: int, seconds: int) -> tuple[list[float], int]:
    total = rate * seconds
    payloads = [delivery(n) for n in range(total)]
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        start = time.perf_counter() + 0.2

        async def one(n: int) -> None:
            nonlocal errors
            due = start + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            body, headers = payloads[n]
            response = await client.post(url, content=body, headers=headers)
            latencies.append((time.perf_counter() - due) * 1000)
            errors += response.status_code != 200

        await asyncio.gather(*(one(n) for n in range(total)))
    return latencies, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=300)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--port", type=int, default=18931)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), args.port)
        daemon = subprocess.Popen([sys.executable, "-m", "connector", "run", "--config", str(config), "--log-level",
                                   "warning"], cwd=tmp, env=os.environ.copy())  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"http://127.0.0.1:{args.port}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            url = f"http://127.0.0.1:{args.port}/webhooks/woo"
            latencies, errors = asyncio.run(load(url, args.rate, args.seconds))
        finally:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(timeout=60)
    q = statistics.quantiles(latencies, n=100)
    head = ("rate/s", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms")
    print(" ".join(f"{h:>9}" for h in head) + "   target: p99 < 20 ms")
    row = (args.rate, len(latencies), errors, f"{q[49]:.1f}", f"{q[94]:.1f}", f"{q[98]:.1f}", f"{max(latencies):.1f}")
    print(" ".join(f"{v:>9}" for v in row))


if __name__ == "__main__":
    main()
