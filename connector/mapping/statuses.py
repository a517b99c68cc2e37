"""The write-back capability matrix as data: which internal event becomes which write on which platform.

Default (design section 6), from the retail POS the product mirrors:

    event              Shopify                      WooCommerce      BigCommerce           Lightspeed eCom
    packed, delivery   -                            -                status 9              -
    packed, pickup     -                            -                status 8              -
    shipped            fulfillment (+ tracking)     completed        status 10             completed
    picked up          fulfillment                  completed        status 10             completed
    cancelled (local)  order cancelled (opt-in)     cancelled (opt)  status 5 (opt-in)     cancelled (opt-in)

Per store (`[stores.writeback]`) a retailer may enable what a platform supports beyond that: Shopify's
ready-for-pickup, BigCommerce shipments with tracking, Lightspeed's finer statuses; map an event to a custom
platform status; and turn customer notification on per event.

A write's `scope` says when it fires: `fulfilment` writes go out as each location's part reaches the event
(Shopify gets one fulfillment per location as each ships); `order` writes go out only when the whole order has
reached it (a split order is completed on the platform when its last fulfilment is done).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from connector.orders.model import Platform


class Event(StrEnum):
    PACKED_DELIVERY = "packed_delivery"
    PACKED_PICKUP = "packed_pickup"
    SHIPPED = "shipped"
    PICKED_UP = "picked_up"
    CANCELLED = "cancelled"


class Action(StrEnum):
    SET_STATUS = "set_status"
    CREATE_FULFILLMENT = "create_fulfillment"  # Shopify: fulfill the location's fulfillment orders
    READY_FOR_PICKUP = "ready_for_pickup"  # Shopify: fulfillmentOrderLineItemsPreparedForPickup
    CREATE_SHIPMENT = "create_shipment"  # BigCommerce: a shipment with tracking for the location's items
    CANCEL_ORDER = "cancel_order"  # Shopify: cancel the order


class Scope(StrEnum):
    FULFILMENT = "fulfilment"
    ORDER = "order"


@dataclass(frozen=True)
class Write:
    action: Action
    target: str  # the platform state the write sets (a status value, or "fulfilled" / "ready" / "cancelled")
    scope: Scope


@dataclass(frozen=True)
class Overrides:
    ready_for_pickup: bool = False
    shipments: bool = False
    detailed_statuses: bool = False
    cancel: bool = False
    notify: frozenset[Event] = frozenset()
    statuses: tuple[tuple[Event, str], ...] = ()


def _status(target: str) -> Write:
    return Write(Action.SET_STATUS, target, Scope.ORDER)


_FULFIL = Write(Action.CREATE_FULFILLMENT, "fulfilled", Scope.FULFILMENT)

DEFAULT: dict[Platform, dict[Event, tuple[Write, ...]]] = {
    Platform.SHOPIFY: {Event.SHIPPED: (_FULFIL,), Event.PICKED_UP: (_FULFIL,)},
    Platform.WOOCOMMERCE: {Event.SHIPPED: (_status("completed"),), Event.PICKED_UP: (_status("completed"),)},
    Platform.BIGCOMMERCE: {
        Event.PACKED_DELIVERY: (_status("9"),),
        Event.PACKED_PICKUP: (_status("8"),),
        Event.SHIPPED: (_status("10"),),
        Event.PICKED_UP: (_status("10"),),
    },
    Platform.LIGHTSPEED: {Event.SHIPPED: (_status("completed"),), Event.PICKED_UP: (_status("completed"),)},
}

# What each platform can do beyond the default, switched on per store.
_LIGHTSPEED_DETAILED = {
    Event.PACKED_DELIVERY: "processing_awaiting_shipment",
    Event.PACKED_PICKUP: "processing_ready_for_pickup",
    Event.SHIPPED: "completed_shipped",
    Event.PICKED_UP: "completed_picked_up",
}
_CANCEL = {
    Platform.SHOPIFY: Write(Action.CANCEL_ORDER, "cancelled", Scope.ORDER),
    Platform.WOOCOMMERCE: _status("cancelled"),
    Platform.BIGCOMMERCE: _status("5"),
    Platform.LIGHTSPEED: _status("cancelled"),
}
_HAS_STATUSES = {Platform.WOOCOMMERCE, Platform.BIGCOMMERCE, Platform.LIGHTSPEED}


def writes_for(platform: Platform, event: Event, overrides: Overrides = Overrides()) -> tuple[Write, ...]:
    """The writes an event causes on a platform for a store with these overrides; () means unsupported."""
    writes = list(DEFAULT[platform].get(event, ()))
    if platform is Platform.LIGHTSPEED and overrides.detailed_statuses and event in _LIGHTSPEED_DETAILED:
        writes = [_status(_LIGHTSPEED_DETAILED[event])]
    if platform is Platform.SHOPIFY and overrides.ready_for_pickup and event is Event.PACKED_PICKUP:
        writes = [Write(Action.READY_FOR_PICKUP, "ready", Scope.FULFILMENT)]
    if platform is Platform.BIGCOMMERCE and overrides.shipments and event is Event.SHIPPED:
        writes = [Write(Action.CREATE_SHIPMENT, "shipped", Scope.FULFILMENT), *writes]
    if event is Event.CANCELLED and overrides.cancel:
        writes = [_CANCEL[platform]]
    custom = dict(overrides.statuses).get(event)
    if custom and platform in _HAS_STATUSES:
        writes = [w for w in writes if w.action is not Action.SET_STATUS] + [_status(custom)]
    return tuple(writes)
