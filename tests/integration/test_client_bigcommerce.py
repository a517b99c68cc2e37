"""The BigCommerce client against the BigCommerce sandbox over real HTTP: orders out of the listing as bundles the
mapper takes, `since` / `until`, keyset pagination over many pages and over ties, signed webhooks end to end,
hook registration, rate limits (fake time shared by the sandbox's quota window and the client's budget) and
injected faults.

The sandbox's quota window and the client's budget run on one `FakeClock`: every wait of the budget (spacing,
pauses, retries) advances it at once, so a burst over several 30-second windows takes well under a second.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from connector.mapping import MappingContext, map_order
from connector.orders.model import Order, OrderKind, PaymentStatus, Platform
from connector.platforms import bigcommerce
from connector.platforms.base import RateBudget, WebhookDelivery
from connector.platforms.bigcommerce import BigCommerceClient
from connector.runtime.config import StoreConfig
from connector.runtime.errors import FatalError, RetriableError, WebhookRejected
from sandbox.bigcommerce import BigCommerceSandbox
from sandbox.runner import serve
from tests.support import wait_delivered, wait_until

CTX = MappingContext(store="bc", locations={"1": "amsterdam", "2": "utrecht", "3": "rotterdam"})


class FakeClock:
    """Monotonic seconds that only move when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.now += max(0.0, seconds)


class Receiver:
    """A webhook destination on 127.0.0.1 that keeps every delivery and answers 200."""

    def __init__(self, sandbox: BigCommerceSandbox) -> None:
        self.sandbox = sandbox
        self.calls: list[tuple[dict[str, str], bytes]] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/bc"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def wait_for(self, count: int) -> list[tuple[dict[str, str], bytes]]:
        wait_until(lambda: len(self.calls) >= count, what=f"{count} webhook deliveries")
        wait_delivered(self.sandbox)  # anything beyond `count` arrives too
        return list(self.calls)


# --- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[BigCommerceSandbox]:
    with serve(BigCommerceSandbox(seed=11, clock=clock)) as served:
        assert isinstance(served, BigCommerceSandbox)
        yield served


@pytest.fixture
def store(sandbox: BigCommerceSandbox) -> StoreConfig:
    ready = sandbox.describe()
    return StoreConfig(
        name="bc",
        platform=Platform.BIGCOMMERCE,
        base_url=ready["base_url"],
        credentials=ready["credentials"],
        webhook_secret=ready["webhook_secret"],
    )


@pytest.fixture
def budget(clock: FakeClock) -> RateBudget:
    """The platform's budget, on the fake clock."""
    return RateBudget(min_interval=bigcommerce.budget().min_interval, sleep=clock.sleep, clock=clock)


@pytest.fixture
def client(store: StoreConfig, budget: RateBudget) -> Iterator[BigCommerceClient]:
    opened = BigCommerceClient(store, budget)
    yield opened
    opened.close()


@pytest.fixture
def control(sandbox: BigCommerceSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.root_url + "/_sandbox") as opened:
        yield opened


@pytest.fixture
def receiver(sandbox: BigCommerceSandbox) -> Iterator[Receiver]:
    rec = Receiver(sandbox)
    rec.thread.start()
    yield rec
    rec.server.shutdown()
    rec.server.server_close()


# --- helpers ------------------------------------------------------------------------------------------------------


def new_order(control: httpx.Client, **spec: Any) -> dict[str, Any]:
    body = {"lines": [{"sku": "SKU-0001", "quantity": 1}], "paid": True, **spec}
    response = control.post("/orders", json=body)
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def api_requests(control: httpx.Client) -> list[dict[str, Any]]:
    requests: list[dict[str, Any]] = control.get("/requests").json()["requests"]
    return requests


def walk(client: BigCommerceClient, since: datetime | None = None, until: datetime | None = None) -> list[Any]:
    return [order for page in client.iter_order_pages(since, until) for order in page.orders]


def mapped(client: BigCommerceClient) -> dict[str, Order]:
    orders = (map_order(Platform.BIGCOMMERCE, raw, CTX) for raw in walk(client))
    return {order.external_id: order for order in orders}


