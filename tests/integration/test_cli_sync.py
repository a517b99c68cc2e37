"""The CLI against a live sandbox: resync (backfill), webhooks register, orders actions, stock, inbox, outbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.bigcommerce import BigCommerceSandbox
from sandbox.runner import serve
from tests.support import cli, write_config

LOCATIONS = ("amsterdam", "utrecht")


@pytest.fixture(scope="module")
def sandbox() -> Iterator[BigCommerceSandbox]:
    box = BigCommerceSandbox(locations=LOCATIONS, seed=4)
    box.rate_limit = "off"
    with serve(box):
        box.seed_orders(4, 30)
        yield box


@pytest.fixture
def config(tmp_path: Path, sandbox: BigCommerceSandbox) -> Path:
    d = sandbox.describe()
    store = {
        "name": "bc",
        "platform": "bigcommerce",
        "base_url": d["base_url"],
        "credentials": d["credentials"],
        "webhook_secret": d["webhook_secret"],
    }
    locations = [
        {"name": n, "priority": i + 1, "pickup": True, "platform_ids": {"bigcommerce": d["locations"][n]}}
        for i, n in enumerate(LOCATIONS)
    ]
    return write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'c.db'}", stores=[store], locations=locations)


def run_json(*args: str, cwd: Path) -> Any:
    result = cli(*args, "--json", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_resync_backfills_and_is_idempotent(config: Path, tmp_path: Path) -> None:
    first = cli("resync", "--store", "bc", "--since", "60d", "--config", str(config), cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "30 orders read" in first.stdout
    assert "30 stored" in first.stdout
    again = cli("resync", "--store", "bc", "--since", "60d", "--config", str(config), cwd=tmp_path)
    assert "0 stored" in again.stdout
    orders = run_json("orders", "list", "--limit", "100", "--config", str(config), cwd=tmp_path)
    assert len(orders) == 30
    assert {o["platform"] for o in orders} == {"bigcommerce"}
    bad = cli("resync", "--store", "nope", "--since", "1d", "--config", str(config), cwd=tmp_path)
    assert bad.returncode == 2
    assert "no store named 'nope'" in bad.stderr


def test_webhooks_register_uses_the_platform_api(config: Path, tmp_path: Path, sandbox: BigCommerceSandbox) -> None:
    result = cli("webhooks", "register", "--store", "bc", "--config", str(config), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    hooks = httpx.get(f"{sandbox.root_url}/_sandbox/webhooks").json()["subscriptions"]
    assert any(h["address"].endswith("/webhooks/bc") and h["topic"] == "store/order/created" for h in hooks)
    again = cli("webhooks", "register", "--store", "bc", "--config", str(config), cwd=tmp_path)
    assert again.returncode == 0
    assert len(httpx.get(f"{sandbox.root_url}/_sandbox/webhooks").json()["subscriptions"]) == len(hooks)


def test_stock_import_show_and_simulate(config: Path, tmp_path: Path) -> None:
    csv = tmp_path / "stock.csv"
    csv.write_text("sku,location,on_hand\nSKU-0001,amsterdam,4\nSKU-0001,utrecht,2\n")
    imported = cli("stock", "import", str(csv), "--config", str(config), cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    rows = run_json("stock", "show", "--sku", "SKU-0001", "--config", str(config), cwd=tmp_path)
    assert {(r["location"], r["on_hand"], r["available"]) for r in rows} == {("amsterdam", 4, 4), ("utrecht", 2, 2)}
    csv.write_text("sku,location,on_hand\nSKU-0001,paris,4\n")
    refused = cli("stock", "import", str(csv), "--config", str(config), cwd=tmp_path)
    assert refused.returncode == 2
    assert "unknown location 'paris'" in refused.stderr
    cli("resync", "--store", "bc", "--since", "60d", "--config", str(config), cwd=tmp_path)
    report = run_json(
        "allocation", "simulate", "--since", "60d", "--strategy", "priority", "--config", str(config), cwd=tmp_path
    )
    assert report["orders"] == 30
    assert set(report["priority"]) == {"split_orders", "locations_used", "back_ordered_orders", "back_ordered_units"}


def test_order_actions_inbox_and_outbox_from_the_cli(config: Path, tmp_path: Path) -> None:
    csv = tmp_path / "stock.csv"
    csv.write_text("sku,location,on_hand\n" + "".join(f"SKU-{n:04d},amsterdam,100\n" for n in range(1, 25)))
    assert cli("stock", "import", str(csv), "--config", str(config), cwd=tmp_path).returncode == 0
    cli("resync", "--store", "bc", "--since", "60d", "--config", str(config), cwd=tmp_path)
    orders = run_json("orders", "list", "--status", "open", "--config", str(config), cwd=tmp_path)
    target = next(o for o in orders if o["fulfilments"] and o["kind"] == "delivery")
    ref = f"bc:{target['external_id']}"
    shown = run_json("orders", "show", ref, "--config", str(config), cwd=tmp_path)
    assert shown["timeline"][0]["kind"] == "inbound"
    raw = cli("orders", "show", ref, "--raw", "--config", str(config), cwd=tmp_path)
    assert raw.returncode == 0
    assert "timeline" in raw.stdout
    assert cli("orders", "note", ref, "gift wrap please", "--config", str(config), cwd=tmp_path).returncode == 0
    ship_early = cli("orders", "ship", ref, "--tracking", "X1", "--config", str(config), cwd=tmp_path)
    assert ship_early.returncode == 1
    assert "pack it first" in ship_early.stderr or "record a payment first" in ship_early.stderr
    packed = run_json("orders", "pack", ref, "--config", str(config), cwd=tmp_path)
    assert packed["fulfilment_status"] == "packed"
    queued = run_json("outbox", "list", "--config", str(config), cwd=tmp_path)
    assert [(o["action"], o["target"]) for o in queued][:1] == [("set_status", "9")]
    assert cli("outbox", "retry", str(queued[0]["id"]), "--config", str(config), cwd=tmp_path).returncode == 0
    assert cli("outbox", "retry", "999999", "--config", str(config), cwd=tmp_path).returncode == 1
    assert run_json("inbox", "list", "--dead", "--config", str(config), cwd=tmp_path) == []
    assert cli("inbox", "replay", "424242", "--config", str(config), cwd=tmp_path).returncode == 1
