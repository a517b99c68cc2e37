"""The Lightspeed eCom client against the Lightspeed sandbox over real HTTP: orders out of the listing (plus one
products call each) as bundles the mapper takes, `since` / `until`, time windows over many pages, over one crowded
second and over orders changing mid-walk, signed webhooks end to end, webhook registration, rate limits (fake time
shared by the sandbox's windows and the client's budget) and injected faults.

The sandbox's rate-limit windows and the client's budget run on one `FakeClock`: every wait of the budget (spacing,
pauses, retries) advances it at once, so a burst over several 5-minute windows takes a second or two.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from connector.mapping import MappingContext, map_order
from connector.orders.model import Order, OrderKind, PaymentStatus, Platform
from connector.platforms import lightspeed
from connector.platforms.base import PlatformWrite, RateBudget, WebhookDelivery
from connector.platforms.lightspeed import LightspeedClient
from connector.runtime.config import StoreConfig
from connector.runtime.errors import FatalError, RetriableError, SkippableError, WebhookRejected
from sandbox.lightspeed import LightspeedSandbox
from sandbox.runner import serve
from tests.support import wait_delivered, wait_until

PICKUP_IDS = {"core|61002|320001": "amsterdam", "core|61002|320002": "utrecht", "core|61002|320003": "rotterdam"}
CTX = MappingContext(store="ls", locations=PICKUP_IDS)
Delivery = tuple[dict[str, str], bytes]


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
    """A webhook destination on 127.0.0.1 that answers 200 and keeps every delivery.

    Like the connector's own endpoint, it passes the address's `topic` query parameter on as `x-connector-topic`.
    """

    def __init__(self, sandbox: LightspeedSandbox) -> None:
        self.sandbox = sandbox
        self.calls: list[Delivery] = []
        calls = self.calls

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                topic = parse_qs(urlsplit(self.path).query).get("topic")
                if topic:
                    headers["x-connector-topic"] = topic[0]
                calls.append((headers, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/webhooks/ls"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def wait_for(self, count: int) -> list[Delivery]:
        wait_until(lambda: len(self.calls) >= count, what=f"{count} webhook deliveries")
        wait_delivered(self.sandbox)  # anything beyond `count` arrives too
        return list(self.calls)


class SmallPages(LightspeedClient):
    page_limit = 5


# --- fixtures -----------------------------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sandbox(clock: FakeClock) -> Iterator[LightspeedSandbox]:
    with serve(LightspeedSandbox(seed=7, clock=clock)) as served:
        assert isinstance(served, LightspeedSandbox)
        yield served


@pytest.fixture
def store(sandbox: LightspeedSandbox) -> StoreConfig:
    ready = sandbox.describe()
    return StoreConfig(
        name="ls",
        platform=Platform.LIGHTSPEED,
        base_url=ready["base_url"],
        credentials=ready["credentials"],
        webhook_secret=ready["webhook_secret"],
    )


@pytest.fixture
def budget(clock: FakeClock) -> RateBudget:
    """The platform's budget, on the fake clock."""
    return RateBudget(min_interval=lightspeed.budget().min_interval, sleep=clock.sleep, clock=clock)


@pytest.fixture
def client(store: StoreConfig, budget: RateBudget) -> Iterator[LightspeedClient]:
    with LightspeedClient(store, budget) as opened:
        yield opened


@pytest.fixture
def control(sandbox: LightspeedSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.root_url + "/_sandbox") as opened:
        yield opened


@pytest.fixture
def receiver(sandbox: LightspeedSandbox) -> Iterator[Receiver]:
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


def walk(client: LightspeedClient, since: datetime | None = None, until: datetime | None = None) -> list[Any]:
    return [order for page in client.iter_order_pages(since, until) for order in page.orders]


def mapped_orders(client: LightspeedClient) -> dict[str, Order]:
    return {o.external_id: o for o in (map_order(Platform.LIGHTSPEED, raw, CTX) for raw in walk(client))}


