"""What a Shopify write-back should send, decided from the order's fulfillment orders as Shopify shows them now.

Pure functions, no I/O: the client reads the order (`WRITE_STATE` in `shopify_queries`), these decide, the client
sends the mutation. Shopify has no idempotency key for fulfilments, so this reading is what makes a write safe to
repeat: what is already fulfilled has no remaining quantity, and a plan with nothing left to fulfil means the
write is already there.

* `fulfilment_plan` — the fulfillment-order line items to fulfil for one of our locations: the location's
  fulfillment orders (matched by the Shopify location id, numeric or gid), or every fulfillment order of the order
  when the location has none there (Shopify routed the order elsewhere) or no location id is configured; only
  `OPEN`/`IN_PROGRESS` ones can be fulfilled; `lines` ({sku: quantity}) limits it to those SKUs and quantities,
  no lines means everything that remains. Grouped per Shopify location: one `fulfillmentCreateV2` takes
  fulfillment orders of one location only.
* `pickup_orders` — the location's open in-store-pickup fulfillment orders, for
  `fulfillmentOrderLineItemsPreparedForPickup`.
* `tracking_input` — our tracking (`number`, `carrier`, `url`) as Shopify's `FulfillmentTrackingInput`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FULFILLABLE = frozenset({"OPEN", "IN_PROGRESS"})
WAITING = frozenset({"ON_HOLD", "SCHEDULED"})  # fulfillable later, once released or due
PICK_UP = "pick_up"

Json = Mapping[str, Any]


def tail(gid: object) -> str:
    """The numeric id at the end of a global id (`gid://shopify/Location/12` -> "12"); plain ids unchanged."""
    return str(gid or "").rsplit("/", 1)[-1]


def nodes(connection: object) -> list[Json]:
    """The nodes of a GraphQL connection (`{"nodes": [...]}`), or none."""
    if not isinstance(connection, Mapping):
        return []
    return [node for node in connection.get("nodes") or () if isinstance(node, Mapping)]


def status(fo: Json) -> str:
    return str(fo.get("status") or "").upper()


def location_of(fo: Json) -> str:
    assigned = fo.get("assignedLocation")
    location = assigned.get("location") if isinstance(assigned, Mapping) else None
    return str(location.get("id") or "") if isinstance(location, Mapping) else ""


def scoped(fos: Sequence[Json], location_id: str) -> list[Json]:
    """The fulfillment orders at our location; all of them when it has none there or no location is given."""
    if not location_id:
        return list(fos)
    ours = [fo for fo in fos if tail(location_of(fo)) == tail(location_id)]
    return ours or list(fos)


@dataclass
class Plan:
    """`groups`: Shopify location id -> `lineItemsByFulfillmentOrder` for one `fulfillmentCreateV2`."""

    groups: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    waiting: list[str] = field(default_factory=list)  # ids of fulfillment orders on hold or scheduled
    unknown: list[str] = field(default_factory=list)  # asked-for SKUs no fulfillment order of the location holds

    def add(self, fo: Json, line_id: str, quantity: int) -> None:
        group = self.groups.setdefault(location_of(fo), [])
        entry = next((e for e in group if e["fulfillmentOrderId"] == fo["id"]), None)
        if entry is None:
            entry = {"fulfillmentOrderId": fo["id"], "fulfillmentOrderLineItems": []}
            group.append(entry)
        entry["fulfillmentOrderLineItems"].append({"id": line_id, "quantity": quantity})


def _remaining(fo_line: Json) -> int:
    value = fo_line.get("remainingQuantity")
    return value if isinstance(value, int) and value > 0 else 0


def _sku(fo_line: Json) -> str:
    item = fo_line.get("lineItem")
    return str(item.get("sku") or "") if isinstance(item, Mapping) else ""


def fulfilment_plan(fos: Sequence[Json], location_id: str, lines: Mapping[str, int]) -> Plan:
    """What to fulfil for our location (`lines` {sku: quantity}, or everything remaining when empty)."""
    candidates = scoped(fos, location_id)
    plan = Plan(waiting=[str(fo.get("id")) for fo in candidates if status(fo) in WAITING])
    known = {_sku(x) for fo in candidates for x in nodes(fo.get("lineItems"))}
    plan.unknown = sorted(sku for sku in lines if sku not in known)
    open_lines = [(fo, x) for fo in candidates if status(fo) in FULFILLABLE for x in nodes(fo.get("lineItems"))]
    if not lines:
        for fo, fo_line in open_lines:
            if _remaining(fo_line):
                plan.add(fo, str(fo_line["id"]), _remaining(fo_line))
        return plan
    for sku, wanted in lines.items():
        for fo, fo_line in open_lines:
            take = min(wanted, _remaining(fo_line)) if _sku(fo_line) == sku else 0
            if take > 0:
                plan.add(fo, str(fo_line["id"]), take)
                wanted -= take
    return plan


def pickup_orders(fos: Sequence[Json], location_id: str) -> tuple[list[str], bool]:
    """(ids of the location's open pickup fulfillment orders with something left, whether it has any pickup FO)."""
    pickups = [fo for fo in scoped(fos, location_id) if _method(fo) == PICK_UP]
    ready = [
        str(fo["id"])
        for fo in pickups
        if status(fo) in FULFILLABLE and any(_remaining(x) for x in nodes(fo.get("lineItems")))
    ]
    return ready, bool(pickups)


def _method(fo: Json) -> str:
    method = fo.get("deliveryMethod") or {}
    return str(method.get("methodType") or "").casefold() if isinstance(method, Mapping) else ""


def tracking_input(tracking: Mapping[str, str]) -> dict[str, str] | None:
    """Our tracking as `FulfillmentTrackingInput` (`number`, `company`, `url`); None when there is none."""
    given = {
        "number": tracking.get("number", ""),
        "company": tracking.get("carrier", "") or tracking.get("company", ""),
        "url": tracking.get("url", ""),
    }
    kept = {key: value.strip() for key, value in given.items() if value and value.strip()}
    return kept or None


__all__ = [
    "FULFILLABLE",
    "WAITING",
    "Plan",
    "fulfilment_plan",
    "location_of",
    "nodes",
    "pickup_orders",
    "scoped",
    "status",
    "tail",
    "tracking_input",
]
