"""The JSON API: every route needs the admin token; actions go through the same workflow as the CLI."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from connector.orders.model import Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.runtime.config import load_config
from connector.stock.order_effects import Stocker
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.sync.ingest import ingest_order
from connector.web.app import create_app
from tests.support import ADMIN_TOKEN, write_config

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
STORE = {
    "name": "bc",
    "platform": "bigcommerce",
    "base_url": "https://api.bigcommerce.com/stores/abc",
    "credentials": {"access_token": "tok-123456"},
    "webhook_secret": "whsec-123456",
}
LOCATIONS = [{"name": "amsterdam", "priority": 1, "pickup": True}]


@pytest.fixture
def client(tmp_path: Path, database_url: str) -> Iterator[TestClient]:
    config = load_config(write_config(tmp_path / "c.toml", database_url, stores=[STORE], locations=LOCATIONS))
    runtime = Runtime.open(config)
    upgrade(runtime.engine)
    runtime.sync_stores()
    eur = lambda x: Money(Decimal(x), "EUR")  # noqa: E731
    order = Order(
        store="bc",
        platform=Platform.BIGCOMMERCE,
        external_id="100",
        number="100",
        kind=OrderKind.DELIVERY,
        payment_status=PaymentStatus.UNPAID,
        platform_status="7",
        currency="EUR",
        subtotal=eur("20"),
        shipping_total=eur("0"),
        tax_total=eur("0"),
        discount_total=eur("0"),
        total=eur("20"),
        created_at=datetime(2026, 5, 1, tzinfo=UTC),
        updated_at=datetime(2026, 5, 1, tzinfo=UTC),
        lines=(Line("A", "Alpha", 2, eur("10"), eur("20")),),
    )
    with runtime.sessions.begin() as session:
        from connector.stock import ledger

        ledger.import_counts(session, [ledger.Count("A", "amsterdam", 5)])
        Stocker(config).on_outcome(session, ingest_order(session, runtime.store_ids["bc"], order, source="test"))
    with TestClient(create_app(runtime)) as test_client:
        yield test_client
    runtime.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/stores"),
        ("GET", "/api/orders"),
        ("GET", "/api/orders/100"),
        ("POST", "/api/orders/100/pack"),
        ("POST", "/api/orders/100/pay"),
        ("POST", "/api/orders/100/assign"),
        ("GET", "/api/stock"),
        ("PUT", "/api/stock"),
        ("GET", "/api/inbox"),
        ("POST", "/api/inbox/1/replay"),
        ("GET", "/api/outbox"),
        ("POST", "/api/outbox/1/retry"),
    ],
)
def test_every_api_route_needs_the_token(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 401
    assert client.request(method, path, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_health_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").status_code == 200
    assert "connector_orders_ingested" in client.get("/metrics").text
    spec = client.get("/api/openapi.json").json()
    assert "/api/orders/{ref}/ship" in spec["paths"]


def test_order_flow_through_the_api(client: TestClient) -> None:
    overview = client.get("/api/stores", headers=AUTH).json()
    assert (overview["health"], overview["daemon"]["running"]) == ("unhealthy", False)  # no daemon in this test
    stores = overview["stores"]
    assert stores[0]["store"] == "bc"
    order = client.get("/api/orders/100", headers=AUTH).json()
    assert order["fulfilments"][0]["location"] == "amsterdam"
    assert order["timeline"][0]["kind"] == "inbound"
    assert client.post("/api/orders/100/pack", headers=AUTH).status_code == 200
    refused = client.post("/api/orders/100/ship", headers=AUTH, json={"tracking": "3S1", "carrier": "PostNL"})
    assert refused.status_code == 409
    assert "record a payment first" in refused.json()["detail"]
    paid = client.post("/api/orders/100/pay", headers=AUTH, json={"amount": "20.00", "method": "card"})
    assert paid.json()["payment_status"] == "paid"
    shipped = client.post("/api/orders/100/ship", headers=AUTH, json={"tracking": "3S1", "carrier": "PostNL"})
    assert shipped.status_code == 200, shipped.text
    body = shipped.json()
    assert body["status"] == "completed"
    assert body["fulfilments"][0]["tracking"]["number"] == "3S1"
    outbox = client.get("/api/outbox", headers=AUTH).json()
    assert [(o["action"], o["target"]) for o in outbox] == [("set_status", "10"), ("set_status", "9")]
    assert client.post("/api/orders/100/note", headers=AUTH, json={"text": "fragile"}).status_code == 200
    assert client.get("/api/orders/404", headers=AUTH).status_code == 404


def test_assign_a_location_to_a_member_of_staff(client: TestClient) -> None:
    assert "/api/orders/{ref}/assign" in client.get("/api/openapi.json").json()["paths"]
    assigned = client.post("/api/orders/100/assign", headers=AUTH, json={"location": "amsterdam", "user": "Ann"})
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["fulfilments"][0]["assigned_user"] == "Ann"
    entry = assigned.json()["timeline"][-1]
    assert (entry["kind"], entry["summary"], entry["actor"]) == ("assignment", "amsterdam: assigned to Ann", "api")
    assert (entry["details"]["from"], entry["details"]["to"]) == (None, "Ann")
    assert client.get("/api/orders/100", headers=AUTH).json()["fulfilments"][0]["assigned_user"] == "Ann"
    listed = client.get("/api/orders", headers=AUTH).json()
    assert [(f["location"], f["assigned_user"]) for f in listed[0]["fulfilments"]] == [("amsterdam", "Ann")]
    cleared = client.post("/api/orders/100/assign", headers=AUTH, json={"location": "amsterdam", "user": None})
    assert cleared.json()["fulfilments"][0]["assigned_user"] is None
    assert client.get("/api/orders", headers=AUTH).json()[0]["fulfilments"][0]["assigned_user"] is None
    assert cleared.json()["timeline"][-1]["summary"] == "amsterdam: unassigned (was Ann)"
    elsewhere = client.post("/api/orders/100/assign", headers=AUTH, json={"location": "paris", "user": "Ann"})
    assert elsewhere.status_code == 409
    assert "no fulfilment at 'paris'" in elsewhere.json()["detail"]
    missing = client.post("/api/orders/404/assign", headers=AUTH, json={"location": "amsterdam", "user": "Ann"})
    assert missing.status_code == 404
    assert client.post("/api/orders/100/assign", headers=AUTH, json={"user": "Ann"}).status_code == 422


def test_queued_write_backs_name_the_api_as_the_actor(client: TestClient) -> None:
    packed = client.post("/api/orders/100/pack", headers=AUTH).json()
    outbound = [(e["summary"], e["actor"]) for e in packed["timeline"] if e["kind"] == "outbound"]
    assert outbound == [("queued set_status -> 9 (order)", "api")]


def test_stock_put_and_get(client: TestClient) -> None:
    put = client.put(
        "/api/stock",
        headers=AUTH,
        json={"counts": [{"sku": "A", "location": "amsterdam", "on_hand": 9}], "batch": "b1"},
    )
    assert put.json() == {"counts": 1, "changed": 1}
    again = client.put(
        "/api/stock",
        headers=AUTH,
        json={"counts": [{"sku": "A", "location": "amsterdam", "on_hand": 9}], "batch": "b1"},
    )
    assert again.json()["changed"] == 0
    rows = client.get("/api/stock", headers=AUTH, params={"sku": "A"}).json()
    assert rows == [{"sku": "A", "location": "amsterdam", "on_hand": 9, "allocated": 2, "reserved": 0, "available": 7}]
    bad = client.put("/api/stock", headers=AUTH, json={"counts": [{"sku": "A", "location": "paris", "on_hand": 1}]})
    assert bad.status_code == 409
    assert "unknown location 'paris'" in bad.json()["detail"]


def _signed_bigcommerce(webhook_id: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"scope": "store/order/created", "data": {"type": "order", "id": 101}, "hash": webhook_id})
    stamp = str(int(time.time()))
    mac = hmac.new(STORE["webhook_secret"].encode(), f"{webhook_id}.{stamp}.{body}".encode(), hashlib.sha256)
    headers = {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + base64.b64encode(mac.digest()).decode(),
    }
    return body.encode(), headers


def test_a_delivery_that_cannot_be_stored_is_answered_503_and_kept_when_sent_again(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The platform must hear "try again" (it redelivers on 5xx), not a 2xx for a delivery that was lost.
    from connector.sync import webhooks

    keep = webhooks.keep_deliveries

    def broken(*args: object, **kwargs: object) -> object:
        raise OperationalError("INSERT INTO inbox", {}, Exception("disk I/O error"))

    body, headers = _signed_bigcommerce("wh-1")
    monkeypatch.setattr(webhooks, "keep_deliveries", broken)
    refused = client.post("/webhooks/bc", content=body, headers=headers)
    assert refused.status_code == 503
    assert "deliver it again" in refused.json()["error"]
    monkeypatch.setattr(webhooks, "keep_deliveries", keep)
    kept = client.post("/webhooks/bc", content=body, headers=headers)
    assert kept.status_code == 200
    assert kept.json()["duplicate"] is False
    assert [d["delivery_id"] for d in client.get("/api/inbox", headers=AUTH).json()] == ["wh-1"]


def test_the_webhook_endpoint_refuses_other_methods_and_big_bodies(client: TestClient) -> None:
    answer = client.get("/webhooks/bc")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    body, headers = _signed_bigcommerce("wh-2")
    too_big = client.post("/webhooks/bc", content=body + b" " * (1024 * 1024), headers=headers)
    assert too_big.status_code == 413
    assert client.post("/webhooks/elsewhere", content=body, headers=headers).status_code == 404
    assert client.post("/webhooks/bc/extra", content=body, headers=headers).status_code == 404  # not a store path


def test_a_sender_that_hangs_up_mid_body_gets_no_answer_and_nothing_is_kept(client: TestClient) -> None:
    body, headers = _signed_bigcommerce("wh-3")
    messages = iter([{"type": "http.request", "body": body[:10], "more_body": True}, {"type": "http.disconnect"}])
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return next(messages)

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/bc",
        "query_string": b"",
        "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
    }
    asyncio.run(client.app(scope, receive, send))  # type: ignore[arg-type]
    assert sent == []
    assert client.get("/api/inbox", headers=AUTH).json() == []


def test_an_unknown_filter_value_is_a_422_naming_the_valid_ones(client: TestClient) -> None:
    answer = client.get("/api/orders", params={"status": "bogus"}, headers=AUTH)
    assert answer.status_code == 422
    assert answer.json()["detail"]["choices"] == ["open", "completed", "cancelled"]
    answer = client.get("/api/orders", params={"store": "nosuchstore"}, headers=AUTH)
    assert (answer.status_code, answer.json()["detail"]["choices"]) == (422, ["bc"])
    assert [o["number"] for o in client.get("/api/orders", params={"status": "open"}, headers=AUTH).json()] == ["100"]


def _movement(key: str, delta: object, reason: str = "receipt", location: str = "amsterdam") -> dict[str, object]:
    return {"key": key, "sku": "A", "location": location, "delta": delta, "reason": reason}


def test_stock_movements_apply_once_per_key_and_show_on_the_history(client: TestClient) -> None:
    batch = [_movement("pos-1", 3), _movement("pos-2", -1, "sale"), _movement("pos-1", 3)]
    answer = client.post("/api/stock/movements", headers=AUTH, json=batch)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "results": [
            {"key": "pos-1", "status": "applied"},
            {"key": "pos-2", "status": "applied"},
            {"key": "pos-1", "status": "duplicate"},
        ]
    }
    again = client.post("/api/stock/movements", headers=AUTH, json=batch[1:2]).json()
    assert again == {"results": [{"key": "pos-2", "status": "duplicate"}]}
    assert client.get("/api/stock", headers=AUTH, params={"sku": "A"}).json()[0]["on_hand"] == 7
    history = client.get("/api/stock/A/history", headers=AUTH).json()
    assert [(h["kind"], h["reason"], h["on_hand_delta"], h["on_hand"]) for h in history] == [
        ("move", "sale", -1, 7),
        ("move", "receipt", 3, 8),
        ("allocate", None, 0, 5),
        ("count", None, 5, 5),
    ]


@pytest.mark.parametrize(
    ("item", "field", "message"),
    [
        (_movement("k", 1, location="paris"), "location", "unknown location 'paris'"),
        (_movement("k", 1.5), "delta", "valid integer"),
        (_movement("k", "2"), "delta", "valid integer"),
        (_movement("k", 2, "sale"), "delta", "a sale removes units"),
        (_movement("k", 1, "gift"), "reason", "'sale'"),
        ({"sku": "A", "location": "amsterdam", "delta": 1, "reason": "receipt"}, "key", "Field required"),
    ],
)
def test_a_bad_movement_refuses_the_whole_batch_naming_it(
    client: TestClient, item: dict[str, object], field: str, message: str
) -> None:
    answer = client.post("/api/stock/movements", headers=AUTH, json=[_movement("good", 4), item])
    assert answer.status_code == 422
    [error] = [e for e in answer.json()["detail"] if e["loc"][:2] == ["body", 1]]
    assert error["loc"] == ["body", 1, field]
    assert message in error["msg"]
    assert client.get("/api/stock/A/history", headers=AUTH).json()[0]["kind"] == "allocate"  # nothing applied


def test_a_batch_of_more_than_a_thousand_is_refused(client: TestClient) -> None:
    answer = client.post("/api/stock/movements", headers=AUTH, json=[_movement(f"k{n}", 1) for n in range(1001)])
    assert answer.status_code == 422
    assert "at most 1000" in answer.text


def test_a_receipt_serves_the_waiting_back_order_before_a_newer_order(client: TestClient) -> None:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    eur = lambda x: Money(Decimal(x), "EUR")  # noqa: E731
    with runtime.sessions.begin() as session:
        for number, minute in (("101", 1), ("102", 2)):
            created = datetime(2026, 5, 1, 0, minute, tzinfo=UTC)
            order = Order(
                store="bc",
                platform=Platform.BIGCOMMERCE,
                external_id=number,
                number=number,
                kind=OrderKind.DELIVERY,
                payment_status=PaymentStatus.PAID,
                platform_status="11",
                currency="EUR",
                subtotal=eur("0"),
                shipping_total=eur("0"),
                tax_total=eur("0"),
                discount_total=eur("0"),
                total=eur("0"),
                created_at=created,
                updated_at=created,
                lines=(Line("A", "Alpha", 4, eur("0"), eur("0")),),
            )
            outcome = ingest_order(session, runtime.store_ids["bc"], order, source="test")
            Stocker(runtime.config).on_outcome(session, outcome)
    assert client.get("/api/orders/101", headers=AUTH).json()["back_orders"] == {"A": 1}  # 5 - 2 = 3 of 4
    assert client.get("/api/orders/102", headers=AUTH).json()["back_orders"] == {"A": 4}
    client.post("/api/stock/movements", headers=AUTH, json=[_movement("in-1", 2)])
    served = client.get("/api/orders/101", headers=AUTH).json()
    assert served["back_orders"] == {}
    assert [f["lines"] for f in served["fulfilments"]] == [[{"sku": "A", "quantity": 4}]]
    assert any(e["summary"].startswith("back-order served") for e in served["timeline"])
    assert client.get("/api/orders/102", headers=AUTH).json()["back_orders"] == {"A": 3}
