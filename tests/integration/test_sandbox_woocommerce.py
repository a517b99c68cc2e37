"""The WooCommerce sandbox over real HTTP: the official `woocommerce` SDK, WordPress pagination, OAuth and Basic
auth, order documents checked against WooCommerce's published samples (kept in `tests/fixtures/woocommerce`),
writes, webhooks and faults.

Webhooks are received by a tiny real HTTP server and verified with an independent implementation of the
documented algorithm (platforms.md §6), never with the sandbox's own signing code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import requests
from samples import load_json
from woocommerce import API
from woocommerce.oauth import OAuth

from sandbox.runner import serve
from sandbox.woocommerce import WooCommerceSandbox
from tests.support import WAIT_S, wait_delivered

MONEY = re.compile(r"^-?\d+\.\d{2}$")
LOCAL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
# Fields current WooCommerce returns that the 2017 samples predate (checked in the v3 controllers' output).
NEWER_FIELDS = {
    "currency_symbol",
    "payment_url",
    "is_editable",
    "needs_payment",
    "needs_processing",
    "image",
    "parent_name",
    "rate_percent",
    "instance_id",
    "display_key",
    "display_value",
    "phone",
}


# --- helpers ----------------------------------------------------------------------------------------------
@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes

    @property
    def topic(self) -> str:
        return self.headers.get("x-wc-webhook-topic", "")

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """A real HTTP endpoint that records every POST and answers with `status`."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.records: list[Delivery] = []
        self._cv = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._cv:
                    outer.records.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                    outer._cv.notify_all()
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def wait(self, done: Callable[[list[Delivery]], bool], timeout: float = WAIT_S) -> list[Delivery]:
        with self._cv:
            self._cv.wait_for(lambda: done(self.records), timeout=timeout)
            return list(self.records)

    def hooks(self) -> list[Delivery]:
        return [r for r in self.records if "x-wc-webhook-topic" in r.headers]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def woo_signature_ok(raw: bytes, header: str, secret: str) -> bool:
    """platforms.md §6: base64(HMAC-SHA256(raw body, webhook secret))."""
    digest = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(digest, header or "")


def wc_api(sb: WooCommerceSandbox, secret: str | None = None) -> API:
    creds = sb.describe()["credentials"]
    return API(
        url=sb.describe()["base_url"],
        consumer_key=creds["consumer_key"],
        consumer_secret=secret or creds["consumer_secret"],
        version="wc/v3",
        timeout=10,
    )


