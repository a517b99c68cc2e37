"""Stock from the POS: movements ingested per second through the JSON API, and `stock import` of a large file.

1. POS movements are posted to `POST /api/stock/movements` of a real server (uvicorn in a thread, the app the
   daemon serves, a SQLite file) in batches of 1,000, one batch after another as a POS would: target 2,000/s or
   more. The first batch is then posted again and must come back all `duplicate`.
2. `connector stock import` runs as a user runs it (a fresh process) on a count file of `--rows` rows (2,000,000
   by default) and the peak RSS of that process is read from the kernel (`ru_maxrss` of the waited-for child).
   It must stay flat as the file grows: the file is streamed in chunks.

    .venv/bin/python bench/stock_movements.py [--movements 50000] [--rows 2000000] [--skip-import]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from connector.runtime import logs
from connector.runtime.config import load_config
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.web.app import create_app

LOCATIONS = ("amsterdam", "utrecht", "rotterdam")
TOKEN = "bench-admin-token-0123456789"
BATCH = 1000


def write_config(folder: Path, port: int) -> Path:
    path = folder / "bench.toml"
    lines = [
        "[daemon]",
        f'database_url = "sqlite:///{folder / "bench.db"}"',
        f'listen = "127.0.0.1:{port}"',
        f'admin_token = "{TOKEN}"',
    ]
    for n, name in enumerate(LOCATIONS):
        lines += ["", "[[locations]]", f'name = "{name}"', f"priority = {n + 1}"]
    path.write_text("\n".join(lines) + "\n")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        """The bench keeps its own signal handlers."""


@contextmanager
def serving(runtime: Runtime, port: int) -> Iterator[str]:
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = _Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def movement(n: int) -> dict[str, Any]:
    """Receipts and sales over 2,000 SKUs at three locations; every tenth a sale."""
    sale = n % 10 == 9
    return {
        "key": f"bench-{n}",
        "sku": f"SKU-{n % 2000:05d}",
        "location": LOCATIONS[n % len(LOCATIONS)],
        "delta": -1 if sale else 3,
        "reason": "sale" if sale else "receipt",
    }


def bench_movements(folder: Path, total: int) -> dict[str, float]:
    port = free_port()
    runtime = Runtime.open(load_config(write_config(folder, port)))
    upgrade(runtime.engine)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    batches = [[movement(n) for n in range(start, min(start + BATCH, total))] for start in range(0, total, BATCH)]
    try:
        with serving(runtime, port) as url, httpx.Client(base_url=url, headers=headers, timeout=60) as client:
            client.post("/api/stock/movements", json=[movement(-1)]).raise_for_status()  # warm up (not counted)
            started = time.perf_counter()
            for batch in batches:
                answer = client.post("/api/stock/movements", json=batch)
                answer.raise_for_status()
            elapsed = time.perf_counter() - started
            again = client.post("/api/stock/movements", json=batches[0]).json()["results"]
            if {r["status"] for r in again} != {"duplicate"}:
                raise AssertionError("a batch posted twice moved stock again")
    finally:
        runtime.close()
    return {"movements": total, "seconds": elapsed, "per_second": total / elapsed}


def bench_import(folder: Path, rows: int) -> dict[str, Any]:
    config = write_config(folder, free_port())
    upgrade(load_config(config).daemon.database_url)
    csv = folder / "counts.csv"
    with csv.open("w") as out:
        out.write("sku,location,on_hand\n")
        skus = -(-rows // len(LOCATIONS))
        written = 0
        for n in range(skus):
            for location in LOCATIONS:
                if written == rows:
                    break
                out.write(f"SKU-{n:07d},{location},{n % 50}\n")
                written += 1
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "connector", "stock", "import", str(csv), "-c", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"stock import failed: {result.stderr[-2000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib <= before:
        print("note: the import's peak RSS did not exceed an earlier child's; the figure is a ceiling")
    return {"rows": rows, "seconds": elapsed, "peak_rss_mib": peak_kib / 1024, "output": result.stdout.strip()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--movements", type=int, default=50_000)
    parser.add_argument("--rows", type=int, default=2_000_000)
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    logs.configure(level="warning")
    with tempfile.TemporaryDirectory(prefix="bench-stock-") as tmp:
        os.makedirs(Path(tmp) / "m")
        moved = bench_movements(Path(tmp) / "m", args.movements)
        print(f"{'what':<38}{'count':>12}{'seconds':>10}{'rate/s':>10}{'peak RSS MiB':>14}")
        print(
            f"{'POS movements via API (batches of 1k)':<38}{moved['movements']:>12,.0f}"
            f"{moved['seconds']:>10.2f}{moved['per_second']:>10,.0f}{'':>14}"
        )
        if not args.skip_import:
            os.makedirs(Path(tmp) / "i")
            imported = bench_import(Path(tmp) / "i", args.rows)
            print(
                f"{'stock import (count CSV)':<38}{imported['rows']:>12,.0f}{imported['seconds']:>10.2f}"
                f"{imported['rows'] / imported['seconds']:>10,.0f}{imported['peak_rss_mib']:>14.0f}"
            )
            print(f"  {imported['output']}")


if __name__ == "__main__":
    main()
