"""The Shopify client against the Shopify sandbox over real HTTP (GraphQL Admin API, the official SDK's session).

Orders come out of the cursor walk and map; webhooks are received by a tiny real HTTP server; the cost-based
rate limit runs on a simulated clock shared by the sandbox and the client's budget (`SimClock`), so a backfill
that takes minutes at Shopify's 100 points a second is measured in milliseconds. An HTTP 429 (which Shopify's
GraphQL may send, the sandbox never does) comes from a small real proxy in front of the sandbox.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from connector.mapping import MappingContext, map_order
from connector.orders.model import OrderKind, PaymentStatus, Platform
from connector.platforms.base import PlatformWrite, RateBudget, RetryPolicy
from connector.platforms.shopify import (
    MIN_INTERVAL_S,
    ORDER_TOPICS,
    ShopifyClient,
    budget,
    parse_webhook,
    verify_webhook,
)
from connector.runtime.config import StoreConfig
from connector.runtime.errors import FatalError, RetriableError, SkippableError, WebhookRejected
from sandbox.runner import serve
from sandbox.shopify import ShopifySandbox
from tests.support import WAIT_S

PAID_DELIVERY = {"lines": [{"sku": "SKU-0001", "quantity": 2}, {"sku": "SKU-0002", "quantity": 1}], "paid": True}
UNPAID_PICKUP = {"lines": [{"sku": "SKU-0003", "quantity": 1}], "kind": "pickup", "pickup_location": "utrecht"}
UNPAID_DELIVERY = {"lines": [{"sku": "SKU-0005", "quantity": 3}], "paid": False}
GRAPHQL = "/admin/api/2024-07/graphql.json"


# --- helpers --------------------------------------------------------------------------------------------------
@dataclass
class SimClock:
    """Simulated time for the sandbox's cost bucket and the client's budget: sleeping moves it on at once."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += max(0.0, seconds)


def control(sb: ShopifySandbox, method: str, path: str, body: Any = None) -> Any:
    response = httpx.request(method, f"{sb.root_url}/_sandbox{path}", json=body, timeout=30)
    assert response.status_code < 300, response.text
    return response.json()


def api_requests(sb: ShopifySandbox) -> list[dict[str, Any]]:
    return list(control(sb, "GET", "/requests")["requests"])


def store_of(sb: ShopifySandbox, **changes: Any) -> StoreConfig:
    d = sb.describe()
    settings = {"name": "shop-test", "platform": "shopify", "base_url": d["base_url"]}
    settings |= {"credentials": d["credentials"], "webhook_secret": d["webhook_secret"]}
    return StoreConfig(**(settings | changes))


def quick_budget() -> RateBudget:
    """No spacing and no real sleeping (retries included)."""
    return RateBudget(sleep=lambda _s: None)


def context(sb: ShopifySandbox) -> MappingContext:
    ids = {gid.rsplit("/", 1)[1]: ours for ours, gid in sb.describe()["locations"].items()}
    return MappingContext(store="shop-test", locations=ids)


def all_orders(client: ShopifyClient, since: datetime | None = None, until: datetime | None = None) -> list[Any]:
    return [order for page in client.iter_order_pages(since, until) for order in page.orders]


def updated(order: Any) -> datetime:
    return datetime.fromisoformat(order["updatedAt"])


def closed_port() -> str:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = server.server_address[1]
    server.server_close()
    return f"http://127.0.0.1:{port}"


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
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/shop-test"

    def wait(self, topic: str, count: int = 1, timeout: float = WAIT_S) -> list[Delivery]:
        def found() -> list[Delivery]:
            return [r for r in self.records if r.headers.get("x-shopify-topic") == topic]

        with self._cv:
            self._cv.wait_for(lambda: len(found()) >= count, timeout=timeout)
            return found()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


class ThrottlingProxy:
    """In front of the sandbox: answers the first `refuse` requests 429 with `Retry-After`, then passes them on."""

    def __init__(self, sb: ShopifySandbox, *, refuse: int, retry_after: str) -> None:
        self.hits = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    outer.hits += 1
                    refused = outer.hits <= refuse
                if refused:
                    self._answer(429, b'{"errors":"Throttled"}', {"Retry-After": retry_after})
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                answer = httpx.post(f"{sb.root_url}{self.path}", content=body, headers=headers, timeout=10)
                self._answer(answer.status_code, answer.content, {})

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
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def sandbox() -> Iterator[ShopifySandbox]:
    sb = ShopifySandbox(seed=7)
    with serve(sb):
        yield sb


