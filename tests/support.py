"""Helpers shared by the integration and acceptance tiers: config files, free ports, running the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ADMIN_TOKEN = "test-admin-token-0123456789"


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
