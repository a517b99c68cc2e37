"""The Shopify sandbox over real HTTP: the official SDK, REST and GraphQL, limits, webhooks and faults.

Everything goes through `serve(...)` and real sockets. Shapes are checked against Shopify's own published fixtures
(kept in `tests/fixtures/shopify`; its README names their source), webhook signatures with a verifier written here
from platforms.md section 6.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import shopify
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLUnionType,
    build_schema,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
)
from samples import load_json, sample_path

from connector.runtime.config import StoreConfig
from sandbox.runner import serve
from sandbox.shopify import ShopifySandbox
from sandbox.shopify.graphql_api import schema as versioned_schema
from tests.support import SEED_TIMEOUT_S, WAIT_S, wait_delivered

TRIMMED = Path(__file__).resolve().parents[2] / "sandbox" / "shopify" / "schema.graphql"
API = "/admin/api/2024-07"
MONEY = re.compile(r"^\d+\.\d{2}$")
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
UNAUTHORIZED = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
DELIVERY = {"lines": [{"sku": "SKU-0001", "quantity": 2}, {"sku": "SKU-0002", "quantity": 1}], "kind": "delivery"}


# --- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture
def sandbox() -> Iterator[ShopifySandbox]:
    with serve(ShopifySandbox(seed=7)) as served:
        assert isinstance(served, ShopifySandbox)
        yield served


@pytest.fixture
def api(sandbox: ShopifySandbox) -> Iterator[httpx.Client]:
    headers = {"X-Shopify-Access-Token": sandbox.access_token}
    with httpx.Client(base_url=sandbox.root_url, headers=headers, timeout=10) as client:
        yield client


@pytest.fixture
def sdk(sandbox: ShopifySandbox) -> Iterator[None]:
    shopify.ShopifyResource.site = sandbox.root_url + API
    shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = sandbox.access_token
    yield
    shopify.ShopifyResource.clear_session()


class Receiver:
    """A tiny real webhook endpoint: records (headers, raw body) and answers `status`."""

    def __init__(self) -> None:
        self.hits: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hits.append((dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def wait(self, count: int, timeout: float = WAIT_S) -> list[tuple[dict[str, str], bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.hits) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.hits)

    def topics(self) -> list[str]:
        return [headers["X-Shopify-Topic"] for headers, _ in self.hits]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.server.shutdown()
    server.server.server_close()


def new_order(api: httpx.Client, spec: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    response = api.post("/_sandbox/orders", json={**(spec or DELIVERY), **extra})
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()
    return order


def graphql(
    api: httpx.Client, query: str, *, errors: bool = False, version: str = "2024-07", **variables: Any
) -> dict[str, Any]:
    """POST a GraphQL query to API `version`; unless `errors` is expected, the answer must have none."""
    response = api.post(f"/admin/api/{version}/graphql.json", json={"query": query, "variables": variables})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert errors or "errors" not in body, body
    return body


def shopify_hmac(raw: bytes, header: str, secret: str) -> bool:
    """platforms.md section 6, written independently of the sandbox's signing code."""
    digest = base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()
    return hmac.compare_digest(digest, header or "")


def sample(name: str) -> Any:
    return load_json("shopify", name)


def kind(value: Any) -> str:
    return {bool: "bool", int: "number", float: "number", str: "string", list: "list", dict: "object"}[type(value)]


OPTIONAL_LISTS = {"note_attributes", "properties", "merchant_requests"}  # usually empty on real orders too


def assert_shape(ours: Any, theirs: Any, where: str, drift: frozenset[str] = frozenset()) -> None:
    """Every key of Shopify's sample is in ours, with the same JSON type (nulls on either side are allowed)."""
    for key, value in theirs.items():
        path = f"{where}.{key}"
        assert key in ours, f"{path} is missing"
        if path in drift or value is None or ours[key] is None:
            continue
        assert kind(ours[key]) == kind(value), f"{path}: {kind(ours[key])} where Shopify has {kind(value)}"
        if isinstance(value, dict):
            assert_shape(ours[key], value, path, drift)
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            if key in OPTIONAL_LISTS and not ours[key]:
                continue
            assert ours[key], f"{path} is empty where the sample has items"
            assert_shape(ours[key][0], value[0], path + "[]", drift)


def fulfil_everything(api: httpx.Client, order_id: int, tracking: dict[str, str] | None = None) -> dict[str, Any]:
    fos = api.get(f"{API}/orders/{order_id}/fulfillment_orders.json").json()["fulfillment_orders"]
    body: dict[str, Any] = {"line_items_by_fulfillment_order": [{"fulfillment_order_id": fos[0]["id"]}]}
    if tracking:
        body["tracking_info"] = tracking
    response = api.post(f"{API}/fulfillments.json", json={"fulfillment": body})
    assert response.status_code == 201, response.text
    fulfillment: dict[str, Any] = response.json()["fulfillment"]
    return fulfillment


# --- ready line, auth -----------------------------------------------------------------------------------------
def test_ready_line_is_a_working_store_entry(sandbox: ShopifySandbox) -> None:
    ready = sandbox.describe()
    store = StoreConfig(
        name="shopify-sandbox",
        platform="shopify",
        base_url=ready["base_url"],
        credentials=ready["credentials"],
        webhook_secret=ready["webhook_secret"],
    )
    assert ready["base_url"] == sandbox.root_url
    assert set(ready["credentials"]) == {"access_token"}
    assert set(ready["locations"]) == {"amsterdam", "utrecht", "rotterdam"}
    headers = {"X-Shopify-Access-Token": store.credentials["access_token"]}
    locations = httpx.get(f"{store.base_url}{API}/locations.json", headers=headers).json()["locations"]
    assert {f"gid://shopify/Location/{x['id']}" for x in locations} == set(ready["locations"].values())


def test_wrong_or_missing_token_gets_shopifys_401(sandbox: ShopifySandbox) -> None:
    for headers in ({}, {"X-Shopify-Access-Token": "shpat_wrong"}):
        for path in (f"{API}/orders.json", f"{API}/graphql.json"):
            response = httpx.request("GET" if "orders" in path else "POST", sandbox.root_url + path, headers=headers)
            assert response.status_code == 401
            assert response.json() == UNAUTHORIZED
            assert "X-Shopify-Shop-Api-Call-Limit" not in response.headers


