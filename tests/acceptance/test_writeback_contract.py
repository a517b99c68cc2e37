"""Write-back, end to end, over every platform: pack and ship through the connector, then ask each sandbox what
the platform now shows. Faults on the platform side must not lose or double a write.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from connector.orders.fulfilment import Tracking
from connector.orders.model import Platform
from connector.orders.service import Service
from connector.stock.ledger import Count
from connector.storage import tables as t
from tests.acceptance.harness import LOCATIONS, Stack, running_stack, wait_for

PLATFORMS = list(Platform)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("writeback")
    with running_stack(tmp, f"sqlite:///{tmp / 'connector.db'}", outbox_interval="1s") as running:
        service = Service(running.daemon.runtime)
        service.set_stock([Count(f"SKU-{n:04d}", loc, 50) for n in range(1, 25) for loc in LOCATIONS], "acceptance")
        yield running


def ingested(stack: Stack, platform: Platform, spec: dict[str, Any]) -> tuple[str, str]:
    created = stack.create_order(platform, spec)
    ext = str(created.get("order", created)["id"])
    ref = f"{stack.store(platform)}:{ext}"

    def present() -> bool:
        with stack.daemon.runtime.sessions() as session:
            return (
                session.scalar(
                    select(t.Order.id)
                    .join(t.Store)
                    .where(t.Store.name == stack.store(platform), t.Order.external_id == ext)
                )
                is not None
            )

    wait_for(present, timeout=30, what=f"{ref} ingested")
    return ext, ref


def settled(stack: Stack, ref: str) -> dict[str, Any]:
    """The order once its outbox is empty (every queued write applied or given up)."""
    service = Service(stack.daemon.runtime)

    def done() -> dict[str, Any] | None:
        stack.daemon._wake_outbox()
        items = [o for o in service.outbox(limit=500) if o["order"] == service.order(ref)["number"]]
        return service.order(ref) if all(o["status"] in {"done", "skipped", "failed"} for o in items) else None

    return wait_for(done, timeout=60, every=0.3, what=f"{ref} write-backs applied")


def platform_state(stack: Stack, platform: Platform, ext: str) -> dict[str, Any]:
    return stack.view(platform, ext)


def status_of(view: dict[str, Any], platform: Platform) -> str:
    order = view["order"]
    return {
        Platform.SHOPIFY: lambda: str(order.get("fulfillment_status")),
        Platform.WOOCOMMERCE: lambda: str(order["status"]),
        Platform.BIGCOMMERCE: lambda: str(order["status_id"]),
        Platform.LIGHTSPEED: lambda: str(order["status"]),
    }[platform]()


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("kind", ["delivery", "pickup"])
def test_pack_writes_only_where_the_platform_has_a_state(stack: Stack, platform: Platform, kind: str) -> None:
    spec: dict[str, Any] = {"lines": [{"sku": "SKU-0007", "quantity": 1}], "kind": kind, "paid": True}
    if kind == "pickup":
        spec["pickup_location"] = "amsterdam"
    ext, ref = ingested(stack, platform, spec)
    before = status_of(platform_state(stack, platform, ext), platform)
    service = Service(stack.daemon.runtime)
    service.act(ref, "pack", actor="test")
    settled(stack, ref)
    after = status_of(platform_state(stack, platform, ext), platform)
    if platform is Platform.BIGCOMMERCE:
        assert after == ("8" if kind == "pickup" else "9")
    else:
        assert after == before


@pytest.mark.parametrize("platform", PLATFORMS)
def test_ship_with_tracking_completes_the_order_on_the_platform(stack: Stack, platform: Platform) -> None:
    ext, ref = ingested(
        stack, platform, {"lines": [{"sku": "SKU-0008", "quantity": 2}], "kind": "delivery", "paid": True}
    )
    service = Service(stack.daemon.runtime)
    service.act(ref, "pack", actor="test")
    service.act(ref, "ship", actor="test", tracking=Tracking("3SABC123", "PostNL", "https://track.example/3SABC123"))
    order = settled(stack, ref)
    assert order["status"] == "completed"
    view = platform_state(stack, platform, ext)
    if platform is Platform.SHOPIFY:
        fulfillments = view["order"]["fulfillments"]
        assert len(fulfillments) == 1
        assert fulfillments[0]["tracking_number"] == "3SABC123"
        assert view["order"]["fulfillment_status"] == "fulfilled"
    else:
        assert (
            status_of(view, platform)
            == {"woocommerce": "completed", "bigcommerce": "10", "lightspeed": "completed"}[platform.value]
        )
    outbound = [e["summary"] for e in order["timeline"] if e["kind"] == "outbound"]
    assert any("written" in s for s in outbound), outbound


@pytest.mark.parametrize("platform", [Platform.WOOCOMMERCE, Platform.BIGCOMMERCE])
def test_unpaid_ship_is_refused_until_pay(stack: Stack, platform: Platform) -> None:
    ext, ref = ingested(
        stack, platform, {"lines": [{"sku": "SKU-0009", "quantity": 1}], "kind": "delivery", "paid": False}
    )
    service = Service(stack.daemon.runtime)
    service.act(ref, "pack", actor="test")
    from connector.orders.fulfilment import ActionRefused

    with pytest.raises(ActionRefused, match="record a payment first"):
        service.act(ref, "ship", actor="test")
    total = service.order(ref)["total"]
    service.pay(ref, total, "bank transfer", actor="test")
    service.act(ref, "ship", actor="test")
    settled(stack, ref)
    assert status_of(platform_state(stack, platform, ext), platform) in {"completed", "10"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_split_order_is_completed_only_after_the_last_location(stack: Stack, platform: Platform) -> None:
    service = Service(stack.daemon.runtime)
    service.set_stock(
        [
            Count("SKU-0010", "amsterdam", 1),
            Count("SKU-0010", "utrecht", 0),
            Count("SKU-0010", "rotterdam", 0),
            Count("SKU-0011", "amsterdam", 0),
            Count("SKU-0011", "utrecht", 1),
            Count("SKU-0011", "rotterdam", 0),
        ]
    )
    ext, ref = ingested(
        stack,
        platform,
        {
            "lines": [{"sku": "SKU-0010", "quantity": 1}, {"sku": "SKU-0011", "quantity": 1}],
            "kind": "delivery",
            "paid": True,
        },
    )
    order = service.order(ref)
    assert sorted(f["location"] for f in order["fulfilments"]) == ["amsterdam", "utrecht"]
    service.act(ref, "pack", actor="test")
    service.act(ref, "ship", actor="test", location="amsterdam", tracking=Tracking("T-AMS", "DHL"))
    settled(stack, ref)
    view = platform_state(stack, platform, ext)
    if platform is Platform.SHOPIFY:
        assert len(view["order"]["fulfillments"]) == 1
    else:
        assert status_of(view, platform) not in {"completed", "10"}
    service.act(ref, "ship", actor="test", location="utrecht", tracking=Tracking("T-UTR", "DHL"))
    settled(stack, ref)
    view = platform_state(stack, platform, ext)
    if platform is Platform.SHOPIFY:
        assert len(view["order"]["fulfillments"]) == 2
        assert view["order"]["fulfillment_status"] == "fulfilled"
    else:
        assert status_of(view, platform) in {"completed", "10"}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_writes_land_exactly_once_through_faults(stack: Stack, platform: Platform) -> None:
    ext, ref = ingested(
        stack, platform, {"lines": [{"sku": "SKU-0012", "quantity": 1}], "kind": "delivery", "paid": True}
    )
    service = Service(stack.daemon.runtime)
    stack.faults(platform, error_rate=0.4, latency_ms=50)
    try:
        service.act(ref, "pack", actor="test")
        service.act(ref, "ship", actor="test", tracking=Tracking("FAULT1", "UPS"))
        settled(stack, ref)
    finally:
        stack.faults(platform, error_rate=0.0, latency_ms=0)
    view = platform_state(stack, platform, ext)
    writes = [w for w in view["writes"] if w["method"] in {"POST", "PUT"}]
    if platform is Platform.SHOPIFY:
        assert len(view["order"]["fulfillments"]) == 1
    else:
        completing = [w for w in writes if "10" in str(w["body"]) or "completed" in str(w["body"])]
        assert len(completing) == 1, writes


@pytest.mark.parametrize("platform", PLATFORMS)
def test_crash_after_the_platform_accepted_does_not_write_twice(stack: Stack, platform: Platform) -> None:
    ext, ref = ingested(
        stack, platform, {"lines": [{"sku": "SKU-0013", "quantity": 1}], "kind": "delivery", "paid": True}
    )
    service = Service(stack.daemon.runtime)
    runtime = stack.daemon.runtime
    stack.daemon.scheduler.pause_job("outbox")  # keep the worker out while we play the crashed replica
    try:
        service.act(ref, "pack", actor="test")
        service.act(ref, "ship", actor="test", tracking=Tracking("CRASH1", "UPS"))
        with runtime.sessions.begin() as session:
            from connector.sync.outbox import claim, to_write

            ids = claim(session, [runtime.store_ids[stack.store(platform)]], "crashed-replica")
            rows = [session.get(t.OutboxItem, i) for i in ids]
            writes = [to_write(r, stack.daemon.syncs[stack.store(platform)].location_ids) for r in rows if r]
            for row in rows:
                assert row is not None
                row.claimed_until = row.created_at  # the crashed replica's claim has long expired
        for write in writes:  # the platform accepts ...
            stack.daemon.syncs[stack.store(platform)].client.apply_write(write)
        # ... and the replica dies before recording it: the rows stay in flight with an expired claim.
    finally:
        stack.daemon.scheduler.resume_job("outbox")
    order = settled(stack, ref)
    view = platform_state(stack, platform, ext)
    if platform is Platform.SHOPIFY:
        assert len(view["order"]["fulfillments"]) == 1
    summaries = [e["summary"] for e in order["timeline"] if e["kind"] == "outbound"]
    assert any("already on the platform" in s for s in summaries), summaries