def eur(amount: str) -> Decimal:
    return Decimal(amount)


def modified(raw: Any) -> datetime:
    return parsedate_to_datetime(raw["date_modified"])


class SmallPages(BigCommerceClient):
    page_limit = 5


# --- orders ---------------------------------------------------------------------------------------------------------


def test_orders_come_out_of_one_listing_call_as_bundles_the_mapper_takes(
    client: BigCommerceClient, control: httpx.Client
) -> None:
    lines = [{"sku": "SKU-0001", "quantity": 2, "price": "12.10"}, {"sku": "SKU-0002", "quantity": 1, "price": "24.20"}]
    delivery = new_order(control, lines=lines, paid=True)
    pickup = new_order(control, kind="pickup", pickup_location="utrecht", paid=False, lines=lines[:1])
    unpaid = new_order(control, paid=False, lines=lines[1:])
    control.delete("/requests")
    orders = mapped(client)
    assert [(r["method"], r["path"].rsplit("/v2/", 1)[1]) for r in api_requests(control)] == [
        ("GET", "orders/count"),
        ("GET", "orders"),  # line items, addresses and consignments came with the orders: no call per order
    ]
    shipped = orders[str(delivery["id"])]
    assert (shipped.kind, shipped.payment_status, shipped.platform_status) == (
        OrderKind.DELIVERY,
        PaymentStatus.PAID,
        "11",
    )
    assert shipped.total.amount == eur("53.35")  # 2 x 12.10 + 24.20 + 4.95 delivery, VAT included
    assert [(line.sku, line.quantity, line.unit_price.amount, line.total.amount) for line in shipped.lines] == [
        ("SKU-0001", 2, eur("12.10"), eur("24.20")),
        ("SKU-0002", 1, eur("24.20"), eur("24.20")),
    ]
    assert shipped.totals_difference is None
    assert shipped.shipping_address is not None
    assert shipped.shipping_address.country == "NL"
    collected = orders[str(pickup["id"])]
    assert (collected.kind, collected.pickup_location, collected.payment_status) == (
        OrderKind.PICKUP,
        "utrecht",
        PaymentStatus.PENDING,
    )
    assert (collected.total.amount, collected.shipping_address) == (eur("24.20"), None)
    waiting = orders[str(unpaid["id"])]
    assert (waiting.kind, waiting.payment_status, waiting.platform_status) == (
        OrderKind.DELIVERY,
        PaymentStatus.PENDING,
        "7",
    )
    assert waiting.total.amount == eur("29.15")


def test_the_bundle_has_what_the_mapper_docstring_asks_for(client: BigCommerceClient, control: httpx.Client) -> None:
    created = new_order(control, lines=[{"sku": "SKU-0003", "quantity": 3}])
    bundle = client.fetch_order(str(created["id"]))
    assert bundle is not None
    shown = control.get(f"/orders/{created['id']}").json()
    assert bundle["products"] == shown["products"]  # exactly what /v2/orders/{id}/products lists
    assert [a["id"] for a in bundle["shipping_addresses"]] == [a["id"] for a in shown["shipping_addresses"]]
    assert set(bundle["consignments"]) == {"pickups", "shipping", "downloads", "email"}
    assert bundle["fees"] == []


def test_since_and_until_filter_on_the_modification_date(client: BigCommerceClient, control: httpx.Client) -> None:
    control.post("/seed", json={"orders": 40, "seed": 3})
    everything = walk(client)
    assert len(everything) == 40
    since = modified(everything[25])
    until = modified(everything[34])
    recent = walk(client, since)
    assert [o["id"] for o in recent] == [o["id"] for o in everything[25:]]
    window = walk(client, since, until)
    assert [o["id"] for o in window] == [o["id"] for o in everything[25:35]]
    pages = list(client.iter_order_pages(since))
    assert {page.total for page in pages} == {15}