def control(sb: WooCommerceSandbox, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{sb.root_url}/_sandbox{path}", json=body, timeout=10)
    assert response.status_code < 300, response.text
    return response.json()


def new_order(sb: WooCommerceSandbox, **spec: Any) -> dict[str, Any]:
    body = {"lines": [{"sku": "SKU-0001", "quantity": 2}, {"sku": "SKU-0004", "quantity": 1}], "paid": True}
    result: dict[str, Any] = control(sb, "POST", "/orders", {**body, **spec})
    return result


def basic(sb: WooCommerceSandbox) -> tuple[str, str]:
    creds = sb.describe()["credentials"]
    return creds["consumer_key"], creds["consumer_secret"]


def eventually(check: Callable[[], bool], timeout: float = WAIT_S) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def webhook_status(sb: WooCommerceSandbox, webhook_id: int) -> str:
    return str(wc_api(sb).get(f"webhooks/{webhook_id}").json()["status"])


def same_shape(sample: Any, ours: Any, path: str = "$") -> list[str]:
    """Differences in field names and JSON types between a published sample and our document."""
    kinds = {bool: "bool", int: "number", float: "number", str: "str", list: "list", dict: "dict"}
    if sample is None or ours is None:
        return []
    if kinds.get(type(sample)) != kinds.get(type(ours)):
        return [f"{path}: {type(sample).__name__} in the sample, {type(ours).__name__} here"]
    if isinstance(sample, dict):
        problems = [f"{path}.{k}: missing" for k in sample if k not in ours]
        problems += [f"{path}.{k}: not in the sample" for k in ours if k not in sample and k not in NEWER_FIELDS]
        for key in sample.keys() & ours.keys():
            problems += same_shape(sample[key], ours[key], f"{path}.{key}")
        return problems
    if isinstance(sample, list) and sample and ours:
        return [p for item in ours for p in same_shape(sample[0], item, f"{path}[]")]
    return []


def load_sample(name: str) -> Any:
    return load_json("woocommerce", name)


@pytest.fixture
def store() -> Iterator[WooCommerceSandbox]:
    with serve(WooCommerceSandbox(seed=7)) as sandbox:
        yield sandbox


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


# --- the official SDK, pagination and filters ------------------------------------------------------------
def test_sdk_pages_through_orders_with_wordpress_headers(store: WooCommerceSandbox) -> None:
    control(store, "POST", "/seed", {"seed": 3, "orders": 25})
    response = wc_api(store).get("orders", params={"per_page": 10, "page": 2, "orderby": "id", "order": "asc"})
    assert response.status_code == 200, response.text
    assert response.headers["X-WP-Total"] == "25"
    assert response.headers["X-WP-TotalPages"] == "3"
    assert "page=3" in response.links["next"]["url"]
    assert "page=1" in response.links["prev"]["url"]
    ids = [o["id"] for o in response.json()]
    assert len(ids) == 10
    assert ids == sorted(ids)
    logged = control(store, "GET", "/requests")["requests"][-1]
    assert logged["query"].count("per_page=10") == 2  # the SDK sends its params twice over http; still verified


def test_sdk_completes_an_order_and_the_sandbox_shows_the_write(store: WooCommerceSandbox) -> None:
    order = new_order(store, kind="delivery")
    response = wc_api(store).put(f"orders/{order['id']}", {"status": "completed"})
    assert response.status_code == 200, response.text
    done = response.json()
    assert done["status"] == "completed"
    assert LOCAL_DATE.match(done["date_completed"])
    assert LOCAL_DATE.match(done["date_completed_gmt"])
    assert done["date_modified_gmt"] >= order["date_modified_gmt"]
    view = control(store, "GET", f"/orders/{order['id']}")
    assert view["status"] == "completed"
    assert view["order"]["status"] == "completed"
    assert view["writes"][0]["method"] == "PUT"
    assert view["writes"][0]["body"] == {"status": "completed"}
    assert "Order status changed from Processing to Completed." in [n["note"] for n in view["notes"]]


def test_list_parameters_are_validated_like_wordpress(store: WooCommerceSandbox) -> None:
    auth = basic(store)
    for params, name in (({"per_page": 101}, "per_page"), ({"page": 0}, "page"), ({"orderby": "total"}, "orderby")):
        response = httpx.get(f"{store.root_url}/wp-json/wc/v3/orders", params=params, auth=auth)
        assert response.status_code == 400
        body = response.json()
        assert body["code"] == "rest_invalid_param"
        assert body["data"]["status"] == 400
        assert name in body["data"]["params"]
    missing = httpx.get(f"{store.root_url}/wp-json/wc/v3/nothing", auth=auth)
    assert missing.status_code == 404
    assert missing.json()["code"] == "rest_no_route"


def test_modified_after_status_and_include_filters(store: WooCommerceSandbox) -> None:
    control(store, "POST", "/seed", {"seed": 5, "orders": 30})
    fresh = [new_order(store, paid=False)["id"] for _ in range(3)]
    cutoff = datetime.now(UTC) - timedelta(minutes=5)
    api = wc_api(store)
    gmt = {"modified_after": cutoff.strftime("%Y-%m-%dT%H:%M:%S"), "dates_are_gmt": "true"}
    recent = api.get("orders", params={**gmt, "orderby": "modified", "order": "asc", "per_page": 100}).json()
    assert [o["id"] for o in recent] == fresh
    local_cutoff = cutoff.astimezone(ZoneInfo("Europe/Amsterdam")).strftime("%Y-%m-%dT%H:%M:%S")
    assert [o["id"] for o in api.get("orders", params={"modified_after": local_cutoff}).json()] == fresh[::-1]
    on_hold = api.get("orders", params={"status": "on-hold", "per_page": 100}).json()
    assert {o["id"] for o in on_hold} >= set(fresh)
    assert all(o["status"] == "on-hold" for o in on_hold)
    chosen = api.get("orders", params={"include": f"{fresh[2]},{fresh[0]}", "orderby": "include"}).json()
    assert [o["id"] for o in chosen] == [fresh[2], fresh[0]]


# --- auth and rate limits --------------------------------------------------------------------------------
def test_oauth_refusals_use_woocommerce_error_bodies(store: WooCommerceSandbox) -> None:
    def message(response: requests.Response | httpx.Response) -> str:
        assert response.status_code == 401
        body = response.json()
        assert body["data"] == {"status": 401}
        return str(body["code"]) + ": " + str(body["message"])

    assert message(wc_api(store, secret="cs_wrong").get("orders")).endswith("provided signature does not match.")
    assert message(httpx.get(f"{store.root_url}/wp-json/wc/v3/orders")).startswith("woocommerce_rest_cannot_view")
    key, secret = basic(store)
    url = f"{store.root_url}/wp-json/wc/v3/orders"
    signed = OAuth(url, key, secret, version="wc/v3", method="GET").get_oauth_url()
    assert requests.get(signed, timeout=10).status_code == 200
    assert message(requests.get(signed, timeout=10)).endswith("Invalid nonce - nonce has already been used.")
    stale = OAuth(url, key, secret, version="wc/v3", method="GET", oauth_timestamp=int(time.time()) - 3600)
    assert message(requests.get(stale.get_oauth_url(), timeout=10)).endswith("Invalid timestamp.")
    stranger = OAuth(url, "ck_unknown", secret, version="wc/v3", method="GET").get_oauth_url()
    assert (
        message(requests.get(stranger, timeout=10)) == "woocommerce_rest_authentication_error: Consumer key is invalid."
    )


def test_basic_and_query_string_keys_work_as_over_https(store: WooCommerceSandbox) -> None:
    key, secret = basic(store)
    url = f"{store.root_url}/wp-json/wc/v3/orders"
    assert httpx.get(url, auth=(key, secret)).status_code == 200
    assert httpx.get(url, params={"consumer_key": key, "consumer_secret": secret}).status_code == 200
    refused = httpx.get(url, auth=(key, "cs_wrong"))
    assert refused.status_code == 401
    assert refused.json()["message"] == "Consumer secret is invalid."
    assert refused.headers["WWW-Authenticate"].startswith("Basic realm=")


def test_realistic_rate_limit_never_throttles_because_woocommerce_core_has_none(store: WooCommerceSandbox) -> None:
    control(store, "POST", "/rate_limit", {"mode": "realistic"})
    with httpx.Client(auth=basic(store)) as client:
        answers = [client.get(f"{store.root_url}/wp-json/wc/v3/orders") for _ in range(60)]
    assert {r.status_code for r in answers} == {200}
    assert not any(h.lower().startswith(("x-ratelimit", "retry-after")) for r in answers for h in r.headers)
    assert control(store, "GET", "/requests")["throttled"] == 0


# --- documents against the published samples --------------------------------------------------------------
def test_orders_have_the_sample_shape_and_consistent_money(store: WooCommerceSandbox) -> None:
    sample = load_sample("orders--retrieve-an-order.json")
    delivery = new_order(store, kind="delivery")
    pickup = new_order(store, kind="pickup", pickup_location="rotterdam", paid=False)
    for order in (delivery, pickup):
        assert same_shape(sample, order) == []
        fetched = wc_api(store).get(f"orders/{order['id']}").json()
        assert fetched == order
        assert isinstance(order["number"], str)
        assert order["number"] == str(order["id"])
        money = [order[k] for k in ("total", "total_tax", "shipping_total", "cart_tax", "discount_total")]
        assert all(MONEY.match(v) for v in money)
        lines = order["line_items"]
        items = sum(Decimal(x["total"]) for x in lines)
        assert Decimal(order["cart_tax"]) == sum(Decimal(x["total_tax"]) for x in lines)
        expected = items + Decimal(order["shipping_total"]) + Decimal(order["total_tax"])
        assert Decimal(order["total"]) == expected - Decimal(order["discount_total"])
        for line in lines:
            assert line["price"] == pytest.approx(float(line["total"]) / line["quantity"])
        created, created_gmt = (datetime.fromisoformat(order[k]) for k in ("date_created", "date_created_gmt"))
        assert timedelta(hours=1) <= created - created_gmt <= timedelta(hours=2)  # Europe/Amsterdam, no offset
    assert delivery["status"] == "processing"
    assert delivery["shipping_lines"][0]["method_id"] == "flat_rate"
    assert pickup["status"] == "pending"
    assert pickup["date_paid"] is None
    variation = next(x for x in delivery["line_items"] if x["sku"] == "SKU-0004")
    assert variation["variation_id"] != 0
    assert delivery["line_items"][0]["variation_id"] == 0
    shipping = pickup["shipping_lines"][0]
    assert shipping["method_id"] == "pickup_location"
    meta = {m["key"]: m["value"] for m in shipping["meta_data"]}
    assert meta["pickup_location"] == store.describe()["locations"]["rotterdam"]
    assert meta["pickup_address"]


def test_products_variations_and_webhooks_have_the_sample_shape(store: WooCommerceSandbox) -> None:
    api = wc_api(store)
    simple = api.get("products", params={"sku": "SKU-0001"}).json()
    assert len(simple) == 1
    assert same_shape(load_sample("products--retrieve-a-product.json"), simple[0]) == []
    assert simple[0]["manage_stock"] is True
    assert simple[0]["stock_status"] == "instock"
    found = api.get("products", params={"sku": "SKU-0004"}).json()
    assert found[0]["type"] == "variation"
    assert found[0]["parent_id"] > 0
    variations = api.get(f"products/{found[0]['parent_id']}/variations").json()
    assert [v["sku"] for v in variations] == ["SKU-0004"]
    assert isinstance(variations[0]["price"], str)
    assert same_shape(load_sample("product-variations--retrieve-a-product-variation.json"), variations[0]) == []
    before = variations[0]["stock_quantity"]
    new_order(store, lines=[{"sku": "SKU-0004", "quantity": 2}])
    after = api.get(f"products/{found[0]['parent_id']}/variations/{variations[0]['id']}").json()
    assert after["stock_quantity"] == before - 2
    created = api.post("webhooks", {"topic": "order.created", "delivery_url": "http://127.0.0.1:9/x"}).json()
    assert same_shape(load_sample("webhooks--retrieve-a-webhook.json"), created) == []
    assert "secret" not in created


# --- webhooks --------------------------------------------------------------------------------------------
def test_webhook_created_through_the_api_pings_then_signs_deliveries(
    store: WooCommerceSandbox, receiver: Receiver
) -> None:
    body = {"name": "Orders", "topic": "order.created", "delivery_url": receiver.url, "secret": "s3cret"}
    response = wc_api(store).post("webhooks", body)
    assert response.status_code == 201, response.text
    hook = response.json()
    ping = receiver.wait(lambda r: len(r) >= 1)[0]
    assert ping.body == f"webhook_id={hook['id']}".encode()
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    assert "x-wc-webhook-signature" not in ping.headers
    order = new_order(store)
    delivery = receiver.wait(lambda r: len(r) >= 2)[1]
    headers = delivery.headers
    assert woo_signature_ok(delivery.body, headers["x-wc-webhook-signature"], "s3cret")
    assert headers["x-wc-webhook-topic"] == "order.created"
    assert (headers["x-wc-webhook-resource"], headers["x-wc-webhook-event"]) == ("order", "created")
    assert headers["x-wc-webhook-id"] == str(hook["id"])
    assert headers["x-wc-webhook-source"] == store.describe()["base_url"] + "/"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-wc-webhook-delivery-id"])
    assert re.fullmatch(r"WooCommerce/[\d.]+ Hookshot \(WordPress/[\d.]+\)", headers["user-agent"])
    assert b"\\/wp-json\\/wc\\/v3\\/orders" in delivery.body  # wp_json_encode escapes slashes
    assert delivery.json() == wc_api(store).get(f"orders/{order['id']}").json()


def test_order_topics_cancel_delete_restore(store: WooCommerceSandbox, receiver: Receiver) -> None:
    store.subscribe_defaults(receiver.url)
    order = new_order(store)
    receiver.wait(lambda r: {"order.created", "order.updated"} <= {d.topic for d in r})
    wait_delivered(store)
    oid = order["id"]
    for change, topic in (
        ({"cancelled": True}, "order.updated"),
        ({"deleted": True}, "order.deleted"),
        ({"deleted": False}, "order.restored"),
    ):
        count = len(receiver.records)
        control(store, "PATCH", f"/orders/{oid}", change)
        delivery = receiver.wait(lambda r, n=count: len(r) > n)[-1]
        assert delivery.topic == topic
        assert woo_signature_ok(delivery.body, delivery.headers["x-wc-webhook-signature"], store.webhook_secret())
        wait_delivered(store)
    payloads = {d.topic: d.json() for d in receiver.records}
    assert payloads["order.deleted"] == {"id": oid}
    assert payloads["order.updated"]["status"] == "cancelled"
    assert payloads["order.restored"]["status"] == "cancelled"
    hidden = wc_api(store).get("orders", params={"status": "trash"}).json()
    assert hidden == []


def test_pending_deliveries_coalesce_and_show_the_state_at_delivery(
    store: WooCommerceSandbox, receiver: Receiver
) -> None:
    store.subscribe("order.updated", receiver.url, store.webhook_secret())
    order = new_order(store, paid=False)
    receiver.wait(lambda r: len(r) >= 1)  # checkout's own order.updated
    wait_delivered(store)
    receiver.records.clear()
    # the reorder fault holds the first delivery back until it is switched off: pending for as long as the three
    # changes take (a delay of fixed length would race them on a loaded machine)
    control(store, "POST", "/faults", {"webhook_reorder": True})
    for change in ({"paid": True}, {"lines": [{"sku": "SKU-0001", "quantity": 5}]}, {"cancelled": True}):
        control(store, "PATCH", f"/orders/{order['id']}", change)
    assert receiver.hooks() == []
    control(store, "POST", "/faults", {"webhook_reorder": False})  # lets the held delivery go
    wait_delivered(store)
    deliveries = receiver.hooks()
    assert len(deliveries) == 1
    final = deliveries[0].json()
    assert final["status"] == "cancelled"
    assert final["line_items"][0]["quantity"] == 5


def test_failing_receiver_gets_no_retries_and_the_webhook_is_disabled(store: WooCommerceSandbox) -> None:
    failing = Receiver(status=500)
    try:
        hook = wc_api(store).post("webhooks", {"topic": "order.created", "delivery_url": failing.url}).json()
        assert store.pings[-1]["ok"] is False  # the ping wanted exactly 200; the webhook is still created
        for n in range(8):
            new_order(store)
            expected = "active" if n < 6 else "disabled"
            assert eventually(lambda n=n: len(failing.hooks()) == min(n + 1, 7))
            assert eventually(lambda want=expected: webhook_status(store, hook["id"]) == want)
        wait_delivered(store)
        attempts = [d for d in store.dispatcher.delivered if d["address"] == failing.url]
        assert len(attempts) == 7
        assert {d["attempt"] for d in attempts} == {0}
        assert len(failing.hooks()) == 7
        assert store.webhook_succeeded(302)
        assert not store.webhook_succeeded(303)
    finally:
        failing.close()


def test_webhook_faults_drop_and_duplicate(store: WooCommerceSandbox, receiver: Receiver) -> None:
    store.subscribe("order.created", receiver.url, store.webhook_secret())
    control(store, "POST", "/faults", {"webhook_drop": 1.0})
    new_order(store)
    wait_delivered(store)
    assert receiver.hooks() == []
    control(store, "POST", "/faults", {"webhook_drop": 0.0, "webhook_duplicate": 1.0})
    new_order(store)
    deliveries = receiver.wait(lambda r: len(r) >= 2)
    assert len(deliveries) == 2
    assert deliveries[0].body == deliveries[1].body
    assert all(
        woo_signature_ok(d.body, d.headers["x-wc-webhook-signature"], store.webhook_secret()) for d in deliveries
    )


def test_error_rate_answers_with_wordpress_error_bodies(store: WooCommerceSandbox) -> None:
    control(store, "POST", "/faults", {"error_rate": 1.0})
    response = wc_api(store).get("orders")
    assert response.status_code in {500, 502, 503}
    body = response.json()
    assert body["code"] == "internal_server_error"
    assert body["data"] == {"status": response.status_code}


# --- notes, batch, trash and scale -------------------------------------------------------------------------
def test_notes_batch_and_trash(store: WooCommerceSandbox, receiver: Receiver) -> None:
    store.subscribe("order.deleted", receiver.url, store.webhook_secret())
    first, second, third = (new_order(store)["id"] for _ in range(3))
    api = wc_api(store)
    note = api.post(f"orders/{first}/notes", {"note": "Shipped: PostNL 3SABCD123", "customer_note": True})
    assert note.status_code == 201
    assert note.json()["customer_note"] is True
    assert api.get(f"orders/{first}/notes", params={"type": "customer"}).json()[0]["note"].startswith("Shipped")
    batch = api.post(
        "orders/batch", {"update": [{"id": first, "status": "completed"}, {"id": 999999}], "delete": [third]}
    )
    answer = batch.json()
    assert answer["update"][0]["status"] == "completed"
    assert answer["update"][1]["error"]["code"] == "woocommerce_rest_shop_order_invalid_id"
    assert answer["delete"][0]["id"] == third
    assert api.get(f"orders/{third}").status_code == 404
    view = control(store, "GET", f"/orders/{first}")
    assert [w["method"] for w in view["writes"]] == ["POST", "POST"]
    trashed = api.delete(f"orders/{second}").json()
    assert trashed["status"] == "trash"
    assert receiver.wait(lambda r: len(r) >= 1)[0].json() == {"id": second}
    assert api.delete("webhooks/1").status_code == 501  # webhooks cannot be trashed, only force-deleted


def test_ten_thousand_orders_seed_and_list(store: WooCommerceSandbox) -> None:
    store.seed_orders(11, 10_000)
    auth = basic(store)
    with httpx.Client(auth=auth, timeout=30) as client:
        page = client.get(
            f"{store.root_url}/wp-json/wc/v3/orders",
            params={"per_page": 100, "page": 50, "orderby": "modified", "order": "asc"},
        )
    assert page.headers["X-WP-Total"] == "10000"
    assert page.headers["X-WP-TotalPages"] == "100"
    assert len(page.json()) == 100
