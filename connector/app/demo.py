"""`connector demo`: the four sandboxes with a steady trickle of new orders, stock at the locations, and the daemon.

Everything runs in this one process: each sandbox on a free port, the daemon on the `listen` address of the
demo's template (`connector/app/demo.toml`, package data, so an installed wheel has it) or the same host on
`--port N` (`--port 0` picks a free port, so tests and a second demo never depend on 8080 being free).

The demo keeps its state in `state/` under the working directory: the SQLite database `state/demo.db`, the log
`state/demo.log` (the terminal gets it instead with `--verbose`), the POS count file `state/demo/stock.csv` and
the effective configuration `state/demo.toml`. Each run removes what the last one left, unless `--keep-state`.
The stores of the effective configuration come from the sandboxes' ready lines (exactly what a `[[stores]]`
entry takes), so `connector status --config state/demo.toml` works from a second terminal.

Before the daemon starts, every SKU the sandboxes sell gets a count at each location (`demo_stock`), written as
a count file and imported the way `connector stock import` does it, so the first orders are allocated. The
ready banner (or with `--json` the one JSON line) is the last thing printed at start-up. Ctrl-C stops all of it.
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import shutil
import socket
import sys
import threading
import tomllib
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import httpx
import structlog

from connector.app.demo_stock import demo_counts, import_counts_file, write_counts_csv
from connector.orders.model import Platform
from connector.runtime import logs
from connector.runtime.config import Config, validate_config
from connector.stock import ledger
from connector.storage.db import DatabaseLock, sqlite_file, upgrade

log = structlog.get_logger(__name__)

EFFECTIVE = Path("state/demo.toml")
LOG_FILE = Path("state/demo.log")
STOCK_FILE = Path("state/demo/stock.csv")


def _template() -> dict[str, Any]:
    """The demo's configuration template, read from the installed package."""
    return tomllib.loads(resources.files("connector.app").joinpath("demo.toml").read_text(encoding="utf-8"))


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
        if every <= 0:
            raise ValueError("the order interval must be positive")
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


@dataclass(frozen=True)
class DemoOptions:
    """What `connector demo` was asked for (see its `--help`)."""

    as_json: bool = False
    port: int | None = None
    keep_state: bool = False
    verbose: bool = False
    order_interval: float = 3.0


def run_demo(options: DemoOptions) -> int:
    """Serve the sandboxes, stock the locations, run the daemon until Ctrl-C; the daemon's exit code.

    Raises `DaemonLocked` when another demo runs on the same state (nothing is removed then)."""
    from connector.app.daemon import Daemon
    from connector.storage.runtime import Runtime
    from sandbox import SANDBOXES
    from sandbox.runner import serve

    template = _template()
    removed = [] if options.keep_state else reset_state(str(template["daemon"]["database_url"]))
    admin_token = os.environ.get("CONNECTOR_ADMIN_TOKEN") or secrets.token_urlsafe(24)
    locations = tuple(loc["name"] for loc in template.get("locations", []))
    with ExitStack() as stack:
        stack.enter_context(_logs_routed(options, admin_token))
        log.info("demo_starting", kept_state=options.keep_state, removed=removed)
        boxes = [stack.enter_context(serve(SANDBOXES[p](locations=locations, seed=1))) for p in Platform]
        _route_server_logs()  # each sandbox's uvicorn set up its own stderr handlers
        for box in boxes:
            box.seed_orders(1, 5)
        data = demo_config([b.describe() for b in boxes], admin_token, options.port)
        config: Config = validate_config(data, source=str(EFFECTIVE))
        _write_effective(data)
        runtime = stack.enter_context(closing(Runtime.open(config)))
        stocked = _stock(runtime, {sku for b in boxes for sku in b.catalogue}, options.keep_state)
        if not options.as_json:
            sys.stdout.write(stocked + "\n")
        trickle = Trickle({b.platform: b.root_url for b in boxes}, boxes, options.order_interval)
        trickle.start()
        stack.callback(trickle.stop.set)
        daemon = Daemon(runtime, on_started=lambda: _started(daemon, config, admin_token, options))
        return daemon.run()