def test_many_pages_without_duplicates_or_gaps_oldest_change_first(
    client: BigCommerceClient, control: httpx.Client
) -> None:
    control.post("/seed", json={"orders": 600, "seed": 5})
    pages = list(client.iter_order_pages(None))
    ids = [o["id"] for page in pages for o in page.orders]
    assert len(pages) == 3
    assert {page.total for page in pages} == {600}
    assert sorted(ids) == list(range(100, 700))  # every order exactly once
    stamps = [modified(o) for page in pages for o in page.orders]
    assert stamps == sorted(stamps)
    listings = [r for r in api_requests(control) if r["path"].endswith("/v2/orders")]
    assert all("limit=250" in r["query"] and "sort=date_modified%3Aasc" in r["query"] for r in listings)


def test_orders_sharing_one_second_are_paged_by_number(
    store: StoreConfig, budget: RateBudget, control: httpx.Client
) -> None:
    moment = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    for n in range(23):
        at = moment if n < 17 else moment + timedelta(minutes=n)
        control.post("/orders", json={"lines": [{"sku": "SKU-0001", "quantity": 1}], "created_at": at.isoformat()})
    with SmallPages(store, budget) as client:
        ids = [o["id"] for o in walk(client)]
    assert sorted(ids) == list(range(100, 123))


def test_an_order_changed_during_the_walk_moves_behind_it_and_leaves_no_gap(
    store: StoreConfig, budget: RateBudget, control: httpx.Client
) -> None:
    control.post("/seed", json={"orders": 20, "seed": 9})
    seen: list[int] = []
    with SmallPages(store, budget) as client:
        for number, page in enumerate(client.iter_order_pages(None)):
            seen += [o["id"] for o in page.orders]
            if number == 0:  # the merchant edits an order already read: it now sorts last
                control.patch(f"/orders/{page.orders[0]['id']}", json={"cancelled": True})
    assert sorted(set(seen)) == list(range(100, 120))
    assert seen.count(seen[0]) == 2  # read again in its new version, behind the others
    assert seen[-1] == seen[0]


def test_fetch_order_gives_none_for_unknown_and_archived_orders(
    client: BigCommerceClient, control: httpx.Client
) -> None:
    kept, archived = new_order(control), new_order(control)
    control.patch(f"/orders/{archived['id']}", json={"deleted": True})
    assert client.fetch_order("999999") is None
    assert client.fetch_order(str(archived["id"])) is None
    assert [o["id"] for o in walk(client)] == [kept["id"]]


