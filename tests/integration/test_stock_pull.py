"""Stock per location read from the platforms that keep it (Shopify, BigCommerce), over HTTP from their sandboxes.

The clients' `read_stock` must give exactly the sandbox catalogue's units per location (`GET /_sandbox/catalogue`),
page after page, under our location names; `connector stock pull --store S` must set our on-hand to them (seen
with `stock show --json`), move only what changed when pulled again, and refuse clearly: a platform with one stock
level per product (WooCommerce, Lightspeed) exits 1, a configuration without ids for the platform exits 2.

Shopify is read on two API versions, as the sandbox answers each: 2022-07, whose `InventoryLevel.available` leaves
out the units committed to open orders, and 2024-07 (the default), which has no `available` any more and gives
`quantities(names: ["on_hand"])`, every unit at the location. Without open orders both are the catalogue's units;
with one, only 2024-07's count still is.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connector.platforms import open_client
from connector.platforms.base import RateBudget
from connector.platforms.bigcommerce import BigCommerceClient
from connector.platforms.shopify import ShopifyClient
from connector.runtime.config import StoreConfig
from connector.runtime.errors import ConfigError, SkippableError
from sandbox.bigcommerce import BigCommerceSandbox
from sandbox.core import Sandbox
from sandbox.lightspeed import LightspeedSandbox
from sandbox.runner import serve
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooCommerceSandbox
from tests.support import cli, write_config

SANDBOX_LOCATIONS = ("amsterdam", "utrecht", "rotterdam")
PULLED = ("amsterdam", "utrecht")  # rotterdam has no platform id in the configuration: never pulled
OLD_SHOPIFY = "2022-07"  # `InventoryLevel.available` (units not committed to open orders)
NEW_SHOPIFY = "2024-07"  # the default: `quantities(names: ["on_hand"])`; `available` removed in 2024-04
SHOPIFY_VERSIONS = pytest.mark.parametrize("version", [OLD_SHOPIFY, NEW_SHOPIFY])

Units = dict[tuple[str, str], int]


@pytest.fixture(scope="module")
def shopify() -> Iterator[Sandbox]:
    with serve(ShopifySandbox(locations=SANDBOX_LOCATIONS, seed=11)) as box:
        yield box


@pytest.fixture(scope="module")
def bigcommerce() -> Iterator[Sandbox]:
    box = BigCommerceSandbox(locations=SANDBOX_LOCATIONS, seed=12)
    box.rate_limit = "off"
    with serve(box):
        yield box


def catalogue(box: Sandbox, locations: tuple[str, ...] = PULLED) -> Units:
    """The sandbox's own units per (sku, location), through its control surface."""
    items = httpx.get(f"{box.root_url}/_sandbox/catalogue", timeout=10).json()["items"]
    return {(i["sku"], loc): units for i in items for loc, units in i["stock"].items() if loc in locations}


def reseed(box: Sandbox, seed: int) -> None:
    """New stock everywhere (the catalogue is re-drawn from `seed`)."""
    answer = httpx.post(f"{box.root_url}/_sandbox/seed", json={"seed": seed}, timeout=10)
    assert answer.status_code == 200, answer.text


def api_calls(box: Sandbox, path: str) -> list[dict[str, Any]]:
    requests = httpx.get(f"{box.root_url}/_sandbox/requests", timeout=10).json()["requests"]
    return [r for r in requests if r["path"].endswith(path)]


def store_entry(box: Sandbox, name: str, **extra: Any) -> dict[str, Any]:
    d = box.describe()
    entry = {"name": name, "platform": d["platform"], "base_url": d["base_url"], "credentials": d["credentials"]}
    return entry | {"webhook_secret": d["webhook_secret"]} | extra


def store_config(box: Sandbox, **extra: Any) -> StoreConfig:
    return StoreConfig(**store_entry(box, "s", **extra))


def ids(box: Sandbox, locations: tuple[str, ...] = PULLED) -> dict[str, str]:
    return {name: str(box.describe()["locations"][name]) for name in locations}


def quick() -> RateBudget:
    return RateBudget(sleep=lambda _s: None)


# --- the clients ----------------------------------------------------------------------------------------------------
def shopify_counts(box: Sandbox, version: str) -> Units:
    client = ShopifyClient(store_config(box, api_version=version), quick())
    return {(c.sku, c.location): c.on_hand for c in client.read_stock(ids(box))}


