"""BigCommerce webhook receipt on BigCommerce's own sample bodies: Standard Webhooks signatures (signed here from
the algorithm, not with the code under test), dedupe keys, the order each event is about, malformed bodies."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from samples import load_json

from connector.platforms.bigcommerce import budget, parse_webhook, verify_webhook
from connector.runtime.errors import WebhookRejected

SECRET = "bc-app-client-secret"


def sample(scope: str) -> dict[str, Any]:
    body: dict[str, Any] = load_json("bigcommerce", "webhooks", f"{scope.replace('/', '_')}.json")
    return body


def signed(body: bytes, message_id: str = "msg_2a7Vx", secret: str = SECRET, at: float | None = None) -> dict[str, str]:
    stamp = str(int(time.time() if at is None else at))
    digest = hmac.new(secret.encode(), f"{message_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    signature = "v1," + base64.b64encode(digest).decode()
    return {"webhook-id": message_id, "webhook-timestamp": stamp, "webhook-signature": signature}


def raw(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


# --- signatures -------------------------------------------------------------------------------------------------------


def test_a_signed_sample_passes_and_any_listed_v1_signature_may_match() -> None:
    body = raw(sample("store/order/created"))
    headers = signed(body)
    verify_webhook(headers, body, SECRET)
    rotated = {**headers, "webhook-signature": "v1,bm90LXRoaXMtb25l " + headers["webhook-signature"]}
    verify_webhook(rotated, body, SECRET)


@pytest.mark.parametrize(
    "change",
    ["wrong secret", "tampered body", "stale timestamp", "no signature", "no id", "other message id"],
)
def test_bad_signatures_are_refused_with_401_without_the_secret(change: str) -> None:
    body = raw(sample("store/order/updated"))
    headers, secret = signed(body), SECRET
    if change == "wrong secret":
        secret = "another-secret"
    elif change == "tampered body":
        body = body.replace(b"250", b"251")
    elif change == "stale timestamp":
        headers = signed(body, at=time.time() - 301)
    elif change == "other message id":
        headers = {**headers, "webhook-id": "msg_other"}
    else:
        headers.pop("webhook-signature" if change == "no signature" else "webhook-id")
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(headers, body, secret)
    assert refused.value.status == 401
    assert SECRET not in refused.value.reason


def test_no_configured_secret_refuses_everything() -> None:
    body = raw(sample("store/order/created"))
    with pytest.raises(WebhookRejected, match="no webhook_secret"):
        verify_webhook(signed(body), body, "")


# --- what a delivery is about -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "order_id", "deleted"),
    [
        ("store/order/created", "250", False),
        ("store/order/updated", "250", False),
        ("store/order/statusUpdated", "250", False),
        ("store/order/archived", "250", True),
        ("store/order/message/created", "250", False),
        ("store/shipment/created", "251", False),  # data.id is the shipment; data.orderId the order
        ("store/shipment/deleted", "251", False),
    ],
)
def test_samples_name_their_order_and_stay_thin(scope: str, order_id: str, deleted: bool) -> None:
    body = raw(sample(scope))
    delivery = parse_webhook(signed(body), body)
    assert (delivery.topic, delivery.external_id, delivery.deleted) == (scope, order_id, deleted)
    assert delivery.payload is None
    assert not delivery.ping


def test_the_dedupe_key_is_the_message_id_stable_across_retries() -> None:
    body = raw(sample("store/order/updated"))
    first = parse_webhook(signed(body, "msg_1", at=time.time() - 60), body)
    retried = parse_webhook(signed(body, "msg_1"), body)
    assert first.delivery_id == retried.delivery_id == "msg_1"


def test_events_sharing_a_hash_keep_distinct_keys() -> None:
    """BigCommerce's samples give created, updated and archived of order 250 one hash: it cannot be the key alone."""
    scopes = ("store/order/created", "store/order/updated", "store/order/archived")
    bodies = [raw(sample(scope)) for scope in scopes]
    assert len({json.loads(b)["hash"] for b in bodies}) == 1
    by_message = {parse_webhook(signed(b, f"msg_{n}"), b).delivery_id for n, b in enumerate(bodies)}
    without_message = {parse_webhook({}, b).delivery_id for b in bodies}
    assert len(by_message) == len(without_message) == 3
    assert "store/order/created:dd70c0976e06b67aaf671e73f49dcb79230ebf9d:1561479335" in without_message


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[1, 2]", "not a JSON object"),
        (raw({"data": {"type": "order", "id": 1}}), "no scope"),
        (raw({"scope": "store/order/created", "data": [1]}), "no data"),
        (raw({"scope": "store/order/created", "data": {"type": "order"}, "hash": "h"}), "no order id"),
        (raw({"scope": "store/order/created", "data": {"type": "order", "id": "1/../2"}, "hash": "h"}), "no order id"),
        (raw({"scope": "store/product/updated", "data": {"type": "product", "id": 7}, "hash": "h"}), "no order id"),
        (raw({"scope": "store/order/created", "data": {"type": "order", "id": 1}}), "neither"),
    ],
)
def test_malformed_deliveries_are_refused_with_400(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected, match=reason) as refused:
        parse_webhook({}, body)
    assert refused.value.status == 400


def test_the_budget_spaces_calls_at_150_per_30_seconds() -> None:
    assert budget().min_interval == pytest.approx(0.2)
    assert budget() is not budget()