# --- the official SDK -----------------------------------------------------------------------------------------
@pytest.mark.usefixtures("sdk")
def test_sdk_pages_through_every_order(api: httpx.Client) -> None:
    api.post("/_sandbox/seed", json={"seed": 5, "orders": 120})
    page = shopify.Order.find(status="any", limit=50)
    seen = [order.id for order in page]
    pages = 1
    while page.has_next_page():
        page = page.next_page()
        seen += [order.id for order in page]
        pages += 1
        assert page.has_previous_page()
    assert pages == 3
    assert len(seen) == len(set(seen)) == 120
    assert seen == sorted(seen, reverse=True)  # newest first
    assert shopify.Order.count(status="any") == 120


def test_sdk_session_setup_reaches_the_sandbox(sandbox: ShopifySandbox) -> None:
    port = sandbox.root_url.rsplit(":", 1)[1]
    # `*.localhost` does not resolve here; Session keeps the first DNS label of the shop, so "127" + ".0.0.1" does.
    shopify.Session.setup(protocol="http", myshopify_domain="0.0.1", port=port)
    try:
        session = shopify.Session("127", "2024-07", sandbox.access_token)
        shopify.ShopifyResource.activate_session(session)
        assert shopify.ShopifyResource.site == f"{sandbox.root_url}{API}"
        assert shopify.Shop.current().currency == "EUR"
        assert [loc.name for loc in shopify.Location.find()] == ["Amsterdam", "Utrecht", "Rotterdam"]
    finally:
        shopify.ShopifyResource.clear_session()
        shopify.Session.setup(protocol="https", myshopify_domain="myshopify.com", port=None)


@pytest.mark.usefixtures("sdk")
def test_sdk_fulfils_tracks_and_cancels(api: httpx.Client, sandbox: ShopifySandbox) -> None:
    order = new_order(api, paid=True)
    fos = shopify.FulfillmentOrders.find(order_id=order["id"])
    assert all(fo.delivery_method.method_type == "shipping" for fo in fos)
    fulfillment = shopify.FulfillmentV2(
        {
            "line_items_by_fulfillment_order": [{"fulfillment_order_id": fo.id} for fo in fos[:1]],
            "tracking_info": {"number": "1Z001", "company": "UPS"},
            "notify_customer": False,
        }
    )
    assert fulfillment.save(), fulfillment.errors.full_messages()
    fulfillment.update_tracking({"number": "1Z002", "company": "UPS", "url": "https://ups.example/1Z002"}, False)
    view = api.get(f"/_sandbox/orders/{order['id']}").json()
    assert view["tracking"][0]["tracking_number"] == "1Z002"
    assert [w["path"] for w in view["writes"]] == [
        f"{API}/fulfillments.json",
        f"{API}/fulfillments/{fulfillment.id}/update_tracking.json",
    ]
    other = shopify.Order.find(new_order(api)["id"])
    other.cancel()
    assert other.cancelled_at is not None
    assert other.financial_status == "voided"
    assert api.get(f"/_sandbox/orders/{other.id}").json()["status"] == "cancelled"


@pytest.mark.usefixtures("sdk")
def test_sdk_reads_stock_variants_and_manages_webhooks(receiver: Receiver) -> None:
    amsterdam = shopify.Location.find()[0]
    levels = amsterdam.inventory_levels()
    assert levels
    assert all(level.location_id == amsterdam.id for level in levels)
    item_id = levels[0].inventory_item_id
    found = shopify.InventoryLevel.find(inventory_item_ids=str(item_id), location_ids=str(amsterdam.id))
    assert [(x.inventory_item_id, x.available) for x in found] == [(item_id, levels[0].available)]
    hook = shopify.Webhook.create({"topic": "orders/create", "address": receiver.url, "format": "json"})
    assert hook.id
    assert [w.id for w in shopify.Webhook.find()] == [hook.id]
    hook.destroy()
    assert shopify.Webhook.find() == []


@pytest.mark.usefixtures("sdk")
def test_sdk_graphql_execute(api: httpx.Client) -> None:
    order = new_order(api)
    answer = json.loads(
        shopify.GraphQL().execute(
            "query($id: ID!) { order(id: $id) { name } }", {"id": f"gid://shopify/Order/{order['id']}"}
        )
    )
    assert answer["data"]["order"]["name"] == order["name"]
    assert answer["extensions"]["cost"]["requestedQueryCost"] == 1


# --- REST lists -----------------------------------------------------------------------------------------------
def test_rest_pagination_follows_shopifys_rules(api: httpx.Client, sandbox: ShopifySandbox) -> None:
    api.post("/_sandbox/seed", json={"seed": 2, "orders": 12})
    too_many = api.get(f"{API}/orders.json", params={"limit": 251})
    assert (too_many.status_code, too_many.json()) == (400, {"errors": "Limit exceeds maximum limit of 250"})
    assert "link" not in api.get(f"{API}/orders.json", params={"status": "any"}).headers
    first = api.get(f"{API}/orders.json", params={"status": "any", "limit": 5})
    links = {rel: url for url, rel in (part.split("; ") for part in first.headers["link"].split(", "))}
    assert set(links) == {'rel="next"'}
    next_url = links['rel="next"'][1:-1]
    assert next_url.startswith(f"{sandbox.root_url}{API}/orders.json?limit=5&page_info=")
    refused = api.get(next_url + "&updated_at_min=2020-01-01T00:00:00Z")
    message = (
        "updated_at_min cannot be passed when page_info is present. "
        "See https://shopify.dev/api/usage/pagination-rest for more information."
    )
    assert (refused.status_code, refused.json()) == (400, {"errors": {"updated_at_min": message}})
    second = api.get(next_url)
    assert {part.split("; ")[1] for part in second.headers["link"].split(", ")} == {'rel="previous"', 'rel="next"'}
    ids = [o["id"] for o in first.json()["orders"]] + [o["id"] for o in second.json()["orders"]]
    assert ids == sorted(ids, reverse=True)
    assert len(set(ids)) == 10