def reset_state(database_url: str) -> list[str]:
    """Remove what an earlier demo left (its database, log, count file, effective configuration); what was there.

    Holds the database's lock meanwhile, so a demo still running on it is never pulled from under it."""
    database = sqlite_file(database_url)
    doomed = [EFFECTIVE, LOG_FILE, STOCK_FILE.parent]
    if database is not None:
        doomed += [database.with_name(database.name + suffix) for suffix in ("", "-wal", "-shm", "-journal")]
    with DatabaseLock(database_url):
        removed = [str(path) for path in doomed if path.exists()]
        for path in doomed:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
    return removed


def _write_effective(data: dict[str, Any]) -> None:
    EFFECTIVE.parent.mkdir(parents=True, exist_ok=True)
    EFFECTIVE.write_text(to_toml(data))
    EFFECTIVE.chmod(0o600)


def _stock(runtime: Any, skus: set[str], keep_state: bool) -> str:
    """Give the locations stock, as a retailer would with a POS count file; what was done, in one line.

    With `--keep-state` a database that has stock keeps it (the earlier run's orders hold some of it)."""
    upgrade(runtime.engine)
    if keep_state:
        with runtime.reads() as session:
            if ledger.levels(session):
                log.info("demo_stock_kept")
                return "kept the stock of the previous run"
    locations = [loc.name for loc in sorted(runtime.config.locations, key=lambda loc: loc.priority)]
    write_counts_csv(STOCK_FILE, demo_counts(skus, locations))
    imported = import_counts_file(runtime, STOCK_FILE)
    log.info("demo_stock_imported", counts=imported.counts, skus=imported.skus, locations=imported.locations)
    return imported.summary(STOCK_FILE)


@contextmanager
def _logs_routed(options: DemoOptions, token: str) -> Iterator[None]:
    """Logs to `state/demo.log`, or with `--verbose` to the terminal (stderr under `--json`, whose stdout carries
    only the ready line). The admin token is registered as a secret either way."""
    if options.verbose:
        logs.configure(level="info", secrets=[token])
        if options.as_json:
            _log_to(sys.stderr)
        yield
        return
    LOG_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOG_FILE.open("a", encoding="utf-8") as stream:
        logs.configure(json=False, level="info", secrets=[token])
        _log_to(stream)
        try:
            yield
        finally:
            logging.getLogger().handlers.clear()  # the stream closes next; nothing may write to it after
            structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=sys.stderr))


def _log_to(stream: TextIO) -> None:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=stream))
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def _route_server_logs() -> None:
    """uvicorn's own loggers print to stderr past the root logger; send them where the rest of the log goes."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


def _started(daemon: Any, config: Config, token: str, options: DemoOptions) -> None:
    """Once the daemon listens: subscribe its webhooks on each sandbox (as `connector webhooks register` would)."""
    for name, sync in daemon.syncs.items():
        sync.client.register_webhooks(f"{config.daemon.public_url}/webhooks/{name}")
    log.info("demo_ready", dashboard=config.daemon.public_url + "/")
    _announce(config, token, options)


def _announce(config: Config, token: str, options: DemoOptions) -> None:
    """The ready banner: the last thing the demo prints at start-up (the log goes to its file meanwhile)."""
    url = config.daemon.public_url + "/"
    stores = [{"store": s.name, "platform": s.platform.value, "base_url": s.base_url} for s in config.stores]
    if options.as_json:
        sys.stdout.write(json.dumps({"dashboard_url": url, "admin_token": token, "stores": stores}) + "\n")
    else:
        sys.stdout.write(f"\nDashboard: {url}\nAdmin token: {token}\nConfig: {EFFECTIVE}\n")
        if not options.verbose:
            sys.stdout.write(f"Log: {LOG_FILE}\n")
        for s in stores:
            sys.stdout.write(f"  {s['store']:<18} {s['platform']:<12} {s['base_url']}\n")
        sys.stdout.write("Ctrl-C stops everything.\n\n")
    sys.stdout.flush()
