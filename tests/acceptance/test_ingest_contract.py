"""Ingest, end to end, the same checks for every platform: webhooks, polling, duplicates, reordering, late
deliveries. The daemon runs against the four sandboxes over real HTTP; nothing is mocked.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from connector.orders.model import Platform
from connector.storage import tables as t
from tests.acceptance.harness import Stack, running_stack, wait_for
from tests.support import wait_delivered

PLATFORMS = list(Platform)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    with running_stack(tmp, f"sqlite:///{tmp / 'connector.db'}") as running:
        yield running


def external_id(platform: Platform, created: dict[str, Any]) -> str:
    body = created.get("order", created)
    return str(body["id"])


def stored(stack: Stack, platform: Platform, ext_id: str) -> t.Order | None:
    with stack.daemon.runtime.sessions() as session:
        return session.scalar(
            select(t.Order).join(t.Store).where(t.Store.name == stack.store(platform), t.Order.external_id == ext_id)
        )


def platform_total(view: dict[str, Any], platform: Platform) -> Decimal:
    order = view["order"]
    key = {"shopify": "total_price", "woocommerce": "total", "bigcommerce": "total_inc_tax", "lightspeed": "priceIncl"}
    if platform is Platform.SHOPIFY and order.get("current_total_price") is not None:
        return Decimal(order["current_total_price"])  # Shopify keeps the original total; edits change the current one
    return Decimal(str(order[key[platform.value]]))


@pytest.mark.parametrize("platform", PLATFORMS)
def test_orders_arrive_by_webhook_with_the_right_fields(stack: Stack, platform: Platform) -> None:
    paid = stack.create_order(
        platform,
        {
            "lines": [{"sku": "SKU-0001", "quantity": 2}, {"sku": "SKU-0002", "quantity": 1}],
            "kind": "delivery",
            "paid": True,
        },
    )
    pickup = stack.create_order(
        platform,
        {"lines": [{"sku": "SKU-0003", "quantity": 1}], "kind": "pickup", "paid": False, "pickup_location": "utrecht"},
    )
    for created, kind, payment in ((paid, "delivery", "paid"), (pickup, "pickup", None)):
        ext = external_id(platform, created)
        row = wait_for(lambda ext=ext: stored(stack, platform, ext), timeout=30, what=f"{platform} order {ext}")
        view = stack.view(platform, ext)
        assert row.total == platform_total(view, platform)
        assert row.kind == kind
        if payment:
            assert row.payment_status == payment
        else:
            assert row.payment_status != "paid"
        assert sorted((ln.sku, ln.quantity) for ln in row.lines) == sorted(
            (ln["sku"], ln["quantity"])
            for ln in (
                [{"sku": "SKU-0001", "quantity": 2}, {"sku": "SKU-0002", "quantity": 1}]
                if kind == "delivery"
                else [{"sku": "SKU-0003", "quantity": 1}]
            )
        )
        assert row.totals_difference is None
        with stack.daemon.runtime.sessions() as session:
            sources = {
                e.details.get("source")
                for e in session.scalars(select(t.TimelineEntry).where(t.TimelineEntry.order_id == row.id))
            }
        assert "webhook" in sources
    pickup_row = stored(stack, platform, external_id(platform, pickup))
    assert pickup_row is not None
    assert pickup_row.pickup_location == "utrecht"


@pytest.mark.parametrize("platform", PLATFORMS)
def test_with_webhooks_dropped_orders_arrive_by_polling(stack: Stack, platform: Platform) -> None:
    stack.faults(platform, webhook_drop=1.0)
    try:
        created = stack.create_order(
            platform, {"lines": [{"sku": "SKU-0004", "quantity": 1}], "kind": "delivery", "paid": True}
        )
        ext = external_id(platform, created)
        stack.settle(platform)
        assert stored(stack, platform, ext) is None
        stack.poll_now(platform)
        row = stored(stack, platform, ext)
        assert row is not None
        assert row.lines[0].sku == "SKU-0004"
    finally:
        stack.faults(platform, webhook_drop=0.0)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_duplicated_and_reordered_deliveries_leave_the_newest_state_once(stack: Stack, platform: Platform) -> None:
    stack.faults(platform, webhook_duplicate=1.0, webhook_reorder=True)
    try:
        created = stack.create_order(
            platform, {"lines": [{"sku": "SKU-0005", "quantity": 1}], "kind": "delivery", "paid": True}
        )
        ext = external_id(platform, created)
        time.sleep(1.1)  # platforms stamp changes to the second
        stack.change_order(platform, ext, {"lines": [{"sku": "SKU-0005", "quantity": 3}]})
        time.sleep(1.1)
        stack.change_order(platform, ext, {"lines": [{"sku": "SKU-0005", "quantity": 2}]})
    finally:
        stack.faults(platform, webhook_duplicate=0.0, webhook_reorder=False)
    newest = platform_total(stack.view(platform, ext), platform)
    row = wait_for(
        lambda: (r := stored(stack, platform, ext)) is not None and r.total == newest and r,
        timeout=30,
        what="newest version stored",
    )
    stack.settle(platform)  # the remaining duplicates arrived and were ingested
    row = stored(stack, platform, ext)
    assert row is not None
    assert row.total == newest
    assert [(ln.sku, ln.quantity) for ln in row.lines] == [("SKU-0005", 2)]
    with stack.daemon.runtime.sessions() as session:
        count = session.scalar(
            select(func.count())
            .select_from(t.Order)
            .where(t.Order.external_id == ext, t.Order.store_id == row.store_id)
        )
    assert count == 1


class _Capture(BaseHTTPRequestHandler):
    seen: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        type(self).seen.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_delivery_24_hours_late_changes_nothing(stack: Stack, platform: Platform) -> None:
    box = stack.box(platform)
    _Capture.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Capture)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    daemon_subs = [s for s in box.subscriptions.values() if f"/webhooks/{stack.store(platform)}" in s.address]
    assert daemon_subs, "the daemon's webhook subscriptions were not found on the sandbox"
    for sub in daemon_subs:
        sub.active = False
    capture = box.subscribe_defaults(f"http://127.0.0.1:{server.server_address[1]}/capture")
    try:
        created = stack.create_order(
            platform, {"lines": [{"sku": "SKU-0006", "quantity": 1}], "kind": "delivery", "paid": True}
        )
        ext = external_id(platform, created)
        wait_for(lambda: _Capture.seen, what="captured first delivery")
        wait_delivered(box)
        first = list(_Capture.seen)
        time.sleep(1.1)
        stack.change_order(platform, ext, {"lines": [{"sku": "SKU-0006", "quantity": 4}]})
        stack.poll_now(platform)
        row = stored(stack, platform, ext)
        assert row is not None
        newest_total = row.total
        assert row.lines[0].quantity == 4
        # The day-old event now arrives, re-signed as the platform's retry would be.
        for sub in daemon_subs:
            sub.active = True
        target = daemon_subs[0]
        for headers, body in first:
            topic = next((v for k, v in headers.items() if k in {"x-shopify-topic", "x-wc-webhook-topic"}), "order")
            event_id = headers.get("x-shopify-event-id") or headers.get("webhook-id") or "late-event"
            resigned = box.webhook_headers(target, topic, body, event_id, 3)
            answer = httpx.post(target.address, content=body, headers=resigned, timeout=10)
            assert answer.status_code == 200, answer.text
        stack.settle(platform)  # the late events are kept (answered 200) and now ingested
        row = stored(stack, platform, ext)
        assert row is not None
        assert row.total == newest_total
        assert row.lines[0].quantity == 4
    finally:
        for sub in capture:
            sub.active = False
        server.shutdown()
        server.server_close()


def test_bad_signature_is_refused_and_nothing_kept(stack: Stack, tmp_path: Path) -> None:
    for platform in PLATFORMS:
        response = httpx.post(
            f"{stack.url}/webhooks/{stack.store(platform)}",
            content=json.dumps({"id": 1}),
            headers={
                "content-type": "application/json",
                "x-shopify-hmac-sha256": "bad",
                "x-wc-webhook-signature": "bad",
                "x-signature": "bad",
                "webhook-id": "x",
                "webhook-timestamp": str(int(time.time())),
                "webhook-signature": "v1,bad",
            },
        )
        assert response.status_code == 401, (platform, response.text)
        assert response.json()["error"]
    big = httpx.post(f"{stack.url}/webhooks/{stack.store(Platform.SHOPIFY)}", content=b"x" * (1024 * 1024 + 1))
    assert big.status_code == 413
    with stack.daemon.runtime.sessions() as session:
        kept = session.scalar(select(func.count()).select_from(t.InboxItem).where(t.InboxItem.external_id == "1"))
    assert kept == 0