def test_rest_filters(api: httpx.Client) -> None:
    api.post("/_sandbox/seed", json={"seed": 3, "orders": 10})
    orders = api.get(f"{API}/orders.json", params={"status": "any"}).json()["orders"]
    middle = sorted(orders, key=lambda o: o["updated_at"])[4]
    since = api.get(f"{API}/orders.json", params={"status": "any", "updated_at_min": middle["updated_at"]})
    assert {o["id"] for o in since.json()["orders"]} == {
        o["id"] for o in orders if o["updated_at"] >= middle["updated_at"]
    }
    ascending = api.get(f"{API}/orders.json", params={"status": "any", "since_id": middle["id"], "limit": 3})
    ids = [o["id"] for o in ascending.json()["orders"]]
    assert ids == sorted(ids)
    assert all(i > middle["id"] for i in ids)
    new_order(api)
    cancelled = new_order(api)
    api.patch(f"/_sandbox/orders/{cancelled['id']}", json={"cancelled": True})
    assert api.get(f"{API}/orders/count.json", params={"status": "cancelled"}).json() == {"count": 1}
    assert api.get(f"{API}/orders/count.json").json()["count"] == 11  # status=open by default
    picked = api.get(f"{API}/orders.json", params={"ids": f"{middle['id']}", "fields": "id,name", "status": "any"})
    assert picked.json() == {"orders": [{"id": middle["id"], "name": middle["name"]}]}


# --- shapes and money -----------------------------------------------------------------------------------------
def test_rest_json_matches_shopifys_published_fixtures(api: httpx.Client) -> None:
    order = new_order(api, paid=True, discount={"code": "TENOFF", "amount": "10.00"})
    fulfil_everything(api, order["id"], {"number": "1Z2345", "url": "https://ups.example/1Z2345", "company": "UPS"})
    ours = api.get(f"{API}/orders/{order['id']}.json").json()["order"]
    drift = frozenset(
        {
            "order.billing_address.latitude",
            "order.billing_address.longitude",
            "order.shipping_address.latitude",
            "order.shipping_address.longitude",
        }
    )  # strings in 2008
    assert_shape(ours, sample("order.json")["order"], "order", drift)
    assert_shape(ours, sample("orders.json")["orders"][0], "order")
    assert_shape(ours["fulfillments"][0], sample("fulfillment.json")["fulfillment"], "fulfillment")
    open_order = new_order(api)
    fo = api.get(f"{API}/orders/{open_order['id']}/fulfillment_orders.json").json()["fulfillment_orders"][0]
    assert_shape(fo, sample("fulfillment_orders.json")["fulfillment_order"], "fulfillment_order")
    location = api.get(f"{API}/locations.json").json()["locations"][0]
    assert_shape(location, sample("location.json")["location"], "location")
    levels = api.get(f"{API}/inventory_levels.json", params={"location_ids": location["id"]}).json()
    assert_shape(levels["inventory_levels"][0], sample("inventory_levels.json")["inventory_levels"][0], "level")
    variant = api.get(f"{API}/variants/{ours['line_items'][0]['variant_id']}.json").json()["variant"]
    assert_shape(variant, sample("variant.json")["variant"], "variant")
    assert variant["sku"] == ours["line_items"][0]["sku"]
    assert variant["inventory_item_id"]


def test_money_and_times_are_consistent(api: httpx.Client, sandbox: ShopifySandbox) -> None:
    import random

    rng = random.Random(11)
    for _ in range(15):
        order = new_order(api, sandbox.random_order_spec(rng))
        lines = order["line_items"]
        shipping = Decimal(order["total_shipping_price_set"]["shop_money"]["amount"])
        line_sum = sum((Decimal(x["price"]) * x["quantity"] for x in lines), Decimal(0))
        tax = sum((Decimal(t["price"]) for x in lines for t in x["tax_lines"]), Decimal(0))
        tax += sum((Decimal(t["price"]) for s in order["shipping_lines"] for t in s["tax_lines"]), Decimal(0))
        assert Decimal(order["total_line_items_price"]) == line_sum
        assert Decimal(order["subtotal_price"]) == line_sum - Decimal(order["total_discounts"])
        assert Decimal(order["total_tax"]) == tax
        assert Decimal(order["total_price"]) == Decimal(order["subtotal_price"]) + shipping + tax
        assert order["current_total_price"] == order["total_price"]
        assert order["taxes_included"] is False
        for key in ("total_price", "subtotal_price", "total_tax", "total_discounts"):
            assert MONEY.match(order[key])
            assert order[f"{key}_set"]["shop_money"]["currency_code"] == "EUR"
        for key in ("created_at", "updated_at", "processed_at"):
            assert STAMP.match(order[key])
        assert order["name"] == f"#{order['order_number']}"
        assert order["admin_graphql_api_id"].endswith(str(order["id"]))


# --- writes through the fulfillment-orders flow ---------------------------------------------------------------
def stock_apart(sandbox: ShopifySandbox) -> list[str]:
    """Two SKUs that no location has together, so Shopify has to route them to two locations."""
    sandbox.catalogue["SKU-0001"].stock.update(amsterdam=5, utrecht=0, rotterdam=0)
    sandbox.catalogue["SKU-0002"].stock.update(amsterdam=0, utrecht=0, rotterdam=4)
    return ["SKU-0001", "SKU-0002"]