def changed(raw: Any) -> datetime:
    return datetime.fromisoformat(raw["updatedAt"])


def historical(sandbox: LightspeedSandbox, at: datetime, count: int) -> None:
    """Orders placed at `at` (the control surface's HTTP route always stamps "now")."""
    for _ in range(count):
        sandbox.create_order({"lines": [{"sku": "SKU-0002", "quantity": 1}], "created_at": at, "historical": True})


def resource(path: str) -> str:
    return path.split("/nl/", 1)[1]


# --- orders ---------------------------------------------------------------------------------------------------------


def test_orders_come_out_as_bundles_the_mapper_takes_at_one_products_call_each(
    client: LightspeedClient, control: httpx.Client
) -> None:
    lines = [{"sku": "SKU-0001", "quantity": 2, "price": "12.10"}, {"sku": "SKU-0002", "quantity": 1, "price": "24.20"}]
    delivery = new_order(control, lines=lines)
    pickup = new_order(control, kind="pickup", pickup_location="utrecht", paid=False, lines=lines[:1])
    unpaid = new_order(control, paid=False, lines=lines[1:])
    control.delete("/requests")
    orders = mapped_orders(client)
    paths = [resource(r["path"]) for r in api_requests(control)]
    assert paths == ["orders/count.json", "orders.json"] + [
        f"orders/{o['id']}/products.json" for o in (delivery, pickup, unpaid)
    ]
    shipped = orders[str(delivery["id"])]
    assert (shipped.kind, shipped.payment_status, shipped.platform_status) == (
        OrderKind.DELIVERY,
        PaymentStatus.PAID,
        "processing_awaiting_shipment",
    )
    assert shipped.total.amount == Decimal("53.35")  # 2 x 12.10 + 24.20 + 4.95 delivery, VAT included
    assert [(line.sku, line.quantity, line.unit_price.amount, line.total.amount) for line in shipped.lines] == [
        ("SKU-0001", 2, Decimal("10.00"), Decimal("20.00")),  # without VAT, as the mapper documents
        ("SKU-0002", 1, Decimal("20.00"), Decimal("20.00")),
    ]
    assert shipped.totals_difference is None
    assert shipped.shipping_address is not None
    assert shipped.shipping_address.country == "NL"
    collected = orders[str(pickup["id"])]
    assert (collected.kind, collected.pickup_location, collected.payment_status) == (
        OrderKind.PICKUP,
        "utrecht",
        PaymentStatus.UNPAID,
    )
    assert collected.total.amount == Decimal("24.20")  # 2 x 12.10: pickup ships free
    waiting = orders[str(unpaid["id"])]
    assert (waiting.kind, waiting.payment_status, waiting.platform_status) == (
        OrderKind.DELIVERY,
        PaymentStatus.UNPAID,
        "processing_awaiting_payment",
    )
    assert waiting.total.amount == Decimal("29.15")


def test_the_bundle_is_the_order_with_its_products_attached(client: LightspeedClient, control: httpx.Client) -> None:
    created = new_order(control, lines=[{"sku": "SKU-0003", "quantity": 3}])
    bundle = client.fetch_order(str(created["id"]))
    assert bundle is not None
    shown = control.get(f"/orders/{created['id']}").json()
    assert bundle["products"] == shown["products"]  # exactly what orders/{id}/products.json lists
    assert {k: v for k, v in bundle.items() if k != "products"} == {
        k: v for k, v in shown["order"].items() if k != "products"
    }


def test_since_and_until_filter_on_the_modification_date(client: LightspeedClient, control: httpx.Client) -> None:
    control.post("/seed", json={"orders": 40, "seed": 3})
    everything = walk(client)
    assert len(everything) == 40
    since, until = changed(everything[25]), changed(everything[34])
    assert [o["id"] for o in walk(client, since)] == [o["id"] for o in everything[25:]]
    assert [o["id"] for o in walk(client, since, until)] == [o["id"] for o in everything[25:35]]
    assert {page.total for page in client.iter_order_pages(since)} == {15}
    listings = [r["query"] for r in api_requests(control) if resource(r["path"]) == "orders.json"]
    assert any("updated_at_min=" in q and "updated_at_max=" in q for q in listings)


