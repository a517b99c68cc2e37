"""`connector demo` as a new user runs it: a real process, orders from all four platforms on the dashboard within a
minute, most of them allocated to a location within a minute of the ready line, a fresh state each run unless
`--keep-state`, and everything gone after Ctrl-C.

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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
import pytest

from connector.storage.db import DatabaseLock
from tests.acceptance.harness import wait_for
from tests.support import cli

WITHIN = 60.0  # seconds, from starting the command: issue #7's "within a minute"
ALLOCATED_WITHIN = 60.0  # seconds, from the ready line: issue #12's window for 80 % of the orders to have fulfilments
PLATFORMS = {"shopify", "woocommerce", "bigcommerce", "lightspeed"}


class Demo:
    """The `connector demo [--json] --port 0` process, its stdout read line by line in a thread (never blocking)."""

    def __init__(self, cwd: Path, *extra: str, as_json: bool = True) -> None:
        env = {k: v for k, v in os.environ.items() if k != "CONNECTOR_ADMIN_TOKEN"}
        self.cwd = cwd
        self.started = time.monotonic()
        # stderr to a file (one per run): a full pipe would stall the demo
        self.log = (cwd / f"stderr-{len(list(cwd.glob('stderr-*')))}.txt").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "connector", "demo", *(["--json"] if as_json else []), "--port", "0", *extra],
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

    def ready(self) -> dict[str, Any]:
        """The ready line's JSON (and the moment it came, for windows the issue measures from it)."""
        ready: dict[str, Any] = json.loads(self.ready_line())
        self.ready_at = time.monotonic()
        return ready

    def banner(self) -> list[str]:
        """Without `--json`: every line printed up to the banner's last one."""
        printed = [self.ready_line().rstrip("\n")]
        while printed[-1] != "Ctrl-C stops everything.":
            printed.append(self.ready_line().rstrip("\n"))
        return printed

    def left_since_ready(self, window: float) -> float:
        return max(window - (time.monotonic() - self.ready_at), 0.0)

    def stderr(self) -> str:
        """The tail of stderr and of the demo's own log file, for a failure's message."""
        self.log.flush()
        log_file = self.cwd / "state" / "demo.log"
        logged = log_file.read_text()[-3000:] if log_file.exists() else ""
        return Path(self.log.name).read_text()[-3000:] + "\n--- state/demo.log ---\n" + logged

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
def start_demo(tmp_path: Path) -> Iterator[Callable[..., Demo]]:
    """Start `connector demo --json --port 0 [ARGS]` in `tmp_path`; every demo started is killed at the end."""
    started: list[Demo] = []

    def start(*extra: str, as_json: bool = True) -> Demo:
        started.append(Demo(tmp_path, *extra, as_json=as_json))
        return started[-1]

    try:
        yield start
    finally:
        for running in started:
            running.kill()


@pytest.fixture
def demo(start_demo: Callable[..., Demo]) -> Demo:
    return start_demo()


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
    ready = demo.ready()
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


def orders(api: httpx.Client) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = api.get("/api/orders", params={"limit": 1000}).json()
    return listed


