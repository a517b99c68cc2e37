"""The Shopify sandbox's REST Admin API: `/admin/api/{version}/...json` routes over `ShopifyState` state.

Orders list as Shopify's does: `limit` (default 50, over 250 refused with 400), `status` (open by default),
`created_at`/`updated_at`/`processed_at` min/max, `since_id`, `ids`, `financial_status`, `fulfillment_status` and
`fields`; newest first (ascending by id when `since_id` is given); cursor pagination through an absolute `Link`
header (`rel="previous"`, `rel="next"`, absent on a single page) whose `page_info` carries the filters, so that
passing a filter next to `page_info` gets Shopify's 400. Writes go through the fulfillment-orders flow.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from sandbox.shopify.documents import render_fo, render_level, render_location, render_variant, render_webhook
from sandbox.shopify.orders import (
    SHOP_DOMAIN,
    SHOP_TZ,
    Json,
    OrderState,
    Tracking,
    inventory_item_id,
    variant_id,
)
from sandbox.shopify.state import TOPICS, FulfilRequest, ShopifyError, ShopifyState

PREFIX = "/admin/api/{version}/"
VERSION = re.compile(r"\d{4}-(01|04|07|10)|unstable")
MAX_LIMIT = 250
PAGINATION_DOC = "See https://shopify.dev/api/usage/pagination-rest for more information."
TIME_FILTERS = {
    "created_at_min": ("created_at", 1),
    "created_at_max": ("created_at", -1),
    "updated_at_min": ("updated_at", 1),
    "updated_at_max": ("updated_at", -1),
    "processed_at_min": ("created_at", 1),
    "processed_at_max": ("created_at", -1),
}
FINANCIAL: dict[str, set[str]] = {"unpaid": {"pending", "authorized", "partially_paid"}, "authorized": {"authorized"}}
FULFILMENT: dict[str, set[str | None]] = {
    "shipped": {"fulfilled"},
    "partial": {"partial"},
    "unshipped": {None},
    "unfulfilled": {None, "partial"},
}


@dataclass
class Call:
    """One REST call: the sandbox, the API version, path and query parameters, and the JSON body."""

    sandbox: ShopifyState
    version: str
    path: dict[str, str]
    query: dict[str, str]
    body: Any
    url: str
    method: str

    def write(self) -> Json:
        return {"method": self.method, "path": self.url, "body": self.body}


Handler = Callable[[Call], Response]


def fail(status: int, errors: Any) -> Exception:
    return ShopifyError(status, {"errors": errors})


def ok(body: Json, status: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=headers)


def add(app: FastAPI, sandbox: ShopifyState, method: str, suffix: str, handler: Handler) -> None:
    async def endpoint(request: Request) -> Response:
        version = request.path_params["version"]
        if not VERSION.fullmatch(version):
            return ok({"errors": "Not Found"}, 404)
        raw = await request.body()
        try:
            body = json.loads(raw) if raw.strip() else None
        except ValueError:
            return ok({"errors": "822: unexpected token in JSON body"}, 400)
        params = {k: v for k, v in request.path_params.items() if k != "version"}
        call = Call(sandbox, version, params, dict(request.query_params), body, request.url.path, method)
        try:
            return await run_in_threadpool(handler, call)
        except ShopifyError as exc:
            return ok(exc.body, exc.status)

    app.add_api_route(PREFIX + suffix, endpoint, methods=[method], include_in_schema=False)


def mount_rest(app: FastAPI, sandbox: ShopifyState) -> None:
    routes: list[tuple[str, str, Handler]] = [
        ("GET", "orders.json", list_orders),
        ("GET", "orders/count.json", count_orders),
        ("GET", "orders/{order_id}.json", get_order),
        ("POST", "orders/{order_id}/cancel.json", cancel_order),
        ("GET", "orders/{order_id}/fulfillment_orders.json", list_fulfillment_orders),
        ("GET", "orders/{order_id}/fulfillments.json", list_fulfillments),
        ("GET", "fulfillment_orders/{fo_id}.json", get_fulfillment_order),
        ("POST", "fulfillments.json", create_fulfillment),
        ("POST", "fulfillments/{fulfillment_id}/update_tracking.json", update_tracking),
        ("GET", "locations.json", list_locations),
        ("GET", "locations/{location_id}.json", get_location),
        ("GET", "locations/{location_id}/inventory_levels.json", location_levels),
        ("GET", "inventory_levels.json", list_levels),
        ("GET", "variants/{variant_id}.json", get_variant),
        ("GET", "webhooks.json", list_webhooks),
        ("POST", "webhooks.json", create_webhook),
        ("GET", "webhooks/count.json", count_webhooks),
        ("GET", "webhooks/{webhook_id}.json", get_webhook),
        ("PUT", "webhooks/{webhook_id}.json", update_webhook),
        ("DELETE", "webhooks/{webhook_id}.json", delete_webhook),
        ("GET", "shop.json", get_shop),
    ]
    for method, suffix, handler in routes:
        add(app, sandbox, method, suffix, handler)


# --- orders -------------------------------------------------------------------------------------------------
def parse_time(value: str, name: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.replace(" ", "+"))
    except ValueError:
        raise fail(400, {name: f"{name} is not a valid date"}) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=SHOP_TZ)


def order_filter(query: dict[str, str]) -> Callable[[OrderState], bool]:
    """The predicate for Shopify's order filters in `query` (validated: a bad value gets 400)."""
    checks: list[Callable[[OrderState], bool]] = [status_check(query.get("status", "open"))]
    for name, (attr, sign) in TIME_FILTERS.items():
        if name in query:
            checks.append(time_bound(attr, sign, parse_time(query[name], name)))
    if "since_id" in query:
        since = _since(query)
        checks.append(lambda o: o.id > since)
    if "ids" in query:
        wanted = {int(x) for x in query["ids"].split(",") if x.strip().isdigit()}
        checks.append(lambda o: o.id in wanted)
    financial = query.get("financial_status", "any")
    if financial != "any":
        accepted = FINANCIAL.get(financial, {financial})
        checks.append(lambda o: o.financial_status in accepted)
    fulfilment = query.get("fulfillment_status", "any")
    if fulfilment != "any":
        states = FULFILMENT.get(fulfilment, {fulfilment or None})
        checks.append(lambda o: o.fulfillment_status() in states)
    return lambda order: all(check(order) for check in checks)


