"""The BigCommerce sandbox over real HTTP: auth, rate limits, order documents checked against BigCommerce's own
OpenAPI examples (kept in `tests/fixtures/bigcommerce`), filters and pagination, shipments, inventory, the hooks
API, and signed webhooks with retries.

Webhook signatures are checked with a verifier written here from the Standard Webhooks algorithm (platforms.md §6),
not with the sandbox's signing code; webhooks are received by a small `http.server` on a thread.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from samples import load_json

from sandbox.bigcommerce import BigCommerceSandbox
from sandbox.runner import serve
from tests.support import WAIT_S, wait_delivered

MONEY = re.compile(r"^-?\d+\.\d{4}$")
RFC2822 = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")
RETRY_SCHEDULE = (60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400, 86400)


# --- helpers ------------------------------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Receiver:
    """A webhook destination on 127.0.0.1 that records every request and answers `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.calls: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                outer.calls.append({"path": self.path, "headers": headers, "body": body, "at": time.monotonic()})
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/bigcommerce"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def wait_for(self, count: int, timeout: float = WAIT_S) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.calls)

    def payloads(self) -> list[dict[str, Any]]:
        return [json.loads(c["body"]) for c in self.calls]


def standard_webhooks_ok(raw: bytes, headers: dict[str, str], client_secret: str) -> bool:
    """Standard Webhooks verification, keyed with the raw bytes of the app's client secret."""
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + raw
    expected = base64.b64encode(hmac.new(client_secret.encode(), signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) <= 300
    offered = [p.split(",", 1)[1] for p in headers["webhook-signature"].split() if p.startswith("v1,")]
    return fresh and any(hmac.compare_digest(sig, expected) for sig in offered)


def example(name: str) -> Any:
    """One of the Orders V2 spec's response examples, kept as a fixture (tests/fixtures/README.md says which)."""
    return load_json("bigcommerce", name)


def webhook_sample(scope: str) -> dict[str, Any]:
    sample: dict[str, Any] = load_json("bigcommerce", "webhooks", f"{scope.replace('/', '_')}.json")
    return sample


def kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_shape(ours: Any, samples: list[Any], where: str = "") -> None:
    """Every key of the samples is in ours with a type some sample has (null in a sample allows anything)."""
    known = [s for s in samples if s is not None]
    if not known:
        return
    if isinstance(known[0], dict):
        assert isinstance(ours, dict), where
        for key in {k for s in known for k in s}:
            assert key in ours, f"{where}.{key} missing"
            values = [s[key] for s in known if key in s]
            if None in values:
                continue
            assert kind(ours[key]) in {kind(v) for v in values}, f"{where}.{key}: {ours[key]!r} vs {values!r}"
            assert_shape(ours[key], values, f"{where}.{key}")
    elif isinstance(known[0], list) and ours:
        assert_shape(ours[0], [item for s in known for item in s], f"{where}[0]")


def assert_money_and_dates(document: dict[str, Any], money: tuple[str, ...], dates: tuple[str, ...]) -> None:
    for key in money:
        assert MONEY.match(document[key]), f"{key}={document[key]!r}"
    for key in dates:
        assert RFC2822.match(document[key]), f"{key}={document[key]!r}"
        parsedate_to_datetime(document[key])


ORDER_MONEY = (
    *(
        f"{part}_{suffix}"
        for part in ("subtotal", "shipping_cost", "handling_cost", "wrapping_cost", "total")
        for suffix in ("ex_tax", "inc_tax")
    ),
    *("discount_amount", "coupon_discount", "refunded_amount", "store_credit_amount", "total_tax", "subtotal_tax"),
)


# --- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[BigCommerceSandbox]:
    with serve(BigCommerceSandbox(seed=7, clock=clock)) as served:
        assert isinstance(served, BigCommerceSandbox)
        yield served


@pytest.fixture
def api(sandbox: BigCommerceSandbox) -> Iterator[httpx.Client]:
    ready = sandbox.describe()
    headers = {"X-Auth-Token": ready["credentials"]["access_token"], "X-Auth-Client": ready["credentials"]["client_id"]}
    with httpx.Client(base_url=ready["base_url"], headers={**headers, "Accept": "application/json"}) as client:
        yield client


@pytest.fixture
def control(sandbox: BigCommerceSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.root_url + "/_sandbox") as client:
        yield client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


def new_order(control: httpx.Client, **spec: Any) -> dict[str, Any]:
    body = {"lines": [{"sku": "SKU-0001", "quantity": 2}, {"sku": "SKU-0002", "quantity": 1}], "paid": True, **spec}
    response = control.post("/orders", json=body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def hook(api: httpx.Client, url: str, scope: str, **extra: Any) -> dict[str, Any]:
    response = api.post("/v3/hooks", json={"scope": scope, "destination": url, "is_active": True, **extra})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


# --- auth, errors and rate limits -----------------------------------------------------------------------------------


def test_describe_gives_what_a_store_entry_takes(sandbox: BigCommerceSandbox, api: httpx.Client) -> None:
    ready = sandbox.describe()
    assert set(ready) == {"platform", "base_url", "credentials", "webhook_secret", "locations"}
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/stores/sbx[0-9a-f]{7}", ready["base_url"])
    assert set(ready["credentials"]) == {"access_token", "client_id"}
    locations = api.get("/v3/inventory/locations").json()["data"]
    assert {row["label"]: str(row["id"]) for row in locations} == ready["locations"]
    assert ready == BigCommerceSandbox(seed=7).describe() | {"base_url": ready["base_url"]}


def test_missing_or_wrong_credentials_get_401_in_the_api_versions_shape(sandbox: BigCommerceSandbox) -> None:
    base = sandbox.describe()["base_url"]
    token = sandbox.describe()["credentials"]["access_token"]
    missing = httpx.get(base + "/v2/orders")
    assert missing.status_code == 401
    assert missing.json() == [{"status": 401, "message": "No credentials were supplied in the request."}]
    wrong = httpx.get(base + "/v3/hooks", headers={"X-Auth-Token": "not-the-token"})
    assert wrong.status_code == 401
    assert set(wrong.json()) == {"status", "title", "type"}
    other_client = httpx.get(base + "/v2/orders", headers={"X-Auth-Token": token, "X-Auth-Client": "someone-else"})
    assert other_client.status_code == 401
    other_store = httpx.get(sandbox.root_url + "/stores/abc1234/v2/orders", headers={"X-Auth-Token": token})
    assert other_store.status_code == 401


def test_a_burst_past_the_quota_gets_429_and_the_headers_count_down(api: httpx.Client, clock: FakeClock) -> None:
    lefts, resets = [], []
    for _ in range(150):
        response = api.get("/v2/order_statuses")
        assert response.status_code == 200
        assert response.headers["X-Rate-Limit-Time-Window-Ms"] == "30000"
        assert response.headers["X-Rate-Limit-Requests-Quota"] == "150"
        lefts.append(int(response.headers["X-Rate-Limit-Requests-Left"]))
        resets.append(int(response.headers["X-Rate-Limit-Time-Reset-Ms"]))
        clock.now += 0.1
    assert lefts == list(range(149, -1, -1))
    assert resets[0] == 30000
    assert resets[-1] == 15100
    refused = api.get("/v2/orders")
    assert refused.status_code == 429
    assert refused.headers["X-Rate-Limit-Requests-Left"] == "0"
    assert refused.headers["X-Rate-Limit-Time-Reset-Ms"] == "15000"
    assert refused.json() == [{"status": 429, "message": "Too many requests"}]
    clock.now += 15.0
    again = api.get("/v2/order_statuses")
    assert again.status_code == 200
    assert again.headers["X-Rate-Limit-Requests-Left"] == "149"


def test_injected_errors_use_the_platform_error_bodies(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/faults", json={"error_rate": 1.0})
    v2 = api.get("/v2/orders")
    assert v2.status_code in {500, 502, 503}
    assert v2.json() == [{"status": v2.status_code, "message": v2.json()[0]["message"]}]
    assert "X-Rate-Limit-Requests-Left" in v2.headers
    v3 = api.get("/v3/hooks")
    assert v3.status_code in {500, 502, 503}
    assert v3.json()["status"] == v3.status_code
    assert {"title", "type"} <= set(v3.json())
    control.post("/faults", json={"error_rate": 0.0})
    assert api.get("/v2/order_statuses").status_code == 200


# --- order documents ----------------------------------------------------------------------------------------------


def test_order_documents_have_the_shape_of_the_spec_examples(api: httpx.Client, control: httpx.Client) -> None:
    order_id = new_order(control)["id"]
    order = api.get(f"/v2/orders/{order_id}").json()
    single = {k: v for k, v in example("order.json").items() if k != "fees"}  # fees: only on include
    assert_shape(order, [*example("orders.json"), single], "order")
    assert_money_and_dates(order, ORDER_MONEY, ("date_created", "date_modified"))
    assert (order["status_id"], order["status"], order["payment_status"]) == (11, "Awaiting Fulfillment", "captured")
    assert order["products"]["url"].endswith(order["products"]["resource"])
    assert order["is_deleted"] is False
    products = api.get(order["products"]["url"]).json()
    assert_shape(products[0], example("order_products.json"), "product")
    assert_money_and_dates(products[0], ("base_price", "price_ex_tax", "price_inc_tax", "total_inc_tax"), ())
    assert {p["order_pickup_method_id"] for p in products} == {0}
    addresses = api.get(order["shipping_addresses"]["url"]).json()
    assert_shape(addresses[0], example("order_shipping_addresses.json"), "address")
    assert {p["order_address_id"] for p in products} == {addresses[0]["id"]}
    statuses = api.get("/v2/order_statuses").json()
    assert_shape(statuses, [example("order_statuses.json")], "statuses")
    published = {s["id"]: (s["name"], s["order"]) for s in example("order_statuses.json")}
    assert {s["id"]: (s["name"], s["order"]) for s in statuses} == published
    assert api.get(f"/v2/orders/{order_id}", params={"include": "fees"}).json()["fees"] == []


def test_money_adds_up_in_bigcommerces_convention(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/seed", json={"seed": 3, "orders": 40})
    for order in api.get("/v2/orders", params={"limit": 250}).json():
        products = api.get(f"/v2/orders/{order['id']}/products").json()
        total = Decimal(order["subtotal_inc_tax"]) + Decimal(order["shipping_cost_inc_tax"])
        assert Decimal(order["total_inc_tax"]) == total - Decimal(order["discount_amount"])
        assert sum(Decimal(p["total_inc_tax"]) for p in products) == Decimal(order["subtotal_inc_tax"])
        assert sum(Decimal(p["total_ex_tax"]) for p in products) == Decimal(order["subtotal_ex_tax"])
        assert Decimal(order["total_inc_tax"]) - Decimal(order["total_ex_tax"]) == Decimal(order["total_tax"])
        assert order["items_total"] == sum(p["quantity"] for p in products)
        for p in products:
            assert Decimal(p["price_inc_tax"]) * p["quantity"] == Decimal(p["total_inc_tax"])


def test_unpaid_orders_await_payment_and_pickup_orders_carry_a_pickup_consignment(
    sandbox: BigCommerceSandbox, api: httpx.Client, control: httpx.Client
) -> None:
    order = new_order(control, kind="pickup", paid=False, pickup_location="utrecht")
    assert (order["status_id"], order["status"], order["payment_status"]) == (7, "Awaiting Payment", "pending")
    assert order["shipping_address_count"] == 0
    assert order["shipping_cost_inc_tax"] == "0.0000"
    assert api.get(f"/v2/orders/{order['id']}/shipping_addresses").status_code == 204
    query = {"include": "consignments.line_items", "consignment_structure": "object"}
    embedded = api.get(f"/v2/orders/{order['id']}", params=query).json()["consignments"]
    pickup = embedded["pickups"][0]
    assert embedded["shipping"] == []
    assert set(embedded) == {"pickups", "shipping", "downloads", "email"}
    assert str(pickup["location"]["id"]) == sandbox.describe()["locations"]["utrecht"]
    assert {line["order_pickup_method_id"] for line in pickup["line_items"]} == {pickup["id"]}
    assert [line["sku"] for line in pickup["line_items"]] == ["SKU-0001", "SKU-0002"]
    linked_pickup = api.get(f"/v2/orders/{order['id']}/consignments").json()["pickups"][0]
    assert_shape(linked_pickup, [example_consignment()], "pickup")
    linked = linked_pickup["line_items"]
    assert linked[0]["resource"] == f"/orders/{order['id']}/products/{pickup['line_items'][0]['id']}"
    assert api.get(linked[0]["url"]).json()["sku"] == "SKU-0001"
    assert set(api.get(f"/v2/orders/{order['id']}").json()["consignments"]) == {"url", "resource"}


def example_consignment() -> dict[str, Any]:
    pickup: dict[str, Any] = example("order_consignments--pickup.json")["pickups"][0]
    return pickup


def test_listing_filters_sorts_and_pages_like_v2(api: httpx.Client, control: httpx.Client) -> None:
    control.post("/seed", json={"seed": 5, "orders": 120})
    pages = [api.get("/v2/orders", params={"page": n}) for n in (1, 2, 3, 4)]
    assert [len(p.json()) for p in pages[:3]] == [50, 50, 20]
    assert pages[3].status_code == 204
    assert pages[3].content == b""
    ids = [o["id"] for p in pages[:3] for o in p.json()]
    assert ids == sorted(ids)
    assert len(set(ids)) == 120
    assert [o["id"] for o in api.get("/v2/orders", params={"min_id": ids[10], "max_id": ids[12]}).json()] == ids[10:13]
    cut = parsedate_to_datetime(api.get(f"/v2/orders/{ids[100]}").json()["date_modified"])
    for text in (format_datetime(cut), cut.isoformat(), cut.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")):
        assert len(api.get("/v2/orders", params={"min_date_modified": text, "limit": 250}).json()) == 20
    newest = api.get("/v2/orders", params={"sort": "date_modified:desc", "limit": 3}).json()
    assert [o["id"] for o in newest] == ids[-1:-4:-1]
    assert api.get("/v2/orders/count").json()["count"] == 120
    assert api.get("/v2/orders", params={"limit": 251}).status_code == 413
    assert api.get("/v2/orders", params={"min_date_modified": "yesterday"}).status_code == 400
    assert api.get("/v2/orders", params={"min_id": 10**9}).status_code == 204


# --- webhooks ---------------------------------------------------------------------------------------------------


def test_order_webhooks_are_thin_signed_and_shaped_like_the_samples(
    sandbox: BigCommerceSandbox, api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    hook(api, receiver.url, "store/order/*", headers={"X-Shared-Secret": "s3cr3t"})
    order = new_order(control, paid=True)
    calls = receiver.wait_for(3)
    assert [json.loads(c["body"])["scope"] for c in calls] == [
        "store/order/created",
        "store/order/statusUpdated",
        "store/order/updated",
    ]
    for call in calls:
        assert standard_webhooks_ok(call["body"], call["headers"], sandbox.describe()["webhook_secret"])
        assert call["headers"]["x-shared-secret"] == "s3cr3t"
        assert call["headers"]["content-type"] == "application/json"
        payload = json.loads(call["body"])
        assert_shape(payload, [webhook_sample(payload["scope"])], payload["scope"])
        assert payload["data"]["id"] == order["id"]
        assert payload["producer"] == f"stores/{sandbox.store_hash}"
        assert re.fullmatch(r"[0-9a-f]{40}", payload["hash"])
        assert payload["store_id"].isdigit()
    assert json.loads(calls[1]["body"])["data"]["status"] == {"previous_status_id": 0, "new_status_id": 11}
    assert len({c["headers"]["webhook-id"] for c in calls}) == 3
    tampered = calls[0]["body"].replace(b'"id": ', b'"id": 1')
    assert not standard_webhooks_ok(tampered, calls[0]["headers"], sandbox.describe()["webhook_secret"])


def test_status_writes_change_the_order_and_fire_status_updated(
    api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    order = new_order(control)
    hook(api, receiver.url, "store/order/statusUpdated")
    hook(api, receiver.url, "store/order/updated")
    response = api.put(f"/v2/orders/{order['id']}", json={"status_id": 9})
    assert response.status_code == 200
    assert (response.json()["status_id"], response.json()["status"]) == (9, "Awaiting Shipment")
    assert parsedate_to_datetime(response.json()["date_modified"]) >= parsedate_to_datetime(order["date_modified"])
    payloads = [json.loads(c["body"]) for c in receiver.wait_for(2)]
    assert [p["scope"] for p in payloads] == ["store/order/statusUpdated", "store/order/updated"]
    assert payloads[0]["data"]["status"] == {"previous_status_id": 11, "new_status_id": 9}
    assert api.put(f"/v2/orders/{order['id']}", json={"status_id": 99}).status_code == 400
    refused = api.put(f"/v2/orders/{order['id']}", json={"total_inc_tax": "1.0000"})
    assert refused.status_code == 400
    assert "cannot be written to" in refused.json()[0]["message"]
    view = control.get(f"/orders/{order['id']}").json()
    assert (view["platform"], view["status"], view["status_id"]) == ("bigcommerce", "Awaiting Shipment", 9)
    assert [w["body"] for w in view["writes"]] == [{"status_id": 9}]
    assert view["writes"][0]["method"] == "PUT"
    assert view["writes"][0]["path"].endswith(f"/v2/orders/{order['id']}")


def test_merchant_changes_fire_the_platforms_events(
    api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    order = new_order(control, paid=False)
    hook(api, receiver.url, "store/order/*")
    paid = control.patch(f"/orders/{order['id']}", json={"paid": True}).json()
    assert (paid["status_id"], paid["payment_status"]) == (11, "paid")
    cancelled = control.patch(f"/orders/{order['id']}", json={"cancelled": True}).json()
    assert cancelled["status"] == "Cancelled"
    assert control.patch(f"/orders/{order['id']}", json={"cancelled": False}).json()["status_id"] == 11
    edited = control.patch(f"/orders/{order['id']}", json={"lines": [{"sku": "SKU-0002", "quantity": 0}]}).json()
    assert edited["items_total"] == 2
    assert edited["subtotal_inc_tax"] != order["subtotal_inc_tax"]
    control.patch(f"/orders/{order['id']}", json={"deleted": True})
    payloads = [json.loads(c["body"]) for c in receiver.wait_for(8)]
    moves = [p["data"]["status"] for p in payloads if p["scope"] == "store/order/statusUpdated"]
    assert [(m["previous_status_id"], m["new_status_id"]) for m in moves] == [(7, 11), (11, 5), (5, 11)]
    assert payloads[-1]["scope"] == "store/order/archived"
    assert len(payloads) == 8
    assert api.get("/v2/orders").status_code == 204  # the archived order was the only one
    assert [o["id"] for o in api.get("/v2/orders", params={"is_deleted": "true"}).json()] == [order["id"]]
    assert api.get(f"/v2/orders/{order['id']}").json()["is_deleted"] is True


def test_a_failing_receiver_gets_the_retry_schedule_then_the_hook_is_deactivated(
    sandbox: BigCommerceSandbox, api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    scale = 2e-6
    control.post("/faults", json={"webhook_retry_scale": scale})
    receiver.status = 500
    created = hook(api, receiver.url, "store/order/created")
    new_order(control)
    receiver.wait_for(12)
    wait_delivered(sandbox)  # the schedule has run out
    calls = list(receiver.calls)
    assert len(calls) == 12
    assert len({c["headers"]["webhook-id"] for c in calls}) == 1
    assert len({json.loads(c["body"])["hash"] for c in calls}) == 1
    assert tuple(sandbox.retry_delays) == RETRY_SCHEDULE
    gaps = [b["at"] - a["at"] for a, b in itertools.pairwise(calls)]
    # each retry came no sooner than its (scaled) turn; load can only stretch a gap, so this bound never flakes
    assert all(gap >= delay * scale for gap, delay in zip(gaps, RETRY_SCHEDULE, strict=True))
    assert api.get(f"/v3/hooks/{created['id']}").json()["data"]["is_active"] is False
    new_order(control)
    wait_delivered(sandbox)
    assert len(receiver.calls) == 12


def test_dropped_and_duplicated_webhooks(
    sandbox: BigCommerceSandbox, api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    hook(api, receiver.url, "store/order/created")
    control.post("/faults", json={"webhook_drop": 1.0})
    new_order(control)
    wait_delivered(sandbox)
    assert receiver.calls == []
    control.post("/faults", json={"webhook_drop": 0.0, "webhook_duplicate": 1.0})
    new_order(control)
    first, second = receiver.wait_for(2)
    assert first["body"] == second["body"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]


# --- shipments --------------------------------------------------------------------------------------------------


def test_shipments_move_the_order_to_partially_shipped_then_shipped(
    api: httpx.Client, control: httpx.Client, receiver: Receiver
) -> None:
    order_id = new_order(control)["id"]
    hook(api, receiver.url, "store/shipment/*")
    products = api.get(f"/v2/orders/{order_id}/products").json()
    address_id = api.get(f"/v2/orders/{order_id}/shippingaddresses").json()[0]["id"]
    assert api.get(f"/v2/orders/{order_id}/shipments").status_code == 204
    first = {"order_address_id": address_id, "tracking_number": "1Z999", "shipping_provider": "ups"}
    first["items"] = [{"order_product_id": products[0]["id"], "quantity": 2}]
    shipment = api.post(f"/v2/orders/{order_id}/shipments", json=first)
    assert shipment.status_code == 201, shipment.text
    assert_shape(shipment.json(), example("order_shipments.json"), "shipment")
    assert shipment.json()["generated_tracking_link"].endswith("1Z999")
    assert api.get(f"/v2/orders/{order_id}").json()["status_id"] == 3
    second = {"order_address_id": address_id, "tracking_carrier": "postnl-3s", "tracking_number": "3SABC"}
    second["items"] = [{"order_product_id": products[1]["id"], "quantity": 1}]
    assert api.post(f"/v2/orders/{order_id}/shipments", json=second).status_code == 201
    shipped = api.get(f"/v2/orders/{order_id}").json()
    assert (shipped["status_id"], shipped["items_shipped"]) == (2, 3)
    assert shipped["date_shipped"]
    payload = json.loads(receiver.wait_for(2)[0]["body"])
    assert_shape(payload, [webhook_sample("store/shipment/created")], "shipment webhook")
    assert payload["data"] == {"type": "shipment", "id": shipment.json()["id"], "orderId": order_id}
    assert api.delete(f"/v2/orders/{order_id}/shipments/{shipment.json()['id']}").status_code == 204
    assert api.get(f"/v2/orders/{order_id}").json()["status_id"] == 2
    view = control.get(f"/orders/{order_id}").json()
    assert [t["tracking_number"] for t in view["tracking"]] == ["3SABC"]
    assert [w["method"] for w in view["writes"]] == ["POST", "POST", "DELETE"]


def test_shipments_are_validated(api: httpx.Client, control: httpx.Client) -> None:
    order_id = new_order(control)["id"]
    product = api.get(f"/v2/orders/{order_id}/products").json()[0]
    address_id = api.get(f"/v2/orders/{order_id}/shipping_addresses").json()[0]["id"]
    base = {"order_address_id": address_id, "items": [{"order_product_id": product["id"], "quantity": 1}]}
    refusals = [
        {**base, "order_address_id": address_id + 1000},
        {**base, "items": [{"order_product_id": product["id"], "quantity": 3}]},
        {**base, "items": [{"order_product_id": 99999, "quantity": 1}]},
        {**base, "items": []},
        {**base, "id": 5},
        {"items": base["items"]},
    ]
    for body in refusals:
        response = api.post(f"/v2/orders/{order_id}/shipments", json=body)
        assert response.status_code == 400, body
        assert set(response.json()[0]) == {"status", "message"}
    assert api.post(f"/v2/orders/{order_id}/shipments", json=base).status_code == 201
    pickup = new_order(control, kind="pickup", pickup_location="amsterdam")
    assert api.post(f"/v2/orders/{pickup['id']}/shipments", json=base).status_code == 400
    assert api.post("/v2/orders/424242/shipments", json=base).status_code == 404


# --- hooks API and inventory --------------------------------------------------------------------------------------


def test_the_hooks_api_creates_lists_updates_and_deletes(api: httpx.Client, receiver: Receiver) -> None:
    created = hook(api, receiver.url, "store/order/created", headers={"custom-key": "value"})
    assert set(created) == {
        "id",
        "client_id",
        "store_hash",
        "created_at",
        "updated_at",
        "scope",
        "destination",
        "is_active",
        "headers",
    }
    listed = api.get("/v3/hooks", params={"scope": "store/order/created"}).json()
    assert [h["id"] for h in listed["data"]] == [created["id"]]
    assert listed["meta"]["pagination"]["total"] == 1
    updated = api.put(f"/v3/hooks/{created['id']}", json={"is_active": False}).json()["data"]
    assert updated["is_active"] is False
    assert api.delete(f"/v3/hooks/{created['id']}").json()["data"]["id"] == created["id"]
    gone = api.get(f"/v3/hooks/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["title"] == f"Webhook with id [{created['id']}] not found"
    refused = [
        {"scope": "store/order/cancelled", "destination": "https://example.com/hooks"},
        {"scope": "store/order/created", "destination": "https://example.com:8443/hooks"},
        {"scope": "store/order/created", "destination": "http://example.com/hooks"},
        {"scope": "store/order/created"},
    ]
    for body in refused:
        response = api.post("/v3/hooks", json=body)
        assert response.status_code == 422, body
        assert set(response.json()) == {"status", "title", "type", "errors"}
    hook(api, receiver.url, "store/order/updated")
    assert api.post("/v3/hooks", json={"scope": "store/order/updated", "destination": receiver.url}).status_code == 422


def test_subscribe_defaults_covers_the_order_topics(sandbox: BigCommerceSandbox, receiver: Receiver) -> None:
    subs = sandbox.subscribe_defaults(receiver.url)
    assert {s.topic for s in subs} == {
        "store/order/created",
        "store/order/updated",
        "store/order/archived",
        "store/order/statusUpdated",
    }
    order = sandbox.create_order({"lines": [{"sku": "SKU-0003", "quantity": 1}], "paid": True})
    sandbox.change_order(str(order["id"]), {"deleted": True})
    scopes = [json.loads(c["body"])["scope"] for c in receiver.wait_for(4)]
    assert scopes[0] == "store/order/created"
    assert scopes[-1] == "store/order/archived"


def test_inventory_reads_and_adjustments(sandbox: BigCommerceSandbox, api: httpx.Client, control: httpx.Client) -> None:
    query = {"sku:in": "SKU-0001,SKU-0002", "location_id:in": "2"}
    items = api.get("/v3/inventory/items", params=query).json()["data"]
    assert [i["identity"]["sku"] for i in items] == ["SKU-0001", "SKU-0002"]
    assert [loc["location_name"] for loc in items[0]["locations"]] == ["utrecht"]
    absolute = api.put(
        "/v3/inventory/adjustments/absolute",
        json={"reason": "count", "items": [{"location_id": 2, "sku": "SKU-0001", "quantity": 7}]},
    )
    assert absolute.status_code == 200
    assert absolute.json()["transaction_id"]
    relative = api.post(
        "/v3/inventory/adjustments/relative",
        json={"reason": "sold", "items": [{"location_id": 2, "sku": "SKU-0001", "quantity": -2}]},
    )
    assert relative.status_code == 200
    at_utrecht = api.get("/v3/inventory/locations/2/items", params={"sku:in": "SKU-0001"}).json()["data"][0]
    assert at_utrecht["available_to_sell"] == 5
    catalogue = {i["sku"]: i for i in control.get("/catalogue").json()["items"]}
    assert catalogue["SKU-0001"]["stock"]["utrecht"] == 5
    bad = api.put(
        "/v3/inventory/adjustments/absolute", json={"items": [{"location_id": 9, "sku": "SKU-1", "quantity": 1}]}
    )
    assert bad.status_code == 422
    assert "errors" in bad.json()
    assert api.get("/v3/inventory/locations/9/items").status_code == 404


def test_ten_thousand_historical_orders_seed_and_fire_nothing(
    sandbox: BigCommerceSandbox, api: httpx.Client, receiver: Receiver
) -> None:
    sandbox.subscribe_defaults(receiver.url)
    sandbox.seed_orders(11, 10_000)
    assert api.get("/v2/orders/count").json()["count"] == 10_000
    last = api.get("/v2/orders", params={"limit": 250, "page": 40}).json()
    assert len(last) == 250
    oldest = parsedate_to_datetime(api.get("/v2/orders", params={"limit": 1}).json()[0]["date_created"])
    assert datetime.now(UTC) - oldest > timedelta(days=25)
    wait_delivered(sandbox)
    assert receiver.calls == []
