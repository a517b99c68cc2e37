"""Reading platforms' stock answers into counts: which levels count, which ids are accepted, how counts merge."""

from __future__ import annotations

from typing import Any

import pytest

from connector.cli.stock_cmds import merge_counts
from connector.platforms import bigcommerce_stock
from connector.platforms.base import RateBudget, RetryPolicy, StockCount
from connector.platforms.shopify import ShopifyClient, location_gid, stock_count
from connector.runtime.config import StoreConfig
from connector.runtime.errors import ConfigError, FatalError, RetriableError
from connector.stock.ledger import Count


# --- Shopify --------------------------------------------------------------------------------------------------------
def test_a_shopify_location_is_configured_by_gid_or_number() -> None:
    assert location_gid("ams", "gid://shopify/Location/71000000001") == "gid://shopify/Location/71000000001"
    assert location_gid("ams", " 71000000001 ") == "gid://shopify/Location/71000000001"
    for wrong in ("gid://shopify/Order/1", "Location/1", "", "ams"):
        with pytest.raises(ConfigError, match=r"^locations\.ams\.platform_ids\.shopify: "):
            location_gid("ams", wrong)


def test_a_shopify_level_counts_its_named_quantity_or_available() -> None:
    item = {"sku": "SKU-1", "tracked": True}
    named = {"quantities": [{"name": "on_hand", "quantity": 7}], "available": 3, "item": item}
    assert stock_count(named, "ams", "on_hand") == StockCount("SKU-1", "ams", 7)
    assert stock_count({"available": 3, "item": item}, "ams", "available") == StockCount("SKU-1", "ams", 3)
    assert stock_count({"available": -2, "item": item}, "ams", "available") == StockCount("SKU-1", "ams", -2)


def test_untracked_items_and_items_without_a_sku_give_no_count() -> None:
    assert stock_count({"available": 3, "item": {"sku": "SKU-1", "tracked": False}}, "ams", "available") is None
    assert stock_count({"available": 3, "item": {"sku": None, "tracked": True}}, "ams", "available") is None
    assert stock_count({"available": 3, "item": {"sku": "  ", "tracked": True}}, "ams", "available") is None


def test_a_level_without_the_quantity_is_not_taken_as_zero() -> None:
    level = {"quantities": [{"name": "available", "quantity": 7}], "item": {"sku": "SKU-1", "tracked": True}}
    with pytest.raises(RetriableError, match="no on_hand for SKU-1"):
        stock_count(level, "ams", "on_hand")


def answering(body: dict[str, Any]) -> ShopifyClient:
    """A client whose every request gets `body` (no HTTP: the transport's one seam to the network is replaced)."""
    store = StoreConfig(name="s", platform="shopify", base_url="https://s.myshopify.com", api_version="2024-07")
    client = ShopifyClient(store, RateBudget(sleep=lambda _s: None), policy=RetryPolicy(attempts=1))
    client.api._post = lambda *_args: body  # type: ignore[method-assign]
    return client


def test_a_location_shopify_does_not_show_for_want_of_a_scope_is_not_taken_for_a_missing_one() -> None:
    denied = {
        "message": "Access denied for inventoryLevels field. Required access: `read_inventory` access scope.",
        "path": ["location", "inventoryLevels"],
        "extensions": {"code": "ACCESS_DENIED"},
    }
    with pytest.raises(FatalError, match="read_inventory"):
        list(answering({"data": {"location": None}, "errors": [denied]}).read_stock({"ams": "1"}))
    with pytest.raises(ConfigError, match="Shopify has no location gid://shopify/Location/1"):
        list(answering({"data": {"location": None}}).read_stock({"ams": "1"}))


# --- BigCommerce ----------------------------------------------------------------------------------------------------
def test_bigcommerce_location_ids_are_numbers() -> None:
    assert bigcommerce_stock.location_names({"ams": "1", "utr": " 2"}) == {1: "ams", 2: "utr"}
    assert bigcommerce_stock.id_filter({2: "utr", 10: "x", 1: "ams"}) == "1,2,10"
    with pytest.raises(ConfigError, match=r"^locations\.ams\.platform_ids\.bigcommerce: 'AMS' is not"):
        bigcommerce_stock.location_names({"ams": "AMS"})


def test_bigcommerce_items_give_on_hand_at_the_configured_locations_only() -> None:
    at = {"available_to_sell": 4, "total_inventory_onhand": 5, "location_enabled": True}
    page = {
        "data": [
            {"identity": {"sku": "SKU-1"}, "locations": [{"location_id": 1, **at}, {"location_id": 3, **at}]},
            {"identity": {"sku": ""}, "locations": [{"location_id": 1, **at}]},  # no SKU: nothing to match
            {"identity": {"sku": "SKU-2"}, "locations": [{"location_id": 1, "available_to_sell": 4}]},
        ],
        "meta": {"pagination": {"total_pages": 1}},
    }
    assert list(bigcommerce_stock.stock_counts(page, {1: "ams"})) == [StockCount("SKU-1", "ams", 5)]
    with pytest.raises(RetriableError, match="no data list"):
        list(bigcommerce_stock.stock_counts({"errors": []}, {1: "ams"}))


def test_a_bigcommerce_location_the_store_lacks_is_named() -> None:
    listed = {"data": [{"id": 1, "label": "ams"}]}
    assert bigcommerce_stock.missing_location(listed, {1: "ams"}) is None
    assert bigcommerce_stock.missing_location(listed, {1: "ams", 4: "utr", 9: "x"}) == ("utr", 4)


# --- merging what was read ------------------------------------------------------------------------------------------
def test_counts_of_one_sku_at_one_location_add_up_and_none_goes_below_zero() -> None:
    read = [
        StockCount("B", "ams", 2),
        StockCount("A", "ams", 3),
        StockCount("A", "ams", 4),  # a second item with the same SKU
        StockCount("A", "utr", -1),  # oversold on the platform
    ]
    counts, below_zero = merge_counts(read)
    assert counts == [Count("A", "ams", 7), Count("A", "utr", 0), Count("B", "ams", 2)]
    assert below_zero == 1
