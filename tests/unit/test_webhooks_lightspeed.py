"""Lightspeed eCom webhook receipt without a network: the md5 signature over the raw bytes, the topic taken from the
subscription address, the dedupe key, and what a malformed body is refused with.

Bodies are written as Lightspeed's PHP back end encodes them (compact, `\\/` for `/`); the signature is computed
here independently, by the community-documented rule: hex md5(raw body + API secret).
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connector.platforms.lightspeed import parse_webhook, verify_webhook
from connector.runtime.errors import WebhookRejected

SECRET = "0123456789abcdef0123456789abcdef"
LINK = "https:\\/\\/api.webshopapp.com\\/nl\\/orders\\/123\\/products.json"


def php_body(order: dict[str, Any]) -> bytes:
    return json.dumps({"order": order}, separators=(",", ":")).replace("/", "\\/").encode()


def signed(body: bytes, topic: str | None = None) -> dict[str, str]:
    headers = {"x-signature": hashlib.md5(body + SECRET.encode(), usedforsecurity=False).hexdigest()}
    if topic is not None:
        headers["x-connector-topic"] = topic
    return headers


def order(**fields: Any) -> dict[str, Any]:
    product = {"id": 7, "sku": "SKU-1", "quantityOrdered": 1, "basePriceExcl": 10, "priceExcl": 10}
    products = {"resource": {"id": False, "url": "orders/123/products", "embedded": [product]}}
    return {"id": 123, "updatedAt": "2024-06-03T00:56:12+02:00", "products": products, **fields}


def test_a_signed_body_verifies_and_any_change_or_wrong_secret_does_not() -> None:
    body = php_body(order())
    assert b"orders\\/123\\/products" in body  # PHP's escaping: the signature covers exactly these bytes
    verify_webhook(signed(body), body, SECRET)
    for headers, raw, secret in (
        (signed(body), body.replace(b"123", b"124"), SECRET),
        (signed(body), body, SECRET[:-1] + "0"),
        (signed(body), json.dumps(json.loads(body)).encode(), SECRET),  # re-encoded: not the bytes that were signed
        ({}, body, SECRET),
        (signed(body), body, ""),
    ):
        with pytest.raises(WebhookRejected) as refused:
            verify_webhook(headers, raw, secret)
        assert refused.value.status == 401
        assert SECRET not in refused.value.reason


def test_the_signature_may_come_in_upper_case_hex() -> None:
    body = php_body(order(comment="path/with/slashes"))
    assert b"path\\/with\\/slashes" in body
    verify_webhook({"x-signature": signed(body)["x-signature"].upper()}, body, SECRET)


def test_a_delivery_names_its_order_topic_version_and_carries_the_bundle() -> None:
    body = php_body(order())
    delivery = parse_webhook(signed(body, "orders/paid"), body)
    assert (delivery.topic, delivery.external_id, delivery.deleted, delivery.ping) == (
        "orders/paid",
        "123",
        False,
        False,
    )
    assert delivery.updated_at == datetime(2024, 6, 2, 22, 56, 12, tzinfo=UTC)
    assert delivery.payload == json.loads(body)


def test_without_a_topic_from_the_address_the_delivery_counts_as_an_update() -> None:
    body = php_body(order())
    assert parse_webhook(signed(body), body).topic == "orders/updated"


def test_the_deleted_topic_marks_a_deletion() -> None:
    body = php_body(order())
    assert parse_webhook(signed(body, "orders/deleted"), body).deleted


def test_products_only_linked_leave_the_payload_to_be_fetched() -> None:
    linked = order(products={"resource": {"id": False, "url": "orders/123/products", "link": LINK}})
    body = php_body(linked)
    assert parse_webhook(signed(body), body).payload is None


def test_the_dedupe_key_is_stable_for_a_redelivery_and_differs_between_events() -> None:
    body = php_body(order())
    first = parse_webhook(signed(body, "orders/updated"), body).delivery_id
    assert parse_webhook(signed(body, "orders/updated"), body).delivery_id == first
    assert parse_webhook(signed(body, "orders/paid"), body).delivery_id != first  # same version, another event
    later = php_body(order(updatedAt="2024-06-03T00:58:00+02:00"))
    assert parse_webhook(signed(later, "orders/updated"), later).delivery_id != first
    same_second = php_body(order(status="cancelled"))  # two changes within one second
    assert parse_webhook(signed(same_second, "orders/updated"), same_second).delivery_id != first


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1, 2]", b'{"shipment": {"id": 1}}', b'{"order": {"number": "ORD1"}}', b'{"order": {"id": true}}'],
)
def test_a_malformed_body_is_refused_with_400(body: bytes) -> None:
    with pytest.raises(WebhookRejected) as refused:
        parse_webhook(signed(body), body)
    assert refused.value.status == 400
