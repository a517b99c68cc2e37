"""`connector demo`: the four sandboxes with a steady trickle of new orders, and the daemon against them.

Everything runs in this one process: each sandbox on a free port, the daemon on the `listen` address of
`config/demo.toml` (or the same host on `--port N`; `--port 0` picks a free port, so tests and a second demo never
depend on 8080 being free) with its SQLite database in `state/`. `state/` is relative to the working directory;
the template is found beside the package. The stores of the effective configuration come from the sandboxes'
ready lines (exactly what a `[[stores]]` entry takes) and are written to `state/demo.toml`, so
`connector status --config state/demo.toml` works from a second terminal. Ctrl-C stops all of it.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import socket
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import structlog

from connector.orders.model import Platform
from connector.runtime import logs
from connector.runtime.config import Config, validate_config

log = structlog.get_logger(__name__)

DEMO_TEMPLATE = Path(__file__).resolve().parents[2] / "config" / "demo.toml"
EFFECTIVE = Path("state/demo.toml")


def _template() -> dict[str, Any]:
    path = Path(os.environ.get("CONNECTOR_DEMO_TEMPLATE", DEMO_TEMPLATE))
    if not path.exists():
        path = Path("config/demo.toml")
    return tomllib.loads(path.read_text())


def demo_config(described: list[dict[str, Any]], admin_token: str, port: int | None = None) -> dict[str, Any]:
    """The demo's configuration: the template's daemon and locations, one store per sandbox.

    `port` moves the daemon (and its public URL, where the sandboxes send webhooks) to that port of the
    template's host; 0 picks a free one.
    """
    data = _template()
    data["daemon"]["admin_token"] = admin_token
    if port is not None:
        host = str(data["daemon"]["listen"]).rpartition(":")[0]
        port = port or _free_port(host)
        data["daemon"]["listen"] = f"{host}:{port}"
        data["daemon"]["public_url"] = f"http://{host}:{port}"
    for loc in data.get("locations", []):
        loc["platform_ids"] = {
            d["platform"]: str(d["locations"][loc["name"]]) for d in described if loc["name"] in d["locations"]
        }
    data["stores"] = [
        {
            "name": f"demo-{d['platform']}",
            "platform": d["platform"],
            "base_url": d["base_url"],
            "credentials": d["credentials"],
            "webhook_secret": d["webhook_secret"],
            "poll_interval": "20s",
        }
        for d in described
    ]
    return data


def _free_port(host: str) -> int:
    """A port nothing listens on now. The daemon binds it moments later, after the sandboxes took theirs."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host.strip("[]"), 0))
        port: int = sock.getsockname()[1]
        return port


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def to_toml(data: dict[str, Any]) -> str:
    """Enough TOML for a configuration: one table, arrays of tables, inline tables."""
    out = ["# written by `connector demo`; the sandboxes' ports change at every start", "[daemon]"]
    out += [f"{k} = {_toml_value(v)}" for k, v in data["daemon"].items()]
    for section in ("locations", "stores"):
        for item in data.get(section, []):
            out += ["", f"[[{section}]]"] + [f"{k} = {_toml_value(v)}" for k, v in item.items()]
    return "\n".join(out) + "\n"


class Trickle(threading.Thread):
    """Creates a new order in a random sandbox every few seconds, as shoppers would."""

    def __init__(self, roots: dict[str, str], boxes: list[Any], every: float = 3.0) -> None:
        super().__init__(name="demo-trickle", daemon=True)
        self.roots, self.boxes, self.every = roots, boxes, every
        self.stop = threading.Event()
        self.rng = random.Random(7)  # noqa: S311 - picks demo orders, not secrets

    def run(self) -> None:
        with httpx.Client(timeout=10) as client:
            while not self.stop.wait(self.every):
                box = self.rng.choice(self.boxes)
                spec = box.random_order_spec(self.rng)
                try:
                    client.post(f"{box.root_url}/_sandbox/orders", json=spec)
                except httpx.HTTPError as exc:
                    log.warning("demo_order_failed", platform=box.platform, error=str(exc))