def test_many_pages_without_duplicates_or_gaps_oldest_change_first(
    client: LightspeedClient, control: httpx.Client
) -> None:
    control.post("/seed", json={"orders": 600, "seed": 5})
    control.delete("/requests")
    pages = list(client.iter_order_pages(None))
    ids = [o["id"] for page in pages for o in page.orders]
    assert len(pages) >= 3
    assert all(len(page.orders) <= 250 for page in pages)
    assert {page.total for page in pages} == {600}
    assert sorted(ids) == list(range(10_000_001, 10_000_601))  # every order exactly once
    stamps = [changed(o) for page in pages for o in page.orders]
    assert stamps == sorted(stamps)
    paths = [resource(r["path"]) for r in api_requests(control)]
    assert sum(path.endswith("/products.json") for path in paths) == 600  # one per order
    assert len(paths) - 600 <= 15  # listing and counting: a few calls per 250 orders


def test_a_crowded_second_is_paged_by_id(
    store: StoreConfig, budget: RateBudget, sandbox: LightspeedSandbox, control: httpx.Client
) -> None:
    moment = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    historical(sandbox, moment, 17)
    for minutes in range(1, 7):
        historical(sandbox, moment + timedelta(minutes=minutes), 1)
    with SmallPages(store, budget) as client:
        ids = [o["id"] for o in walk(client)]
    assert ids == list(range(10_000_001, 10_000_024))
    listings = [r["query"] for r in api_requests(control) if resource(r["path"]) == "orders.json"]
    assert any("since_id=10000005" in q for q in listings)


def test_orders_changed_or_deleted_during_the_walk_leave_no_gap(
    store: StoreConfig, budget: RateBudget, control: httpx.Client
) -> None:
    control.post("/seed", json={"orders": 30, "seed": 9})
    seen: list[int] = []
    with SmallPages(store, budget) as client:
        for number, page in enumerate(client.iter_order_pages(None)):
            seen += [o["id"] for o in page.orders]
            if number == 0:  # the merchant edits an order already read and deletes one not read yet
                control.patch(f"/orders/{page.orders[0]['id']}", json={"cancelled": True})
                control.patch("/orders/10000020", json={"deleted": True})
    assert sorted(set(seen)) == [n for n in range(10_000_001, 10_000_031) if n != 10_000_020]
    assert seen.count(seen[0]) == 2  # read again in its new version, behind the others
    assert seen[-1] == seen[0]


def test_fetch_order_gives_none_for_unknown_and_deleted_orders(client: LightspeedClient, control: httpx.Client) -> None:
    kept, deleted = new_order(control), new_order(control)
    control.patch(f"/orders/{deleted['id']}", json={"deleted": True})
    assert client.fetch_order("99999999") is None
    assert client.fetch_order(str(deleted["id"])) is None
    assert [o["id"] for o in walk(client)] == [kept["id"]]


# --- write-back -----------------------------------------------------------------------------------------------------


def status_write(order_id: Any, target: str, **fields: Any) -> PlatformWrite:
    return PlatformWrite(external_id=str(order_id), action="set_status", target=target, idempotency_key="k", **fields)


def test_a_status_write_lands_once_with_its_tracking_code(client: LightspeedClient, control: httpx.Client) -> None:
    order = new_order(control)
    write = status_write(order["id"], "completed_shipped", tracking={"number": "3SABCD1234567", "carrier": "PostNL"})
    answer = client.apply_write(write)
    assert (answer["status"], answer["trackingCode"]) == ("completed_shipped", "3SABCD1234567")
    view = control.get(f"/orders/{order['id']}").json()
    assert (view["status"], view["shipmentStatus"], view["tracking"]) == (
        "completed_shipped",
        "shipped",
        ["3SABCD1234567"],
    )
    assert [w["body"] for w in view["writes"]] == [
        {"shipment": {"trackingCode": "3SABCD1234567", "doNotifyTrackingCode": False}},
        {"order": {"status": "completed_shipped", "doNotify": False}},
    ]
    again = client.apply_write(write)  # e.g. the outbox retrying after a crash between the platform and our commit
    assert again["already"] is True
    assert len(control.get(f"/orders/{order['id']}").json()["writes"]) == 2


