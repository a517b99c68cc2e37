"""The acceptance harness: the four sandboxes and the daemon, in this process, talking real HTTP.

`Stack` starts each platform's sandbox on a free port, writes a configuration from their ready lines (exactly
what a `[[stores]]` entry takes), runs the daemon in a thread against a fresh database, and subscribes each
sandbox's webhooks to the daemon. Tests drive the sandboxes through `/_sandbox/` and read the connector's state
through its CLI, its API or its database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from connector.app.daemon import Daemon
from connector.orders.model import Platform
from connector.runtime.config import Config, load_config
from connector.storage.runtime import Runtime
from sandbox import SANDBOXES, Sandbox
from sandbox.runner import serve
from tests.support import ADMIN_TOKEN, write_config

T = TypeVar("T")
LOCATIONS = ("amsterdam", "utrecht", "rotterdam")


@dataclass
class Stack:
    config: Config
    config_path: Path
    daemon: Daemon
    boxes: dict[Platform, Sandbox]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))

    @property
    def url(self) -> str:
        return self.config.daemon.public_url

    def store(self, platform: Platform) -> str:
        return f"sbx-{platform.value}"

    def box(self, platform: Platform) -> Sandbox:
        return self.boxes[platform]

    def create_order(self, platform: Platform, spec: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(f"{self.boxes[platform].root_url}/_sandbox/orders", json=spec)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created

    def change_order(self, platform: Platform, order_id: str, change: dict[str, Any]) -> dict[str, Any]:
        response = self.http.patch(f"{self.boxes[platform].root_url}/_sandbox/orders/{order_id}", json=change)
        response.raise_for_status()
        changed: dict[str, Any] = response.json()
        return changed

    def view(self, platform: Platform, order_id: str) -> dict[str, Any]:
        response = self.http.get(f"{self.boxes[platform].root_url}/_sandbox/orders/{order_id}")
        response.raise_for_status()
        viewed: dict[str, Any] = response.json()
        return viewed

    def faults(self, platform: Platform, **faults: Any) -> None:
        self.http.post(f"{self.boxes[platform].root_url}/_sandbox/faults", json=faults).raise_for_status()

    def poll_now(self, platform: Platform) -> None:
        self.daemon.syncs[self.store(platform)].poll()

    def settle(self, platform: Platform) -> None:
        """Wait until the platform has made every webhook attempt queued so far and the connector has ingested
        every delivery it kept: asserting that nothing (more) changed needs no sleep afterwards."""

        def settled() -> bool:
            if not self.boxes[platform].dispatcher.idle():
                return False
            inbox = self.http.get(
                f"{self.url}/api/inbox",
                params={"store": self.store(platform), "limit": 1000},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            )
            inbox.raise_for_status()
            return not [i for i in inbox.json() if i["status"] in {"pending", "processing"}]

        wait_for(settled, timeout=60, what=f"{platform.value} webhooks delivered and ingested")


def wait_for(check: Callable[[], T | None], timeout: float = 30, every: float = 0.1, what: str = "") -> T:
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what or check}: last value {last!r}")


@contextmanager
def running_stack(
    tmp_path: Path,
    database_url: str,
    *,
    poll_interval: str = "1h",
    webhooks: bool = True,
    writeback: dict[Platform, dict[str, Any]] | None = None,
    allocation: dict[Platform, str] | None = None,
    **daemon: Any,
) -> Iterator[Stack]:
    """The stack; `writeback` and `allocation` (a strategy) are per store, by platform: left out, the defaults."""
    with ExitStack() as stack:
        boxes = {p: stack.enter_context(serve(SANDBOXES[p](locations=LOCATIONS, seed=3))) for p in Platform}
        for box in boxes.values():
            box.faults.webhook_retry_scale = 0.001
        described = {p: b.describe() for p, b in boxes.items()}
        locations = [
            {
                "name": name,
                "priority": n + 1,
                "pickup": True,
                "platform_ids": {p.value: str(d["locations"][name]) for p, d in described.items()},
            }
            for n, name in enumerate(LOCATIONS)
        ]
        stores = [
            {
                "name": f"sbx-{p.value}",
                "platform": p.value,
                "base_url": d["base_url"],
                "credentials": d["credentials"],
                "webhook_secret": d["webhook_secret"],
                "poll_interval": poll_interval,
                **({"writeback": writeback[p]} if writeback and p in writeback else {}),
                **({"allocation": allocation[p]} if allocation and p in allocation else {}),
            }
            for p, d in described.items()
        ]
        path = write_config(
            tmp_path / "connector.toml", database_url, stores=stores, locations=locations, daemon=daemon
        )
        config = load_config(path)
        runtime = Runtime.open(config)
        stack.callback(runtime.close)
        d = Daemon(runtime)
        thread = threading.Thread(target=d.run, name="daemon-under-test", daemon=True)
        thread.start()
        wait_for(lambda: _ready(config.daemon.public_url), what="daemon ready")
        wait_for(lambda: _first_polls_done(runtime), timeout=60, what="start-up polls finished")
        stack.callback(thread.join, 30)
        stack.callback(d.stop)
        if webhooks:  # through each platform's own webhook API, as `connector webhooks register` does
            for name, sync in d.syncs.items():
                sync.client.register_webhooks(f"{config.daemon.public_url}/webhooks/{name}")
        running = Stack(config, path, d, boxes)
        stack.callback(running.http.close)
        yield running


def _first_polls_done(runtime: Runtime) -> bool:
    """The daemon polls every store once at start; later orders can then only arrive by webhook (or a test's poll)."""
    from sqlalchemy import func, select

    from connector.storage import tables as t

    with runtime.sessions() as session:
        done = session.scalar(
            select(func.count()).select_from(t.Cursor).where(t.Cursor.last_poll_finished_at.is_not(None))
        )
    return done == len(runtime.config.stores)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


__all__ = ["ADMIN_TOKEN", "Stack", "running_stack", "wait_for"]
