"""Platform payload → internal `Order`: pure functions, no I/O, no database, no clock.

    map_order(platform, raw, ctx)   the mapper for `platform`, from `MAPPERS`
    MappingContext, ReservationRule what the store's configuration tells a mapper

Each platform module (`shopify`, `woocommerce`, `bigcommerce`, `lightspeed`) exposes
`map_order(raw, ctx) -> Order` and documents its rules (pickup detection, payment, how the totals add up) in its
docstring. A payload that cannot be mapped raises `connector.runtime.errors.SkippableError` with the reason, the store,
the platform and the order's id; unknown platform statuses are kept in `platform_status`, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from connector.mapping import bigcommerce, lightspeed, shopify, woocommerce
from connector.mapping.context import MappingContext, ReservationRule
from connector.orders.model import Order, Platform

Mapper = Callable[[Mapping[str, Any], MappingContext], Order]

MAPPERS: dict[Platform, Mapper] = {
    Platform.SHOPIFY: shopify.map_order,
    Platform.WOOCOMMERCE: woocommerce.map_order,
    Platform.BIGCOMMERCE: bigcommerce.map_order,
    Platform.LIGHTSPEED: lightspeed.map_order,
}


def map_order(platform: Platform, raw: Mapping[str, Any], ctx: MappingContext) -> Order:
    """Map one platform payload (as the platform client hands it over) to an `Order`."""
    return MAPPERS[platform](raw, ctx)


__all__ = ["MAPPERS", "Mapper", "MappingContext", "ReservationRule", "map_order"]