def test_most_demo_orders_have_fulfilments_within_a_minute_of_the_ready_line(
    start_demo: Callable[..., Demo], tmp_path: Path
) -> None:
    demo = start_demo("--order-interval", "0.5")
    ready = demo.ready()
    assert demo.lines.empty(), "stdout carries only the ready line"
    stock_file = tmp_path / "state" / "demo" / "stock.csv"
    assert stock_file.read_text().startswith("sku,location,on_hand\n")
    assert "demo_stock_imported" in (tmp_path / "state" / "demo.log").read_text()

    with httpx.Client(base_url=ready["dashboard_url"], headers=bearer(ready), timeout=10) as api:

        def mostly_allocated() -> list[dict[str, Any]] | None:
            found = orders(api)
            allocated = [o for o in found if o["fulfilments"]]
            enough = len(found) >= 40 and {o["platform"] for o in found} == PLATFORMS
            return found if enough and len(allocated) >= 0.8 * len(found) else None

        found = wait_for(
            mostly_allocated,
            timeout=demo.left_since_ready(ALLOCATED_WITHIN),
            every=0.5,
            what="40 orders from all four platforms, 80 % of them with fulfilments",
        )
        places = [len({f["location"] for f in o["fulfilments"]}) for o in found]
        back_ordered = [o["id"] for o in found if api.get(f"/api/orders/{o['id']}").json()["back_orders"]]
    shares = {
        "orders": len(found),
        "one_place": sum(n == 1 for n in places) / len(found),
        "split": sum(n > 1 for n in places) / len(found),
        "back_ordered": len(back_ordered) / len(found),
    }
    waited = ALLOCATED_WITHIN - demo.left_since_ready(ALLOCATED_WITHIN)
    print(f"demo allocation {waited:.1f} s after the ready line: {shares}")  # the numbers behind it, for `pytest -s`
    assert shares["one_place"] > 0.5, shares  # most ship from one place; some splits and back-orders are fine
    assert demo.stop() == 0, demo.stderr()
    assert Path(demo.log.name).read_text() == "", "without --verbose the log goes to state/demo.log, not stderr"


def bearer(ready: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {ready['admin_token']}"}


def test_each_run_starts_fresh_unless_keep_state_is_given(start_demo: Callable[..., Demo], tmp_path: Path) -> None:
    first = start_demo("--order-interval", "0.5")
    ready = first.ready()
    with httpx.Client(base_url=ready["dashboard_url"], headers=bearer(ready), timeout=10) as api:
        # More orders than a fresh run can have at its ready line (20 seeded, then one every 3 s of start-up).
        wait_for(lambda: len(orders(api)) >= 60, timeout=first.left(), every=0.5, what="60 orders in the first run")
        noted = orders(api)[-1]["id"]
        assert api.post(f"/api/orders/{noted}/note", json={"text": "from the first run"}).status_code == 200
        kept = orders(api)
    assert first.stop() == 0, first.stderr()

    again = start_demo("--keep-state", as_json=False)  # the text banner, this time
    banner = again.banner()
    again.ready_at = time.monotonic()
    assert banner[0] == "kept the stock of the previous run"
    assert [line.split(":")[0] for line in banner[1:6]] == ["", "Dashboard", "Admin token", "Config", "Log"]
    assert {line.split()[1] for line in banner[6:10]} == PLATFORMS
    url, token = banner[2].split(": ", 1)[1], banner[3].split(": ", 1)[1]
    with httpx.Client(base_url=url, headers=bearer({"admin_token": token}), timeout=10) as api:
        assert {o["id"] for o in kept} <= {o["id"] for o in orders(api)}  # all there at the ready line
        timeline = api.get(f"/api/orders/{noted}").json()["timeline"]
        assert "from the first run" in [e["summary"] for e in timeline]
    assert again.stop() == 0, again.stderr()
    assert [line for line in iter_queue(again.lines) if line.strip()] == [], "the banner is the last thing printed"

    fresh = start_demo("--verbose")
    ready = fresh.ready()
    with httpx.Client(base_url=ready["dashboard_url"], headers=bearer(ready), timeout=10) as api:
        assert len(orders(api)) < len(kept)  # the new sandboxes' first orders may be in already, no more
        noted_now = api.get(f"/api/orders/{noted}")
        assert noted_now.status_code == 404 or "from the first run" not in str(noted_now.json()["timeline"])
    assert fresh.stop() == 0, fresh.stderr()
    assert "daemon_started" in Path(fresh.log.name).read_text()  # --verbose: the log on stderr ...
    assert not (tmp_path / "state" / "demo.log").exists()  # ... and not in the file


def iter_queue(lines: queue.Queue[str]) -> list[str]:
    found = []
    while not lines.empty():
        found.append(lines.get_nowait())
    return found


def test_a_second_demo_on_the_same_state_refuses_and_removes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    database = state / "demo.db"
    database.write_bytes(b"the running demo's data")
    with DatabaseLock(f"sqlite:///{database}"):  # as the running demo's daemon holds it
        done = cli("demo", "--json", "--port", "0", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "already running" in done.stderr
    assert done.stdout == ""
    assert database.read_bytes() == b"the running demo's data"