class ConsignmentsAsLinks(httpx.HTTPTransport):
    """Real HTTP to the sandbox, but the listing's consignments hold links to the products (no embedded items)."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not request.url.path.endswith("/v2/orders") or response.status_code != 200:
            return response
        orders = json.loads(response.read())
        response.close()
        for order in orders:
            for group in order["consignments"]["pickups"] + order["consignments"]["shipping"]:
                group["line_items"] = [link(order["id"], product["id"]) for product in group["line_items"]]
        kept = {k: v for k, v in response.headers.items() if k.lower().startswith("x-rate-limit-")}
        return httpx.Response(200, headers=kept, json=orders)


def link(order_id: int, product_id: int) -> dict[str, str]:
    resource = f"/orders/{order_id}/products/{product_id}"
    return {"url": f"https://api.bigcommerce.com/stores/x/v2{resource}", "resource": resource}


def test_products_are_fetched_when_the_consignments_only_link_them(
    store: StoreConfig, budget: RateBudget, control: httpx.Client
) -> None:
    first, second = new_order(control), new_order(control, kind="pickup", pickup_location="amsterdam")
    control.delete("/requests")
    with BigCommerceClient(store, budget, transport=ConsignmentsAsLinks()) as client:
        orders = {o.external_id: o for o in (map_order(Platform.BIGCOMMERCE, raw, CTX) for raw in walk(client))}
    assert orders[str(second["id"])].pickup_location == "amsterdam"
    assert [line.sku for line in orders[str(first["id"])].lines] == ["SKU-0001"]
    paths = [r["path"].rsplit("/v2/", 1)[1] for r in api_requests(control)]
    assert paths == ["orders/count", "orders", f"orders/{first['id']}/products", f"orders/{second['id']}/products"]


# --- webhooks -------------------------------------------------------------------------------------------------------


def test_register_webhooks_is_idempotent_and_reactivates(
    client: BigCommerceClient, sandbox: BigCommerceSandbox, receiver: Receiver
) -> None:
    created = client.register_webhooks(receiver.url)
    assert [line.split(" ")[0] for line in created] == list(bigcommerce.ORDER_SCOPES)
    assert all(line.endswith("created)") for line in created)
    sandbox.subscriptions[min(sandbox.subscriptions)].active = False
    again = client.register_webhooks(receiver.url)
    assert [line.rsplit(" ", 1)[1] for line in again] == ["reactivated)", "kept)", "kept)", "kept)"]
    assert len(sandbox.subscriptions) == 4
    assert all(s.active and s.address == receiver.url for s in sandbox.subscriptions.values())


def test_real_deliveries_verify_parse_and_complete_into_a_mappable_bundle(
    client: BigCommerceClient, store: StoreConfig, control: httpx.Client, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    order = new_order(control, lines=[{"sku": "SKU-0004", "quantity": 2}])
    calls = receiver.wait_for(3)
    assert len(calls) == 3
    deliveries: list[WebhookDelivery] = []
    for headers, body in calls:
        bigcommerce.verify_webhook(headers, body, store.webhook_secret)
        deliveries.append(bigcommerce.parse_webhook(headers, body))
    assert [d.topic for d in deliveries] == ["store/order/created", "store/order/statusUpdated", "store/order/updated"]
    assert {d.external_id for d in deliveries} == {str(order["id"])}
    assert [d.delivery_id for d in deliveries] == [headers["webhook-id"] for headers, _ in calls]
    assert len({d.delivery_id for d in deliveries}) == 3
    assert all(d.payload is None and not d.deleted for d in deliveries)
    bundle = client.complete(deliveries[-1])
    assert bundle is not None
    assert map_order(Platform.BIGCOMMERCE, bundle, CTX).lines[0].quantity == 2


def test_a_wrong_secret_or_a_tampered_body_is_refused(
    client: BigCommerceClient, store: StoreConfig, control: httpx.Client, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    new_order(control)
    headers, body = receiver.wait_for(1)[0]
    with pytest.raises(WebhookRejected) as wrong:
        bigcommerce.verify_webhook(headers, body, store.webhook_secret + "x")
    with pytest.raises(WebhookRejected) as tampered:
        bigcommerce.verify_webhook(headers, body.replace(b'"id": ', b'"id": 9'), store.webhook_secret)
    assert wrong.value.status == tampered.value.status == 401
    assert store.webhook_secret not in wrong.value.reason


def test_a_duplicated_event_keeps_its_delivery_id_and_archiving_deletes(
    client: BigCommerceClient, control: httpx.Client, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    order = new_order(control)
    control.post("/faults", json={"webhook_duplicate": 1.0})
    control.patch(f"/orders/{order['id']}", json={"deleted": True})
    calls = receiver.wait_for(5)
    archived = [bigcommerce.parse_webhook(h, b) for h, b in calls[3:]]
    assert len(archived) == 2
    assert archived[0].delivery_id == archived[1].delivery_id
    assert archived[0].deleted
    assert archived[0].external_id == str(order["id"])


# --- rate limits and faults -------------------------------------------------------------------------------------------


def test_a_burst_over_several_windows_stays_near_the_ceiling_without_429s(
    client: BigCommerceClient, clock: FakeClock, control: httpx.Client
) -> None:
    order_id = str(new_order(control)["id"])
    control.delete("/requests")
    start = clock.now
    for _ in range(400):
        assert client.fetch_order(order_id) is not None
    elapsed = clock.now - start
    requests = api_requests(control)
    assert len(requests) == 400
    assert sum(r["status"] == 429 for r in requests) == 0
    assert 400 / elapsed >= 0.9 * 150 / 30  # at least 90 % of 150 calls per 30 s, in the sandbox's time
    assert elapsed >= 2 * 30  # never faster than the quota: three windows' worth


def spend_quota(sandbox: BigCommerceSandbox, calls: int | None = None) -> None:
    """Another app of the store spends `calls` requests of the window (all of it when None, up to the first 429)."""
    ready = sandbox.describe()
    headers = {"X-Auth-Token": ready["credentials"]["access_token"]}
    with httpx.Client(base_url=ready["base_url"], headers=headers) as other_app:
        for _ in range(calls if calls is not None else 1000):
            if other_app.get("/v2/orders/count").status_code == 429:
                return


def test_a_quota_shared_with_another_app_pauses_at_the_last_request_instead_of_getting_429(
    store: StoreConfig, clock: FakeClock, sandbox: BigCommerceSandbox, control: httpx.Client
) -> None:
    order_id = str(new_order(control)["id"])
    spend_quota(sandbox, 140)
    eager = RateBudget(min_interval=0.0, sleep=clock.sleep, clock=clock)
    with BigCommerceClient(store, eager) as client:
        for _ in range(20):
            client.fetch_order(order_id)
    statuses = [r["status"] for r in api_requests(control)]
    assert statuses.count(429) == 0
    assert len(statuses) == 160
    assert eager.min_interval == 0.2  # learnt from X-Rate-Limit-Requests-Quota / -Time-Window-Ms
    assert clock.now - 1000.0 >= 30.0  # waited for the next window


def test_a_429_is_honoured_and_retried(
    client: BigCommerceClient, budget: RateBudget, clock: FakeClock, sandbox: BigCommerceSandbox, control: httpx.Client
) -> None:
    order_id = str(new_order(control)["id"])
    spend_quota(sandbox)
    clock.sleep(10.0)
    before = clock.now
    assert client.fetch_order(order_id) is not None
    mine = [r["status"] for r in api_requests(control)[-2:]]
    assert mine == [429, 200]
    assert budget.throttled == 1
    assert clock.now - before >= 19.0  # waited for the window's reset (about 20 s left of it)


def test_injected_errors_are_retried_through(client: BigCommerceClient, control: httpx.Client) -> None:
    order_id = str(new_order(control)["id"])
    control.post("/faults", json={"error_rate": 0.3})
    assert all(client.fetch_order(order_id) is not None for _ in range(20))
    statuses = [r["status"] for r in api_requests(control)]
    assert any(status >= 500 for status in statuses)


def test_an_outage_ends_in_a_retriable_error_after_bounded_attempts(
    client: BigCommerceClient, control: httpx.Client
) -> None:
    control.post("/faults", json={"error_rate": 1.0})
    control.delete("/requests")
    with pytest.raises(RetriableError, match="HTTP 5"):
        client.fetch_order("100")
    assert len(api_requests(control)) == 6


def test_unreachable_store_and_bad_token_become_connector_errors(store: StoreConfig, budget: RateBudget) -> None:
    closed = store.model_copy(update={"base_url": "http://127.0.0.1:9/stores/x"})
    with BigCommerceClient(closed, budget) as client, pytest.raises(RetriableError, match="ConnectError"):
        client.fetch_order("100")
    wrong = store.model_copy(update={"credentials": {"access_token": "not-the-token"}})
    with BigCommerceClient(wrong, budget) as client, pytest.raises(FatalError, match="HTTP 401") as refused:
        client.fetch_order("100")
    assert "not-the-token" not in str(refused.value)


def test_the_real_budget_runs_at_five_calls_a_second(
    store: StoreConfig, clock: FakeClock, control: httpx.Client
) -> None:
    control.post("/rate_limit", json={"mode": "off"})
    order_id = str(new_order(control)["id"])
    shipped = bigcommerce.budget()
    assert (shipped.clock, shipped.sleep) == (time.monotonic, time.sleep)  # the process's clock, by default
    shipped.clock, shipped.sleep = clock, clock.sleep  # measured on the fake clock: a loaded machine cannot skew it
    with BigCommerceClient(store, shipped) as client:
        client.fetch_order(order_id)
        start = clock.now
        for _ in range(10):
            client.fetch_order(order_id)
        rate = 10 / (clock.now - start)
    assert rate == pytest.approx(5.0)
    assert shipped.calls == 11
