"""The read surface contract: every documented read endpoint in scope, on each sandbox, against schema data.

For each platform, the schema data kept in `tests/fixtures/` (derived from the official reference by
`tests/fixtures/derive.py`) lists the documented GET paths and the shape of their 200 answer. This suite calls
every one of them on a seeded sandbox, with ids the sandbox itself handed out, and checks the answer with
`contract.Checker`: JSON types, nulls, enums, required keys, and keys the reference does not name. What the
sandbox answers beyond an old reference (fields the platform added later) is listed per platform with the reason;
what it does not serve yet is listed too, so either list changing is a visible decision, not drift.

A crawler then follows every link the sandbox writes into its own JSON (WooCommerce `_links`, BigCommerce
`resource` and `url` fields, Lightspeed `resource.url`, Shopify `admin_graphql_api_id` is not a URL) and expects
each to answer 2xx.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from contract import Checker
from samples import load_json
from woocommerce import API

from sandbox.bigcommerce.server import BigCommerceSandbox
from sandbox.lightspeed.server import LightspeedSandbox
from sandbox.runner import serve
from sandbox.woocommerce.server import WooCommerceSandbox

pytestmark = pytest.mark.xdist_group("sandbox_contract")

# --- WooCommerce ------------------------------------------------------------------------------------------------
WOO_SPEC = "wc-v3.compact.json"
# Fields WooCommerce added after the reference pages were written (9.x answers them; the docs' examples predate).
WOO_NEWER = {
    "currency_symbol",
    "payment_url",
    "is_editable",
    "needs_payment",
    "needs_processing",
    "image",
    "parent_name",
    "rate_percent",
    "instance_id",
    "phone",
}
# Where the reference's single example cannot show what WooCommerce answers: a variation without its own image
# has `image: null` (`WC_REST_Product_Variations_Controller::get_image` returns null when no image is set).
WOO_NULLABLE = {"$.image", "$[0].image", "$[1].image", "$[2].image"}
WOO_NOT_SERVED = {
    "/wp-json/wc/v3/orders/{id}/refunds",  # refunds are created by the returns work (issue 16); reads land with it
    "/wp-json/wc/v3/orders/{id}/refunds/{refund_id}",
}


@pytest.fixture(scope="module")
def woo() -> Iterator[tuple[WooCommerceSandbox, API]]:
    with serve(WooCommerceSandbox(seed=7)) as sandbox:
        httpx.post(f"{sandbox.root_url}/_sandbox/seed", json={"seed": 3, "orders": 3}).raise_for_status()
        key = sandbox.describe()["credentials"]
        api = API(
            url=sandbox.root_url,
            consumer_key=key["consumer_key"],
            consumer_secret=key["consumer_secret"],
            version="wc/v3",
            query_string_auth=True,
            timeout=30,
        )
        yield sandbox, api


def woo_ids(api: API) -> dict[str, str]:
    """Real ids for each documented path parameter, read from the sandbox itself."""
    order = api.get("orders").json()[0]
    note = api.post(f"orders/{order['id']}/notes", {"note": "Contract check"}).json()
    variable = next(p for p in api.get("products", params={"per_page": 100}).json() if p["type"] == "variable")
    return {"order": str(order["id"]), "note": str(note["id"]), "variable": str(variable["id"])} | {
        "variation": str(variable["variations"][0]),
        "customer": str(api.get("customers").json()[0]["id"]),
    }


def woo_request_path(path: str, ids: dict[str, str]) -> str:
    tail = path.removeprefix("/wp-json/wc/v3").lstrip("/")
    if tail.startswith("products/"):
        tail = tail.replace("{product_id}", ids["variable"]).replace(
            "variations/{id}", f"variations/{ids['variation']}"
        )
        return tail.replace("{id}", ids["variable"])
    if tail.startswith("customers/"):
        return tail.replace("{id}", ids["customer"])
    if tail.startswith("system_status/tools/"):
        return tail.replace("{id}", "clear_transients")
    return tail.replace("{id}", ids["order"]).replace("{note_id}", ids["note"]).replace("{refund_id}", "1")


def contract_problems(answer: Any, schema: dict[str, Any], schemas: dict[str, Any], newer: set[str]) -> list[str]:
    found = Checker(schemas).problems(answer, schema, "$")
    return [
        p for p in found if not (p.endswith(": undeclared") and p.rsplit(".", 1)[-1][: -len(": undeclared")] in newer)
    ]


def test_woocommerce_serves_every_documented_read_in_the_documented_shape(woo: tuple[WooCommerceSandbox, API]) -> None:
    _, api = woo
    spec = load_json("woocommerce", WOO_SPEC)
    ids = woo_ids(api)
    problems: dict[str, list[str]] = {}
    unserved = set()
    for path, operations in spec["paths"].items():
        answer = api.get(woo_request_path(path, ids))
        if answer.status_code == 404 and answer.json().get("code") == "rest_no_route":
            unserved.add(path)
            continue
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        found = contract_problems(answer.json(), operations["get"]["responses"]["200"], spec["schemas"], WOO_NEWER)
        found = [p for p in found if p.split(":")[0] not in WOO_NULLABLE or not p.endswith(": null")]
        if found:
            problems[path] = found
    assert problems == {}
    assert unserved == WOO_NOT_SERVED


def test_the_official_woocommerce_client_connects_as_it_would_to_a_real_store(
    woo: tuple[WooCommerceSandbox, API],
) -> None:
    sandbox, api = woo
    status = api.get("system_status").json()
    assert status["environment"]["site_url"] == sandbox.root_url
    assert status["settings"]["currency"] == "EUR"
    tools = {tool["id"] for tool in api.get("system_status/tools").json()}
    assert "clear_transients" in tools
    run = api.put("system_status/tools/clear_transients", {"confirm": True}).json()
    assert (run["success"], run["message"]) == (True, "Product transients cleared")
    refused = api.get("system_status/tools/no_such_tool")
    assert (refused.status_code, refused.json()["code"]) == (404, "woocommerce_rest_system_status_tool_invalid_id")
    index = httpx.get(f"{sandbox.root_url}/wp-json/wc/v3")  # no credentials: the index is public
    assert index.status_code == 200
    assert "/wc/v3/orders/(?P<id>[\\d]+)" in index.json()["routes"]
    assert "/wc/v3/orders/(?P<order_id>[\\d]+)/notes" in index.json()["routes"]


# --- the crawler ------------------------------------------------------------------------------------------------
URL = re.compile(r"^https?://")


def links_in(value: Any, root: str) -> Iterator[str]:
    """Every string in a JSON value that is a URL on the sandbox itself."""
    if isinstance(value, dict):
        for item in value.values():
            yield from links_in(item, root)
    elif isinstance(value, list):
        for item in value:
            yield from links_in(item, root)
    elif isinstance(value, str) and URL.match(value) and value.startswith(root):
        yield value


def crawl(start: list[str], get: Callable[[str], httpx.Response | Any], root: str, limit: int = 150) -> dict[str, int]:
    """Breadth-first over the sandbox's own links from `start`; the status of every URL visited."""
    seen: dict[str, int] = {}
    queue = list(start)
    while queue and len(seen) < limit:
        url = queue.pop(0)
        if url in seen:
            continue
        answer = get(url)
        seen[url] = answer.status_code
        if answer.status_code == 200 and "json" in answer.headers.get("content-type", ""):
            queue += [link for link in links_in(answer.json(), root) if link not in seen]
    return seen


