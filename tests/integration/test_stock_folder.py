"""The watched import folder: each dropped file imported once, refused files kept with the reason, and the daemon
serving a back-order from a dropped file."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client import generate_latest

from connector.app.daemon import Daemon
from connector.runtime.config import load_config
from connector.stock import ledger
from connector.stock.folder import ImportFolder
from connector.stock.order_effects import Stocker
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from tests.integration.test_cli import BC_STORE
from tests.integration.test_cli_stock import _waiting_orders
from tests.integration.test_daemon import wait_ready
from tests.support import ADMIN_TOKEN, cli_process, write_config


@pytest.fixture
def folder(tmp_path: Path, sqlite_url: str) -> Iterator[ImportFolder]:
    path = write_config(tmp_path / "c.toml", sqlite_url, locations=[{"name": "amsterdam"}, {"name": "utrecht"}])
    runtime = Runtime.open(load_config(path))
    upgrade(runtime.engine)
    (tmp_path / "in").mkdir()
    yield ImportFolder(runtime, Stocker(runtime.config), tmp_path / "in")
    runtime.close()


def drop(folder: ImportFolder, name: str, text: str) -> None:
    """As a POS should: write under another name, then rename into the folder."""
    partial = folder.folder / f"{name}.part"
    partial.write_text(text)
    partial.rename(folder.folder / name)


def on_hand(folder: ImportFolder) -> dict[tuple[str, str], int]:
    with folder.runtime.reads() as session:
        return {where: level.on_hand for where, level in ledger.levels(session).items()}


def test_a_dropped_file_is_imported_once_and_moved_to_done(folder: ImportFolder) -> None:
    drop(folder, "counts.csv", "sku,location,on_hand\nA,amsterdam,4\n")
    (folder.folder / ".hidden.csv").write_text("sku,location,on_hand\nA,amsterdam,99\n")
    (folder.folder / "notes.txt").write_text("not a stock file")
    [outcome] = folder.scan()
    assert outcome.result is not None
    assert (outcome.name, outcome.result.changed) == ("counts.csv", 1)
    assert on_hand(folder) == {("A", "amsterdam"): 4}
    assert (folder.folder / "done" / "counts.csv").exists()
    assert not (folder.folder / "counts.csv").exists()
    assert folder.scan() == []
    drop(folder, "counts.csv", "sku,location,on_hand\nA,amsterdam,4\n")  # the same file again: moves nothing
    [again] = folder.scan()
    assert again.result is not None
    assert again.result.changed == 0
    assert (folder.folder / "done" / "counts.1.csv").exists()
    assert sorted(p.name for p in folder.folder.iterdir() if p.is_file()) == [".hidden.csv", "notes.txt"]


def test_a_refused_file_goes_to_failed_with_the_line_and_column(folder: ImportFolder) -> None:
    drop(folder, "moves.csv", "key,sku,location,delta,reason\nm1,A,amsterdam,5,receipt\nm2,A,paris,1,receipt\n")
    [outcome] = folder.scan()
    assert outcome.result is None
    error = (folder.folder / "failed" / "moves.csv.error").read_text()
    assert "line 3, column 3 (location): unknown location 'paris'" in error
    assert (folder.folder / "failed" / "moves.csv").exists()
    assert on_hand(folder) == {}


def test_the_daemon_serves_a_back_order_from_a_dropped_file(tmp_path: Path, sqlite_url: str) -> None:
    # The store's platform is a closed local port polled once an hour: no traffic leaves the machine.
    store = BC_STORE | {"base_url": "http://127.0.0.1:9/stores/abc", "poll_interval": "1h"}
    config = Path(_waiting_orders(tmp_path, sqlite_url, store))
    inbox = tmp_path / "pos"
    inbox.mkdir()
    config.write_text(config.read_text() + f'\n[stock]\nimport_dir = "{inbox}"\nimport_interval = "200ms"\n')
    listen = load_config(config).daemon.listen
    proc = cli_process("run", "--config", str(config), cwd=tmp_path)
    try:
        wait_ready(f"http://{listen}/readyz")
        (tmp_path / "counts.csv").write_text("sku,location,on_hand\nA,amsterdam,3\n")
        (tmp_path / "counts.csv").rename(inbox / "counts.csv")
        headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        deadline = time.monotonic() + 30  # generous: the done-when asks for 10 s, a loaded machine may be slower
        while time.monotonic() < deadline:
            older = httpx.get(f"http://{listen}/api/orders/200", headers=headers).json()
            if not older["back_orders"]:
                break
            time.sleep(0.1)
        assert older["back_orders"] == {}
        assert [f["location"] for f in older["fulfilments"]] == ["amsterdam"]
        newer = httpx.get(f"http://{listen}/api/orders/201", headers=headers).json()
        assert newer["back_orders"] == {"A": 1}
        assert (inbox / "done" / "counts.csv").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_waiting_orders_per_location_are_a_gauge(tmp_path: Path, sqlite_url: str) -> None:
    runtime = Runtime.open(load_config(_waiting_orders(tmp_path, sqlite_url)))
    try:
        Daemon(runtime)._update_gauges()
        exposed = generate_latest(runtime.metrics.registry).decode()
    finally:
        runtime.close()
    assert 'connector_back_ordered_orders{location="(any location)"} 2.0' in exposed
    assert 'connector_back_ordered_orders{location="amsterdam"} 0.0' in exposed
