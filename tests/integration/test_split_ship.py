"""Shipping a split order without naming a location: one part that can ship ships; several are a question."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connector.orders.model import Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.orders.service import Service
from connector.runtime.config import load_config
from connector.stock import ledger
from connector.stock.order_effects import Stocker
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.ingest import ingest_order
from connector.web.app import create_app
from tests.support import ADMIN_TOKEN, cli, write_config

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
STORE = {
    "name": "bc",
    "platform": "bigcommerce",
    "base_url": "https://api.bigcommerce.com/stores/abc",
    "credentials": {"access_token": "tok-123456"},
    "webhook_secret": "whsec-123456",
}
LOCATIONS = [{"name": "amsterdam", "priority": 1}, {"name": "utrecht", "priority": 2}]


@dataclass
class Setup:
    config: Path
    runtime: Runtime
    service: Service


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


@pytest.fixture
def split(tmp_path: Path, sqlite_url: str) -> Iterator[Setup]:
    """Order 100: 1 x A from amsterdam and 2 x B from utrecht (each location holds only one SKU), paid, packed."""
    path = write_config(tmp_path / "c.toml", sqlite_url, stores=[STORE], locations=LOCATIONS)
    config = load_config(path)
    runtime = Runtime.open(config)
    upgrade(runtime.engine)
    runtime.sync_stores()
    order = Order(
        store="bc", platform=Platform.BIGCOMMERCE, external_id="100", number="100", kind=OrderKind.DELIVERY,
        payment_status=PaymentStatus.PAID, platform_status="11", currency="EUR", subtotal=eur("30"),
        shipping_total=eur("0"), tax_total=eur("0"), discount_total=eur("0"), total=eur("30"),
        created_at=datetime(2026, 5, 1, tzinfo=UTC), updated_at=datetime(2026, 5, 1, tzinfo=UTC),
        lines=(Line("A", "Alpha", 1, eur("10"), eur("10")), Line("B", "Beta", 2, eur("10"), eur("20"))),
    )  # fmt: skip
    with runtime.sessions.begin() as session:
        ledger.import_counts(session, [ledger.Count("A", "amsterdam", 5), ledger.Count("B", "utrecht", 5)])
        Stocker(config).on_outcome(session, ingest_order(session, runtime.store_ids["bc"], order, source="test"))
    service = Service(runtime)
    service.act("100", "pack", actor="test")
    yield Setup(path, runtime, service)
    runtime.close()


def parts(service: Service) -> dict[str, str]:
    return {f["location"]: f["status"] for f in service.order("100")["fulfilments"]}


def test_the_cli_asks_which_part_when_several_can_ship(split: Setup) -> None:
    assert parts(split.service) == {"amsterdam": "packed", "utrecht": "packed"}
    result = cli("orders", "ship", "100", "--config", str(split.config))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--location amsterdam  1 x A" in (result.stdout + result.stderr)
    assert "--location utrecht    2 x B" in (result.stdout + result.stderr)
    assert parts(split.service) == {"amsterdam": "packed", "utrecht": "packed"}  # nothing shipped


def test_the_api_answers_422_with_the_choices(split: Setup) -> None:
    with TestClient(create_app(split.runtime)) as client:
        answer = client.post("/api/orders/100/ship", headers=AUTH, json={"tracking": "T1"})
    assert answer.status_code == 422
    assert answer.json()["detail"]["choices"] == [
        {"location": "amsterdam", "lines": [{"sku": "A", "quantity": 1}]},
        {"location": "utrecht", "lines": [{"sku": "B", "quantity": 2}]},
    ]
    assert parts(split.service) == {"amsterdam": "packed", "utrecht": "packed"}


def test_the_one_part_that_can_ship_is_shipped(split: Setup) -> None:
    split.service.act("100", "start", actor="test", location="utrecht")  # utrecht goes back: only amsterdam can ship
    result = cli("orders", "ship", "100", "--tracking", "T1", "--config", str(split.config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert parts(split.service) == {"amsterdam": "shipped", "utrecht": "in_progress"}


def test_orders_show_prints_back_orders_as_text(split: Setup) -> None:
    order = Order(
        store="bc", platform=Platform.BIGCOMMERCE, external_id="101", number="101", kind=OrderKind.DELIVERY,
        payment_status=PaymentStatus.PAID, platform_status="11", currency="EUR", subtotal=eur("10"),
        shipping_total=eur("0"), tax_total=eur("0"), discount_total=eur("0"), total=eur("10"),
        created_at=datetime(2026, 5, 2, tzinfo=UTC), updated_at=datetime(2026, 5, 2, tzinfo=UTC),
        lines=(Line("Z", "Nowhere", 2, eur("5"), eur("10")),),
    )  # fmt: skip
    with split.runtime.sessions.begin() as session:
        outcome = ingest_order(session, split.runtime.store_ids["bc"], order, source="test")
        Stocker(split.runtime.config).on_outcome(session, outcome)
    result = cli("orders", "show", "101", "--config", str(split.config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "back-ordered: 2 x Z, waiting for stock" in (result.stdout + result.stderr)
    assert "{" not in (result.stdout + result.stderr).partition("timeline")[0]
