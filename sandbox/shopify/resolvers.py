"""Resolvers for the Shopify sandbox's GraphQL Admin API: the schema's fields over the sandbox's REST JSON.

GraphQL objects are the same dicts the REST API serves (an order is its REST JSON, a fulfillment order its REST
fulfillment-order JSON), so both APIs always agree. `resolve` is graphql-core's field resolver: a field listed in
`RESOLVERS` ("Type.field") has its own function; any other field reads the dict by its name or its snake_case
name, turning integer ids into `gid://shopify/...` ids, `legacyResourceId` into a string and `DateTime` values
into UTC (`2024-05-01T12:03:00Z`), as Shopify's GraphQL answers are.
"""

from __future__ import annotations

import base64
import bisect
import json
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLResolveInfo, get_named_type

from sandbox.core import CatalogueItem
from sandbox.shopify.documents import render_fo, render_level, render_location, render_variant, render_webhook
from sandbox.shopify.orders import (
    SHOP_DOMAIN,
    SHOP_ID,
    Json,
    Location,
    OrderState,
    gid,
    inventory_item_id,
    money_set,
    variant_id,
)
from sandbox.shopify.search import order_search

if TYPE_CHECKING:
    from sandbox.shopify.state import ShopifyState

MAX_PAGE = 250
Resolver = Callable[..., Any]
SORTS: dict[str, Callable[[OrderState], float]] = {
    "CREATED_AT": lambda o: o.created_at.timestamp(),
    "PROCESSED_AT": lambda o: o.created_at.timestamp(),
    "UPDATED_AT": lambda o: o.updated_at.timestamp(),
    "ID": lambda o: float(o.id),
    "ORDER_NUMBER": lambda o: float(o.number),
}


# Shopify's inventory states (`InventoryLevel.quantities(names:)`, shopify.dev "inventory states"): on_hand is
# available + committed + reserved + damaged + safety_stock + quality_control; incoming is not on hand.
QUANTITY_NAMES = (
    "available",
    "committed",
    "damaged",
    "incoming",
    "on_hand",
    "quality_control",
    "reserved",
    "safety_stock",
)


@dataclass
class Context:
    """Per-request context: the sandbox, the request path (for recorded writes), search warnings, and the units
    committed to open orders (counted once per request, for every inventory level the request reads)."""

    sandbox: ShopifyState
    path: str
    search: list[Json] = field(default_factory=list)
    _committed: dict[tuple[str, str], int] | None = None

    def write(self, mutation: str, args: Json) -> Json:
        return {"method": "POST", "path": self.path, "body": {"mutation": mutation, "variables": args}}

    def committed(self, item: CatalogueItem, loc: Location) -> int:
        if self._committed is None:
            self._committed = self.sandbox.committed()
        return self._committed.get((item.sku, loc.key), 0)


Info = GraphQLResolveInfo[Context]


def ctx(info: Info) -> Context:
    return info.context