@SHOPIFY_VERSIONS
def test_shopify_gives_every_levels_units_page_by_page(shopify: Sandbox, version: str) -> None:
    before = api_calls(shopify, "/graphql.json")
    client = ShopifyClient(store_config(shopify, api_version=version), quick(), stock_page_size=5)
    counts = list(client.read_stock(ids(shopify)))
    expected = catalogue(shopify)
    assert {(c.sku, c.location): c.on_hand for c in counts} == expected
    assert len(counts) == len(expected)  # each level once
    skus = len({sku for sku, _loc in expected})
    calls = api_calls(shopify, "/graphql.json")[len(before) :]
    assert len(calls) == len(PULLED) * -(-skus // 5)  # pages of 5
    assert {call["path"] for call in calls} == {f"/admin/api/{version}/graphql.json"}


def test_shopify_reads_on_hand_from_2023_01_and_available_before(shopify: Sandbox) -> None:
    """An open order commits units: 2022-07's `available` leaves them out, 2024-07's `on_hand` keeps them."""
    sku = next(sku for (sku, loc), units in catalogue(shopify).items() if loc == "amsterdam" and units >= 2)
    created = httpx.post(
        f"{shopify.root_url}/_sandbox/orders", json={"lines": [{"sku": sku, "quantity": 2}]}, timeout=10
    )
    assert created.status_code == 201, created.text
    try:
        read = {version: shopify_counts(shopify, version) for version in (OLD_SHOPIFY, "2023-01", NEW_SHOPIFY)}
    finally:
        cancelled = httpx.patch(
            f"{shopify.root_url}/_sandbox/orders/{created.json()['id']}", json={"cancelled": True}, timeout=10
        )
        assert cancelled.status_code == 200, cancelled.text
    expected = catalogue(shopify)
    assert read["2023-01"] == read[NEW_SHOPIFY] == expected
    assert read[OLD_SHOPIFY] == expected | {(sku, "amsterdam"): expected[sku, "amsterdam"] - 2}


@SHOPIFY_VERSIONS
def test_shopify_takes_a_location_id_as_its_number_too(shopify: Sandbox, version: str) -> None:
    numbers = {name: gid.rsplit("/", 1)[1] for name, gid in ids(shopify, ("utrecht",)).items()}
    client = ShopifyClient(store_config(shopify, api_version=version), quick())
    counts = {(c.sku, c.location): c.on_hand for c in client.read_stock(numbers)}
    assert counts == catalogue(shopify, ("utrecht",))


def test_shopify_refuses_a_location_it_does_not_have_or_an_id_of_another_shape(shopify: Sandbox) -> None:
    client = ShopifyClient(store_config(shopify), quick())  # the default version
    with pytest.raises(ConfigError, match=r"locations\.paris\.platform_ids\.shopify: Shopify has no location"):
        list(client.read_stock({"paris": "gid://shopify/Location/999"}))
    with pytest.raises(ConfigError, match="is not a Shopify location id"):
        list(client.read_stock({"paris": "gid://shopify/Order/1"}))


def test_bigcommerce_gives_total_inventory_onhand_page_by_page(bigcommerce: Sandbox) -> None:
    before = len(api_calls(bigcommerce, "/v3/inventory/items"))
    client = BigCommerceClient(store_config(bigcommerce), quick())
    client.page_limit = 5
    counts = list(client.read_stock(ids(bigcommerce)))
    expected = catalogue(bigcommerce)
    assert {(c.sku, c.location): c.on_hand for c in counts} == expected
    assert len(counts) == len(expected)
    skus = len({sku for sku, _loc in expected})
    assert len(api_calls(bigcommerce, "/v3/inventory/items")) - before == -(-skus // 5)
    client.close()


def test_bigcommerce_refuses_a_location_it_does_not_have(bigcommerce: Sandbox) -> None:
    with BigCommerceClient(store_config(bigcommerce), quick()) as client:
        with pytest.raises(ConfigError, match=r"locations\.paris\.platform_ids\.bigcommerce: .* no location 9"):
            list(client.read_stock({"amsterdam": "1", "paris": "9"}))
        with pytest.raises(ConfigError, match="is not a BigCommerce location id"):
            list(client.read_stock({"paris": "PARIS"}))


@pytest.mark.parametrize("sandbox", [WooCommerceSandbox, LightspeedSandbox])
def test_platforms_with_one_stock_level_per_product_refuse(sandbox: type[Sandbox]) -> None:
    with serve(sandbox(locations=SANDBOX_LOCATIONS)) as box:
        client = open_client(store_config(box))
        with pytest.raises(SkippableError, match="has no per-location stock; import counts from the POS instead"):
            list(client.read_stock(ids(box)))
        client.close()
        assert api_calls(box, "") == []  # refused without asking the platform


# --- the command ----------------------------------------------------------------------------------------------------
def configure(tmp_path: Path, box: Sandbox, name: str, **extra: Any) -> Path:
    """One store on `box`; every sandbox location configured, but only PULLED ones with an id for the platform."""
    platform = box.describe()["platform"]
    locations = [
        {"name": n, "priority": i + 1, "platform_ids": {platform: ids(box)[n]} if n in PULLED else {}}
        for i, n in enumerate(SANDBOX_LOCATIONS)
    ]
    database = f"sqlite:///{tmp_path / 'c.db'}"
    return write_config(tmp_path / "c.toml", database, stores=[store_entry(box, name, **extra)], locations=locations)


def on_hand(config: Path, tmp_path: Path) -> Units:
    shown = cli("stock", "show", "--json", "--config", str(config), cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    return {(r["sku"], r["location"]): r["on_hand"] for r in json.loads(shown.stdout)}


def pull(config: Path, tmp_path: Path, store: str) -> str:
    pulled = cli("stock", "pull", "--store", store, "--config", str(config), cwd=tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    return pulled.stdout


def said(read: int, store: str, changed: int) -> str:
    return f"{read} counts read from {store}, {changed} levels changed"


@pytest.mark.parametrize("version", [OLD_SHOPIFY, None])  # None: the configuration's default, 2024-07
def test_stock_pull_sets_on_hand_from_shopify_and_moves_only_what_changed(tmp_path: Path, version: str | None) -> None:
    with serve(ShopifySandbox(locations=SANDBOX_LOCATIONS, seed=13)) as shopify:
        config = configure(tmp_path, shopify, "shop", **({"api_version": version} if version else {}))
        first = catalogue(shopify)
        moved = sum(units > 0 for units in first.values())  # from nothing to the count; zero moves nothing
        assert said(len(first), "shop", moved) in pull(config, tmp_path, "shop")
        shown = on_hand(config, tmp_path)
        assert {key: shown.get(key, 0) for key in first} == first
        assert set(shown) <= set(first)  # rotterdam (no Shopify id) untouched
        reseed(shopify, 21)
        second = catalogue(shopify)
        moved = sum(first[key] != units for key, units in second.items())
        assert moved > 0
        assert said(len(second), "shop", moved) in pull(config, tmp_path, "shop")
        shown = on_hand(config, tmp_path)
        assert {key: shown.get(key, 0) for key in second} == second
        assert said(len(second), "shop", 0) in pull(config, tmp_path, "shop")  # again: nothing moves


def test_stock_pull_sets_on_hand_from_bigcommerce(bigcommerce: Sandbox, tmp_path: Path) -> None:
    config = configure(tmp_path, bigcommerce, "bc")
    expected = catalogue(bigcommerce)
    assert said(len(expected), "bc", sum(u > 0 for u in expected.values())) in pull(config, tmp_path, "bc")
    shown = on_hand(config, tmp_path)
    assert {key: shown.get(key, 0) for key in expected} == expected
    assert set(shown) <= set(expected)


@pytest.mark.parametrize(("sandbox", "shown"), [(WooCommerceSandbox, "WooCommerce"), (LightspeedSandbox, "Lightspeed")])
def test_stock_pull_from_a_platform_without_stock_per_location_exits_1(
    sandbox: type[Sandbox], shown: str, tmp_path: Path
) -> None:
    with serve(sandbox(locations=SANDBOX_LOCATIONS)) as box:
        config = configure(tmp_path, box, "one-pool")
        refused = cli("stock", "pull", "--store", "one-pool", "--config", str(config), cwd=tmp_path)
    assert refused.returncode == 1
    assert f"{shown}" in refused.stderr
    assert "has no per-location stock; import counts from the POS instead" in refused.stderr


def test_stock_pull_without_ids_for_the_platform_or_store_exits_2(bigcommerce: Sandbox, tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'c.db'}"
    locations = [{"name": "amsterdam", "platform_ids": {"shopify": "gid://shopify/Location/1"}}]
    config = write_config(tmp_path / "c.toml", database, stores=[store_entry(bigcommerce, "bc")], locations=locations)
    no_ids = cli("stock", "pull", "--store", "bc", "--config", str(config), cwd=tmp_path)
    assert no_ids.returncode == 2
    assert "no location has an id for bigcommerce" in no_ids.stderr
    no_store = cli("stock", "pull", "--store", "nope", "--config", str(config), cwd=tmp_path)
    assert no_store.returncode == 2
    assert "no store named 'nope'" in no_store.stderr
