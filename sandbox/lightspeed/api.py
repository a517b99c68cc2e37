"""The REST routes of the Lightspeed eCom sandbox, as `SEOshop/API-PHP-Client` and third-party clients call them.

Every path is `/{lang}/<resource>.json` (the language was checked by `LightspeedState.guard`):

* `orders.json` (`page`, `limit` 1..250 default 50 (clamped), `since_id`, `created_at_min/max`, `updated_at_min/max`
  as ISO-8601 or `YYYY-MM-DD HH:MM:SS` in shop time, `status`, `fields`), `orders/count.json`,
  `orders/{id}.json` (GET, PUT `{"order": {status, paymentStatus, shipmentStatus, memo, doNotify}}`),
  `orders/{id}/products.json` (`{"orderProducts": [...]}`) and its `count.json`;
* `shipments.json` (`order`, `since_id`, `page`, `limit`), `shipments/count.json`, `shipments/{id}.json` (GET, PUT
  `{"shipment": {status, trackingCode, doNotifyShipped, doNotifyTrackingCode, doNotifyReadyForPickup}}`); the API
  has no way to create a shipment (no client has one), so `POST shipments.json` answers 405;
* `variants.json` (`sku`, `articleCode`, `ean`, `product`, `since_id`, paging), `variants/count.json`,
  `variants/{id}.json` (GET, PUT `{"variant": {stockLevel, stockTracking}}`);
* `webhooks.json` (GET, POST `{"webhook": {isActive, itemGroup, itemAction, format, address, language}}`; `url` is
  taken for `address`), `webhooks/count.json`, `webhooks/{id}.json` (GET, PUT, DELETE);
* `account/ratelimit.json` (`{"accountRatelimit": {limit5Min, limitHour, limitDay}}`) and `shop.json`.

Lists are ascending by id (what `since_id` cursor paging, as NickTacke's client does it, relies on). Unknown
resources answer 404 and known ones with another method 405, both in the error envelope the clients parse.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.routing import Match

from sandbox.core import CatalogueItem, Subscription
from sandbox.lightspeed import orders as native
from sandbox.lightspeed.orders import Links, Order, php_json, stamp

if TYPE_CHECKING:
    from sandbox.lightspeed.state import LightspeedState

DEFAULT_LIMIT, MAX_LIMIT = 50, 250
TIME_FILTERS = ("created_at_min", "created_at_max", "updated_at_min", "updated_at_max")
WEBHOOK_GROUPS = frozenset(
    {"customers", "orders", "invoices", "shipments", "products", "variants", "quotes", "reviews", "returns"}
    | {"subscriptions"}
)
WEBHOOK_ACTIONS = frozenset({"created", "updated", "deleted", "paid", "shipped", "answered", "*"})
SHIPMENT_STATUSES = frozenset({"not_shipped", "shipped", "cancelled"})
STOCK_TRACKING = frozenset({"enabled", "disabled", "indicator"})
ORDER_ENUMS = {
    "status": native.ORDER_STATUSES,
    "paymentStatus": native.PAYMENT_STATUSES,
    "shipmentStatus": native.ORDER_SHIPMENT_STATUSES,
}

Select = Callable[[Mapping[str, str]], list[Any]]


class PhpJSONResponse(Response):
    """JSON as Lightspeed's PHP back end encodes it (see `lightspeed_orders.php_json`)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return php_json(content)


def error_body(status: int, method: str, path: str, message: str) -> Response:
    """The platform's error envelope (NickTacke `errors.ts`; the PHP client reads `error.message`)."""
    error = {"method": method, "request": path, "message": message, "code": status}
    return PhpJSONResponse({"error": error}, status_code=status)


def fail(request: Request, status: int, message: str) -> Response:
    return error_body(status, request.method, request.url.path, message)