def test_writes_lightspeed_cannot_take_are_skipped(client: LightspeedClient, control: httpx.Client) -> None:
    order = new_order(control)
    fulfil = PlatformWrite(str(order["id"]), action="create_fulfillment", target="fulfilled", idempotency_key="k")
    for write in (fulfil, status_write("99999999", "completed"), status_write(order["id"], "shipped_by_drone")):
        with pytest.raises(SkippableError):
            client.apply_write(write)
    assert control.get(f"/orders/{order['id']}").json()["writes"] == []


# --- webhooks -------------------------------------------------------------------------------------------------------


def test_register_webhooks_is_idempotent_and_reactivates(
    client: LightspeedClient, sandbox: LightspeedSandbox, receiver: Receiver
) -> None:
    created = client.register_webhooks(receiver.url)
    assert [line.split(" ")[0] for line in created] == [f"orders/{a}" for a in lightspeed.ORDER_ACTIONS]
    assert all(line.endswith("created)") for line in created)
    sandbox.subscriptions[min(sandbox.subscriptions)].active = False
    again = client.register_webhooks(receiver.url)
    assert [line.rsplit(" ", 1)[1] for line in again] == ["reactivated)", "kept)", "kept)", "kept)", "kept)"]
    subscriptions = sorted(sandbox.subscriptions.values(), key=lambda s: s.id)
    assert [(s.topic, s.address, s.active) for s in subscriptions] == [
        (f"orders/{a}", f"{receiver.url}?topic=orders/{a}", True) for a in lightspeed.ORDER_ACTIONS
    ]


