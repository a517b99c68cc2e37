"""Helpers shared by the test tiers: config files, free ports, running the CLI, waiting for a condition.

Tests wait for what they expect to happen (`wait_until`), never for a fixed time, and never assert on how long
something took: on a loaded machine every duration stretches. Timings belong in `bench/`.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sandbox.core import Sandbox

ADMIN_TOKEN = "test-admin-token-0123456789"
WAIT_S = 30.0  # how long `wait_until` waits by default: generous, it only bounds a test that is failing anyway
SEED_TIMEOUT_S = 300.0  # an HTTP hang guard for seeding 10,000 orders, which takes a minute on a loaded machine

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], *, timeout: float = WAIT_S, every: float = 0.01, what: str) -> T:
    """Call `predicate` until it returns something truthy, and return that; fail naming `what` after `timeout` s.

    The timeout is a hang guard, not a measurement: a condition that holds returns as soon as it holds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"gave up after {timeout:g} s waiting for {what}; last saw {value!r}")
        time.sleep(every)


def wait_delivered(sandbox: Sandbox, timeout: float = WAIT_S) -> None:
    """Wait until `sandbox` has made every webhook attempt it has queued so far (retries included).

    Receivers record a delivery before answering it, so afterwards they hold everything that will ever come for
    the events so far: asserting that something did *not* arrive needs no sleep.
    """
    wait_until(sandbox.dispatcher.idle, timeout=timeout, what=f"the {sandbox.platform} sandbox's webhook deliveries")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _value(value: Any) -> str:
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return json.dumps(value)


def write_config(
    path: Path,
    database_url: str,
    *,
    stores: list[dict[str, Any]] | None = None,
    locations: list[dict[str, Any]] | None = None,
    listen: str | None = None,
    daemon: dict[str, Any] | None = None,
) -> Path:
    listen = listen or f"127.0.0.1:{free_port()}"
    settings = {
        "database_url": database_url,
        "listen": listen,
        "public_url": f"http://{listen}",
        "admin_token": ADMIN_TOKEN,
        **(daemon or {}),
    }
    lines = ["[daemon]"] + [f"{k} = {_value(v)}" for k, v in settings.items()]
    for section, items in (("locations", locations or []), ("stores", stores or [])):
        for item in items:
            lines += ["", f"[[{section}]]"] + [f"{k} = {_value(v)}" for k, v in item.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `connector ARGS` as a user would (a fresh process), capturing its output."""
    return subprocess.run(
        [sys.executable, "-m", "connector", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_process(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "connector", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


SHOPIFY_STORE = {
    "name": "ams-shopify",
    "platform": "shopify",
    "base_url": "https://example.myshopify.com",
    "credentials": {"access_token": "shpat_test_token"},
    "webhook_secret": "whsec_test_secret",
}