@pytest.fixture
def sim(sandbox: ShopifySandbox, monkeypatch: pytest.MonkeyPatch) -> SimClock:
    """The sandbox's rate limiter on simulated time (realistic limits: 2000 points, 100 a second)."""
    clock = SimClock()
    monkeypatch.setattr(sandbox, "monotonic", clock.clock)
    return clock


def sim_budget(sim: SimClock) -> RateBudget:
    return RateBudget(min_interval=MIN_INTERVAL_S, sleep=sim.sleep, clock=sim.clock)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def client(sandbox: ShopifySandbox) -> ShopifyClient:
    return ShopifyClient(store_of(sandbox), quick_budget())


# --- orders -----------------------------------------------------------------------------------------------------
def test_created_orders_come_out_of_the_walk_and_map(sandbox: ShopifySandbox) -> None:
    created = [control(sandbox, "POST", "/orders", spec) for spec in (PAID_DELIVERY, UNPAID_PICKUP, UNPAID_DELIVERY)]
    client = ShopifyClient(store_of(sandbox), budget())  # the real budget: a fresh bucket needs no pause
    pages = list(client.iter_order_pages(None))
    assert [page.total for page in pages] == [None]
    got = {raw["legacyResourceId"]: map_order(Platform.SHOPIFY, raw, context(sandbox)) for raw in pages[0].orders}
    paid, pickup, unpaid = (got[str(doc["id"])] for doc in created)
    for doc, order in zip(created, (paid, pickup, unpaid), strict=True):
        assert order.total.amount == Decimal(doc["total_price"])
        assert order.tax_total.amount == Decimal(doc["total_tax"])
        assert order.number == doc["name"]
        assert [(line.sku, line.quantity) for line in order.lines] == [
            (item["sku"], item["quantity"]) for item in doc["line_items"]
        ]
    assert (paid.kind, paid.payment_status) == (OrderKind.DELIVERY, PaymentStatus.PAID)
    assert (pickup.kind, pickup.payment_status, pickup.pickup_location) == (
        OrderKind.PICKUP,
        PaymentStatus.PENDING,
        "utrecht",
    )
    assert (unpaid.kind, unpaid.payment_status) == (OrderKind.DELIVERY, PaymentStatus.PENDING)
    assert all(r["path"] == GRAPHQL for r in api_requests(sandbox))  # GraphQL only, no REST