def test_every_link_in_the_woocommerce_sandboxs_json_resolves(woo: tuple[WooCommerceSandbox, API]) -> None:
    sandbox, _ = woo
    key = sandbox.describe()["credentials"]
    auth = (key["consumer_key"], key["consumer_secret"])

    def get(url: str) -> httpx.Response:
        return httpx.get(url, auth=auth, timeout=30)

    base = f"{sandbox.root_url}/wp-json/wc/v3"
    start = [f"{base}/{tail}" for tail in ("orders", "products", "customers", "system_status/tools")]
    visited = crawl(start, get, sandbox.root_url)
    assert len(visited) > len(start)  # the answers do carry links
    assert {url: status for url, status in visited.items() if status != 200} == {}


# --- BigCommerce ------------------------------------------------------------------------------------------------
# (compact schema file, API version, documented path): the reads in scope beyond the orders suite's own checks.
BC_READS = [
    ("store_information.v2.compact.json", "v2", "/store"),
    ("store_information.v2.compact.json", "v2", "/time"),
    ("products_catalog.v3.compact.json", "v3", "/catalog/products"),
    ("products_catalog.v3.compact.json", "v3", "/catalog/products/{product_id}"),
    ("product-variants_catalog.v3.compact.json", "v3", "/catalog/products/{product_id}/variants"),
    ("product-variants_catalog.v3.compact.json", "v3", "/catalog/products/{product_id}/variants/{variant_id}"),
    ("product-variants_catalog.v3.compact.json", "v3", "/catalog/variants"),
    ("orders.v2.compact.json", "v2", "/orders"),
    ("orders.v2.compact.json", "v2", "/orders/{order_id}"),
    ("orders.v2.compact.json", "v2", "/orders/{order_id}/products"),
    ("orders.v2.compact.json", "v2", "/orders/{order_id}/shipping_addresses"),
    ("orders.v2.compact.json", "v2", "/orders/{order_id}/shipping_addresses/{shipping_address_id}/shipping_quotes"),
    ("orders.v2.compact.json", "v2", "/orders/{order_id}/coupons"),
    ("orders.v2.compact.json", "v2", "/orders/{order_id}/fees"),
    ("orders.v2.compact.json", "v2", "/orders/{order_id}/taxes"),
    ("orders.v2.compact.json", "v2", "/orders/{order_id}/messages"),
    ("orders.v2.compact.json", "v2", "/order_statuses"),
]
# The `/catalog/variants` response schema names fewer fields than the product-variant schema the same objects
# follow everywhere else in the catalog reference; BigCommerce answers these on both.
BC_UNDECLARED_ON_ALL_VARIANTS = {"calculated_weight", "image_url", "mpn", "gtin"}
# Where BigCommerce's own examples and schema disagree (see tests/unit/test_fixtures.py: KNOWN_DRIFT), the sandbox
# answers as the examples do.
BC_ORDER_DRIFT = {"credit_card_type", "custom_status", "order"}