def time_bound(attr: str, sign: int, bound: datetime) -> Callable[[OrderState], bool]:
    """`*_min` (sign 1) and `*_max` (sign -1) bounds are inclusive."""
    return lambda order: (getattr(order, attr) - bound).total_seconds() * sign >= 0


def status_check(status: str) -> Callable[[OrderState], bool]:
    checks: dict[str, Callable[[OrderState], bool]] = {
        "open": lambda o: o.cancelled_at is None and o.closed_at is None,
        "closed": lambda o: o.closed_at is not None,
        "cancelled": lambda o: o.cancelled_at is not None,
        "any": lambda o: True,
    }
    if status not in checks:
        raise fail(400, {"status": "status is not a valid value (open, closed, cancelled, any)"})
    return checks[status]


def parse_limit(query: dict[str, str]) -> int:
    raw = query.get("limit", "50")
    if not raw.isdigit() or int(raw) < 1:
        raise fail(400, {"limit": "limit must be a positive integer"})
    if int(raw) > MAX_LIMIT:
        raise fail(400, f"Limit exceeds maximum limit of {MAX_LIMIT}")
    return int(raw)


def encode_cursor(filters: dict[str, str], direction: str, last_id: int) -> str:
    raw = json.dumps({"filters": filters, "direction": direction, "last_id": last_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(page_info: str) -> tuple[dict[str, str], str, int]:
    try:
        data = json.loads(base64.urlsafe_b64decode(page_info + "=" * (-len(page_info) % 4)))
        return dict(data["filters"]), str(data["direction"]), int(data["last_id"])
    except (ValueError, KeyError, TypeError):
        raise fail(400, {"page_info": "Invalid value."}) from None


def select(resource: Json, fields: str | None) -> Json:
    if not fields:
        return resource
    wanted = {f.strip() for f in fields.split(",")}
    return {key: value for key, value in resource.items() if key in wanted}


def page_query(query: dict[str, str]) -> tuple[dict[str, str], str, int | None]:
    """(filters, direction, last id): from `page_info` when given (nothing else but limit and fields allowed)."""
    if "page_info" not in query:
        filters = {k: v for k, v in query.items() if k not in {"limit", "fields"}}
        return filters, "next", None
    for name in query:
        if name not in {"page_info", "limit", "fields"}:
            raise fail(400, {name: f"{name} cannot be passed when page_info is present. {PAGINATION_DOC}"})
    return decode_cursor(query["page_info"])


def take(orders: Iterator[OrderState], match: Callable[[OrderState], bool], count: int) -> list[OrderState]:
    out: list[OrderState] = []
    for order in orders:
        if match(order):
            out.append(order)
            if len(out) == count:
                break
    return out


def list_orders(call: Call) -> Response:
    limit = parse_limit(call.query)
    filters, direction, last_id = page_query(call.query)
    match = order_filter(filters)
    ascending = "since_id" in filters  # Shopify lists newest first, but oldest first after a since_id
    forward = direction == "next"
    if last_id is None and ascending:
        last_id = _since(filters)
    with call.sandbox.lock:
        walk = call.sandbox.walk
        found = take(walk(last_id, ascending == forward), match, limit + 1)
        page = found[:limit] if forward else found[:limit][::-1]
        if forward:
            before = "page_info" in call.query and bool(page) and bool(take(walk(page[0].id, not ascending), match, 1))
            after = len(found) > limit
        else:
            before = len(found) > limit
            after = bool(page) and bool(take(walk(page[-1].id, ascending), match, 1))
        body = {"orders": [select(o.native, call.query.get("fields")) for o in page]}
    links = [link(call, filters, "prev", page[0].id)] if before else []
    links += [link(call, filters, "next", page[-1].id)] if after else []
    return ok(body, headers={"Link": ", ".join(links)} if links else None)


def link(call: Call, filters: dict[str, str], direction: str, last_id: int) -> str:
    """One `Link` entry: an absolute URL back to this sandbox with only limit (+ fields) and page_info."""
    params = {"limit": call.query.get("limit", "50")}
    if "fields" in call.query:
        params["fields"] = call.query["fields"]
    params["page_info"] = encode_cursor(filters, direction, last_id)
    url = f"{call.sandbox.root_url}/admin/api/{call.version}/orders.json?{urlencode(params)}"
    return f'<{url}>; rel="{"previous" if direction == "prev" else "next"}"'


def _since(filters: dict[str, str]) -> int:
    raw = filters["since_id"]
    if not raw.isdigit():
        raise fail(400, {"since_id": "since_id must be an integer"})
    return int(raw)


def count_orders(call: Call) -> Response:
    match = order_filter({k: v for k, v in call.query.items() if k not in {"limit", "fields"}})
    with call.sandbox.lock:
        count = sum(1 for order in call.sandbox.walk(None, True) if match(order))
    return ok({"count": count})


def get_order(call: Call) -> Response:
    with call.sandbox.lock:
        order = call.sandbox.find_order(call.path["order_id"])
        return ok({"order": select(order.native, call.query.get("fields"))})


def cancel_order(call: Call) -> Response:
    body = call.body if isinstance(call.body, dict) else {}
    reason = str(body.get("reason") or "other")
    refund = bool(body.get("refund") or body.get("amount"))
    native = call.sandbox.cancel(call.path["order_id"], reason, refund, call.write())
    return ok({"order": native})


def list_fulfillment_orders(call: Call) -> Response:
    with call.sandbox.lock:
        order = call.sandbox.find_order(call.path["order_id"])
        return ok({"fulfillment_orders": [render_fo(fo, order) for fo in order.fos]})


def list_fulfillments(call: Call) -> Response:
    with call.sandbox.lock:
        order = call.sandbox.find_order(call.path["order_id"])
        return ok({"fulfillments": order.native["fulfillments"]})


def get_fulfillment_order(call: Call) -> Response:
    with call.sandbox.lock:
        order, fo = call.sandbox.find_fo(_id(call.path["fo_id"]))
        return ok({"fulfillment_order": render_fo(fo, order)})


def tracking_from(info: Any) -> Tracking:
    info = info if isinstance(info, dict) else {}
    numbers = [str(n) for n in info.get("numbers") or ([info["number"]] if info.get("number") else [])]
    urls = [str(u) for u in info.get("urls") or ([info["url"]] if info.get("url") else [])]
    return Tracking(info.get("company"), numbers, urls)


def create_fulfillment(call: Call) -> Response:
    body = call.body.get("fulfillment") if isinstance(call.body, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("line_items_by_fulfillment_order"), list):
        raise fail(400, {"fulfillment": "Required parameter missing or invalid"})
    groups = []
    for group in body["line_items_by_fulfillment_order"]:
        items = group.get("fulfillment_order_line_items")
        lines = None if items is None else [(_id(i.get("id")), int(i.get("quantity", 0))) for i in items]
        groups.append((_id(group.get("fulfillment_order_id")), lines))
    rendered = call.sandbox.fulfil(FulfilRequest(groups, tracking_from(body.get("tracking_info"))), call.write())
    return ok({"fulfillment": rendered}, 201)


def update_tracking(call: Call) -> Response:
    body = call.body.get("fulfillment") if isinstance(call.body, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("tracking_info"), dict):
        raise fail(400, {"fulfillment": "Required parameter missing or invalid"})
    tracking = tracking_from(body["tracking_info"])
    rendered = call.sandbox.update_tracking(_id(call.path["fulfillment_id"]), tracking, call.write())
    return ok({"fulfillment": rendered})


# --- locations, inventory, variants ---------------------------------------------------------------------------
def list_locations(call: Call) -> Response:
    sandbox = call.sandbox
    return ok({"locations": [render_location(loc, sandbox.opened) for loc in sandbox.shop_locations.values()]})


def _location(call: Call) -> Any:
    wanted = _id(call.path["location_id"])
    for loc in call.sandbox.shop_locations.values():
        if loc.id == wanted:
            return loc
    raise fail(404, "Not Found")


def get_location(call: Call) -> Response:
    return ok({"location": render_location(_location(call), call.sandbox.opened)})


def location_levels(call: Call) -> Response:
    loc = _location(call)
    items = list(call.sandbox.catalogue.values())
    committed = call.sandbox.committed()
    levels = [render_level(item, loc, call.sandbox.opened, committed.get((item.sku, loc.key), 0)) for item in items]
    return ok({"inventory_levels": levels})


def list_levels(call: Call) -> Response:
    items_q, locs_q = call.query.get("inventory_item_ids"), call.query.get("location_ids")
    if not items_q and not locs_q:
        raise fail(422, {"base": ["inventory_item_ids or location_ids must be specified"]})
    item_ids = {_id(x) for x in items_q.split(",")} if items_q else None
    loc_ids = {_id(x) for x in locs_q.split(",")} if locs_q else None
    sandbox = call.sandbox
    committed = sandbox.committed()
    levels = [
        render_level(item, loc, sandbox.opened, committed.get((item.sku, loc.key), 0))
        for item in list(sandbox.catalogue.values())
        if item_ids is None or inventory_item_id(item) in item_ids
        for loc in sandbox.shop_locations.values()
        if loc_ids is None or loc.id in loc_ids
    ]
    return ok({"inventory_levels": levels[: parse_limit(call.query)]})


def get_variant(call: Call) -> Response:
    wanted = _id(call.path["variant_id"])
    for item in list(call.sandbox.catalogue.values()):
        if variant_id(item) == wanted:
            return ok({"variant": render_variant(item, call.sandbox.opened)})
    raise fail(404, "Not Found")


def get_shop(call: Call) -> Response:
    shop = {"id": 60750000000, "name": "Sandbox Shop", "email": "shop@example.com", "domain": SHOP_DOMAIN}
    shop |= {"myshopify_domain": SHOP_DOMAIN, "currency": "EUR", "country": "NL", "country_code": "NL"}
    shop |= {"iana_timezone": "Europe/Amsterdam", "timezone": "(GMT+01:00) Europe/Amsterdam"}
    shop |= {"taxes_included": False, "plan_name": "basic", "money_format": "€{{amount_with_comma_separator}}"}
    return ok({"shop": shop})


# --- webhooks -------------------------------------------------------------------------------------------------
def check_webhook(call: Call, topic: Any, address: Any, ignore: int | None = None) -> None:
    if topic not in TOPICS:
        raise fail(422, {"topic": [f"Invalid topic specified: {topic}. Does not match any valid topic."]})
    if not isinstance(address, str) or not re.match(r"https?://[^\s/]+", address):
        raise fail(422, {"address": ["is invalid"]})
    for sub in call.sandbox.subscriptions.values():
        if sub.topic == topic and sub.address == address and sub.id != ignore:
            raise fail(422, {"address": ["for this topic has already been taken"]})


def create_webhook(call: Call) -> Response:
    body = call.body.get("webhook") if isinstance(call.body, dict) else None
    if not isinstance(body, dict):
        raise fail(400, {"webhook": "Required parameter missing or invalid"})
    with call.sandbox.lock:
        check_webhook(call, body.get("topic"), body.get("address"))
        fields = [str(f) for f in body.get("fields") or []]
        sub = call.sandbox.subscribe(body["topic"], body["address"], api_version=call.version, fields=fields)
        return ok({"webhook": render_webhook(sub)}, 201)


def _webhooks(call: Call) -> list[Any]:
    subs = [s for s in call.sandbox.subscriptions.values() if s.active]
    for key in ("topic", "address"):
        if key in call.query:
            subs = [s for s in subs if getattr(s, key) == call.query[key]]
    return sorted(subs, key=lambda s: s.id)


def list_webhooks(call: Call) -> Response:
    with call.sandbox.lock:
        return ok({"webhooks": [render_webhook(s) for s in _webhooks(call)]})


def count_webhooks(call: Call) -> Response:
    with call.sandbox.lock:
        return ok({"count": len(_webhooks(call))})


def _webhook(call: Call) -> Any:
    sub = call.sandbox.subscriptions.get(_id(call.path["webhook_id"]))
    if sub is None:
        raise fail(404, "Not Found")
    return sub


def get_webhook(call: Call) -> Response:
    with call.sandbox.lock:
        return ok({"webhook": render_webhook(_webhook(call))})


def update_webhook(call: Call) -> Response:
    body = call.body.get("webhook") if isinstance(call.body, dict) else None
    if not isinstance(body, dict):
        raise fail(400, {"webhook": "Required parameter missing or invalid"})
    with call.sandbox.lock:
        sub = _webhook(call)
        topic, address = body.get("topic", sub.topic), body.get("address", sub.address)
        check_webhook(call, topic, address, ignore=sub.id)
        sub.topic, sub.address = topic, address
        sub.extra["fields"] = [str(f) for f in body.get("fields", sub.extra.get("fields") or [])]
        sub.extra["updated_at"] = call.sandbox.now().isoformat()
        return ok({"webhook": render_webhook(sub)})


def delete_webhook(call: Call) -> Response:
    with call.sandbox.lock:
        sub = _webhook(call)
        sub.active = False
        call.sandbox.subscriptions.pop(sub.id, None)
    return ok({})


def _id(value: Any) -> int:
    text = str(value).rsplit("/", 1)[-1]
    if not text.isdigit():
        raise fail(404, "Not Found")
    return int(text)