def test_an_order_longer_than_a_page_asks_is_read_whole(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    lines = [{"sku": f"SKU-{n:04d}", "quantity": 9} for n in range(1, 25)]  # no location has it all: split
    doc = control(sandbox, "POST", "/orders", {"lines": lines, "paid": True})
    order = all_orders(client)[0]
    assert len(order["lineItems"]["nodes"]) == 24  # 8 on the page, the rest read with `after:`
    fo_lines = [x for fo in order["fulfillmentOrders"]["nodes"] for x in fo["lineItems"]["nodes"]]
    assert sorted(x["lineItem"]["sku"] for x in fo_lines) == [f"SKU-{n:04d}" for n in range(1, 25)]
    mapped = map_order(Platform.SHOPIFY, order, context(sandbox))
    assert mapped.total.amount == Decimal(doc["total_price"])
    assert sum(line.quantity for line in mapped.lines) == 24 * 9
    assert client.fetch_order(str(doc["id"])) == order  # one order: the same bundle


def test_since_and_until_select_by_last_change(sandbox: ShopifySandbox, sim: SimClock) -> None:
    control(sandbox, "POST", "/seed", {"seed": 5, "orders": 60})
    client = ShopifyClient(store_of(sandbox), sim_budget(sim))
    everything = all_orders(client)
    stamps = sorted(updated(order) for order in everything)
    since, until = stamps[20], stamps[40]
    later = all_orders(client, since)
    assert [o["id"] for o in later] == [o["id"] for o in everything if updated(o) >= since]
    window = all_orders(client, since, until)
    assert {o["id"] for o in window} == {o["id"] for o in everything if since <= updated(o) < until}
    assert 0 < len(window) < len(later)


def test_a_backfill_walks_many_pages_without_duplicates_or_gaps(sandbox: ShopifySandbox, sim: SimClock) -> None:
    control(sandbox, "POST", "/seed", {"seed": 2, "orders": 300})
    pages = list(ShopifyClient(store_of(sandbox), sim_budget(sim)).iter_order_pages(None))
    assert len(pages) == 50  # 6 orders a page
    ids = [order["legacyResourceId"] for page in pages for order in page.orders]
    assert sorted(ids) == sorted(str(n) for n in sandbox.orders)
    stamps = [updated(order) for page in pages for order in page.orders]
    assert stamps == sorted(stamps)  # oldest change first


def test_an_order_changed_mid_walk_comes_again_as_its_new_version(sandbox: ShopifySandbox, sim: SimClock) -> None:
    control(sandbox, "POST", "/seed", {"seed": 4, "orders": 30})
    walk = ShopifyClient(store_of(sandbox), sim_budget(sim)).iter_order_pages(None)
    first = next(walk)
    changed = first.orders[2]["legacyResourceId"]
    control(sandbox, "PATCH", f"/orders/{changed}", {"cancelled": True})  # moves it behind the cursor
    seen = [order for page in [first, *walk] for order in page.orders]
    assert {order["legacyResourceId"] for order in seen} == {str(n) for n in sandbox.orders}
    versions = [order["cancelledAt"] for order in seen if order["legacyResourceId"] == changed]
    assert versions[0] is None
    assert versions[-1] is not None
    assert len(versions) == 2


def test_a_page_shopify_finds_too_costly_is_asked_again_smaller(sandbox: ShopifySandbox) -> None:
    control(sandbox, "POST", "/seed", {"seed": 8, "orders": 20})
    client = ShopifyClient(store_of(sandbox), quick_budget(), page_size=8)  # 2 + 8 x 144 = 1154 points: refused
    pages = list(client.iter_order_pages(None))
    assert [len(page.orders) for page in pages] == [6, 6, 6, 2]  # 1000 / 1154 of 8
    assert len(api_requests(sandbox)) == 5  # the refused page, then four


def test_fetch_order_returns_the_bundle_or_none(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    order = client.fetch_order(str(doc["id"]))
    assert order is not None
    assert order["id"] == f"gid://shopify/Order/{doc['id']}"
    assert client.fetch_order("1") is None
    with pytest.raises(SkippableError):
        client.fetch_order("gid://shopify/Order/1")


def test_each_thread_talks_to_its_own_store() -> None:
    """The SDK keeps its session per thread: two stores served from several threads never mix."""
    with serve(ShopifySandbox(seed=1)) as one, serve(ShopifySandbox(seed=2)) as two:
        assert isinstance(one, ShopifySandbox)
        assert isinstance(two, ShopifySandbox)
        docs = {sb: control(sb, "POST", "/orders", PAID_DELIVERY)["id"] for sb in (one, two)}
        clients = {sb: ShopifyClient(store_of(sb), quick_budget()) for sb in (one, two)}
        found: list[bool] = []

        def read(sb: ShopifySandbox) -> None:
            for _ in range(5):
                order = clients[sb].fetch_order(str(docs[sb]))
                found.append(order is not None and order["legacyResourceId"] == str(docs[sb]))

        threads = [threading.Thread(target=read, args=(sb,)) for sb in (one, two, one, two)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert found == [True] * 20


# --- write-back -------------------------------------------------------------------------------------------------
def test_a_fulfilment_with_tracking_is_written_once(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    location = control(sandbox, "GET", f"/orders/{doc['id']}")["fulfillment_orders"][0]["assigned_location_id"]
    tracking = {"number": "1Z999", "carrier": "UPS", "url": "https://track.example/1Z999"}
    write = PlatformWrite(
        str(doc["id"]),
        "create_fulfillment",
        "fulfilled",
        "k1",
        notify=True,
        location_id=str(location),
        tracking=tracking,
    )
    answer = client.apply_write(write)
    assert answer["already"] is False
    assert answer["fulfillments"][0]["trackingInfo"] == [{"company": "UPS", "number": "1Z999", "url": tracking["url"]}]
    again = client.apply_write(write)  # a retry after a crash: Shopify shows it, nothing is sent
    assert again["already"] is True
    view = control(sandbox, "GET", f"/orders/{doc['id']}")
    assert view["status"] == "fulfilled"
    assert [(t["tracking_company"], t["tracking_number"]) for t in view["tracking"]] == [("UPS", "1Z999")]
    mutation = view["writes"][0]["body"]
    assert mutation["mutation"] == "fulfillmentCreateV2"
    assert mutation["variables"]["fulfillment"]["notifyCustomer"] is True
    assert len(view["writes"]) == 1


def test_a_split_order_is_fulfilled_location_by_location(sandbox: ShopifySandbox) -> None:
    lines = [{"sku": f"SKU-{n:04d}", "quantity": 9} for n in range(1, 25)]
    doc = control(sandbox, "POST", "/orders", {"lines": lines, "paid": True})
    fos = control(sandbox, "GET", f"/orders/{doc['id']}")["fulfillment_orders"]
    assert len(fos) > 1
    first = fos[0]
    skus = {x["sku"]: x["quantity"] for x in _fo_items(doc, first)}
    gid = f"gid://shopify/Location/{first['assigned_location_id']}"
    shop = ShopifyClient(store_of(sandbox), quick_budget())
    write = PlatformWrite(str(doc["id"]), "create_fulfillment", "fulfilled", "k", location_id=gid, lines=skus)
    assert shop.apply_write(write)["already"] is False
    view = control(sandbox, "GET", f"/orders/{doc['id']}")
    assert view["status"] == "partial"
    statuses = {fo["id"]: fo["status"] for fo in view["fulfillment_orders"]}
    assert statuses[first["id"]] == "closed"
    assert all(status == "open" for fo_id, status in statuses.items() if fo_id != first["id"])
    assert shop.apply_write(write)["already"] is True


def _fo_items(doc: dict[str, Any], fo: dict[str, Any]) -> list[dict[str, Any]]:
    skus = {item["id"]: item["sku"] for item in doc["line_items"]}
    return [{"sku": skus[x["line_item_id"]], "quantity": x["quantity"]} for x in fo["line_items"]]


def test_ready_for_pickup_is_marked_once(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    doc = control(sandbox, "POST", "/orders", {**UNPAID_PICKUP, "paid": True})
    utrecht = sandbox.describe()["locations"]["utrecht"]
    write = PlatformWrite(str(doc["id"]), "ready_for_pickup", "ready", "k", location_id=utrecht)
    assert client.apply_write(write)["already"] is False
    assert client.apply_write(write)["already"] is True
    view = control(sandbox, "GET", f"/orders/{doc['id']}")
    assert view["ready_for_pickup"] == [fo["id"] for fo in view["fulfillment_orders"]]
    assert len(view["writes"]) == 1  # the customer was told once
    delivery = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    with pytest.raises(SkippableError, match="no in-store pickup"):
        client.apply_write(PlatformWrite(str(delivery["id"]), "ready_for_pickup", "ready", "k2"))


def test_a_cancellation_is_written_once(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    write = PlatformWrite(str(doc["id"]), "cancel_order", "cancelled", "k")
    assert client.apply_write(write)["already"] is False
    assert client.apply_write(write)["already"] is True
    view = control(sandbox, "GET", f"/orders/{doc['id']}")
    assert view["status"] == "cancelled"
    assert view["financial_status"] == "paid"  # no refund: money is the merchant's call
    fulfil = PlatformWrite(str(doc["id"]), "create_fulfillment", "fulfilled", "k2")
    with pytest.raises(SkippableError, match="cancelled"):
        client.apply_write(fulfil)


def test_writes_shopify_cannot_take_are_skippable(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    with pytest.raises(SkippableError, match="set_status"):
        client.apply_write(PlatformWrite(str(doc["id"]), "set_status", "completed", "k"))
    with pytest.raises(SkippableError, match="no longer exists"):
        client.apply_write(PlatformWrite("1", "create_fulfillment", "fulfilled", "k"))
    with pytest.raises(SkippableError, match="SKU-9999"):
        client.apply_write(PlatformWrite(str(doc["id"]), "create_fulfillment", "fulfilled", "k", lines={"SKU-9999": 1}))
    assert control(sandbox, "GET", f"/orders/{doc['id']}")["writes"] == []


# --- webhooks ---------------------------------------------------------------------------------------------------
def test_register_webhooks_subscribes_each_order_topic_once(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    first = client.register_webhooks("https://connector.example/webhooks/shop-test")
    again = client.register_webhooks("https://connector.example/webhooks/shop-test")
    assert [line.split(" ")[0] for line in first] == list(ORDER_TOPICS)
    assert all(line.endswith("created)") for line in first)
    assert all(line.endswith("kept)") for line in again)
    subs = control(sandbox, "GET", "/webhooks")["subscriptions"]
    assert sorted(s["topic"] for s in subs) == sorted(ORDER_TOPICS)


def test_an_order_webhook_verifies_parses_and_completes(
    sandbox: ShopifySandbox, client: ShopifyClient, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    doc = control(sandbox, "POST", "/orders", UNPAID_PICKUP)
    delivery = receiver.wait("orders/create")[0]
    secret = sandbox.describe()["webhook_secret"]
    verify_webhook(delivery.headers, delivery.body, secret)
    with pytest.raises(WebhookRejected) as wrong:
        verify_webhook(delivery.headers, delivery.body, "not-the-secret")
    assert wrong.value.status == 401
    with pytest.raises(WebhookRejected):
        verify_webhook(delivery.headers, delivery.body.replace(b'"quantity": 1', b'"quantity": 9'), secret)
    parsed = parse_webhook(delivery.headers, delivery.body)
    assert (parsed.topic, parsed.external_id, parsed.deleted) == ("orders/create", str(doc["id"]), False)
    assert parsed.delivery_id == f"shopify:{delivery.headers['x-shopify-event-id']}"
    before = len(api_requests(sandbox))
    bundle = client.complete(parsed)
    assert len(api_requests(sandbox)) == before + 1  # one GraphQL query
    assert bundle is not None
    order = map_order(Platform.SHOPIFY, bundle, context(sandbox))
    assert (order.kind, order.pickup_location, order.total.amount) == (
        OrderKind.PICKUP,
        "utrecht",
        Decimal(doc["total_price"]),
    )


def test_a_duplicated_event_keeps_its_delivery_id(sandbox: ShopifySandbox, receiver: Receiver) -> None:
    sandbox.subscribe_defaults(receiver.url)
    control(sandbox, "POST", "/faults", {"webhook_duplicate": 1.0})
    control(sandbox, "POST", "/orders", PAID_DELIVERY)
    copies = receiver.wait("orders/create", count=2)
    ids = {parse_webhook(d.headers, d.body).delivery_id for d in copies}
    assert len(copies) == 2
    assert len(ids) == 1
    paid = parse_webhook(receiver.wait("orders/paid")[0].headers, receiver.wait("orders/paid")[0].body)
    assert paid.delivery_id not in ids  # another event of the same order


def test_deleted_and_edited_orders(sandbox: ShopifySandbox, client: ShopifyClient, receiver: Receiver) -> None:
    sandbox.subscribe_defaults(receiver.url)
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    control(sandbox, "PATCH", f"/orders/{doc['id']}", {"lines": [{"sku": "SKU-0001", "quantity": 5}]})
    edited = receiver.wait("orders/edited")[0]
    parsed = parse_webhook(edited.headers, edited.body)
    assert (parsed.external_id, parsed.payload) == (str(doc["id"]), None)  # an order_edit, not the order
    bundle = client.complete(parsed)
    assert bundle is not None
    remaining = {
        x["lineItem"]["sku"]: x["remainingQuantity"]
        for fo in bundle["fulfillmentOrders"]["nodes"]
        for x in fo["lineItems"]["nodes"]
    }
    assert remaining["SKU-0001"] == 5  # fetched after the edit: the fulfillment orders show the new quantity
    control(sandbox, "PATCH", f"/orders/{doc['id']}", {"deleted": True})
    gone = receiver.wait("orders/delete")[0]
    deletion = parse_webhook(gone.headers, gone.body)
    assert (deletion.external_id, deletion.deleted) == (str(doc["id"]), True)
    assert client.complete(deletion) is None
    assert client.fetch_order(str(doc["id"])) is None


# --- rate limits ------------------------------------------------------------------------------------------------
def test_a_backfill_runs_at_the_cost_ceiling_without_being_throttled(sandbox: ShopifySandbox, sim: SimClock) -> None:
    control(sandbox, "POST", "/seed", {"seed": 3, "orders": 200})
    shop_budget = sim_budget(sim)
    client = ShopifyClient(store_of(sandbox), shop_budget)
    start = sim.now
    orders = all_orders(client)
    elapsed = sim.now - start
    assert len(orders) == 200
    assert client.gauge.spent > 2 * client.gauge.maximum  # far more than the bucket held: it had to pace
    assert shop_budget.throttled == 0
    assert all(r["status"] == 200 for r in api_requests(sandbox))
    gauge = client.gauge
    assert gauge.available is not None
    from_the_bucket = gauge.maximum - gauge.available  # what the full bucket it started with gave
    restored_rate = (gauge.spent - from_the_bucket) / elapsed
    assert restored_rate >= 0.9 * gauge.restore_rate  # at least 90 of Shopify's 100 points a second


def test_a_throttled_query_waits_for_the_bucket_and_is_retried(sandbox: ShopifySandbox, sim: SimClock) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    bucket = sandbox.cost_bucket
    bucket.take(sim.now, bucket.current(sim.now))  # another app drained it
    shop_budget = sim_budget(sim)
    client = ShopifyClient(store_of(sandbox), shop_budget)
    order = client.fetch_order(str(doc["id"]))
    assert order is not None
    assert shop_budget.throttled == 1
    assert sum(sim.slept) >= 652 / 100  # the query's requested cost, restored at 100 points a second


def test_an_http_429_is_honoured_and_retried(sandbox: ShopifySandbox) -> None:
    doc = control(sandbox, "POST", "/orders", PAID_DELIVERY)
    proxy = ThrottlingProxy(sandbox, refuse=2, retry_after="1.5")
    slept: list[float] = []
    try:
        client = ShopifyClient(store_of(sandbox, base_url=proxy.url), RateBudget(sleep=slept.append))
        assert client.fetch_order(str(doc["id"])) is not None
    finally:
        proxy.close()
    assert proxy.hits == 3
    assert slept.count(1.5) == 2  # each retry waited Shopify's Retry-After


# --- faults -----------------------------------------------------------------------------------------------------
def test_calls_succeed_through_a_30_percent_error_rate(sandbox: ShopifySandbox, client: ShopifyClient) -> None:
    control(sandbox, "POST", "/seed", {"seed": 6, "orders": 20})
    control(sandbox, "POST", "/faults", {"error_rate": 0.3})
    ids = [order["legacyResourceId"] for order in all_orders(client)]
    assert sorted(ids) == sorted(str(n) for n in sandbox.orders)
    statuses = [r["status"] for r in api_requests(sandbox)]
    assert any(status >= 500 for status in statuses)


def test_a_store_that_keeps_failing_gives_a_retriable_error_after_bounded_attempts(sandbox: ShopifySandbox) -> None:
    control(sandbox, "POST", "/faults", {"error_rate": 1.0})
    client = ShopifyClient(store_of(sandbox), quick_budget(), policy=RetryPolicy(attempts=4))
    with pytest.raises(RetriableError, match="HTTP 5"):
        client.fetch_order("1")
    assert len(api_requests(sandbox)) == 4


def test_unreachable_store_is_retriable_and_names_no_secret(sandbox: ShopifySandbox) -> None:
    client = ShopifyClient(store_of(sandbox, base_url=closed_port()), quick_budget(), policy=RetryPolicy(attempts=2))
    with pytest.raises(RetriableError) as failure:
        list(client.iter_order_pages(None))
    assert sandbox.access_token not in str(failure.value)
    assert failure.value.store == "shop-test"


def test_bad_credentials_and_a_wrong_api_version_are_fatal(sandbox: ShopifySandbox) -> None:
    wrong = store_of(sandbox, credentials={"access_token": "shpat_wrong"})
    with pytest.raises(FatalError, match="HTTP 401") as failure:
        ShopifyClient(wrong, quick_budget()).fetch_order("1")
    assert "shpat_wrong" not in str(failure.value)
    with pytest.raises(FatalError, match="HTTP 404"):
        ShopifyClient(store_of(sandbox, api_version="2024-08"), quick_budget()).fetch_order("1")


def test_a_query_shopify_rejects_is_fatal_and_not_retried(sandbox: ShopifySandbox) -> None:
    """A query Shopify rejects (a field this API version lacks) is fatal, not retried."""
    client = ShopifyClient(store_of(sandbox), quick_budget())
    with pytest.raises(FatalError, match="doesn't exist"):
        client.api.query("Broken", "query Broken { shop { colour } }", {}, what="broken query")
    assert len(api_requests(sandbox)) == 1