@pytest.fixture(scope="module")
def bigcommerce() -> Iterator[tuple[BigCommerceSandbox, httpx.Client]]:
    with serve(BigCommerceSandbox(seed=7)) as sandbox:
        httpx.post(f"{sandbox.root_url}/_sandbox/seed", json={"seed": 3, "orders": 3}).raise_for_status()
        token = sandbox.describe()["credentials"]["access_token"]
        headers = {"X-Auth-Token": token, "Accept": "application/json"}
        with httpx.Client(base_url=sandbox.describe()["base_url"], headers=headers, timeout=30) as client:
            yield sandbox, client


def test_bigcommerce_serves_every_documented_read_in_the_documented_shape(
    bigcommerce: tuple[BigCommerceSandbox, httpx.Client],
) -> None:
    _, client = bigcommerce
    order = client.get("/v2/orders").json()[0]
    product = client.get("/v3/catalog/products").json()["data"][0]
    address = client.get(f"/v2/orders/{order['id']}/shipping_addresses").json()[0]
    ids = {"order_id": order["id"], "product_id": product["id"], "variant_id": product["base_variant_id"]}
    ids["shipping_address_id"] = address["id"]
    problems: dict[str, list[str]] = {}
    for spec_name, version, path in BC_READS:
        spec = load_json("bigcommerce", spec_name)
        answer = client.get(f"/{version}{path.format(**ids)}")
        assert answer.status_code in (200, 204), (path, answer.status_code, answer.text[:300])
        if answer.status_code == 204:  # an empty V2 collection: BigCommerce answers 204 with no body
            continue
        newer = BC_UNDECLARED_ON_ALL_VARIANTS if path == "/catalog/variants" else BC_ORDER_DRIFT
        schema = spec["paths"][path]["get"]["responses"]["200"]
        found = contract_problems(answer.json(), schema, spec["schemas"], newer)
        if found:
            problems[path] = found
    assert problems == {}


def test_bigcommerce_store_time_and_catalog_agree_with_the_rest_of_the_store(
    bigcommerce: tuple[BigCommerceSandbox, httpx.Client],
) -> None:
    sandbox, client = bigcommerce
    store = client.get("/v2/store").json()
    assert (store["id"], store["currency"]) == (sandbox.store_hash, "EUR")
    assert isinstance(client.get("/v2/time").json()["time"], int)
    catalogue = sandbox.catalogue["SKU-0001"]
    (product,) = client.get("/v3/catalog/products", params={"sku": "SKU-0001"}).json()["data"]
    assert (product["id"], product["base_variant_id"]) == (catalogue.product_id, catalogue.variant_id)
    assert product["inventory_level"] == sum(catalogue.stock.values())
    (variant,) = client.get("/v3/catalog/variants", params={"sku:in": "SKU-0001"}).json()["data"]
    assert variant["id"] == catalogue.variant_id
    missing = client.get("/v3/catalog/products/999999")
    assert missing.status_code == 404
    assert missing.json()["status"] == 404  # the V3 error body