def test_fulfillment_orders_route_by_stock_and_fulfilments_apply(
    api: httpx.Client, sandbox: ShopifySandbox, receiver: Receiver
) -> None:
    sandbox.subscribe_defaults(receiver.url)
    skus = stock_apart(sandbox)
    order = new_order(api, {"lines": [{"sku": s, "quantity": 1} for s in skus], "kind": "delivery", "paid": True})
    fos = api.get(f"{API}/orders/{order['id']}/fulfillment_orders.json").json()["fulfillment_orders"]
    where = {loc.id: key for key, loc in sandbox.shop_locations.items()}
    sku_of = {line["id"]: line["sku"] for line in order["line_items"]}
    routed = [(where[fo["assigned_location_id"]], [sku_of[x["line_item_id"]] for x in fo["line_items"]]) for fo in fos]
    assert routed == [("amsterdam", ["SKU-0001"]), ("rotterdam", ["SKU-0002"])]
    assert all(fo["status"] == "open" for fo in fos)
    assert all(fo["supported_actions"] == ["create_fulfillment"] for fo in fos)
    first, second = fos
    line = first["line_items"][0]
    too_many = {
        "fulfillment_order_id": first["id"],
        "fulfillment_order_line_items": [{"id": line["id"], "quantity": 5}],
    }
    refused = api.post(
        f"{API}/fulfillments.json", json={"fulfillment": {"line_items_by_fulfillment_order": [too_many]}}
    )
    assert (refused.status_code, refused.json()) == (
        422,
        {"errors": ["Invalid fulfillment order line item quantity requested."]},
    )
    done = fulfil_everything(api, order["id"], {"number": "TRK1", "company": "PostNL"})
    assert done["tracking_numbers"] == ["TRK1"]
    assert done["location_id"] == first["assigned_location_id"]
    assert api.get(f"{API}/orders/{order['id']}.json").json()["order"]["fulfillment_status"] == "partial"
    again = api.post(
        f"{API}/fulfillments.json",
        json={"fulfillment": {"line_items_by_fulfillment_order": [{"fulfillment_order_id": first["id"]}]}},
    )
    assert again.status_code == 422
    assert "unfulfillable status= closed" in again.json()["errors"][0]
    api.post(
        f"{API}/fulfillments.json",
        json={"fulfillment": {"line_items_by_fulfillment_order": [{"fulfillment_order_id": second["id"]}]}},
    )
    view = api.get(f"/_sandbox/orders/{order['id']}").json()
    assert view["status"] == "fulfilled"
    assert view["order"]["fulfillment_status"] == "fulfilled"
    assert [fo["status"] for fo in view["fulfillment_orders"]] == ["closed", "closed"]
    assert [w["method"] for w in view["writes"]] == ["POST", "POST"]
    receiver.wait(6)
    wait_delivered(sandbox)  # nothing more is on its way
    assert receiver.topics() == [
        "orders/create",
        "orders/paid",
        "orders/partially_fulfilled",
        "orders/updated",
        "orders/fulfilled",
        "orders/updated",
    ]


