"""Shopify webhook checks and dedupe keys, and the search filter, without any server.

Signatures are computed here independently (platforms.md section 6: base64 of the raw HMAC-SHA256 of the body,
keyed with the app's client secret), never with the module's own code. Bodies are Shopify's published order
fixture (`tests/fixtures/shopify/order.json`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import samples

from connector.platforms.shopify import orders_search, parse_webhook, topic_enum, verify_webhook
from connector.runtime.errors import WebhookRejected

SECRET = "shpss_0123456789abcdef"
EVENT = "a8b8f1e0-4c1d-4e5b-9e2a-3f6d7c8b9a01"


def order_body(**changes: Any) -> bytes:
    order = samples.load_json("shopify", "order.json")["order"]
    return json.dumps({**order, **changes}).encode()


def sign(body: bytes, key: str = SECRET) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def headers(body: bytes, topic: str = "orders/updated", **extra: str) -> dict[str, str]:
    return {
        "x-shopify-topic": topic,
        "x-shopify-hmac-sha256": sign(body),
        "x-shopify-shop-domain": "example.myshopify.com",
        "x-shopify-api-version": "2024-07",
        "x-shopify-webhook-id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "x-shopify-event-id": EVENT,
        **extra,
    }


# --- signatures -------------------------------------------------------------------------------------------------
def test_a_signed_delivery_passes_and_a_tampered_one_is_refused() -> None:
    body = order_body()
    verify_webhook(headers(body), body, SECRET)
    with pytest.raises(WebhookRejected) as tampered:
        verify_webhook(headers(body), order_body(total_price="0.00"), SECRET)
    with pytest.raises(WebhookRejected) as wrong_secret:
        verify_webhook(headers(body), body, "shpss_another")
    assert tampered.value.status == wrong_secret.value.status == 401


def test_an_unsigned_delivery_or_a_store_without_secret_is_refused() -> None:
    body = order_body()
    unsigned = {k: v for k, v in headers(body).items() if k != "x-shopify-hmac-sha256"}
    with pytest.raises(WebhookRejected, match="missing"):
        verify_webhook(unsigned, body, SECRET)
    with pytest.raises(WebhookRejected, match="webhook_secret"):
        verify_webhook(headers(body), body, "")


def test_a_refusal_names_neither_the_secret_nor_the_signature() -> None:
    body = order_body()
    with pytest.raises(WebhookRejected) as refused:
        verify_webhook(headers(body), body + b" ", SECRET)
    assert SECRET not in refused.value.reason
    assert sign(body) not in refused.value.reason


# --- what a delivery is about -----------------------------------------------------------------------------------
def test_an_order_delivery_carries_the_order_and_its_version() -> None:
    body = order_body()
    delivery = parse_webhook(headers(body), body)
    assert (delivery.topic, delivery.external_id) == ("orders/updated", "450789469")
    assert delivery.delivery_id == f"shopify:{EVENT}"
    assert delivery.payload is not None
    assert delivery.payload["name"] == "#1001"
    assert delivery.updated_at == datetime(2008, 1, 10, 11, 0, tzinfo=timezone(timedelta(hours=-5))).astimezone(UTC)
    assert (delivery.deleted, delivery.ping) == (False, False)


def test_a_redelivery_keeps_its_id_and_another_event_gets_another() -> None:
    body = order_body()
    first = parse_webhook(headers(body), body)
    retry = parse_webhook(headers(body, **{"x-shopify-webhook-id": "another-delivery"}), body)
    other = parse_webhook(headers(body, topic="orders/paid", **{"x-shopify-event-id": "another-event"}), body)
    assert first.delivery_id == retry.delivery_id
    assert other.delivery_id != first.delivery_id


def test_the_webhook_id_is_the_key_when_no_event_id_is_sent() -> None:
    body = order_body()
    without = {k: v for k, v in headers(body).items() if k != "x-shopify-event-id"}
    assert parse_webhook(without, body).delivery_id == "shopify:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    bare = {k: v for k, v in without.items() if k != "x-shopify-webhook-id"}
    with pytest.raises(WebhookRejected, match="X-Shopify-Event-Id") as refused:
        parse_webhook(bare, body)
    assert refused.value.status == 400


def test_a_deletion_carries_only_the_id() -> None:
    body = json.dumps({"id": 450789469}).encode()
    delivery = parse_webhook(headers(body, topic="orders/delete"), body)
    assert (delivery.external_id, delivery.deleted, delivery.payload) == ("450789469", True, None)


def test_an_order_edit_names_the_order_and_leaves_the_fetch_to_the_client() -> None:
    edit = {"order_edit": {"id": 78912, "order_id": 450789469, "line_items": {"additions": [], "removals": []}}}
    body = json.dumps(edit).encode()
    delivery = parse_webhook(headers(body, topic="orders/edited"), body)
    assert (delivery.external_id, delivery.payload, delivery.deleted) == ("450789469", None, False)


@pytest.mark.parametrize(
    ("topic", "body", "reason"),
    [
        ("products/update", b'{"id": 1}', "unsupported webhook topic"),
        ("orders/updated", b"<xml/>", "not JSON"),
        ("orders/updated", b"[1, 2]", "not a JSON object"),
        ("orders/updated", b'{"name": "#1001"}', "no order id"),
        ("orders/updated", b'{"id": "gid://shopify/Order/1"}', "no order id"),
        ("orders/edited", b'{"order_edit": {}}', "no order id"),
    ],
)
def test_malformed_deliveries_are_refused_with_400(topic: str, body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected, match=reason) as refused:
        parse_webhook(headers(body, topic=topic), body)
    assert refused.value.status == 400


# --- small values -----------------------------------------------------------------------------------------------
def test_the_search_filter_quotes_utc_seconds() -> None:
    since = datetime(2024, 5, 1, 14, 3, 7, 900_000, tzinfo=timezone(timedelta(hours=2)))
    until = datetime(2024, 5, 2, 0, 0, tzinfo=UTC)
    assert orders_search(since, None) == "updated_at:>='2024-05-01T12:03:07Z'"  # rounded down: nothing missed
    assert orders_search(since, until) == "updated_at:>='2024-05-01T12:03:07Z' updated_at:<'2024-05-02T00:00:00Z'"
    assert orders_search(None, until + timedelta(milliseconds=1)) == "updated_at:<'2024-05-02T00:00:01Z'"
    assert orders_search(None, None) is None


def test_topics_name_graphql_enum_values() -> None:
    assert topic_enum("orders/partially_fulfilled") == "ORDERS_PARTIALLY_FULFILLED"


# --- destructive topics: the topic header is not signed ---------------------------------------------------------
def test_a_delete_body_is_only_the_id_and_a_whole_order_under_that_topic_contradicts_it() -> None:
    thin = json.dumps({"id": 450789469}).encode()
    whole = order_body()

    delete = parse_webhook(headers(thin, "orders/delete"), thin)
    replayed = parse_webhook(headers(whole, "orders/delete"), whole)

    assert delete.deleted
    assert delete.contradiction == ""
    assert replayed.deleted
    assert "whole order" in replayed.contradiction


def test_a_cancelled_topic_whose_body_is_not_cancelled_contradicts_it() -> None:
    open_order = order_body(cancelled_at=None)
    cancelled = order_body(cancelled_at="2024-05-01T10:00:00-04:00")

    assert "not cancelled" in parse_webhook(headers(open_order, "orders/cancelled"), open_order).contradiction
    parsed = parse_webhook(headers(cancelled, "orders/cancelled"), cancelled)
    assert parsed.cancelled
    assert parsed.contradiction == ""