def test_every_link_in_the_bigcommerce_sandboxs_json_resolves(
    bigcommerce: tuple[BigCommerceSandbox, httpx.Client],
) -> None:
    sandbox, client = bigcommerce
    base = sandbox.describe()["base_url"]
    start = [f"{base}/v2/orders", f"{base}/v3/catalog/products", f"{base}/v3/inventory/locations"]
    visited = crawl(start, lambda url: client.get(url), sandbox.root_url)
    assert len(visited) > len(start)
    assert {url: status for url, status in visited.items() if status not in (200, 204)} == {}


# --- Lightspeed eCom --------------------------------------------------------------------------------------------
# Lightspeed publishes no schema (platforms.md §4); the shapes checked here are the live-validated ones of
# NickTacke/lightspeed-client and the order webhook sample in tests/fixtures/lightspeed/.
# Links the sandbox's documents carry whose targets it does not serve yet, by path pattern (ids as N).
LIGHTSPEED_NOT_SERVED = {
    "/products/N.json",
    "/customers/N.json",
    "/quotes/N.json",
    "/shipments/N/products.json",
    "/shop/company.json",
    "/shop/limits.json",
    "/taxes/N.json",
    "/account/signout.json",  # an action (ends the API key's session), not a read: never served to a crawler
}


@pytest.fixture(scope="module")
def lightspeed() -> Iterator[tuple[LightspeedSandbox, httpx.Client]]:
    with serve(LightspeedSandbox(seed=7)) as sandbox:
        control = f"{sandbox.root_url}/_sandbox"
        httpx.post(f"{control}/seed", json={"seed": 3, "orders": 3}).raise_for_status()
        httpx.post(f"{control}/rate_limit", json={"mode": "off"}).raise_for_status()  # the crawl is ~120 calls
        key = sandbox.describe()["credentials"]
        with httpx.Client(auth=(key["api_key"], key["api_secret"]), timeout=30) as client:
            yield sandbox, client


def test_lightspeed_account_events_and_metafields_answer_in_the_live_shapes(
    lightspeed: tuple[LightspeedSandbox, httpx.Client],
) -> None:
    sandbox, client = lightspeed
    base = sandbox.describe()["base_url"]
    account = client.get(f"{base}/account.json").json()["account"]
    assert account["apiKey"] == sandbox.describe()["credentials"]["api_key"]
    assert account["appId"] is False
    assert account["ratelimit"]["resource"]["link"] == f"{base}/account/ratelimit.json"
    permissions = client.get(account["permissions"]["resource"]["link"]).json()["accountPermissions"]
    assert set(permissions) == {"content", "products", "customers", "orders", "settings", "tracking"}
    order = client.get(f"{base}/orders.json").json()["orders"][0]
    events = client.get(order["events"]["resource"]["link"]).json()["ordersEvents"]
    sample = load_json("lightspeed", "order-updated.json")["order"]["events"]["resource"]["embedded"][0]
    assert [set(event) for event in events] == [set(sample)]
    assert events[0]["order"]["resource"]["id"] == order["id"]
    assert client.get(f"{base}/orders/events/count.json", params={"order": order["id"]}).json() == {"count": 1}
    assert client.get(order["metafields"]["resource"]["link"]).json() == {"orderMetafields": []}
    assert client.get(f"{base}/orders/999999/metafields.json").status_code == 404
    refused = client.get(f"{base}/orders/events.json", params={"order": "x"})
    assert refused.status_code == 400
    assert "error" in refused.json()


def test_every_link_in_the_lightspeed_sandboxs_json_resolves_but_the_listed_ones(
    lightspeed: tuple[LightspeedSandbox, httpx.Client],
) -> None:
    sandbox, client = lightspeed
    base = sandbox.describe()["base_url"]
    start = [f"{base}/{tail}.json" for tail in ("orders", "shipments", "variants", "shop", "account")]
    visited = crawl(start, client.get, sandbox.root_url, limit=400)
    assert len(visited) > len(start)
    broken = {re.sub(r"\d+", "N", url.removeprefix(base).split("?")[0]) for url, s in visited.items() if s != 200}
    assert broken == LIGHTSPEED_NOT_SERVED
