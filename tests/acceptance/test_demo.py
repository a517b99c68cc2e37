"""`connector demo` as a new user runs it: a real process, orders from all four platforms on the dashboard within a
minute, and everything gone after Ctrl-C.

The demo keeps its state in `state/` under the working directory, so it runs in a temporary one; `--port 0` lets it
pick a free port for the dashboard (the sandboxes always take free ports), so the test never needs 8080.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
import pytest

from tests.acceptance.harness import wait_for

WITHIN = 60.0  # seconds, from starting the command: issue #7's "within a minute"
PLATFORMS = {"shopify", "woocommerce", "bigcommerce", "lightspeed"}


class Demo:
    """The `connector demo --json --port 0` process, its stdout read line by line in a thread (never blocking)."""

    def __init__(self, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k not in {"CONNECTOR_ADMIN_TOKEN", "CONNECTOR_DEMO_TEMPLATE"}}
        self.started = time.monotonic()
        self.log = (cwd / "demo.log").open("w")  # stderr to a file: a full pipe would stall the demo
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector", "demo", "--json", "--port", "0"],
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        self.reader = threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True)
        self.reader.start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            self.lines.put(line)

    def left(self) -> float:
        return max(WITHIN - (time.monotonic() - self.started), 0.0)

    def ready_line(self) -> str:
        try:
            return self.lines.get(timeout=self.left())
        except queue.Empty:
            raise AssertionError(f"no ready line within {WITHIN:.0f} s; stderr: {self.stderr()}") from None

    def stderr(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()[-3000:]

    def stop(self) -> int:
        """Ctrl-C, as a user would; the exit code."""
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(timeout=30)
        self.reader.join(timeout=10)  # stdout is at its end: every line the demo printed is in `lines`
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()
        self.log.close()


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    running = Demo(tmp_path)
    try:
        yield running
    finally:
        running.kill()


def login(client: httpx.Client, token: str) -> None:
    form = client.get("/login").text
    match = re.search(r'name="csrf_token" value="([^"]*)"', form)
    assert match, "no CSRF token on the login form"
    answer = client.post("/login", data={"token": token, "csrf_token": match.group(1), "next": "/"})
    assert answer.status_code == 303, answer.text


def platforms_on_the_dashboard(client: httpx.Client, api: httpx.Client, locations: list[str]) -> set[str]:
    """The platforms of the orders the dashboard links to: its latest orders and every location's queue."""
    pages = [client.get("/").text] + [client.get("/queue", params={"location": loc}).text for loc in locations]
    shown = {int(n) for page in pages for n in re.findall(r'href="/orders/(\d+)"', page)}
    orders: list[dict[str, Any]] = api.get("/api/orders", params={"limit": 1000}).json()
    return {o["platform"] for o in orders if o["id"] in shown}


def refuses(url: str) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=5):
            return False
    except ConnectionRefusedError:
        return True


def test_demo_shows_all_four_platforms_on_the_dashboard_within_a_minute_and_stops_cleanly(
    demo: Demo, tmp_path: Path
) -> None:
    ready = json.loads(demo.ready_line())
    assert set(ready) == {"dashboard_url", "admin_token", "stores"}
    assert {s["platform"] for s in ready["stores"]} == PLATFORMS
    assert all(set(s) == {"store", "platform", "base_url"} for s in ready["stores"])
    url, token = ready["dashboard_url"], ready["admin_token"]
    assert urlsplit(url).port != 8080

    effective = tomllib.loads((tmp_path / "state" / "demo.toml").read_text())  # in the working directory
    assert effective["daemon"]["public_url"] + "/" == url
    assert effective["daemon"]["listen"] == urlsplit(url).netloc
    locations = [loc["name"] for loc in effective["locations"]]

    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=url, headers=headers, timeout=10) as api,
        httpx.Client(base_url=url, timeout=10) as browser,
    ):
        assert api.get("/api/orders", headers={"Authorization": ""}).status_code == 401
        login(browser, token)

        def api_platforms() -> set[str] | None:
            found = {o["platform"] for o in api.get("/api/orders", params={"limit": 1000}).json()}
            return found if found == PLATFORMS else None

        wait_for(api_platforms, timeout=demo.left(), every=0.5, what="orders from all four platforms in the API")

        def dashboard_platforms() -> set[str] | None:
            found = platforms_on_the_dashboard(browser, api, locations)
            return found if found == PLATFORMS else None

        wait_for(dashboard_platforms, timeout=demo.left(), every=0.5, what="all four platforms on the dashboard")

    assert demo.stop() == 0, demo.stderr()
    assert demo.lines.empty(), "stdout carries only the ready line"
    for address in [url] + [s["base_url"] for s in ready["stores"]]:
        assert refuses(address), f"{address} still answers after Ctrl-C"
