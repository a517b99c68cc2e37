"""BigCommerce stock per location: what the V3 inventory API answers, read into `StockCount`s (no I/O here).

`BigCommerceClient.read_stock` first checks the configured locations with `GET /v3/inventory/locations
?location_id:in=…`, then walks `GET /v3/inventory/items?location_id:in=…&limit=…&page=N` page by page up to
`meta.pagination.total_pages` (bigcommerce/docs `reference/inventory.v3.yml`, `locations.v3.yml`). Each item is

    {"identity": {"sku", "variant_id", "product_id", "sku_id"},
     "locations": [{"location_id", "location_code", "location_name", "available_to_sell",
                    "total_inventory_onhand", "location_enabled", "settings": {...}}]}

On hand is `total_inventory_onhand`: `available_to_sell` is that minus the location's safety stock, which is
still on the shelf. Whether it still holds the units of placed, unshipped orders depends on the store's
`update_stock_behavior` (Settings V3 `/settings/inventory`): with `order_placed` BigCommerce takes them off when
the order is placed, while our ledger counts them on hand (allocated) until they ship; with
`order_completed_or_shipped` the two agree. Items without a SKU are left out: our ledger knows items by SKU.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from connector.platforms.base import StockCount
from connector.runtime.errors import ConfigError, RetriableError


def location_names(location_ids: Mapping[str, str]) -> dict[int, str]:
    """BigCommerce location id -> our location name; an id that is not a number is a configuration error."""
    names: dict[int, str] = {}
    for name, platform_id in location_ids.items():
        text = platform_id.strip()
        if not text.isdigit():
            key = f"locations.{name}.platform_ids.bigcommerce"
            raise ConfigError(key, f"{platform_id!r} is not a BigCommerce location id (a number)")
        names[int(text)] = name
    return names


def id_filter(names: Mapping[int, str]) -> str:
    """The value of a `location_id:in` filter: the ids, comma-separated, in order."""
    return ",".join(str(n) for n in sorted(names))


def missing_location(answer: Any, names: Mapping[int, str]) -> tuple[str, int] | None:
    """(our name, id) of the first configured location a `GET /v3/inventory/locations` answer does not list."""
    found = {row.get("id") for row in _records(answer)}
    return next(((name, n) for n, name in sorted(names.items()) if n not in found), None)


def stock_counts(answer: Any, names: Mapping[int, str], **context: str) -> Iterator[StockCount]:
    """The counts of one page of `GET /v3/inventory/items`, under our location names."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("data"), list):
        raise RetriableError("GET /v3/inventory/items: the answer has no data list", **context)
    for item in _records(answer):
        identity = item.get("identity")
        sku = str(identity.get("sku") or "").strip() if isinstance(identity, Mapping) else ""
        if not sku:
            continue
        for at in item.get("locations") or ():
            number = _whole(at.get("location_id")) if isinstance(at, Mapping) else None
            units = _whole(at.get("total_inventory_onhand")) if isinstance(at, Mapping) else None
            location = names.get(number) if number is not None else None
            if location is not None and units is not None:
                yield StockCount(sku, location, units)


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _records(answer: Any) -> list[Mapping[str, Any]]:
    data = answer.get("data") if isinstance(answer, Mapping) else None
    return [row for row in data if isinstance(row, Mapping)] if isinstance(data, list) else []


__all__ = ["id_filter", "location_names", "missing_location", "stock_counts"]