def test_pickup_goes_to_its_location_and_is_marked_ready_through_graphql(
    api: httpx.Client, sandbox: ShopifySandbox
) -> None:
    order = new_order(
        api, {"lines": [{"sku": "SKU-0004", "quantity": 1}], "kind": "pickup", "pickup_location": "utrecht"}
    )
    assert order["shipping_address"] is None
    assert order["shipping_lines"][0]["title"] == "Utrecht"
    query = """query($id: ID!) { order(id: $id) { displayFulfillmentStatus fulfillmentOrders(first: 5) {
        nodes { id status deliveryMethod { methodType } assignedLocation { location { id } } } } } }"""
    gid = f"gid://shopify/Order/{order['id']}"
    fo = graphql(api, query, id=gid)["data"]["order"]["fulfillmentOrders"]["nodes"][0]
    assert fo["status"] == "OPEN"
    assert fo["deliveryMethod"]["methodType"] == "PICK_UP"
    assert fo["assignedLocation"]["location"]["id"] == sandbox.describe()["locations"]["utrecht"]
    ready = """mutation($input: FulfillmentOrderLineItemsPreparedForPickupInput!) {
        fulfillmentOrderLineItemsPreparedForPickup(input: $input) { userErrors { code field message } } }"""
    bad = graphql(
        api, ready, input={"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": "gid://shopify/FulfillmentOrder/1"}]}
    )
    assert (
        bad["data"]["fulfillmentOrderLineItemsPreparedForPickup"]["userErrors"][0]["code"]
        == "FULFILLMENT_ORDER_INVALID"
    )
    good = graphql(api, ready, input={"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}]})
    assert good["data"]["fulfillmentOrderLineItemsPreparedForPickup"]["userErrors"] == []
    assert graphql(api, query, id=gid)["data"]["order"]["displayFulfillmentStatus"] == "IN_PROGRESS"
    assert api.get(f"/_sandbox/orders/{order['id']}").json()["ready_for_pickup"] == [int(fo["id"].rsplit("/", 1)[1])]
    create = """mutation($f: FulfillmentV2Input!) { fulfillmentCreateV2(fulfillment: $f) {
        fulfillment { status totalQuantity } userErrors { field message } } }"""
    made = graphql(
        api, create, f={"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo["id"]}], "notifyCustomer": True}
    )
    assert made["data"]["fulfillmentCreateV2"] == {
        "fulfillment": {"status": "SUCCESS", "totalQuantity": 1},
        "userErrors": [],
    }
    view = api.get(f"/_sandbox/orders/{order['id']}").json()
    assert view["status"] == "fulfilled"
    assert [w["body"]["mutation"] for w in view["writes"]] == [
        "fulfillmentOrderLineItemsPreparedForPickup",
        "fulfillmentCreateV2",
    ]


def test_graphql_cancel_and_control_changes(api: httpx.Client) -> None:
    order = new_order(api, paid=True)
    cancel = """mutation($id: ID!) { orderCancel(orderId: $id, reason: CUSTOMER, refund: true, restock: true) {
        job { id done } orderCancelUserErrors { code field message } } }"""
    answer = graphql(api, cancel, id=f"gid://shopify/Order/{order['id']}")["data"]["orderCancel"]
    assert answer["orderCancelUserErrors"] == []
    assert answer["job"]["id"].startswith("gid://shopify/Job/")
    view = api.get(f"/_sandbox/orders/{order['id']}").json()
    assert (view["status"], view["order"]["cancel_reason"], view["financial_status"]) == (
        "cancelled",
        "customer",
        "refunded",
    )
    again = graphql(api, cancel, id=f"gid://shopify/Order/{order['id']}")["data"]["orderCancel"]
    assert again["orderCancelUserErrors"][0]["code"] == "INVALID"
    refused = api.patch(f"/_sandbox/orders/{order['id']}", json={"cancelled": False})
    assert refused.status_code == 409  # Shopify cannot un-cancel


# --- webhooks -------------------------------------------------------------------------------------------------
def test_webhooks_are_signed_and_carry_the_order(
    api: httpx.Client, sandbox: ShopifySandbox, receiver: Receiver
) -> None:
    created = api.post(
        f"{API}/webhooks.json", json={"webhook": {"topic": "orders/create", "address": receiver.url, "format": "json"}}
    )
    assert created.status_code == 201
    assert created.json()["webhook"]["api_version"] == "2024-07"
    duplicate = api.post(f"{API}/webhooks.json", json={"webhook": {"topic": "orders/create", "address": receiver.url}})
    assert duplicate.status_code == 422
    order = new_order(api)
    ((headers, raw),) = receiver.wait(1)
    assert shopify_hmac(raw, headers["X-Shopify-Hmac-Sha256"], sandbox.describe()["webhook_secret"])
    assert not shopify_hmac(raw + b" ", headers["X-Shopify-Hmac-Sha256"], sandbox.describe()["webhook_secret"])
    assert headers["X-Shopify-Topic"] == "orders/create"
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Shopify-Shop-Domain"].endswith(".myshopify.com")
    assert headers["X-Shopify-API-Version"] == "2024-07"
    assert re.fullmatch(r"[0-9a-f-]{36}", headers["X-Shopify-Webhook-Id"])
    assert headers["X-Shopify-Event-Id"]
    assert datetime.fromisoformat(headers["X-Shopify-Triggered-At"]).tzinfo is not None
    assert json.loads(raw) == api.get(f"{API}/orders/{order['id']}.json").json()["order"] == order


def test_each_change_fires_shopifys_topics(api: httpx.Client, sandbox: ShopifySandbox, receiver: Receiver) -> None:
    sandbox.subscribe_defaults(receiver.url)
    order = new_order(api)
    receiver.wait(1)
    paid = api.patch(f"/_sandbox/orders/{order['id']}", json={"paid": True}).json()
    assert (paid["financial_status"], paid["total_outstanding"]) == ("paid", "0.00")
    changed = api.patch(
        f"/_sandbox/orders/{order['id']}",
        json={"lines": [{"sku": "SKU-0002", "quantity": 0}, {"sku": "SKU-0009", "quantity": 1}]},
    ).json()
    assert changed["current_total_price"] != changed["total_price"]
    assert [x["current_quantity"] for x in changed["line_items"]] == [2, 0, 1]
    balance = Decimal(changed["current_total_price"]) - Decimal(paid["total_price"])
    assert changed["financial_status"] == ("partially_paid" if balance > 0 else "paid")
    assert Decimal(changed["total_outstanding"]) == max(balance, Decimal(0))
    api.patch(f"/_sandbox/orders/{order['id']}", json={"cancelled": True})
    api.patch(f"/_sandbox/orders/{order['id']}", json={"deleted": True})
    hits = receiver.wait(8)
    assert receiver.topics() == [
        "orders/create",
        "orders/paid",
        "orders/updated",
        "orders/edited",
        "orders/updated",
        "orders/cancelled",
        "orders/updated",
        "orders/delete",
    ]
    edit = json.loads(hits[3][1])["order_edit"]
    removed = next(x["id"] for x in changed["line_items"] if x["sku"] == "SKU-0002")
    added = next(x["id"] for x in changed["line_items"] if x["sku"] == "SKU-0009")
    assert edit["order_id"] == order["id"]
    assert edit["line_items"] == {"additions": [{"id": added, "delta": 1}], "removals": [{"id": removed, "delta": 1}]}
    assert json.loads(hits[-1][1]) == {"id": order["id"]}
    assert api.get(f"{API}/orders/{order['id']}.json").status_code == 404


def test_a_failing_endpoint_gets_8_retries_then_loses_its_subscription(
    api: httpx.Client, sandbox: ShopifySandbox, receiver: Receiver
) -> None:
    receiver.status = 500
    api.post("/_sandbox/faults", json={"webhook_retry_scale": 0.00005})
    hook = api.post(
        f"{API}/webhooks.json", json={"webhook": {"topic": "orders/create", "address": receiver.url}}
    ).json()
    new_order(api)
    wait_delivered(sandbox)  # the last retry made
    hits = list(receiver.hits)
    assert len(hits) == 9  # the first attempt and 8 retries
    assert len({h["X-Shopify-Event-Id"] for h, _ in hits}) == 1
    assert len({h["X-Shopify-Webhook-Id"] for h, _ in hits}) == 9
    assert len({body for _, body in hits}) == 1  # retries carry the payload from trigger time
    assert api.get(f"{API}/webhooks/{hook['webhook']['id']}.json").status_code == 404
    assert api.get(f"{API}/webhooks.json").json() == {"webhooks": []}
    assert sandbox.retry_delays[0] * 2**7 == sandbox.retry_delays[-1]
    assert 3.9 * 3600 < sum(sandbox.retry_delays) < 4 * 3600


def test_dropped_and_duplicated_webhooks(api: httpx.Client, sandbox: ShopifySandbox, receiver: Receiver) -> None:
    sandbox.subscribe("orders/create", receiver.url)
    api.post("/_sandbox/faults", json={"webhook_drop": 1.0})
    new_order(api)
    wait_delivered(sandbox)
    assert receiver.hits == []
    api.post("/_sandbox/faults", json={"webhook_drop": 0.0, "webhook_duplicate": 1.0})
    new_order(api)
    hits = receiver.wait(2)
    assert hits[0][0]["X-Shopify-Event-Id"] == hits[1][0]["X-Shopify-Event-Id"]
    assert hits[0][0]["X-Shopify-Webhook-Id"] != hits[1][0]["X-Shopify-Webhook-Id"]
    assert hits[0][1] == hits[1][1]


def test_history_seeds_ten_thousand_orders_and_fires_no_webhooks(
    api: httpx.Client, sandbox: ShopifySandbox, receiver: Receiver
) -> None:
    sandbox.subscribe_defaults(receiver.url)
    seeded = api.post("/_sandbox/seed", json={"seed": 1, "orders": 10_000}, timeout=SEED_TIMEOUT_S)
    assert seeded.json()["orders"] == 10_000
    assert api.get(f"{API}/orders/count.json", params={"status": "any"}).json() == {"count": 10_000}
    last = api.get(f"{API}/orders.json", params={"status": "any", "limit": 250, "since_id": 0}).json()["orders"]
    assert len(last) == 250
    assert last[0]["name"] == "#1001"
    wait_delivered(sandbox)
    assert receiver.hits == []


# --- rate limits and faults -----------------------------------------------------------------------------------
def test_rest_bucket_counts_down_and_throttles(
    api: httpx.Client, sandbox: ShopifySandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(sandbox, "monotonic", lambda: clock[0])
    answers = [api.get(f"{API}/shop.json") for _ in range(41)]
    assert [a.headers["X-Shopify-Shop-Api-Call-Limit"] for a in answers[:40]] == [f"{n}/40" for n in range(1, 41)]
    throttled = answers[40]
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2.0"
    assert throttled.headers["X-Shopify-Shop-Api-Call-Limit"] == "40/40"
    assert throttled.json() == {
        "errors": "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
    }
    clock[0] += 1.0  # leaks 2 calls
    assert api.get(f"{API}/shop.json").headers["X-Shopify-Shop-Api-Call-Limit"] == "39/40"
    assert api.get("/_sandbox/requests").json()["throttled"] == 1
    api.post("/_sandbox/rate_limit", json={"mode": "off"})
    assert all(api.get(f"{API}/shop.json").status_code == 200 for _ in range(5))


def test_graphql_cost_counts_down_and_throttles(
    api: httpx.Client, sandbox: ShopifySandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(sandbox, "monotonic", lambda: clock[0])
    for _ in range(3):
        new_order(api)
    query = "{ orders(first: 90) { nodes { id lineItems(first: 8) { nodes { id } } } } }"
    available = 2000
    for _ in range(100):
        body = graphql(api, query, errors=True)
        cost = body["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 2 + 90 * (1 + 2 + 8)
        if "errors" in body:
            break
        assert cost["actualQueryCost"] == 2 + 3 * (1 + 2 + 2)
        available -= cost["actualQueryCost"]
        assert cost["throttleStatus"] == {
            "maximumAvailable": 2000.0,
            "currentlyAvailable": available,
            "restoreRate": 100.0,
        }
    assert body["errors"] == [
        {
            "message": "Throttled",
            "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"},
        }
    ]
    assert cost["actualQueryCost"] is None
    assert cost["throttleStatus"]["currentlyAvailable"] < 992
    clock[0] += 10.0  # restores 1000 points
    assert "errors" not in graphql(api, query)


def test_graphql_rejects_what_shopify_rejects(api: httpx.Client) -> None:
    unknown = graphql(api, "{ orders(first: 1) { nodes { colour } } }", errors=True)["errors"][0]
    assert unknown["message"] == "Field 'colour' doesn't exist on type 'Order'"
    assert unknown["extensions"] == {"code": "undefinedField", "typeName": "Order", "fieldName": "colour"}
    assert unknown["locations"] == [{"line": 1, "column": 30}]
    huge = graphql(api, "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }", errors=True)
    assert huge["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
    assert "data" not in huge
    unbounded = graphql(api, "{ orders { nodes { id } } }", errors=True)
    assert unbounded["errors"][0]["message"] == "you must provide one of first or last"
    too_big = graphql(api, "{ locations(first: 251) { nodes { id } } }", errors=True)
    assert too_big["errors"][0]["message"].startswith("first cannot exceed 250.")
    missing = api.post(f"{API}/graphql.json", json={"variables": {}})
    assert (missing.status_code, missing.json()) == (
        400,
        {"errors": {"query": "Required parameter missing or invalid"}},
    )


def test_graphql_orders_page_with_cursors_and_search(api: httpx.Client) -> None:
    api.post("/_sandbox/seed", json={"seed": 4, "orders": 23})
    query = """query($after: String, $q: String) { orders(first: 7, after: $after, sortKey: UPDATED_AT, query: $q) {
        edges { cursor node { legacyResourceId updatedAt } } pageInfo { hasNextPage endCursor } } }"""
    seen: list[dict[str, Any]] = []
    after = None
    while True:
        page = graphql(api, query, after=after)["data"]["orders"]
        seen += [edge["node"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(seen) == 23
    assert [s["updatedAt"] for s in seen] == sorted(s["updatedAt"] for s in seen)
    assert all(s["updatedAt"].endswith("Z") for s in seen)
    pivot = seen[10]["updatedAt"]
    quoted = graphql(api, query, q=f"updated_at:>='{pivot}'")
    assert [e["node"] for e in quoted["data"]["orders"]["edges"]] == seen[10:17]
    assert "search" not in quoted["extensions"]
    unquoted = graphql(api, query, q=f"updated_at:>={pivot}")
    warning = unquoted["extensions"]["search"][0]["warnings"][0]
    minutes = pivot[14:16]  # Shopify cuts an unquoted value at its first colon: the minutes become a "field"
    assert warning == {"field": minutes, "message": "Invalid search field for this query.", "code": "invalid_field"}


def test_webhook_subscriptions_through_graphql(api: httpx.Client, receiver: Receiver) -> None:
    create = """mutation($url: URL!) { webhookSubscriptionCreate(topic: ORDERS_UPDATED,
        webhookSubscription: {callbackUrl: $url, format: JSON}) { webhookSubscription { id topic endpoint {
        ... on WebhookHttpEndpoint { callbackUrl } } } userErrors { field message } } }"""
    made = graphql(api, create, url=receiver.url)["data"]["webhookSubscriptionCreate"]
    sub = made["webhookSubscription"]
    assert sub["topic"] == "ORDERS_UPDATED"
    assert sub["endpoint"] == {"callbackUrl": receiver.url}
    assert graphql(api, create, url=receiver.url)["data"]["webhookSubscriptionCreate"]["userErrors"]
    listed = graphql(api, "{ webhookSubscriptions(first: 5, topics: [ORDERS_UPDATED]) { nodes { id } } }")
    assert listed["data"]["webhookSubscriptions"]["nodes"] == [{"id": sub["id"]}]
    assert api.get(f"{API}/webhooks/count.json").json() == {"count": 1}
    deleted = graphql(
        api, "mutation($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId } }", id=sub["id"]
    )
    assert deleted["data"]["webhookSubscriptionDelete"]["deletedWebhookSubscriptionId"] == sub["id"]
    assert api.get(f"{API}/webhooks/count.json").json() == {"count": 0}


def test_error_faults_answer_with_shopifys_error_bodies(api: httpx.Client) -> None:
    api.post("/_sandbox/faults", json={"error_rate": 1.0})
    for path in ("orders.json", "locations.json"):
        response = api.get(f"{API}/{path}")
        assert response.status_code in {500, 502, 503}
        assert response.json() == {
            "errors": {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}[
                response.status_code
            ]
        }
    api.post("/_sandbox/faults", json={"error_rate": 0.0})
    assert api.get(f"{API}/orders.json").status_code == 200


def selection(type_: Any, depth: int) -> str:
    """Every field of `type_` that needs no argument (connections get `first: 3`), objects down to `depth`."""
    parts = []
    for name, field in type_.fields.items():
        if any(is_non_null_type(arg.type) for arg in field.args.values()):
            continue
        named = get_named_type(field.type)
        args = "(first: 3)" if "first" in field.args else ""
        if is_leaf_type(named):
            parts.append(name)
        elif isinstance(named, GraphQLUnionType | GraphQLInterfaceType):
            parts.append(f"{name} {{ __typename }}")
        elif depth > 0:
            parts.append(f"{name}{args} {{ {selection(named, depth - 1)} }}")
    return " ".join(parts) or "__typename"


@pytest.mark.parametrize("version", ["2022-07", "2024-07"])
def test_every_field_of_the_slice_resolves(
    api: httpx.Client, sandbox: ShopifySandbox, receiver: Receiver, version: str
) -> None:
    schema = versioned_schema(version)  # the slice as that version has it (2024-07: no InventoryLevel.available)
    order = new_order(api, paid=True, discount={"code": "TENOFF", "amount": "5.00"})
    fulfilment = fulfil_everything(api, order["id"], {"number": "1Z9", "url": "https://ups.example/1Z9"})
    fo_id = api.get(f"/_sandbox/orders/{order['id']}").json()["fulfillment_orders"][0]["id"]
    sandbox.subscribe("orders/create", receiver.url)
    variant = api.get(f"{API}/variants/{order['line_items'][0]['variant_id']}.json").json()["variant"]
    amsterdam = sandbox.shop_locations["amsterdam"].id
    level = f"gid://shopify/InventoryLevel/{amsterdam}?inventory_item_id={variant['inventory_item_id']}"
    roots = {
        "order": ("Order", f"gid://shopify/Order/{order['id']}"),
        "fulfillmentOrder": ("FulfillmentOrder", f"gid://shopify/FulfillmentOrder/{fo_id}"),
        "fulfillment": ("Fulfillment", f"gid://shopify/Fulfillment/{fulfilment['id']}"),
        "productVariant": ("ProductVariant", f"gid://shopify/ProductVariant/{order['line_items'][0]['variant_id']}"),
        "inventoryLevel": ("InventoryLevel", level),
        "location": ("Location", sandbox.describe()["locations"]["utrecht"]),
    }
    for root, (type_name, gid) in roots.items():
        body = graphql(
            api, f'{{ {root}(id: "{gid}") {{ {selection(schema.type_map[type_name], 3)} }} }}', version=version
        )
        assert body["data"][root] is not None, root
        assert body["extensions"]["cost"]["requestedQueryCost"] <= 1000
    for root, type_name in {
        "orders": "Order",
        "locations": "Location",
        "inventoryItems": "InventoryItem",
        "webhookSubscriptions": "WebhookSubscription",
    }.items():
        query = f"{{ {root}(first: 2) {{ nodes {{ {selection(schema.type_map[type_name], 2)} }} }} }}"
        body = graphql(api, query, version=version)
        assert body["data"][root]["nodes"], root
    shop = graphql(api, f"{{ shop {{ {selection(schema.type_map['Shop'], 1)} }} }}", version=version)["data"]["shop"]
    assert shop["currencyCode"] == "EUR"
    nodes = graphql(api, f'{{ nodes(ids: ["{roots["order"][1]}", "gid://shopify/Order/1"]) {{ id }} }}')
    assert nodes["data"]["nodes"] == [{"id": roots["order"][1]}, None]


# --- inventory quantities by API version ----------------------------------------------------------------------
LEVELS = """query($id: ID!) { location(id: $id) { inventoryLevels(first: 50) { nodes {
    %s item { sku } location { id } } } } }"""  # every level: the sandbox has fewer than 50 SKUs
NAMES = ["available", "on_hand", "committed", "incoming", "reserved", "damaged", "safety_stock", "quality_control"]
NAMED = f"quantities(names: {json.dumps(NAMES)}) {{ id name quantity updatedAt }}"
AMSTERDAM = "gid://shopify/Location/71000000001"  # the sandbox's first location


def levels_at(api: httpx.Client, location: str, fields: str, version: str) -> dict[str, dict[str, Any]]:
    """sku -> its inventory level at `location` through GraphQL in API `version`."""
    body = graphql(api, LEVELS % fields, version=version, id=location)
    return {level["item"]["sku"]: level for level in body["data"]["location"]["inventoryLevels"]["nodes"]}


def quantities(level: dict[str, Any]) -> dict[str, int]:
    return {q["name"]: q["quantity"] for q in level["quantities"]}


@pytest.mark.parametrize("version", ["2022-07", "2022-10"])
def test_before_2023_01_levels_have_available_and_no_quantities(api: httpx.Client, version: str) -> None:
    levels = levels_at(api, AMSTERDAM, "available incoming", version)
    assert levels
    assert all(level["incoming"] == 0 for level in levels.values())
    rest = api.get(f"/admin/api/{version}/locations/71000000001/inventory_levels.json").json()["inventory_levels"]
    assert sorted(x["available"] for x in rest) == sorted(level["available"] for level in levels.values())
    refused = graphql(api, LEVELS % NAMED, errors=True, version=version, id=AMSTERDAM)
    assert "data" not in refused
    assert refused["errors"][0]["message"] == "Field 'quantities' doesn't exist on type 'InventoryLevel'"


@pytest.mark.parametrize("version", ["2024-04", "2024-07", "2025-01", "unstable"])
def test_from_2024_04_available_and_incoming_are_gone(api: httpx.Client, version: str) -> None:
    for gone in ("available", "incoming"):
        refused = graphql(api, LEVELS % gone, errors=True, version=version, id=AMSTERDAM)
        assert refused["errors"][0]["extensions"] == {
            "code": "undefinedField",
            "typeName": "InventoryLevel",
            "fieldName": gone,
        }
    assert levels_at(api, AMSTERDAM, 'quantities(names: ["on_hand"]) { quantity }', version)


def test_named_quantities_follow_the_orders_and_agree_with_available(
    api: httpx.Client, sandbox: ShopifySandbox
) -> None:
    skus = stock_apart(sandbox)  # SKU-0001: 5 in amsterdam; SKU-0002: 4 in rotterdam
    amsterdam, rotterdam = (sandbox.describe()["locations"][key] for key in ("amsterdam", "rotterdam"))
    before = levels_at(api, amsterdam, NAMED, "2024-07")["SKU-0001"]
    assert quantities(before) == dict.fromkeys(NAMES, 0) | {"available": 5, "on_hand": 5}
    assert [q["name"] for q in before["quantities"]] == NAMES  # in the order asked
    level_id = before["quantities"][0]["id"]
    assert level_id.startswith("gid://shopify/InventoryQuantity/")
    assert level_id.endswith("&name=available")
    assert all(q["updatedAt"].endswith("Z") for q in before["quantities"])
    order = new_order(api, {"lines": [{"sku": skus[0], "quantity": 3}, {"sku": skus[1], "quantity": 1}]})
    new = new_order(api, {"lines": [{"sku": skus[0], "quantity": 4}]})  # oversells amsterdam: available below 0
    committed = quantities(levels_at(api, amsterdam, NAMED, "2024-07")["SKU-0001"])
    assert (committed["on_hand"], committed["committed"], committed["available"]) == (5, 7, -2)
    assert quantities(levels_at(api, rotterdam, NAMED, "2023-01")["SKU-0002"])["committed"] == 1
    both = levels_at(api, amsterdam, 'available quantities(names: ["available"]) { quantity }', "2023-01")
    assert both["SKU-0001"]["available"] == both["SKU-0001"]["quantities"][0]["quantity"] == -2
    assert levels_at(api, amsterdam, "available", "2022-07")["SKU-0001"]["available"] == -2
    item = next(x for x in order["line_items"] if x["sku"] == skus[0])
    found = api.get(f"{API}/variants/{item['variant_id']}.json").json()["variant"]["inventory_item_id"]
    rest = api.get(f"{API}/inventory_levels.json", params={"inventory_item_ids": found}).json()["inventory_levels"]
    assert {x["location_id"]: x["available"] for x in rest}[int(amsterdam.rsplit("/", 1)[1])] == -2
    api.patch(f"/_sandbox/orders/{new['id']}", json={"cancelled": True})
    fulfil_everything(api, order["id"])  # its amsterdam fulfillment order: committed units leave
    after = quantities(levels_at(api, amsterdam, NAMED, "2024-07")["SKU-0001"])
    assert (after["on_hand"], after["committed"], after["available"]) == (5, 0, 5)
    assert quantities(levels_at(api, rotterdam, NAMED, "2024-07")["SKU-0002"])["committed"] == 1


def test_an_unknown_quantity_name_is_an_error(api: httpx.Client) -> None:
    fields = 'quantities(names: ["on_hand", "sellable"]) { name quantity }'
    body = graphql(api, LEVELS % fields, errors=True, id=AMSTERDAM)
    assert body["data"] == {"location": None}
    error = body["errors"][0]
    assert "sellable" in error["message"]
    assert error["extensions"] == {"code": "BAD_REQUEST"}
    assert error["path"][-1] == "quantities"


def test_quantities_cost_like_any_list_of_objects(api: httpx.Client, sandbox: ShopifySandbox) -> None:
    location = sandbox.describe()["locations"]["utrecht"]
    query = """query($id: ID!, $names: [String!]!) { location(id: $id) { inventoryLevels(first: 100) { nodes {
        quantities(names: $names) { name quantity } item { sku tracked } } } } }"""
    levels = len(sandbox.catalogue)
    for names in (["on_hand"], ["on_hand", "available", "committed"]):
        cost = graphql(api, query, id=location, names=names)["extensions"]["cost"]
        assert cost["requestedQueryCost"] == 1 + 2 + 100 * (1 + len(names) + 1)  # one object per name asked for
        assert cost["actualQueryCost"] == 1 + 2 + levels * (1 + len(names) + 1)
    old = LEVELS % "available"  # 2022-07: a level with `available` and two objects
    assert graphql(api, old, version="2022-07", id=AMSTERDAM)["extensions"]["cost"]["requestedQueryCost"] == 153


# --- the committed schema slice -------------------------------------------------------------------------------
ADDITIONS = {
    "Mutation.fulfillmentOrderLineItemsPreparedForPickup",
    "Mutation.orderCancel",
    "FulfillmentOrderLineItemsPreparedForPickupInput",
    "PreparedFulfillmentOrderLineItemsInput",
    "FulfillmentOrderLineItemsPreparedForPickupPayload",
    "FulfillmentOrderLineItemsPreparedForPickupUserError",
    "FulfillmentOrderLineItemsPreparedForPickupUserErrorCode",
    "OrderCancelPayload",
    "OrderCancelUserError",
    "OrderCancelUserErrorCode",
    "InventoryLevel.quantities",
    "InventoryQuantity",
}


def test_schema_slice_is_copied_from_shopifys_schema() -> None:
    """Shopify's 2022-07 schema, as far as the sandbox's slice names it, is kept compact in tests/fixtures/shopify
    (rerun tests/fixtures/derive.py after adding a type or field to the slice)."""
    full = build_schema(sample_path("shopify", "admin-2022-07.graphql").read_text(), assume_valid=True)
    ours = build_schema(TRIMMED.read_text())
    checked = 0
    for name, ours_type in ours.type_map.items():
        if name.startswith("__") or name in ADDITIONS or name in {"String", "Int", "Float", "Boolean", "ID"}:
            continue
        assert name in full.type_map, f"{name}: not in Shopify's 2022-07 schema (or rerun derive.py)"
        theirs: Any = full.type_map[name]
        assert type(theirs).__name__ == type(ours_type).__name__, name
        if isinstance(ours_type, GraphQLEnumType):
            assert set(ours_type.values) <= set(theirs.values), name
        elif isinstance(ours_type, GraphQLUnionType):
            assert {t.name for t in ours_type.types} <= {t.name for t in theirs.types}, name
        elif hasattr(ours_type, "fields"):
            for field_name, field in ours_type.fields.items():
                if f"{name}.{field_name}" in ADDITIONS:
                    continue
                assert field_name in theirs.fields, f"{name}.{field_name}: not in 2022-07 (or rerun derive.py)"
                theirs_field = theirs.fields[field_name]
                assert str(field.type) == str(theirs_field.type), f"{name}.{field_name}"
                if not isinstance(ours_type, GraphQLInputObjectType):
                    ours_args = {k: str(v.type) for k, v in field.args.items()}
                    assert ours_args == {k: str(v.type) for k, v in theirs_field.args.items()}, f"{name}.{field_name}"
                checked += 1
    assert checked > 300