@cache
def snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def utc(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def resolve(source: Any, info: Info, **args: Any) -> Any:
    special = RESOLVERS.get(f"{info.parent_type.name}.{info.field_name}")
    if special is not None:
        return special(source, info, **args)
    if not isinstance(source, Mapping):
        return getattr(source, info.field_name, None)
    name = info.field_name
    value = source[name] if name in source else source.get(snake(name))
    if name == "id" and isinstance(value, int):
        return source.get("admin_graphql_api_id") or gid(info.parent_type.name, value)
    if name == "id" and value is None:
        return source.get("admin_graphql_api_id")
    if name == "legacyResourceId":
        return str(source["id"])
    if isinstance(value, str) and get_named_type(info.return_type).name == "DateTime":
        return utc(value)
    return value


# --- connections ----------------------------------------------------------------------------------------------
def bad_request(message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_REQUEST"})


def encode_cursor(key: tuple[float, int]) -> str:
    raw = json.dumps({"last_id": key[1], "last_value": key[0]}, separators=(",", ":"))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[float, int]:
    try:
        data = json.loads(base64.b64decode(cursor))
        return float(data["last_value"]), int(data["last_id"])
    except (ValueError, KeyError, TypeError):
        raise bad_request(f"Invalid cursor for current pagination sort. ({cursor})") from None


def window(keys: list[tuple[float, int]], args: Json) -> tuple[int, int, bool, bool]:
    """Relay pagination over sorted `keys`: (start, end, hasPreviousPage, hasNextPage)."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise bad_request("you must provide one of first or last")
    for name, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            raise bad_request(
                f"{name} cannot exceed {MAX_PAGE}. To query larger amounts of data with fewer limits, "
                "bulk operations should be used instead."
            )
    lo = bisect.bisect_right(keys, decode_cursor(args["after"])) if args.get("after") else 0
    hi = bisect.bisect_left(keys, decode_cursor(args["before"])) if args.get("before") else len(keys)
    hi = max(hi, lo)
    if first is not None:
        end = min(hi, lo + first)
        return lo, end, lo > 0, end < hi
    start = max(lo, hi - int(last or 0))
    return start, hi, start > lo, hi < len(keys)


def connection(nodes: list[Any], keys: list[tuple[float, int]], args: Json, render: Callable[[Any], Any]) -> Json:
    start, end, has_prev, has_next = window(keys, args)
    page = [render(node) for node in nodes[start:end]]
    cursors = [encode_cursor(key) for key in keys[start:end]]
    info: Json = {"hasNextPage": has_next, "hasPreviousPage": has_prev}
    info |= {"startCursor": cursors[0] if cursors else None, "endCursor": cursors[-1] if cursors else None}
    edges = [{"cursor": c, "node": n} for c, n in zip(cursors, page, strict=True)]
    return {"edges": edges, "nodes": page, "pageInfo": info}


def listing(items: list[Any], args: Json, ident: Callable[[Any], int] = lambda x: int(x["id"])) -> Json:
    """A connection over a short in-memory list, in list order (reversed for `reverse: true`)."""
    items = items[::-1] if args.get("reverse") else items
    keys = [(float(n), ident(item)) for n, item in enumerate(items)]
    return connection(items, keys, args, lambda x: x)


# --- lookups --------------------------------------------------------------------------------------------------
def parse_gid(value: str, kind: str | None = None) -> tuple[str, int] | None:
    match = re.fullmatch(r"gid://shopify/(\w+)/(\d+)(\?.*)?", str(value))
    if match is None or (kind is not None and match.group(1) != kind):
        return None
    return match.group(1), int(match.group(2))


def order_json(sandbox: ShopifyState, order_id: int) -> Json | None:
    order = sandbox.orders.get(order_id)
    return None if order is None or order.deleted else order.native


def fo_json(sandbox: ShopifyState, fo_id: int) -> Json | None:
    order = sandbox.orders.get(sandbox.fo_owner.get(fo_id, -1))
    fo = order.fo(fo_id) if order is not None and not order.deleted else None
    return None if order is None or fo is None else render_fo(fo, order)


def fulfillment_json(sandbox: ShopifyState, fulfillment_id: int) -> Json | None:
    order = order_json(sandbox, sandbox.fulfillment_owner.get(fulfillment_id, -1))
    found = [f for f in order["fulfillments"] if f["id"] == fulfillment_id] if order else []
    return found[0] if found else None


def location_by_id(sandbox: ShopifyState, location_id: int) -> Location | None:
    return next((loc for loc in sandbox.shop_locations.values() if loc.id == location_id), None)


def location_json(sandbox: ShopifyState, location_id: int) -> Json | None:
    loc = location_by_id(sandbox, location_id)
    return None if loc is None else render_location(loc, sandbox.opened)


def item_by(sandbox: ShopifyState, key: Callable[[CatalogueItem], int], wanted: int) -> CatalogueItem | None:
    return next((item for item in list(sandbox.catalogue.values()) if key(item) == wanted), None)


def inventory_item_json(sandbox: ShopifyState, item: CatalogueItem) -> Json:
    stamp = render_variant(item, sandbox.opened)["created_at"]
    number = inventory_item_id(item)
    return {
        "id": number,
        "sku": item.sku,
        "tracked": True,
        "requires_shipping": True,
        "created_at": stamp,
        "updated_at": stamp,
        "admin_graphql_api_id": gid("InventoryItem", number),
    }


def level_json(sandbox: ShopifyState, item_id: int, location_id: int) -> Json | None:
    item = item_by(sandbox, inventory_item_id, item_id)
    loc = location_by_id(sandbox, location_id)
    committed = sandbox.committed().get((item.sku, loc.key), 0) if item and loc else 0
    return None if item is None or loc is None else render_level(item, loc, sandbox.opened, committed)


def node_json(sandbox: ShopifyState, value: str) -> Json | None:
    parsed = parse_gid(value)
    if parsed is None:
        return None
    kind, number = parsed
    if kind == "InventoryLevel":
        match = re.search(r"inventory_item_id=(\d+)", value)
        found = level_json(sandbox, int(match.group(1)), number) if match else None
    else:
        found = NODE_LOOKUPS[kind](sandbox, number) if kind in NODE_LOOKUPS else None
    return None if found is None else {**found, "__typename": kind}


def variant_json(sandbox: ShopifyState, number: int) -> Json | None:
    item = item_by(sandbox, variant_id, number)
    return None if item is None else render_variant(item, sandbox.opened)


def inventory_item_lookup(sandbox: ShopifyState, number: int) -> Json | None:
    item = item_by(sandbox, inventory_item_id, number)
    return None if item is None else inventory_item_json(sandbox, item)


def webhook_json(sandbox: ShopifyState, number: int) -> Json | None:
    sub = sandbox.subscriptions.get(number)
    return None if sub is None or not sub.active else render_webhook(sub)


NODE_LOOKUPS: dict[str, Callable[[ShopifyState, int], Json | None]] = {
    "Order": order_json,
    "FulfillmentOrder": fo_json,
    "Fulfillment": fulfillment_json,
    "Location": location_json,
    "ProductVariant": variant_json,
    "InventoryItem": inventory_item_lookup,
    "WebhookSubscription": webhook_json,
}


def by_gid(kind: str) -> Resolver:
    def resolver(_source: Any, info: Info, **args: Any) -> Any:
        parsed = parse_gid(args.get("id") or "", kind)
        sandbox = ctx(info).sandbox
        with sandbox.lock:
            return None if parsed is None else NODE_LOOKUPS[kind](sandbox, parsed[1])

    return resolver


# --- query root -----------------------------------------------------------------------------------------------
def orders(_source: Any, info: Info, **args: Any) -> Json:
    context = ctx(info)
    match, warnings = order_search(args.get("query"))
    if warnings:
        context.search.append({"path": [info.path.key], "query": args["query"], "warnings": warnings})
    sort, sign = SORTS[args.get("sortKey") or "PROCESSED_AT"], -1 if args.get("reverse") else 1
    with context.sandbox.lock:
        found = sorted((sign * sort(o), sign * o.id, o) for o in context.sandbox.walk(None, True) if match(o))
        keys = [(value, number) for value, number, _order in found]
        return connection([o for _v, _n, o in found], keys, args, lambda o: o.native)


def locations(_source: Any, info: Info, **args: Any) -> Json:
    sandbox = ctx(info).sandbox
    locs = sorted(sandbox.shop_locations.values(), key=lambda x: x.name if args.get("sortKey") == "NAME" else x.id)
    return listing([render_location(loc, sandbox.opened) for loc in locs], args)


def inventory_items(_source: Any, info: Info, **args: Any) -> Json:
    sandbox = ctx(info).sandbox
    skus = re.findall(r"sku:['\"]?([^'\"\s]+)", args.get("query") or "")
    items = [item for item in list(sandbox.catalogue.values()) if not skus or item.sku in skus]
    return listing([inventory_item_json(sandbox, item) for item in items], args)


def webhook_subscriptions(_source: Any, info: Info, **args: Any) -> Json:
    sandbox = ctx(info).sandbox
    topics = {t.lower().replace("_", "/", 1) for t in args.get("topics") or []}
    with sandbox.lock:
        subs = sorted((s for s in sandbox.subscriptions.values() if s.active), key=lambda s: s.id)
    subs = [s for s in subs if (not topics or s.topic in topics)]
    subs = [s for s in subs if args.get("callbackUrl") in {None, s.address}]
    return listing([render_webhook(s) for s in subs], args)


def root_node(_source: Any, info: Info, **args: Any) -> Json | None:
    sandbox = ctx(info).sandbox
    with sandbox.lock:
        return node_json(sandbox, str(args["id"]))


def root_nodes(_source: Any, info: Info, ids: list[str]) -> list[Json | None]:
    sandbox = ctx(info).sandbox
    with sandbox.lock:
        return [node_json(sandbox, value) for value in ids]


def inventory_level(source: Any, info: Info, **args: Any) -> Json | None:
    return root_node(source, info, **args) if parse_gid(str(args["id"]), "InventoryLevel") else None


def location(source: Any, info: Info, **args: Any) -> Json | None:
    """`location(id:)`; without an id, the shop's primary location."""
    if args.get("id"):
        found: Json | None = by_gid("Location")(source, info, **args)
        return found
    sandbox = ctx(info).sandbox
    return render_location(next(iter(sandbox.shop_locations.values())), sandbox.opened)


def shop(_source: Any, info: Info) -> Json:
    return {
        "id": gid("Shop", SHOP_ID),
        "name": "Sandbox Shop",
        "email": "shop@example.com",
        "myshopifyDomain": SHOP_DOMAIN,
        "currencyCode": "EUR",
        "ianaTimezone": "Europe/Amsterdam",
        "taxesIncluded": False,
    }


# --- object fields --------------------------------------------------------------------------------------------
def state(info: Info, order: Json) -> OrderState:
    return ctx(info).sandbox.orders[int(order["id"])]


def display_fulfillment_status(order: Json, info: Info) -> str:
    status = order["fulfillment_status"]
    if status in {"fulfilled", "partial"}:
        return "FULFILLED" if status == "fulfilled" else "PARTIALLY_FULFILLED"
    prepared = any(fo.prepared_at is not None and fo.fulfillable for fo in state(info, order).fos)
    return "IN_PROGRESS" if prepared else "UNFULFILLED"


def order_fulfillment_orders(order: Json, info: Info, **args: Any) -> Json:
    sandbox = ctx(info).sandbox
    with sandbox.lock:
        found = state(info, order)
        return listing([render_fo(fo, found) for fo in found.fos], args)


def tracking_info(fulfillment: Json, _info: Info, first: int | None = None) -> list[Json]:
    numbers, urls = fulfillment["tracking_numbers"], fulfillment["tracking_urls"]
    out = [
        {"company": fulfillment["tracking_company"], "number": n, "url": urls[i] if i < len(urls) else None}
        for i, n in enumerate(numbers)
    ]
    return out[:first] if first is not None else out


def fo_line_item(fo_line: Json, info: Info) -> Json | None:
    sandbox = ctx(info).sandbox
    order = order_json(sandbox, sandbox.fo_owner.get(int(fo_line["fulfillment_order_id"]), -1))
    lines = [x for x in order["line_items"] if x["id"] == fo_line["line_item_id"]] if order else []
    return lines[0] if lines else None


def location_address(loc: Json, _info: Info) -> Json:
    keys = ("address1", "address2", "city", "phone", "province", "zip")
    formatted = [loc["address1"], f"{loc['zip']} {loc['city']}", "Netherlands"]
    return {k: loc[k] for k in keys} | {
        "country": "Netherlands",
        "countryCode": "NL",
        "provinceCode": loc["province_code"],
        "formatted": formatted,
        "latitude": None,
        "longitude": None,
    }


def levels_of_location(loc: Json, info: Info, **args: Any) -> Json:
    context = ctx(info)
    sandbox = context.sandbox
    found = location_by_id(sandbox, int(loc["id"]))
    items = list(sandbox.catalogue.values())
    levels = (
        [render_level(item, found, sandbox.opened, context.committed(item, found)) for item in items] if found else []
    )
    return listing(levels, args, lambda x: int(x["inventory_item_id"]))


def level_quantities(level: Json, info: Info, names: list[str]) -> list[Json]:
    """`InventoryLevel.quantities(names:)` (2023-01 on): one quantity per name asked for, in the order asked.

    The catalogue's units are on hand; `committed` are those on open fulfillment orders at the location, and
    `available` the rest (below zero when oversold). The sandbox keeps no reserved, damaged, safety or
    quality-control stock and no incoming transfers: those are 0. A name Shopify does not have is an error.
    """
    unknown = [name for name in names if name not in QUANTITY_NAMES]
    if unknown:
        raise bad_request(f"Invalid quantity names: {', '.join(unknown)}. Valid names: {', '.join(QUANTITY_NAMES)}")
    context = ctx(info)
    item = item_by(context.sandbox, inventory_item_id, int(level["inventory_item_id"]))
    loc = location_by_id(context.sandbox, int(level["location_id"]))
    if item is None or loc is None:
        return []
    on_hand, committed = item.stock.get(loc.key, 0), context.committed(item, loc)
    units = dict.fromkeys(QUANTITY_NAMES, 0) | {"on_hand": on_hand, "committed": committed}
    units["available"] = on_hand - committed
    level_id = f"{loc.id}?inventory_item_id={level['inventory_item_id']}"
    return [
        {
            "id": f"gid://shopify/InventoryQuantity/{level_id}&name={name}",
            "name": name,
            "quantity": units[name],
            "updated_at": level["updated_at"],
        }
        for name in names
    ]


def levels_of_item(item: Json, info: Info, **args: Any) -> Json:
    sandbox = ctx(info).sandbox
    levels = [level_json(sandbox, int(item["id"]), loc.id) for loc in sandbox.shop_locations.values()]
    return listing([x for x in levels if x], args, lambda x: int(x["location_id"]))


def gid_of(value: str) -> int:
    parsed = parse_gid(value)
    return parsed[1] if parsed else -1


def money_total(line: Json, _info: Info) -> Json:
    return money_set(Decimal(line["price"]) * int(line["quantity"]))


def upper(key: str) -> Resolver:
    return lambda source, _info, **_args: None if source.get(key) is None else str(source[key]).upper()


def tags(source: Json, _info: Info) -> list[str]:
    return [tag.strip() for tag in str(source.get("tags") or "").split(",") if tag.strip()]


def constant(value: Any) -> Resolver:
    return lambda _source, _info, **_args: value


RESOLVERS: dict[str, Resolver] = {
    "QueryRoot.node": root_node,
    "QueryRoot.nodes": root_nodes,
    "QueryRoot.order": by_gid("Order"),
    "QueryRoot.orders": orders,
    "QueryRoot.fulfillmentOrder": by_gid("FulfillmentOrder"),
    "QueryRoot.fulfillment": by_gid("Fulfillment"),
    "QueryRoot.location": location,
    "QueryRoot.locations": locations,
    "QueryRoot.inventoryItem": by_gid("InventoryItem"),
    "QueryRoot.inventoryItems": inventory_items,
    "QueryRoot.inventoryLevel": inventory_level,
    "QueryRoot.productVariant": by_gid("ProductVariant"),
    "QueryRoot.shop": shop,
    "QueryRoot.webhookSubscription": by_gid("WebhookSubscription"),
    "QueryRoot.webhookSubscriptions": webhook_subscriptions,
    "Order.tags": tags,
    "Order.closed": lambda o, _i: o["closed_at"] is not None,
    "Order.cancelReason": upper("cancel_reason"),
    "Order.currencyCode": lambda o, _i: o["currency"],
    "Order.presentmentCurrencyCode": lambda o, _i: o["presentment_currency"],
    "Order.displayFinancialStatus": upper("financial_status"),
    "Order.displayFulfillmentStatus": display_fulfillment_status,
    "Order.fullyPaid": lambda o, _i: o["financial_status"] == "paid",
    "Order.unpaid": lambda o, _i: o["financial_status"] in {"pending", "authorized", "partially_paid"},
    "Order.fulfillable": lambda o, _i: any(x["fulfillable_quantity"] for x in o["line_items"]),
    "Order.requiresShipping": lambda o, _i: any(x["requires_shipping"] for x in o["line_items"]),
    "Order.subtotalLineItemsQuantity": lambda o, _i: sum(x["current_quantity"] for x in o["line_items"]),
    "Order.originalTotalPriceSet": lambda o, _i: o["total_price_set"],
    "Order.totalWeight": lambda o, _i: str(o["total_weight"]),
    "Order.discountCodes": lambda o, _i: [d["code"] for d in o["discount_codes"]],
    "Order.shippingLine": lambda o, _i: (o["shipping_lines"] or [None])[0],
    "Order.shippingLines": lambda o, _i, **a: listing(o["shipping_lines"], a),
    "Order.lineItems": lambda o, _i, **a: listing(o["line_items"], a),
    "Order.fulfillmentOrders": order_fulfillment_orders,
    "Order.fulfillments": lambda o, _i, first=None: o["fulfillments"][:first],
    "TaxLine.ratePercentage": lambda t, _i: round(float(t["rate"]) * 100, 4),
    "LineItem.unfulfilledQuantity": lambda x, _i: x["fulfillable_quantity"],
    "LineItem.fulfillmentStatus": lambda x, _i: x["fulfillment_status"] or "unfulfilled",
    "LineItem.originalUnitPriceSet": lambda x, _i: x["price_set"],
    "LineItem.discountedUnitPriceSet": lambda x, _i: x["price_set"],
    "LineItem.originalTotalSet": money_total,
    "LineItem.discountedTotalSet": money_total,
    "LineItem.discountAllocations": lambda x, _i: [
        {"allocatedAmountSet": d["amount_set"]} for d in x["discount_allocations"]
    ],
    "LineItem.variant": lambda x, i: variant_json(ctx(i).sandbox, int(x["variant_id"])),
    "ShippingLine.originalPriceSet": lambda x, _i: x["price_set"],
    "ShippingLine.custom": constant(False),
    "Customer.displayName": lambda c, _i: f"{c['first_name']} {c['last_name']}".strip(),
    "Customer.tags": tags,
    "MailingAddress.countryCodeV2": lambda a, _i: a.get("country_code"),
    "MailingAddress.id": lambda a, _i: gid("MailingAddress", int(a.get("id") or zlib.crc32(json.dumps(a).encode()))),
    "FulfillmentOrder.status": upper("status"),
    "FulfillmentOrder.requestStatus": upper("request_status"),
    "FulfillmentOrder.order": lambda fo, i: order_json(ctx(i).sandbox, int(fo["order_id"])),
    "FulfillmentOrder.lineItems": lambda fo, _i, **a: listing(fo["line_items"], a),
    "FulfillmentOrder.supportedActions": lambda fo, _i: [{"action": a.upper()} for a in fo["supported_actions"]],
    "FulfillmentOrderAssignedLocation.location": lambda a, i: location_json(ctx(i).sandbox, int(a["location_id"])),
    "FulfillmentOrderDestination.countryCode": constant("NL"),
    "DeliveryMethod.methodType": upper("method_type"),
    "FulfillmentOrderLineItem.totalQuantity": lambda x, _i: x["quantity"],
    "FulfillmentOrderLineItem.remainingQuantity": lambda x, _i: x["fulfillable_quantity"],
    "FulfillmentOrderLineItem.lineItem": fo_line_item,
    "Fulfillment.status": upper("status"),
    "Fulfillment.displayStatus": constant("FULFILLED"),
    "Fulfillment.totalQuantity": lambda f, _i: sum(x["quantity"] for x in f["line_items"]),
    "Fulfillment.requiresShipping": lambda f, _i: any(x["requires_shipping"] for x in f["line_items"]),
    "Fulfillment.trackingInfo": tracking_info,
    "Fulfillment.order": lambda f, i: order_json(ctx(i).sandbox, int(f["order_id"])),
    "Fulfillment.location": lambda f, i: location_json(ctx(i).sandbox, int(f["location_id"])),
    "Location.isActive": lambda x, _i: x["active"],
    "Location.fulfillsOnlineOrders": constant(True),
    "Location.shipsInventory": constant(False),
    "Location.address": location_address,
    "Location.inventoryLevel": lambda x, i, **a: level_json(ctx(i).sandbox, gid_of(a["inventoryItemId"]), int(x["id"])),
    "Location.inventoryLevels": levels_of_location,
    "InventoryItem.variant": lambda x, i: variant_json(ctx(i).sandbox, variant_for(ctx(i).sandbox, int(x["id"]))),
    "InventoryItem.inventoryLevel": lambda x, i, **a: level_json(ctx(i).sandbox, int(x["id"]), gid_of(a["locationId"])),
    "InventoryItem.inventoryLevels": levels_of_item,
    "InventoryLevel.incoming": constant(0),
    "InventoryLevel.quantities": level_quantities,
    "InventoryLevel.createdAt": lambda x, _i: utc(x["updated_at"]),
    "InventoryLevel.location": lambda x, i: location_json(ctx(i).sandbox, int(x["location_id"])),
    "InventoryLevel.item": lambda x, i: inventory_item_lookup(ctx(i).sandbox, int(x["inventory_item_id"])),
    "ProductVariant.displayName": lambda v, _i: f"{v['sku']} - {v['title']}",
    "ProductVariant.inventoryItem": lambda v, i: inventory_item_lookup(ctx(i).sandbox, int(v["inventory_item_id"])),
    "WebhookSubscription.topic": lambda w, _i: str(w["topic"]).upper().replace("/", "_"),
    "WebhookSubscription.endpoint": lambda w, _i: {"__typename": "WebhookHttpEndpoint", "callbackUrl": w["address"]},
    "WebhookSubscription.callbackUrl": lambda w, _i: w["address"],
    "WebhookSubscription.format": upper("format"),
    "WebhookSubscription.includeFields": lambda w, _i: w["fields"],
}


def variant_for(sandbox: ShopifyState, inventory_item: int) -> int:
    item = item_by(sandbox, inventory_item_id, inventory_item)
    return -1 if item is None else variant_id(item)
