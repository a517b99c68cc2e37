"""A delete or a cancel from a webhook is applied only when the platform confirms it (issue #15, hole 1).

Platforms sign the body, not the topic (a header, or our `?topic=` query): a validly signed body re-sent under a
destructive topic must not delete or cancel an order the platform still has open. The forged deliveries here are
signed by each sandbox's own signer, exactly as the platform would sign that body; the daemon must read the order
back, find it still open, and dead-letter the delivery with the reason. A real deletion still goes through.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from connector.orders.model import Platform
from connector.storage import tables as t
from connector.storage.types import InboxStatus
from tests.acceptance.harness import Stack, running_stack, wait_for

DELETE_TOPIC = {
    Platform.SHOPIFY: "orders/delete",
    Platform.WOOCOMMERCE: "order.deleted",
    Platform.BIGCOMMERCE: "store/order/archived",
    Platform.LIGHTSPEED: "orders/deleted",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("stack")
    with running_stack(tmp, f"sqlite:///{tmp / 'connector.db'}") as running:
        yield running


def stored(stack: Stack, platform: Platform, ext_id: str) -> t.Order | None:
    with stack.daemon.runtime.sessions() as session:
        return session.scalar(
            select(t.Order).join(t.Store).where(t.Store.name == stack.store(platform), t.Order.external_id == ext_id)
        )


def dead_letters(stack: Stack, platform: Platform, ext_id: str) -> list[str]:
    with stack.daemon.runtime.sessions() as session:
        rows = session.scalars(
            select(t.InboxItem.error)
            .join(t.Store)
            .where(
                t.Store.name == stack.store(platform),
                t.InboxItem.external_id == ext_id,
                t.InboxItem.status == InboxStatus.DEAD.value,
            )
        ).all()
    return [row or "" for row in rows]


def forged(stack: Stack, platform: Platform, ext_id: str, topic: str, body: dict[str, Any]) -> int:
    """Post `body`, signed by the sandbox's own signer, under `topic`; the daemon's status code."""
    box = stack.box(platform)
    raw = json.dumps(body).encode()
    subs = [s for s in box.subscriptions.values() if s.topic == topic or platform is Platform.SHOPIFY]
    sub = subs[0]
    headers = box.webhook_headers(sub, topic, raw, str(uuid.uuid4()), 1)
    if platform is Platform.WOOCOMMERCE:  # unsigned, so the sender's choice; not the one the sandbox's next send has
        headers["X-WC-Webhook-Delivery-ID"] = uuid.uuid4().hex
    query = f"?topic={topic}" if platform is Platform.LIGHTSPEED else ""
    url = f"{stack.url}/webhooks/{stack.store(platform)}{query}"
    return stack.http.post(url, content=raw, headers=headers).status_code


def delete_body(stack: Stack, platform: Platform, ext_id: str) -> dict[str, Any]:
    """The body of a deletion as each platform sends it, for an order it still has."""
    if platform is Platform.BIGCOMMERCE:
        return {
            "scope": DELETE_TOPIC[platform],
            "store_id": "1001",
            "data": {"type": "order", "id": int(ext_id)},
            "hash": uuid.uuid4().hex,
            "created_at": int(time.time()),
            "producer": "stores/sandbox",
        }
    if platform is Platform.LIGHTSPEED:
        return {"order": stack.view(platform, ext_id)["order"]}  # Lightspeed sends the whole order
    return {"id": int(ext_id)}


def new_order(stack: Stack, platform: Platform) -> str:
    created = stack.create_order(platform, {"lines": [{"sku": "SKU-0004", "quantity": 1}], "kind": "delivery"})
    ext_id = str(created.get("order", created)["id"])
    wait_for(lambda: stored(stack, platform, ext_id), what=f"{platform} order {ext_id} stored")
    return ext_id


@pytest.mark.parametrize("platform", list(Platform))
def test_a_signed_delete_the_platform_does_not_confirm_is_a_dead_letter(stack: Stack, platform: Platform) -> None:
    ext_id = new_order(stack, platform)

    assert forged(stack, platform, ext_id, DELETE_TOPIC[platform], delete_body(stack, platform, ext_id)) == 200

    reasons = wait_for(lambda: dead_letters(stack, platform, ext_id), what="the forged delete dead-lettered")
    assert any("not confirmed" in reason and "still has order" in reason for reason in reasons), reasons
    row = stored(stack, platform, ext_id)
    assert row is not None
    assert not row.deleted
    assert row.status != "cancelled"

    # The real deletion, sent by the platform itself, is confirmed by reading the order back and applied.
    stack.change_order(platform, ext_id, {"deleted": True})
    wait_for(lambda: (row := stored(stack, platform, ext_id)) is not None and row.deleted, what="deleted")


def test_a_shopify_order_body_under_the_delete_topic_contradicts_it(stack: Stack) -> None:
    ext_id = new_order(stack, Platform.SHOPIFY)
    body = {"id": int(ext_id), "line_items": [], "financial_status": "paid", "cancelled_at": None}

    assert forged(stack, Platform.SHOPIFY, ext_id, "orders/delete", body) == 200

    reasons = wait_for(lambda: dead_letters(stack, Platform.SHOPIFY, ext_id), what="dead-lettered")
    assert any("contradicts its body" in reason for reason in reasons), reasons
    row = stored(stack, Platform.SHOPIFY, ext_id)
    assert row is not None
    assert not row.deleted


def test_a_signed_shopify_cancel_the_platform_does_not_confirm_is_a_dead_letter(stack: Stack) -> None:
    ext_id = new_order(stack, Platform.SHOPIFY)
    body = {"id": int(ext_id), "cancelled_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}

    assert forged(stack, Platform.SHOPIFY, ext_id, "orders/cancelled", body) == 200

    reasons = wait_for(lambda: dead_letters(stack, Platform.SHOPIFY, ext_id), what="dead-lettered")
    assert any("not confirmed" in reason and "is not cancelled" in reason for reason in reasons), reasons
    row = stored(stack, Platform.SHOPIFY, ext_id)
    assert row is not None
    assert row.status != "cancelled"
