"""`connector stock import|move|history` as a user runs them, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from connector.orders.model import Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.runtime.config import load_config
from connector.stock.order_effects import Stocker
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.ingest import ingest_order
from tests.integration.test_cli import BC_STORE
from tests.support import cli, write_config


def _waiting_orders(tmp_path: Path, database_url: str, store: dict[str, Any] = BC_STORE) -> str:
    """A configuration whose database holds orders 200 (3 x A, older) and 201 (1 x A), both back-ordered."""
    path = write_config(
        tmp_path / "c.toml", database_url, stores=[store], locations=[{"name": "amsterdam", "priority": 1}]
    )
    config = load_config(path)
    runtime = Runtime.open(config)
    eur = Money(Decimal("1"), "EUR")
    try:
        upgrade(runtime.engine)
        runtime.sync_stores()
        with runtime.sessions.begin() as session:
            for number, units, minute in (("201", 1, 5), ("200", 3, 0)):  # the newer one is ingested first
                when = datetime(2026, 5, 1, tzinfo=UTC) + timedelta(minutes=minute)
                order = Order(
                    store="bc",
                    platform=Platform.BIGCOMMERCE,
                    external_id=number,
                    number=number,
                    kind=OrderKind.DELIVERY,
                    payment_status=PaymentStatus.PAID,
                    platform_status="11",
                    currency="EUR",
                    subtotal=eur,
                    shipping_total=eur,
                    tax_total=eur,
                    discount_total=eur,
                    total=eur,
                    created_at=when,
                    updated_at=when,
                    lines=(Line("A", "Alpha", units, eur, eur),),
                )
                Stocker(config).on_outcome(session, ingest_order(session, runtime.store_ids["bc"], order, source="t"))
    finally:
        runtime.close()
    return str(path)


def _show(config: str, number: str) -> dict[str, Any]:
    shown = cli("orders", "show", number, "--json", "-c", config)
    assert shown.returncode == 0, shown.stderr
    data: dict[str, Any] = json.loads(shown.stdout)
    return data


def test_stock_import_serves_the_oldest_back_order_first(tmp_path: Path, database_url: str) -> None:
    config = _waiting_orders(tmp_path, database_url)
    (tmp_path / "counts.csv").write_text("sku,location,on_hand\nA,amsterdam,3\n")
    result = cli("stock", "import", str(tmp_path / "counts.csv"), "-c", config)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["1 counts read, 1 levels changed", "1 back-ordered orders took the new stock"]
    older, newer = _show(config, "200"), _show(config, "201")
    assert older["back_orders"] == {}
    assert [(f["location"], f["lines"]) for f in older["fulfilments"]] == [("amsterdam", [{"sku": "A", "quantity": 3}])]
    assert newer["back_orders"] == {"A": 1}


def test_a_file_with_a_bad_line_is_refused_whole(tmp_path: Path, database_url: str) -> None:
    config = _waiting_orders(tmp_path, database_url)
    (tmp_path / "m.csv").write_text("key,sku,location,delta,reason\nm1,A,amsterdam,4,receipt\nm2,A,amsterdam,x,sale\n")
    result = cli("stock", "import", str(tmp_path / "m.csv"), "-c", config)
    assert result.returncode == 2
    assert "line 3, column 4 (delta): 'x' is not a whole number (nothing was applied)" in result.stderr
    shown = cli("stock", "show", "--json", "-c", config)
    assert json.loads(shown.stdout) == []
    assert _show(config, "200")["back_orders"] == {"A": 3}


def test_stock_move_and_history(tmp_path: Path, database_url: str) -> None:
    config = _waiting_orders(tmp_path, database_url)
    args = ("stock", "move", "A", "--location", "amsterdam", "--delta", "5", "--reason", "receipt", "--key", "r-1")
    moved = cli(*args, "-c", config)
    assert moved.returncode == 0, moved.stderr
    assert moved.stdout.strip() == "r-1: applied"
    assert cli(*args, "-c", config).stdout.strip() == "r-1: duplicate (key seen before: nothing moved)"
    history = json.loads(cli("stock", "history", "A", "--json", "-c", config).stdout)
    assert [(h["kind"], h["reason"], h["on_hand"], h["available"]) for h in history] == [
        ("allocate", None, 5, 1),  # 201 takes the last unit, after 200 took 3
        ("allocate", None, 5, 2),
        ("move", "receipt", 5, 5),
    ]
    wrong = cli("stock", "move", "A", "--location", "paris", "--delta", "1", "--reason", "receipt", "-c", config)
    assert wrong.returncode == 2
    assert "--location: unknown location 'paris'" in wrong.stderr
    sign = cli("stock", "move", "A", "--location", "amsterdam", "--delta", "1", "--reason", "sale", "-c", config)
    assert sign.returncode == 2
    assert "a sale removes units" in sign.stderr


def test_back_orders_show_in_orders_list_and_status(tmp_path: Path, sqlite_url: str) -> None:
    config = _waiting_orders(tmp_path, sqlite_url)
    listed = json.loads(cli("orders", "list", "--backordered", "--json", "-c", config).stdout)
    assert [(o["number"], o["back_orders"]) for o in listed] == [("201", {"A": 1}), ("200", {"A": 3})]
    table = cli("orders", "list", "--backordered", "-c", config, env={"COLUMNS": "250"}).stdout
    assert "3xA" in table
    status = json.loads(cli("status", "--json", "-c", config).stdout)
    assert status["back_orders"] == [{"location": "(any location)", "orders": 2, "units": 4}]
    (tmp_path / "counts.csv").write_text("sku,location,on_hand\nA,amsterdam,4\n")
    assert cli("stock", "import", str(tmp_path / "counts.csv"), "-c", config).returncode == 0
    assert json.loads(cli("orders", "list", "--backordered", "--json", "-c", config).stdout) == []
    assert json.loads(cli("status", "--json", "-c", config).stdout)["back_orders"] == []
    assert "No back-orders" in cli("status", "-c", config).stdout