@contextmanager
def serve_sandboxes(
    platforms: Sequence[Platform],
    port: int,
    seed: int,
    orders: int,
    locations: tuple[str, ...],
    webhook_url: str | None,
    rate_limit: str,
    ready: Callable[[dict[str, Any]], None],
) -> Iterator[None]:
    """`connector sandbox`: serve the platforms' sandboxes (from `port` on, or free ports when 0) until closed.

    `ready` gets each sandbox's description (what a `[[stores]]` entry takes) as soon as it is up."""
    from sandbox import SANDBOXES
    from sandbox.runner import serve

    with ExitStack() as stack:
        for offset, which in enumerate(platforms):
            box = SANDBOXES[which](locations=locations, seed=seed)
            box.rate_limit = rate_limit
            stack.enter_context(serve(box, port=port + offset if port else 0))
            if orders:
                box.seed_orders(seed, orders)
            if webhook_url:
                box.subscribe_defaults(webhook_url.replace("{platform}", which.value))
            ready(box.describe())
        yield


def run_demo(*, as_json: bool = False, port: int | None = None) -> int:
    from connector.app.daemon import Daemon
    from connector.storage.runtime import Runtime
    from sandbox import SANDBOXES
    from sandbox.runner import serve

    admin_token = os.environ.get("CONNECTOR_ADMIN_TOKEN") or secrets.token_urlsafe(24)
    locations = tuple(loc["name"] for loc in _template().get("locations", []))
    with ExitStack() as stack:
        boxes = [stack.enter_context(serve(SANDBOXES[p](locations=locations, seed=1))) for p in Platform]
        for box in boxes:
            box.seed_orders(1, 5)
        data = demo_config([b.describe() for b in boxes], admin_token, port)
        config: Config = validate_config(data, source=str(EFFECTIVE))
        EFFECTIVE.parent.mkdir(parents=True, exist_ok=True)
        EFFECTIVE.write_text(to_toml(data))
        EFFECTIVE.chmod(0o600)
        logs.configure(level="warning" if as_json else "info", secrets=[admin_token])
        if as_json:
            _log_to_stderr()
        trickle = Trickle({b.platform: b.root_url for b in boxes}, boxes)
        trickle.start()
        runtime = Runtime.open(config)
        try:
            daemon = Daemon(runtime, on_started=lambda: _started(daemon, config, admin_token, as_json))
            code = daemon.run()
        finally:
            trickle.stop.set()
            runtime.close()
    return code


def _log_to_stderr() -> None:
    """With `--json`, stdout carries only the JSON line a script reads; the log (JSON too) goes to stderr."""
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(sys.stderr)


def _started(daemon: Any, config: Config, token: str, as_json: bool) -> None:
    """Once the daemon listens: subscribe its webhooks on each sandbox (as `connector webhooks register` would)."""
    for name, sync in daemon.syncs.items():
        sync.client.register_webhooks(f"{config.daemon.public_url}/webhooks/{name}")
    _announce(config, token, as_json)


def _announce(config: Config, token: str, as_json: bool) -> None:
    url = config.daemon.public_url + "/"
    stores = [{"store": s.name, "platform": s.platform.value, "base_url": s.base_url} for s in config.stores]
    if as_json:
        sys.stdout.write(json.dumps({"dashboard_url": url, "admin_token": token, "stores": stores}) + "\n")
    else:
        sys.stdout.write(f"\nDashboard: {url}\nAdmin token: {token}\nConfig: {EFFECTIVE}\n")
        for s in stores:
            sys.stdout.write(f"  {s['store']:<18} {s['platform']:<12} {s['base_url']}\n")
        sys.stdout.write("Ctrl-C stops everything.\n\n")
    sys.stdout.flush()
