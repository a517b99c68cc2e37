"""What the webhook endpoint refuses, and what the refusals cost /metrics (issue #15, holes 2 and 3).

* An unknown store is 404 before the body is read, counted in one label-free counter: no label comes from the
  request, so any number of made-up names adds no series.
* A body nested 10,000 deep, validly signed, is a 400 on every platform (never a 503 "deliver it again"), counted
  by reason class under the store's configured name.

Signatures are computed here from each platform's documented scheme, not with the product's code.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connector.runtime.config import load_config
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.web.app import create_app
from tests.support import write_config

SECRET = "whsec-refusals-123456"
STORES = [
    {"name": "shop", "platform": "shopify", "base_url": "https://s.example", "credentials": {"access_token": "t"}},
    {
        "name": "woo",
        "platform": "woocommerce",
        "base_url": "https://w.example",
        "credentials": {"consumer_key": "ck", "consumer_secret": "cs"},
    },
    {"name": "bc", "platform": "bigcommerce", "base_url": "https://b.example", "credentials": {"access_token": "t"}},
    {
        "name": "ls",
        "platform": "lightspeed",
        "base_url": "https://l.example/nl",
        "credentials": {"api_key": "k", "api_secret": "s"},
    },
]
DEEP = b'{"a":' * 10_000 + b"1" + b"}" * 10_000


@pytest.fixture
def runtime(tmp_path: Path, sqlite_url: str) -> Iterator[Runtime]:
    stores = [{**store, "webhook_secret": SECRET} for store in STORES]
    config = load_config(write_config(tmp_path / "c.toml", sqlite_url, stores=stores))
    runtime = Runtime.open(config)
    upgrade(runtime.engine)
    runtime.sync_stores()
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as client:
        yield client


def b64_hmac(message: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), message, hashlib.sha256).digest()).decode()


def signed(store: str, body: bytes) -> dict[str, str]:
    if store == "shop":
        topic = {"x-shopify-topic": "orders/updated", "x-shopify-event-id": "e1"}
        return {**topic, "x-shopify-hmac-sha256": b64_hmac(body)}
    if store == "woo":
        return {"x-wc-webhook-topic": "order.updated", "x-wc-webhook-id": "1", "x-wc-webhook-signature": b64_hmac(body)}
    if store == "bc":
        stamp = str(int(time.time()))
        signature = "v1," + b64_hmac(f"m1.{stamp}.".encode() + body)
        return {"webhook-id": "m1", "webhook-timestamp": stamp, "webhook-signature": signature}
    return {"x-signature": hashlib.md5(body + SECRET.encode(), usedforsecurity=False).hexdigest()}


def series(client: TestClient) -> list[str]:
    """Every sample line of /metrics (one per label set)."""
    return [line for line in client.get("/metrics").text.splitlines() if line and not line.startswith("#")]


@pytest.mark.parametrize("store", [s["name"] for s in STORES])
def test_a_signed_body_nested_ten_thousand_deep_is_a_400_counted_by_reason(client: TestClient, store: str) -> None:
    answer = client.post(f"/webhooks/{store}", content=DEEP, headers=signed(store, DEEP))

    assert answer.status_code == 400
    assert "nests deeper" in answer.json()["error"]
    assert f'connector_webhooks_rejected_total{{reason="too_deep",store="{store}"}} 1.0' in series(client)


def test_made_up_store_names_add_no_series_to_metrics(client: TestClient) -> None:
    client.post("/webhooks/shop", content=b"{}", headers={"x-shopify-topic": "orders/updated"})  # one real series
    before = series(client)

    for n in range(200):
        assert client.post(f"/webhooks/nobody-{n}", content=b"x" * (2 * 1024 * 1024)).status_code == 404

    after = series(client)
    assert len(after) == len(before)
    assert "connector_webhooks_unknown_store_total 200.0" in after
    assert not any("nobody" in line for line in after)


def test_an_unknown_store_is_answered_before_its_body_is_read(runtime: Runtime) -> None:
    app = create_app(runtime)
    read: list[str] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        read.append("body")
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/webhooks/nobody", "headers": [], "query_string": b""}
    asyncio.run(app(scope, receive, send))

    assert sent[0]["status"] == 404
    assert read == []


def test_an_oversized_body_to_a_known_store_is_413_under_its_configured_name(client: TestClient) -> None:
    answer = client.post("/webhooks/woo", content=b"x" * (2 * 1024 * 1024))

    assert answer.status_code == 413
    assert 'connector_webhooks_rejected_total{reason="too_large",store="woo"} 1.0' in series(client)
