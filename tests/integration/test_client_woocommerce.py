"""The WooCommerce client against the WooCommerce sandbox over real HTTP (the official SDK, OAuth over http).

Orders come out of the keyset walk and map; webhooks are received by a tiny real HTTP server; a host that
answers 429 is a small real proxy in front of the sandbox (WooCommerce core itself never throttles).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, urlencode

import httpx
import pytest
from woocommerce import API
from woocommerce.oauth import OAuth

from connector.mapping import MappingContext, map_order
from connector.orders.model import OrderKind, PaymentStatus, Platform
from connector.platforms.base import PlatformWrite, RateBudget, RetryPolicy
from connector.platforms.woocommerce import (
    ORDER_TOPICS,
    WooCommerceClient,
    budget,
    modified_at,
    parse_webhook,
    verify_webhook,
)
from connector.runtime.config import StoreConfig
from connector.runtime.errors import FatalError, RetriableError, SkippableError, WebhookRejected
from sandbox.runner import serve
from sandbox.woocommerce import WooCommerceSandbox
from tests.support import WAIT_S

PAID_DELIVERY = {"lines": [{"sku": "SKU-0001", "quantity": 2}, {"sku": "SKU-0002", "quantity": 1}], "paid": True}
UNPAID_PICKUP = {"lines": [{"sku": "SKU-0003", "quantity": 1}], "kind": "pickup", "pickup_location": "utrecht"}
UNPAID_DELIVERY = {"lines": [{"sku": "SKU-0005", "quantity": 3}], "paid": False}


# --- helpers --------------------------------------------------------------------------------------------------
def control(sb: WooCommerceSandbox, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{sb.root_url}/_sandbox{path}", json=body, timeout=10)
    assert response.status_code < 300, response.text
    return response.json()


def api_requests(sb: WooCommerceSandbox) -> list[dict[str, Any]]:
    return list(control(sb, "GET", "/requests")["requests"])


def store_of(sb: WooCommerceSandbox, **changes: Any) -> StoreConfig:
    d = sb.describe()
    settings = {"name": "woo-test", "platform": "woocommerce", "base_url": d["base_url"]}
    settings |= {"credentials": d["credentials"], "webhook_secret": d["webhook_secret"]}
    return StoreConfig(**(settings | changes))


def quick_budget(sleeps: list[float] | None = None) -> RateBudget:
    """No spacing and no real sleeping (retries included), recording what would have been slept."""
    record = sleeps if sleeps is not None else []
    return RateBudget(sleep=record.append)


def context(sb: WooCommerceSandbox) -> MappingContext:
    sites = sb.describe()["locations"]  # our location name -> the pickup location's name in WooCommerce
    return MappingContext(store="woo-test", locations={shown: ours for ours, shown in sites.items()})


def closed_port() -> str:
    """A URL nobody listens on."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


def all_orders(client: WooCommerceClient, since: datetime | None = None) -> list[dict[str, Any]]:
    return [dict(order) for page in islice(client.iter_order_pages(since), 100) for order in page.orders]