class LightspeedApi:
    """Route handlers over a `LightspeedState`'s state."""

    def __init__(self, sandbox: LightspeedState) -> None:
        self.sandbox = sandbox

    def mount(self, app: FastAPI) -> None:
        routes: list[tuple[str, str, Callable[[Request], Any]]] = [
            ("GET", "/orders.json", self.list_orders),
            ("GET", "/orders/count.json", self.count_orders),
            ("GET", "/orders/{order_id:int}.json", self.get_order),
            ("PUT", "/orders/{order_id:int}.json", self.put_order),
            ("GET", "/orders/{order_id:int}/products.json", self.order_products),
            ("GET", "/orders/{order_id:int}/products/count.json", self.count_order_products),
            ("GET", "/shipments.json", self.list_shipments),
            ("GET", "/shipments/count.json", self.count_shipments),
            ("GET", "/shipments/{shipment_id:int}.json", self.get_shipment),
            ("PUT", "/shipments/{shipment_id:int}.json", self.put_shipment),
            ("GET", "/variants.json", self.list_variants),
            ("GET", "/variants/count.json", self.count_variants),
            ("GET", "/variants/{variant_id:int}.json", self.get_variant),
            ("PUT", "/variants/{variant_id:int}.json", self.put_variant),
            ("GET", "/webhooks.json", self.list_webhooks),
            ("POST", "/webhooks.json", self.create_webhook),
            ("GET", "/webhooks/count.json", self.count_webhooks),
            ("GET", "/webhooks/{webhook_id:int}.json", self.get_webhook),
            ("PUT", "/webhooks/{webhook_id:int}.json", self.put_webhook),
            ("DELETE", "/webhooks/{webhook_id:int}.json", self.delete_webhook),
            ("GET", "/account/ratelimit.json", self.ratelimit),
            ("GET", "/shop.json", self.shop),
        ]
        for method, path, endpoint in routes:
            app.add_api_route("/{lang}" + path, endpoint, methods=[method])
        app.add_api_route("/{rest:path}", self.unrouted, methods=["GET", "POST", "PUT", "DELETE", "PATCH"])

    def unrouted(self, request: Request) -> Response:
        """404 for unknown resources, 405 for a known one with a method Lightspeed does not offer."""
        known = any(route.matches(request.scope)[0] == Match.PARTIAL for route in request.app.router.routes)
        return fail(request, 405, "Method not allowed.") if known else fail(request, 404, "Not found.")

    def links(self, request: Request) -> Links:
        return self.sandbox.links(request.path_params["lang"])

    # --- orders ---------------------------------------------------------------------------------------------
    def list_orders(self, request: Request) -> Response:
        return self._listing(
            request, "orders", self._orders, lambda order, links: self.sandbox.api_json(order, links.lang)
        )

    def count_orders(self, request: Request) -> Response:
        return self._counting(request, self._orders)

    def _orders(self, query: Mapping[str, str]) -> list[Order]:
        since, status = _int(query, "since_id", 0), query.get("status")
        bounds = {key: native.parse_time(query[key]) for key in TIME_FILTERS if query.get(key)}
        orders = self.sandbox.orders_after(since)
        return [o for o in orders if not o.deleted and (not status or o.status == status) and _within(o, bounds)]

    def get_order(self, request: Request) -> Response:
        return self._order_answer(request, "order", lambda order, links: self.sandbox.api_json(order, links.lang))

    def order_products(self, request: Request) -> Response:
        return self._order_answer(request, "orderProducts", native.products_json)

    def count_order_products(self, request: Request) -> Response:
        return self._order_answer(request, "count", lambda order, _: len(order.lines))

    def _order_answer(self, request: Request, key: str, render: Callable[[Order, Links], Any]) -> Response:
        with self.sandbox.lock:
            try:
                order = self.sandbox.find_order(request.path_params["order_id"])
            except KeyError:
                return fail(request, 404, "Not found.")
            return PhpJSONResponse({key: render(order, self.links(request))})

    async def put_order(self, request: Request) -> Response:
        return await _write(request, "order", self._put_order)

    def _put_order(self, request: Request, fields: dict[str, Any]) -> Response:
        if problem := _order_problem(fields):
            return fail(request, 400, problem)
        with self.sandbox.lock:
            try:
                order = self.sandbox.find_order(request.path_params["order_id"])
            except KeyError:
                return fail(request, 404, "Not found.")
            self.sandbox.write_order(order, fields, request.url.path)
            return PhpJSONResponse({"order": self.sandbox.api_json(order, request.path_params["lang"])})

    # --- shipments ------------------------------------------------------------------------------------------
    def list_shipments(self, request: Request) -> Response:
        return self._listing(request, "shipments", self._shipments, native.shipment_json)

    def count_shipments(self, request: Request) -> Response:
        return self._counting(request, self._shipments)

    def _shipments(self, query: Mapping[str, str]) -> list[Order]:
        """Orders standing for their one shipment each (shipment ids rise with order ids)."""
        since, wanted = _int(query, "since_id", 0), _int(query, "order", 0)
        orders = self.sandbox.orders_after(0)
        return [o for o in orders if not o.deleted and o.shipment.id > since and wanted in {0, o.id}]

    def get_shipment(self, request: Request) -> Response:
        with self.sandbox.lock:
            order = self.sandbox.shipment_order(request.path_params["shipment_id"])
            if order is None:
                return fail(request, 404, "Not found.")
            return PhpJSONResponse({"shipment": native.shipment_json(order, self.links(request))})

    async def put_shipment(self, request: Request) -> Response:
        return await _write(request, "shipment", self._put_shipment)

    def _put_shipment(self, request: Request, fields: dict[str, Any]) -> Response:
        if problem := _shipment_problem(fields):
            return fail(request, 400, problem)
        with self.sandbox.lock:
            order = self.sandbox.shipment_order(request.path_params["shipment_id"])
            if order is None:
                return fail(request, 404, "Not found.")
            self.sandbox.write_shipment(order, fields, request.url.path)
            return PhpJSONResponse({"shipment": native.shipment_json(order, self.links(request))})

    # --- variants -------------------------------------------------------------------------------------------
    def list_variants(self, request: Request) -> Response:
        return self._listing(request, "variants", self._variants, self.sandbox.variant_json)

    def count_variants(self, request: Request) -> Response:
        return self._counting(request, self._variants)

    def _variants(self, query: Mapping[str, str]) -> list[CatalogueItem]:
        since, product = _int(query, "since_id", 0), _int(query, "product", 0)
        wanted = {key: query[key] for key in ("sku", "articleCode", "ean") if query.get(key)}
        with self.sandbox.lock:
            items = sorted(self.sandbox.catalogue.values(), key=lambda item: item.variant_id)
        return [
            item
            for item in items
            if item.variant_id > since
            and product in {0, item.product_id}
            and all(_variant_field(item, key) == value for key, value in wanted.items())
        ]

    def get_variant(self, request: Request) -> Response:
        with self.sandbox.lock:
            item = self.sandbox.variant(request.path_params["variant_id"])
            if item is None:
                return fail(request, 404, "Not found.")
            return PhpJSONResponse({"variant": self.sandbox.variant_json(item, self.links(request))})

    async def put_variant(self, request: Request) -> Response:
        return await _write(request, "variant", self._put_variant)

    def _put_variant(self, request: Request, fields: dict[str, Any]) -> Response:
        level, tracking = fields.get("stockLevel"), fields.get("stockTracking")
        if (level is not None and type(level) is not int) or tracking not in STOCK_TRACKING | {None}:
            return fail(request, 400, "Invalid value for stockLevel or stockTracking.")
        with self.sandbox.lock:
            item = self.sandbox.variant(request.path_params["variant_id"])
            if item is None:
                return fail(request, 404, "Not found.")
            self.sandbox.write_variant(item, fields, request.url.path)
            return PhpJSONResponse({"variant": self.sandbox.variant_json(item, self.links(request))})

    # --- webhooks -------------------------------------------------------------------------------------------
    def _webhook_json(self, sub: Subscription) -> dict[str, Any]:
        group, _, action = sub.topic.partition("/")
        return {
            "id": sub.id,
            "createdAt": sub.extra["createdAt"],
            "updatedAt": sub.extra["updatedAt"],
            "isActive": sub.active,
            "itemGroup": group,
            "itemAction": action,
            "language": self.sandbox.links(str(sub.extra["language"])).language(),
            "format": sub.extra["format"],
            "address": sub.address,
        }

    def list_webhooks(self, request: Request) -> Response:
        with self.sandbox.lock:
            subs = list(self.sandbox.subscriptions.values())
        return PhpJSONResponse({"webhooks": [self._webhook_json(sub) for sub in _page(subs, request.query_params)]})

    def count_webhooks(self, request: Request) -> Response:
        return PhpJSONResponse({"count": len(self.sandbox.subscriptions)})

    def get_webhook(self, request: Request) -> Response:
        sub = self.sandbox.subscriptions.get(request.path_params["webhook_id"])
        if sub is None:
            return fail(request, 404, "Not found.")
        return PhpJSONResponse({"webhook": self._webhook_json(sub)})

    async def create_webhook(self, request: Request) -> Response:
        return await _write(request, "webhook", self._create_webhook)

    def _create_webhook(self, request: Request, fields: dict[str, Any]) -> Response:
        merged = {"isActive": True, "format": "json", "language": request.path_params["lang"], **fields}
        if problem := _webhook_problem(merged, creating=True):
            return fail(request, 400, problem)
        topic, address = f"{merged['itemGroup']}/{merged['itemAction']}", merged.get("address") or merged["url"]
        sub = self.sandbox.subscribe(topic, str(address), language=merged["language"], format=merged["format"])
        sub.active = bool(merged["isActive"])
        return PhpJSONResponse({"webhook": self._webhook_json(sub)}, status_code=201)

    async def put_webhook(self, request: Request) -> Response:
        return await _write(request, "webhook", self._put_webhook)

    def _put_webhook(self, request: Request, fields: dict[str, Any]) -> Response:
        with self.sandbox.lock:
            sub = self.sandbox.subscriptions.get(request.path_params["webhook_id"])
            if sub is None:
                return fail(request, 404, "Not found.")
            group, _, action = sub.topic.partition("/")
            merged = {"itemGroup": group, "itemAction": action, **sub.extra, "isActive": sub.active, **fields}
            if problem := _webhook_problem(merged, creating=False):
                return fail(request, 400, problem)
            sub.topic, sub.active = f"{merged['itemGroup']}/{merged['itemAction']}", bool(merged["isActive"])
            sub.address = str(merged.get("address") or merged.get("url") or sub.address)
            sub.extra.update(language=merged["language"], format=merged["format"])
            sub.extra["updatedAt"] = stamp(self.sandbox.now())
            return PhpJSONResponse({"webhook": self._webhook_json(sub)})

    def delete_webhook(self, request: Request) -> Response:
        with self.sandbox.lock:
            if self.sandbox.subscriptions.pop(request.path_params["webhook_id"], None) is None:
                return fail(request, 404, "Not found.")
        return Response(status_code=204)

    # --- account and shop -----------------------------------------------------------------------------------
    def ratelimit(self, request: Request) -> Response:
        now = self.sandbox.now()
        body = {
            name: {
                "limit": limit,
                "remaining": left,
                "reset": reset,
                "resetTime": stamp(now + timedelta(seconds=reset)),
            }
            for name, limit, left, reset in self.sandbox.ratelimit_status()
        }
        return PhpJSONResponse({"accountRatelimit": body})

    def shop(self, request: Request) -> Response:
        return PhpJSONResponse({"shop": native.shop_json(self.links(request))})

    # --- lists ----------------------------------------------------------------------------------------------
    def _listing(self, request: Request, key: str, select: Select, render: Callable[[Any, Links], Any]) -> Response:
        query = request.query_params
        try:
            items = _page(select(query), query)
        except ValueError as exc:
            return fail(request, 400, str(exc))
        links = self.links(request)
        with self.sandbox.lock:
            rendered = [render(item, links) for item in items]
        return PhpJSONResponse({key: _only(rendered, query.get("fields"))})

    def _counting(self, request: Request, select: Select) -> Response:
        try:
            return PhpJSONResponse({"count": len(select(request.query_params))})
        except ValueError as exc:
            return fail(request, 400, str(exc))


