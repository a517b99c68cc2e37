"""Per-store write-back overrides against the sandboxes: Shopify ready-for-pickup, BigCommerce shipments with
tracking, Lightspeed's finer statuses, a custom WooCommerce status, and local cancellation written back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connector.orders.fulfilment import Tracking
from connector.orders.model import Platform
from connector.orders.service import Service
from connector.stock.ledger import Count
from tests.acceptance.harness import LOCATIONS, Stack, running_stack
from tests.acceptance.test_writeback_contract import ingested, settled

WRITEBACK: dict[Platform, dict[str, Any]] = {
    Platform.SHOPIFY: {"ready_for_pickup": True},
    Platform.BIGCOMMERCE: {"shipments": True, "cancel": True},
    Platform.LIGHTSPEED: {"detailed_statuses": True},
    Platform.WOOCOMMERCE: {"statuses": {"packed_delivery": "on-hold"}, "cancel": True},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("overrides")
    with running_stack(tmp, f"sqlite:///{tmp / 'c.db'}", outbox_interval="1s", writeback=WRITEBACK) as running:
        Service(running.daemon.runtime).set_stock(
            [Count(f"SKU-{n:04d}", loc, 50) for n in range(1, 25) for loc in LOCATIONS], "overrides"
        )
        yield running


def test_shopify_ready_for_pickup_when_packed(stack: Stack) -> None:
    spec = {"lines": [{"sku": "SKU-0002", "quantity": 1}], "kind": "pickup", "paid": True, "pickup_location": "utrecht"}
    ext, ref = ingested(stack, Platform.SHOPIFY, spec)
    Service(stack.daemon.runtime).act(ref, "pack", actor="test")
    order = settled(stack, ref)
    view = stack.view(Platform.SHOPIFY, ext)
    assert any("ready" in str(w).lower() or "prepared" in str(w).lower() for w in view["writes"]), view["writes"]
    assert any("ready_for_pickup -> ready" in e["summary"] and "written" in e["summary"] for e in order["timeline"])


def test_bigcommerce_shipment_with_tracking_then_completed(stack: Stack) -> None:
    ext, ref = ingested(stack, Platform.BIGCOMMERCE, {"lines": [{"sku": "SKU-0003", "quantity": 2}], "kind": "delivery",
                                                      "paid": True})  # fmt: skip
    service = Service(stack.daemon.runtime)
    service.act(ref, "pack", actor="test")
    service.act(ref, "ship", actor="test", tracking=Tracking("1Z999", "UPS", "https://ups.example/1Z999"))
    settled(stack, ref)
    view = stack.view(Platform.BIGCOMMERCE, ext)
    assert [s["tracking_number"] for s in view["shipments"]] == ["1Z999"]
    assert view["order"]["status_id"] == 10


def test_lightspeed_finer_statuses(stack: Stack) -> None:
    ext, ref = ingested(stack, Platform.LIGHTSPEED, {"lines": [{"sku": "SKU-0004", "quantity": 1}], "kind": "delivery",
                                                     "paid": True})  # fmt: skip
    service = Service(stack.daemon.runtime)
    service.act(ref, "pack", actor="test")
    settled(stack, ref)
    assert stack.view(Platform.LIGHTSPEED, ext)["order"]["status"] == "processing_awaiting_shipment"
    service.act(ref, "ship", actor="test", tracking=Tracking("LS-1", "PostNL"))
    settled(stack, ref)
    assert stack.view(Platform.LIGHTSPEED, ext)["order"]["status"] == "completed_shipped"


def test_custom_status_and_local_cancel_on_woocommerce(stack: Stack) -> None:
    ext, ref = ingested(stack, Platform.WOOCOMMERCE, {"lines": [{"sku": "SKU-0005", "quantity": 1}], "kind": "delivery",
                                                      "paid": True})  # fmt: skip
    service = Service(stack.daemon.runtime)
    service.act(ref, "pack", actor="test")
    settled(stack, ref)
    assert stack.view(Platform.WOOCOMMERCE, ext)["order"]["status"] == "on-hold"
    service.act(ref, "cancel", actor="test")
    settled(stack, ref)
    assert stack.view(Platform.WOOCOMMERCE, ext)["order"]["status"] == "cancelled"


def test_local_cancel_on_bigcommerce_is_written_as_5(stack: Stack) -> None:
    ext, ref = ingested(stack, Platform.BIGCOMMERCE, {"lines": [{"sku": "SKU-0006", "quantity": 1}], "kind": "delivery",
                                                      "paid": True})  # fmt: skip
    Service(stack.daemon.runtime).act(ref, "cancel", actor="test")
    settled(stack, ref)
    assert stack.view(Platform.BIGCOMMERCE, ext)["order"]["status_id"] == 5