@dataclass
class Delivery:
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A real HTTP endpoint that keeps every POST (lower-case header names, as the daemon passes them)."""

    def __init__(self) -> None:
        self.records: list[Delivery] = []
        self._cv = threading.Condition()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with outer._cv:
                    outer.records.append(Delivery({k.lower(): v for k, v in self.headers.items()}, body))
                    outer._cv.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/woo-test"

    def wait(self, topic: str, count: int = 1, timeout: float = WAIT_S) -> list[Delivery]:
        def found() -> list[Delivery]:
            return [r for r in self.records if r.headers.get("x-wc-webhook-topic") == topic]

        with self._cv:
            self._cv.wait_for(lambda: len(found()) >= count, timeout=timeout)
            return found()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class ThrottlingHost:
    """A host in front of the store (a WAF, a security plugin) that refuses the first calls, then passes them on.

    OAuth 1.0a signs the URL, and ours is not the store's, so calls passed on are re-signed for the store.
    """

    def __init__(self, sb: WooCommerceSandbox, *, refuse: int, status: int, retry_after: str) -> None:
        self.hits = 0
        lock = threading.Lock()
        creds = sb.describe()["credentials"]
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    outer.hits += 1
                    refused = outer.hits <= refuse
                if refused:
                    body = json.dumps({"code": "too_many_requests", "message": "Slow down.", "data": {}}).encode()
                    self._answer(status, body, {"Retry-After": retry_after})
                    return
                path, _, query = self.path.partition("?")
                params = {k: v for k, v in parse_qsl(query) if not k.startswith("oauth_")}
                url = f"{sb.root_url}{path}" + (f"?{urlencode(params)}" if params else "")
                signed = OAuth(url, creds["consumer_key"], creds["consumer_secret"], version="wc/v3", method="GET")
                answer = httpx.get(signed.get_oauth_url(), timeout=10)
                self._answer(answer.status_code, answer.content, {"X-WP-Total": answer.headers.get("X-WP-Total", "")})

            def _answer(self, code: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(code)
                for name, value in {**headers, "Content-Type": "application/json"}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def sandbox() -> Iterator[WooCommerceSandbox]:
    sb = WooCommerceSandbox()
    with serve(sb):
        yield sb


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def client(sandbox: WooCommerceSandbox) -> WooCommerceClient:
    return WooCommerceClient(store_of(sandbox), quick_budget())


# --- orders -----------------------------------------------------------------------------------------------------
def test_created_orders_come_out_of_the_walk_and_map(sandbox: WooCommerceSandbox, client: WooCommerceClient) -> None:
    created = [control(sandbox, "POST", "/orders", spec) for spec in (PAID_DELIVERY, UNPAID_PICKUP, UNPAID_DELIVERY)]
    pages = list(client.iter_order_pages(None))
    assert [page.total for page in pages] == [3]
    got = {str(raw["id"]): map_order(Platform.WOOCOMMERCE, raw, context(sandbox)) for raw in pages[0].orders}
    paid, pickup, unpaid = (got[str(doc["id"])] for doc in created)
    for doc, order in zip(created, (paid, pickup, unpaid), strict=True):
        assert order.total.amount == Decimal(doc["total"])
        assert order.tax_total.amount == Decimal(doc["total_tax"])
        assert [(line.sku, line.quantity) for line in order.lines] == [
            (item["sku"], item["quantity"]) for item in doc["line_items"]
        ]
    assert (paid.kind, paid.payment_status) == (OrderKind.DELIVERY, PaymentStatus.PAID)
    assert (pickup.kind, pickup.payment_status, pickup.pickup_location) == (
        OrderKind.PICKUP,
        PaymentStatus.UNPAID,
        "utrecht",
    )
    assert (unpaid.kind, unpaid.payment_status) == (OrderKind.DELIVERY, PaymentStatus.UNPAID)


def test_since_keeps_orders_modified_at_or_after_it(sandbox: WooCommerceSandbox, client: WooCommerceClient) -> None:
    control(sandbox, "POST", "/seed", {"seed": 5, "orders": 40})
    everything = all_orders(client)
    since = modified_at(everything[25])
    later = all_orders(client, since)
    assert [o["id"] for o in later] == [o["id"] for o in everything if modified_at(o) >= since]
    assert later[0]["id"] == everything[25]["id"]  # the boundary itself is included
    listed = api_requests(sandbox)[-1]["query"]
    assert "dates_are_gmt=true" in listed
    assert "orderby=modified" in listed


def test_a_backfill_walks_many_pages_without_duplicates_or_gaps(sandbox: WooCommerceSandbox) -> None:
    control(sandbox, "POST", "/seed", {"seed": 2, "orders": 250})
    pages = list(WooCommerceClient(store_of(sandbox), quick_budget()).iter_order_pages(None))
    assert [len(page.orders) for page in pages] == [100, 100, 50]
    assert {page.total for page in pages} == {250}
    ids = [order["id"] for page in pages for order in page.orders]
    assert sorted(ids) == sorted(sandbox.orders)
    stamps = [modified_at(order) for page in pages for order in page.orders]
    assert stamps == sorted(stamps)


def test_an_order_changed_mid_walk_is_neither_skipped_nor_lost(sandbox: WooCommerceSandbox) -> None:
    control(sandbox, "POST", "/seed", {"seed": 4, "orders": 120})
    walk = WooCommerceClient(store_of(sandbox), quick_budget(), per_page=40).iter_order_pages(None)
    first = next(walk)
    changed = first.orders[3]["id"]
    control(sandbox, "PATCH", f"/orders/{changed}", {"cancelled": True})  # moves it to the end of the listing
    seen = [order for page in [first, *walk] for order in page.orders]
    assert {order["id"] for order in seen} == set(sandbox.orders)  # page numbers would have skipped one
    versions = [order["status"] for order in seen if order["id"] == changed]
    assert versions[-1] == "cancelled"
    assert len(versions) == 2


def test_orders_sharing_one_second_are_each_read_once(sandbox: WooCommerceSandbox) -> None:
    for _ in range(12):  # created within a second or two: ties on date_modified_gmt
        control(sandbox, "POST", "/orders", UNPAID_DELIVERY)
    pages = list(islice(WooCommerceClient(store_of(sandbox), quick_budget(), per_page=5).iter_order_pages(None), 20))
    ids = [order["id"] for page in pages for order in page.orders]
    assert sorted(ids) == sorted(sandbox.orders)
    assert any("exclude=" in r["query"] for r in api_requests(sandbox))


def test_fetch_order_returns_the_bundle_or_none(sandbox: WooCommerceSandbox, client: WooCommerceClient) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    fetched = client.fetch_order(str(doc["id"]))
    assert fetched is not None
    assert (fetched["id"], fetched["total"]) == (doc["id"], doc["total"])
    assert client.fetch_order("987654") is None


# --- write-back -------------------------------------------------------------------------------------------------
def status_write(external_id: str, target: str, action: str = "set_status") -> PlatformWrite:
    return PlatformWrite(external_id=external_id, action=action, target=target, idempotency_key=f"{external_id}-x")


def test_a_status_write_is_applied_once(sandbox: WooCommerceSandbox, client: WooCommerceClient) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    answer = client.apply_write(status_write(str(doc["id"]), "completed"))
    assert (answer["id"], answer["status"]) == (doc["id"], "completed")
    again = client.apply_write(status_write(str(doc["id"]), "completed"))
    assert again["already"] is True
    view = control(sandbox, "GET", f"/orders/{doc['id']}")
    assert view["status"] == "completed"
    assert [w["body"] for w in view["writes"]] == [{"status": "completed"}]  # the repeat wrote nothing


def test_writes_woocommerce_cannot_take_are_skippable(sandbox: WooCommerceSandbox, client: WooCommerceClient) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    with pytest.raises(SkippableError, match="only order statuses"):
        client.apply_write(status_write(str(doc["id"]), "fulfilled", action="create_fulfillment"))
    with pytest.raises(SkippableError, match="rest_invalid_param"):
        client.apply_write(status_write(str(doc["id"]), "shipped-by-owl"))
    with pytest.raises(SkippableError, match="no longer exists"):
        client.apply_write(status_write("987654", "completed"))


# --- webhooks ---------------------------------------------------------------------------------------------------
def test_register_webhooks_is_idempotent_and_its_pings_pass(
    sandbox: WooCommerceSandbox, client: WooCommerceClient, receiver: Receiver
) -> None:
    first = client.register_webhooks(receiver.url)
    assert [line.split(" ", 1)[0] for line in first] == list(ORDER_TOPICS)
    assert all(line.endswith("created)") for line in first)
    again = client.register_webhooks(receiver.url)
    assert all(line.endswith("kept)") for line in again)
    assert len(control(sandbox, "GET", "/webhooks")["subscriptions"]) == 4
    assert len(receiver.records) == 4  # one creation ping each, unsigned
    for ping in receiver.records:
        verify_webhook(ping.headers, ping.body, sandbox.describe()["webhook_secret"])
        assert parse_webhook(ping.headers, ping.body).ping


def test_a_disabled_webhook_is_reactivated(
    sandbox: WooCommerceSandbox, client: WooCommerceClient, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    hook = next(s for s in control(sandbox, "GET", "/webhooks")["subscriptions"] if s["topic"] == "order.updated")
    d = sandbox.describe()
    sdk = API(
        url=d["base_url"],
        consumer_key=d["credentials"]["consumer_key"],
        consumer_secret=d["credentials"]["consumer_secret"],
        version="wc/v3",
        timeout=10,
    )
    assert sdk.put(f"webhooks/{hook['id']}", {"status": "disabled"}).json()["status"] == "disabled"
    lines = client.register_webhooks(receiver.url)
    assert [line for line in lines if line.endswith("re-activated)")] == [
        f"order.updated -> {receiver.url} (webhook {hook['id']}, active; re-activated)"
    ]
    assert sandbox.subscriptions[hook["id"]].active


def test_an_order_webhook_verifies_parses_and_completes_without_a_fetch(
    sandbox: WooCommerceSandbox, client: WooCommerceClient, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    [hook] = receiver.wait("order.created")
    secret = sandbox.describe()["webhook_secret"]
    verify_webhook(hook.headers, hook.body, secret)
    with pytest.raises(WebhookRejected) as wrong:
        verify_webhook(hook.headers, hook.body, secret + "x")
    with pytest.raises(WebhookRejected) as tampered:
        verify_webhook(hook.headers, hook.body.replace(doc["total"].encode(), b"0.01"), secret)
    assert (wrong.value.status, tampered.value.status) == (401, 401)
    delivery = parse_webhook(hook.headers, hook.body)
    assert (delivery.topic, delivery.external_id, delivery.deleted) == ("order.created", str(doc["id"]), False)
    assert delivery.updated_at == datetime.fromisoformat(doc["date_modified_gmt"]).replace(tzinfo=UTC)
    calls = len(api_requests(sandbox))
    raw = client.complete(delivery)
    assert len(api_requests(sandbox)) == calls  # the body is the full order: nothing fetched
    assert raw is not None
    assert map_order(Platform.WOOCOMMERCE, raw, context(sandbox)).total.amount == Decimal(doc["total"])


def test_complete_fetches_a_thin_payload(sandbox: WooCommerceSandbox, client: WooCommerceClient) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    headers = {"x-wc-webhook-topic": "order.updated", "x-wc-webhook-id": "9"}
    delivery = parse_webhook(headers, json.dumps({"id": doc["id"]}).encode())
    raw = client.complete(delivery)
    assert raw is not None
    assert raw["line_items"]


def test_a_duplicated_event_keeps_its_delivery_id(
    sandbox: WooCommerceSandbox, client: WooCommerceClient, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    control(sandbox, "POST", "/faults", {"webhook_duplicate": 1.0})
    control(sandbox, "POST", "/orders", UNPAID_PICKUP)  # an admin order: order.created only
    twice = receiver.wait("order.created", count=2)
    assert len(twice) == 2
    assert len({parse_webhook(h.headers, h.body).delivery_id for h in twice}) == 1


def test_successive_changes_get_distinct_delivery_ids_even_within_one_second(
    sandbox: WooCommerceSandbox, client: WooCommerceClient, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    doc = control(sandbox, "POST", "/orders", UNPAID_PICKUP)
    receiver.wait("order.created")
    control(sandbox, "PATCH", f"/orders/{doc['id']}", {"paid": True})
    receiver.wait("order.updated")
    control(sandbox, "PATCH", f"/orders/{doc['id']}", {"cancelled": True})
    first, second = receiver.wait("order.updated", count=2)
    assert (
        parse_webhook(first.headers, first.body).delivery_id != parse_webhook(second.headers, second.body).delivery_id
    )
    assert json.loads(second.body)["status"] == "cancelled"


def test_a_deleted_order_arrives_as_a_deletion(
    sandbox: WooCommerceSandbox, client: WooCommerceClient, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    control(sandbox, "PATCH", f"/orders/{doc['id']}", {"deleted": True})
    [hook] = receiver.wait("order.deleted")
    verify_webhook(hook.headers, hook.body, sandbox.describe()["webhook_secret"])
    delivery = parse_webhook(hook.headers, hook.body)
    assert (delivery.deleted, delivery.external_id, delivery.payload) == (True, str(doc["id"]), None)


# --- rate limits ------------------------------------------------------------------------------------------------
def test_a_burst_is_spaced_at_the_budget_and_never_throttled(sandbox: WooCommerceSandbox) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    shipped = budget()
    assert (shipped.clock, shipped.sleep) == (time.monotonic, time.sleep)  # the process's clock, by default
    slept: list[float] = []
    now = [1000.0]  # the budget's clock moves only when it sleeps: a loaded machine cannot skew the spacing

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    shipped.clock, shipped.sleep = lambda: now[0], sleep
    client = WooCommerceClient(store_of(sandbox), shipped)
    control(sandbox, "DELETE", "/requests")
    for _ in range(12):
        assert client.fetch_order(str(doc["id"])) is not None
    assert slept == [pytest.approx(0.1)] * 11  # 10 calls/s: every call after the first waits its turn
    assert len(api_requests(sandbox)) == 12
    assert control(sandbox, "GET", "/requests")["throttled"] == 0


@pytest.mark.parametrize(("status", "retry_after"), [(429, "2"), (503, "3")])
def test_a_host_asking_to_wait_is_honoured_and_retried(
    sandbox: WooCommerceSandbox, status: int, retry_after: str
) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    host = ThrottlingHost(sandbox, refuse=1, status=status, retry_after=retry_after)
    try:
        sleeps: list[float] = []
        store_budget = quick_budget(sleeps)
        client = WooCommerceClient(store_of(sandbox, base_url=host.url), store_budget)
        fetched = client.fetch_order(str(doc["id"]))
    finally:
        host.close()
    assert fetched is not None
    assert fetched["id"] == doc["id"]
    assert (host.hits, store_budget.throttled) == (2, 1)
    assert sleeps[0] == float(retry_after)


# --- faults and refusals ----------------------------------------------------------------------------------------
def test_calls_succeed_through_a_30_percent_error_rate(sandbox: WooCommerceSandbox, client: WooCommerceClient) -> None:
    control(sandbox, "POST", "/seed", {"seed": 6, "orders": 30})
    control(sandbox, "POST", "/faults", {"error_rate": 0.3})
    ids = [
        o["id"]
        for page in WooCommerceClient(store_of(sandbox), quick_budget(), per_page=10).iter_order_pages(None)
        for o in page.orders
    ]
    for order_id in ids[:10]:
        assert client.fetch_order(str(order_id)) is not None
    assert sorted(ids) == sorted(sandbox.orders)
    assert any(r["status"] >= 500 for r in api_requests(sandbox))


def test_a_store_that_keeps_failing_gives_a_retriable_error_after_bounded_attempts(
    sandbox: WooCommerceSandbox,
) -> None:
    control(sandbox, "POST", "/faults", {"error_rate": 1.0})
    control(sandbox, "DELETE", "/requests")
    policy = RetryPolicy(attempts=4)
    client = WooCommerceClient(store_of(sandbox), quick_budget(), policy=policy)
    with pytest.raises(RetriableError, match="HTTP 5"):
        client.fetch_order("101")
    assert len(api_requests(sandbox)) == 4


def test_unreachable_store_is_retriable_and_names_no_secret(sandbox: WooCommerceSandbox) -> None:
    client = WooCommerceClient(
        store_of(sandbox, base_url=closed_port()), quick_budget(), policy=RetryPolicy(attempts=2)
    )
    with pytest.raises(RetriableError) as caught:
        list(client.iter_order_pages(None))
    assert "oauth_signature" not in str(caught.value)
    assert sandbox.describe()["credentials"]["consumer_key"] not in str(caught.value)


def test_bad_credentials_and_a_wrong_base_url_are_fatal(sandbox: WooCommerceSandbox) -> None:
    secret = "cs_" + "0" * 40
    wrong_key = store_of(sandbox, credentials={**sandbox.describe()["credentials"], "consumer_secret": secret})
    with pytest.raises(FatalError, match="HTTP 401") as refused:
        WooCommerceClient(wrong_key, quick_budget()).fetch_order("101")
    assert secret not in str(refused.value)
    no_route = store_of(sandbox, base_url=f"{sandbox.root_url}/shop")
    with pytest.raises(FatalError, match="permalinks"):
        WooCommerceClient(no_route, quick_budget()).fetch_order("101")