async def _write(request: Request, key: str, apply: Callable[[Request, dict[str, Any]], Response]) -> Response:
    """Read the body on the event loop, then apply it in the thread pool: the sandbox lock may be held a while."""
    fields = await _fields(request, key)
    if isinstance(fields, Response):
        return fields
    return await run_in_threadpool(apply, request, fields)


async def _fields(request: Request, key: str) -> dict[str, Any] | Response:
    """The object under `key` in a JSON body such as `{"order": {...}}`, or the platform's 400."""
    try:
        payload = json.loads(await request.body() or b"null")
    except ValueError:
        return fail(request, 400, "Invalid JSON body.")
    if not isinstance(payload, dict) or not isinstance(payload.get(key), dict):
        return fail(request, 400, f"The body must hold a '{key}' object.")
    fields: dict[str, Any] = payload[key]
    return fields


def _order_problem(fields: Mapping[str, Any]) -> str:
    for key, values in ORDER_ENUMS.items():
        if key in fields and fields[key] not in values:
            return f"Invalid value for {key}: {fields[key]!r}."
    if not isinstance(fields.get("memo", ""), str) or not isinstance(fields.get("doNotify", False), bool):
        return "Invalid value for memo or doNotify."
    return ""


def _shipment_problem(fields: Mapping[str, Any]) -> str:
    if "status" in fields and fields["status"] not in SHIPMENT_STATUSES:
        return f"Invalid value for status: {fields['status']!r}."
    if not isinstance(fields.get("trackingCode", ""), str):
        return "Invalid value for trackingCode."
    if not all(isinstance(fields.get(key, False), bool) for key in native.NOTIFY_KEYS):
        return "Invalid value for a doNotify flag."
    return ""