def test_real_deliveries_verify_parse_and_complete_without_a_call(
    client: LightspeedClient, store: StoreConfig, control: httpx.Client, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    order = new_order(control, lines=[{"sku": "SKU-0004", "quantity": 2}], paid=False)
    control.patch(f"/orders/{order['id']}", json={"paid": True})
    calls = receiver.wait_for(3)
    assert len(calls) == 3
    assert all(b"\\/" in body for _, body in calls)  # PHP-escaped slashes: only the raw bytes verify
    deliveries: list[WebhookDelivery] = []
    for headers, body in calls:
        lightspeed.verify_webhook(headers, body, store.webhook_secret)
        deliveries.append(lightspeed.parse_webhook(headers, body))
    assert sorted(d.topic for d in deliveries) == ["orders/created", "orders/paid", "orders/updated"]
    assert {d.external_id for d in deliveries} == {str(order["id"])}
    assert len({d.delivery_id for d in deliveries}) == 3
    assert all(d.payload is not None and d.updated_at is not None and not d.deleted for d in deliveries)
    control.delete("/requests")
    paid = next(d for d in deliveries if d.topic == "orders/paid")
    bundle = client.complete(paid)
    assert bundle is not None
    mapped = map_order(Platform.LIGHTSPEED, bundle, CTX)
    assert (mapped.lines[0].quantity, mapped.payment_status) == (2, PaymentStatus.PAID)
    assert api_requests(control) == []  # the webhook embeds the products: nothing to fetch


def test_a_delivery_without_embedded_products_is_completed_by_fetching(
    client: LightspeedClient, control: httpx.Client
) -> None:
    order = new_order(control, lines=[{"sku": "SKU-0005", "quantity": 4}])
    thin = WebhookDelivery(delivery_id="x", topic="orders/updated", external_id=str(order["id"]), payload=None)
    bundle = client.complete(thin)
    assert bundle is not None
    assert map_order(Platform.LIGHTSPEED, bundle, CTX).lines[0].quantity == 4


def test_a_wrong_secret_or_a_tampered_body_is_refused(
    client: LightspeedClient, store: StoreConfig, control: httpx.Client, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    new_order(control)
    headers, body = receiver.wait_for(1)[0]
    with pytest.raises(WebhookRejected) as wrong:
        lightspeed.verify_webhook(headers, body, store.webhook_secret + "x")
    with pytest.raises(WebhookRejected) as tampered:
        lightspeed.verify_webhook(
            headers, body.replace(b'"quantityOrdered":1', b'"quantityOrdered":9'), store.webhook_secret
        )
    with pytest.raises(WebhookRejected) as reencoded:  # what a receiver that re-serialises the JSON would check
        lightspeed.verify_webhook(headers, body.replace(b"\\/", b"/"), store.webhook_secret)
    assert wrong.value.status == tampered.value.status == reencoded.value.status == 401
    assert store.webhook_secret not in wrong.value.reason


def test_a_duplicated_event_keeps_its_delivery_id_and_deleting_deletes(
    client: LightspeedClient, control: httpx.Client, receiver: Receiver
) -> None:
    client.register_webhooks(receiver.url)
    order = new_order(control)
    receiver.wait_for(1)
    control.post("/faults", json={"webhook_duplicate": 1.0})
    control.patch(f"/orders/{order['id']}", json={"deleted": True})
    calls = receiver.wait_for(3)
    removed = [lightspeed.parse_webhook(h, b) for h, b in calls[1:]]
    assert len(removed) == 2
    assert removed[0].delivery_id == removed[1].delivery_id
    assert removed[0].deleted
    assert removed[0].topic == "orders/deleted"
    assert removed[0].external_id == str(order["id"])


# --- rate limits and faults -------------------------------------------------------------------------------------------


def test_a_burst_over_several_windows_stays_near_the_ceiling_without_429s(
    client: LightspeedClient, clock: FakeClock, control: httpx.Client
) -> None:
    order_id = str(new_order(control)["id"])
    control.delete("/requests")
    start = clock.now
    for _ in range(350):  # two calls each: the order and its products
        assert client.fetch_order(order_id) is not None
    elapsed = clock.now - start
    requests = api_requests(control)
    assert len(requests) == 700
    assert sum(r["status"] == 429 for r in requests) == 0
    assert 700 / elapsed >= 0.9 * 300 / 300  # at least 90 % of 300 calls per 5 minutes, in the sandbox's time
    assert elapsed >= 2 * 300  # never faster than the quota: three windows' worth


def test_a_window_down_to_its_last_call_pauses_the_budget_until_it_resets(
    client: LightspeedClient, budget: RateBudget, clock: FakeClock, sandbox: LightspeedSandbox, control: httpx.Client
) -> None:
    order_id = str(new_order(control)["id"])
    ready = sandbox.describe()
    auth = (ready["credentials"]["api_key"], ready["credentials"]["api_secret"])
    window_start = clock.now
    with httpx.Client(base_url=ready["base_url"], auth=auth) as other_app:  # another app uses the same key
        for _ in range(297):
            assert other_app.get("/shop.json").status_code == 200
            clock.sleep(0.06)  # within 20 calls a second
    assert client.fetch_order(order_id) is not None  # the 298th and 299th calls of the window: 1 left
    assert client.fetch_order(order_id) is not None  # waits for the reset instead of taking the last call
    assert [r["status"] for r in api_requests(control)[-4:]] == [200, 200, 200, 200]
    assert budget.throttled == 0
    assert clock.now >= window_start + 300  # the second fetch began in the next window


def test_the_hour_window_is_kept_through_the_headers_too(
    client: LightspeedClient, budget: RateBudget, clock: FakeClock, sandbox: LightspeedSandbox, control: httpx.Client
) -> None:
    order_id = str(new_order(control)["id"])
    ready = sandbox.describe()
    auth = (ready["credentials"]["api_key"], ready["credentials"]["api_secret"])
    hour_start, spent = clock.now, 0
    with httpx.Client(base_url=ready["base_url"], auth=auth) as other_app:  # 2 998 of the hour's 3 000 calls
        while spent < 2998:
            answer = other_app.get("/shop.json")
            spent += answer.status_code == 200
            clock.sleep(300.0 if answer.status_code == 429 else 0.06)
    assert answer.headers["x-ratelimit-remaining"] == "2/2/9002"  # 5 minutes / hour / day
    assert client.fetch_order(order_id) is not None  # the hour's last calls but one: then the budget waits
    assert [r["status"] for r in api_requests(control)[-2:]] == [200, 200]
    assert budget.throttled == 0
    assert clock.now >= hour_start + 3600  # the products call waited for the hour, not just for 5 minutes


def test_a_429_is_honoured_and_retried(
    client: LightspeedClient, budget: RateBudget, clock: FakeClock, sandbox: LightspeedSandbox, control: httpx.Client
) -> None:
    order_id = str(new_order(control)["id"])
    ready = sandbox.describe()
    auth = (ready["credentials"]["api_key"], ready["credentials"]["api_secret"])
    window_start = clock.now
    with httpx.Client(base_url=ready["base_url"], auth=auth) as other_app:  # another app spends the window
        while other_app.get("/shop.json").status_code != 429:
            clock.sleep(0.06)  # within 20 calls a second: it is the 5-minute window that runs out
    clock.sleep(10.0)
    assert client.fetch_order(order_id) is not None
    assert [r["status"] for r in api_requests(control)[-3:]] == [429, 200, 200]
    assert budget.throttled == 1
    assert clock.now >= window_start + 300  # waited for the 5-minute window's reset


def test_injected_errors_are_retried_through(client: LightspeedClient, control: httpx.Client) -> None:
    order_id = str(new_order(control)["id"])
    control.post("/faults", json={"error_rate": 0.3})
    assert all(client.fetch_order(order_id) is not None for _ in range(15))
    statuses = [r["status"] for r in api_requests(control)]
    assert any(status >= 500 for status in statuses)


def test_an_outage_ends_in_a_retriable_error_after_bounded_attempts(
    client: LightspeedClient, control: httpx.Client
) -> None:
    control.post("/faults", json={"error_rate": 1.0})
    control.delete("/requests")
    with pytest.raises(RetriableError, match="HTTP 5"):
        client.fetch_order("10000001")
    assert len(api_requests(control)) == 6


def test_unreachable_shop_and_bad_credentials_become_connector_errors(store: StoreConfig, budget: RateBudget) -> None:
    closed = store.model_copy(update={"base_url": "http://127.0.0.1:9/nl"})
    with LightspeedClient(closed, budget) as client, pytest.raises(RetriableError, match="ConnectError"):
        client.fetch_order("10000001")
    wrong = store.model_copy(update={"credentials": {"api_key": "k" * 32, "api_secret": "not-the-secret"}})
    with LightspeedClient(wrong, budget) as client, pytest.raises(FatalError, match="HTTP 401") as refused:
        client.fetch_order("10000001")
    assert "not-the-secret" not in str(refused.value)


def test_the_real_budget_runs_at_one_call_a_second(store: StoreConfig, clock: FakeClock, control: httpx.Client) -> None:
    control.post("/rate_limit", json={"mode": "off"})
    shipped = lightspeed.budget()
    assert (shipped.clock, shipped.sleep) == (time.monotonic, time.sleep)  # the process's clock, by default
    shipped.clock, shipped.sleep = clock, clock.sleep  # measured on the fake clock: a loaded machine cannot skew it
    with LightspeedClient(store, shipped) as client:
        client.fetch_order("99999999")
        start = clock.now
        for _ in range(3):
            client.fetch_order("99999999")  # unknown: one call each
        rate = 3 / (clock.now - start)
    assert rate == pytest.approx(1.0)
    assert shipped.calls == 4
