"""WooCommerce webhook checks and dedupe keys, and the keyset walk's bookkeeping, without any server.

Signatures are computed here independently (platforms.md §6: base64 of the raw HMAC-SHA256 of the body, keyed
with the entity-decoded webhook secret), never with the module's own code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from connector.platforms.woocommerce import KeysetWalk, iso_gmt, parse_webhook, specialchars_decode, verify_webhook
from connector.runtime.errors import WebhookRejected

SECRET = "wh-secret-0123456789"
ORDER = {"id": 4711, "status": "processing", "date_modified_gmt": "2024-05-01T10:00:00", "line_items": [], "total": "1"}


def sign(body: bytes, key: str = SECRET) -> str:
    return base64.b64encode(hmac.new(key.encode(), body, hashlib.sha256).digest()).decode()


def headers(body: bytes, topic: str = "order.updated", webhook: str = "12", **extra: str) -> dict[str, str]:
    return {
        "x-wc-webhook-topic": topic,
        "x-wc-webhook-id": webhook,
        "x-wc-webhook-signature": sign(body),
        "x-wc-webhook-delivery-id": "d41d8cd98f00b204e9800998ecf8427e",
        **extra,
    }


def body_of(**changes: Any) -> bytes:
    return json.dumps({**ORDER, **changes}, separators=(",", ":")).encode()


# --- signatures -------------------------------------------------------------------------------------------------
def test_a_signed_delivery_passes_and_a_tampered_or_unsigned_one_is_refused() -> None:
    body = body_of()
    verify_webhook(headers(body), body, SECRET)
    with pytest.raises(WebhookRejected) as tampered:
        verify_webhook(headers(body), body_of(total="0"), SECRET)
    unsigned = {k: v for k, v in headers(body).items() if k != "x-wc-webhook-signature"}
    with pytest.raises(WebhookRejected) as missing:
        verify_webhook(unsigned, body, SECRET)
    assert (tampered.value.status, missing.value.status) == (401, 401)
    assert SECRET not in tampered.value.reason


def test_the_secret_is_entity_decoded_as_wordpress_does_before_signing() -> None:
    body = body_of()
    signed = {**headers(body), "x-wc-webhook-signature": sign(body, "a&b'c")}
    verify_webhook(signed, body, "a&amp;b&#039;c")
    verify_webhook(signed, body, "a&b'c")
    assert specialchars_decode("&lt;&gt;&quot;&#x27;&#038;") == "<>\"'&"
    assert specialchars_decode("&eacute;") == "&eacute;"  # only what wp_specialchars_decode touches


def test_the_creation_ping_is_accepted_unsigned_and_kept_apart() -> None:
    ping = {"content-type": "application/x-www-form-urlencoded"}
    verify_webhook(ping, b"webhook_id=7", SECRET)
    delivery = parse_webhook(ping, b"webhook_id=7")
    assert (delivery.ping, delivery.delivery_id) == (True, "wc-ping:7")
    with pytest.raises(WebhookRejected):  # a ping-shaped body with a signature is checked like any other
        verify_webhook({"x-wc-webhook-signature": "bm9wZQ=="}, b"webhook_id=7", SECRET)
    with pytest.raises(WebhookRejected):  # anything else unsigned is refused
        verify_webhook(ping, b"webhook_id=7&x=1", SECRET)


# --- parsing and dedupe keys ------------------------------------------------------------------------------------
def test_an_order_delivery_carries_the_full_order_and_its_version() -> None:
    body = body_of()
    delivery = parse_webhook(headers(body), body)
    assert (delivery.topic, delivery.external_id, delivery.deleted, delivery.ping) == (
        "order.updated",
        "4711",
        False,
        False,
    )
    assert delivery.payload is not None
    assert delivery.payload["status"] == "processing"
    assert delivery.updated_at == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
    assert delivery.delivery_id.startswith("wc:12:4711:2024-05-01T10:00:00:")


def test_a_repeat_keeps_its_key_and_every_other_event_gets_its_own() -> None:
    body = body_of()
    key = parse_webhook(headers(body), body).delivery_id
    resent = headers(body, **{"x-wc-webhook-delivery-id": "another-second"})
    assert parse_webhook(resent, body).delivery_id == key  # the delivery header is not part of it
    others = [
        (headers(body, webhook="13"), body),  # the same change seen by another webhook (topic)
        (headers(b""), body_of(date_modified_gmt="2024-05-01T10:00:01")),  # a later version
        (headers(b""), body_of(status="completed")),  # another change within the same second
    ]
    assert len({key} | {parse_webhook(h, b).delivery_id for h, b in others}) == 4


def test_a_deletion_has_no_payload_and_a_later_deletion_a_new_key() -> None:
    body = b'{"id":4711}'
    first = parse_webhook(headers(body, topic="order.deleted"), body)
    assert (first.deleted, first.external_id, first.payload) == (True, "4711", None)
    assert parse_webhook(headers(body, topic="order.deleted"), body).delivery_id == first.delivery_id
    later = headers(body, topic="order.deleted", **{"x-wc-webhook-delivery-id": "trashed-again"})
    assert parse_webhook(later, body).delivery_id != first.delivery_id


@pytest.mark.parametrize(
    ("hdrs", "body", "reason"),
    [
        ({"x-wc-webhook-topic": "product.updated", "x-wc-webhook-id": "1"}, b'{"id":1}', "topic"),
        ({"x-wc-webhook-topic": "order.updated"}, b'{"id":1}', "X-WC-Webhook-ID"),
        ({"x-wc-webhook-topic": "order.updated", "x-wc-webhook-id": "1"}, b"<html>", "not JSON"),
        ({"x-wc-webhook-topic": "order.updated", "x-wc-webhook-id": "1"}, b"[1]", "not a JSON object"),
        (
            {"x-wc-webhook-topic": "order.updated", "x-wc-webhook-id": "1"},
            b'{"code":"woocommerce_rest_shop_order_invalid_id","message":"Invalid ID.","data":{"status":404}}',
            "woocommerce_rest_shop_order_invalid_id",
        ),
        ({"x-wc-webhook-topic": "order.updated", "x-wc-webhook-id": "1"}, b'{"id":"../x"}', "not an order id"),
    ],
)
def test_malformed_deliveries_are_refused_with_400(hdrs: dict[str, str], body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected) as refused:
        parse_webhook(hdrs, body)
    assert refused.value.status == 400
    assert reason in refused.value.reason


# --- the keyset walk --------------------------------------------------------------------------------------------
def row(ident: int, second: int) -> dict[str, Any]:
    return {"id": ident, "date_modified_gmt": f"2024-05-01T10:00:{second:02d}"}


def test_the_walk_asks_from_one_second_before_the_newest_read_excluding_what_it_read_there() -> None:
    walk = KeysetWalk(boundary=None)
    assert walk.params() == {}
    assert [r["id"] for r in walk.advance([row(1, 5), row(2, 7), row(3, 7)])] == [1, 2, 3]
    assert walk.params() == {"modified_after": "2024-05-01T10:00:06", "exclude": "2,3"}
    assert [r["id"] for r in walk.advance([row(4, 7), row(5, 7)])] == [4, 5]  # still the same second: ids add up
    assert walk.params()["exclude"] == "2,3,4,5"
    walk.advance([row(6, 9)])
    assert walk.params() == {"modified_after": "2024-05-01T10:00:08", "exclude": "6"}


def test_a_server_ignoring_the_filters_is_paged_through_instead_of_looping() -> None:
    walk = KeysetWalk(boundary=None)
    walk.advance([row(1, 5), row(2, 7)])
    assert walk.advance([row(1, 5), row(2, 7)]) == []  # the same page again: nothing new, never backwards
    assert walk.params() == {"modified_after": "2024-05-01T10:00:06", "exclude": "2", "page": "2"}
    walk.advance([row(3, 8)])
    assert "page" not in walk.params()


def test_timestamps_go_out_in_gmt_whole_seconds_without_offset() -> None:
    amsterdam = timezone(timedelta(hours=2))
    assert iso_gmt(datetime(2024, 5, 1, 12, 0, 7, 999_000, tzinfo=amsterdam)) == "2024-05-01T10:00:07"
    assert iso_gmt(datetime(2024, 5, 1, 10, 0, 7)) == "2024-05-01T10:00:07"  # naive means UTC