def _webhook_problem(fields: Mapping[str, Any], *, creating: bool) -> str:
    if fields.get("itemGroup") not in WEBHOOK_GROUPS or fields.get("itemAction") not in WEBHOOK_ACTIONS:
        return "Invalid itemGroup or itemAction."
    if creating and not (fields.get("address") or fields.get("url")):
        return "The address is required."
    if fields.get("format") not in {"json", "xml"} or fields.get("language") not in native.LANGUAGES:
        return "Invalid format or language."
    return "This sandbox only emulates the json format." if fields["format"] == "xml" else ""


def _within(order: Order, bounds: Mapping[str, datetime]) -> bool:
    for key, bound in bounds.items():
        moment = order.created_at if key.startswith("created") else order.updated_at
        if (moment < bound) if key.endswith("_min") else (moment > bound):
            return False
    return True


def _int(query: Mapping[str, str], key: str, default: int) -> int:
    value = query.get(key)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"Invalid value for {key}: {value!r}.") from None


def _page(items: list[Any], query: Mapping[str, str]) -> list[Any]:
    """One page; `limit` is clamped to 1..250 (default 50), `page` counts from 1."""
    limit = min(max(_int(query, "limit", DEFAULT_LIMIT), 1), MAX_LIMIT)
    page = max(_int(query, "page", 1), 1)
    return items[(page - 1) * limit : page * limit]


def _only(items: list[dict[str, Any]], fields: str | None) -> list[dict[str, Any]]:
    """The `fields=a,b` selection of keys."""
    if not fields:
        return items
    wanted = {name.strip() for name in fields.split(",")}
    return [{key: value for key, value in item.items() if key in wanted} for item in items]


def _variant_field(item: CatalogueItem, key: str) -> str:
    return native.ean13(item.variant_id) if key == "ean" else item.sku
