"""The BigCommerce sandbox's V3 routes: inventory locations and items, inventory adjustments, and webhooks (hooks).

Shapes follow bigcommerce/docs `reference/locations.v3.yml`, `inventory.v3.yml` and `webhooks.v3.yml`: collections
are `{"data": [...], "meta": {"pagination": {...}}}`, single hooks `{"data": {...}, "meta": {}}`, refusals
`{"status", "title", "type", "errors"}`. Adjustments change the catalogue's stock at once and answer a
`transaction_id` (the real platform applies them asynchronously, a moment later). Hook scopes are the ones
`webhooks.v3.yml` lists; a destination must be HTTPS on port 443, except that plain HTTP to this machine is accepted
because the sandbox can reach nothing else; at most one hook per scope and destination, ten per scope.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandbox.bigcommerce.state import STATUS_CODES_URL, BigCommerceState, location_json
from sandbox.bigcommerce.v2_api import bad, checked_paging
from sandbox.core import CatalogueItem, Subscription

SCOPES = frozenset(
    f"store/{scope}"
    for group, names in {
        "order": "* created updated archived statusUpdated message/created refund/created",
        "shipment": "* created updated deleted",
        "product": "* created updated deleted inventory/updated inventory/order/updated",
        "sku": "* created updated deleted inventory/updated inventory/order/updated",
        "cart": "* created updated deleted couponApplied abandoned converted lineItem/* lineItem/created "
        "lineItem/updated lineItem/deleted",
        "category": "* created updated deleted",
        "channel": "* created updated",
        "customer": "* created updated deleted address/created address/updated address/deleted "
        "payment/instrument/default/updated",
        "subscriber": "* created updated deleted",
        "app": "uninstalled",
        "information": "updated",
    }.items()
    for scope in (f"{group}/{name}" for name in names.split())
)
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
MAX_HOOKS_PER_SCOPE = 10
SETTINGS = {"safety_stock": 0, "is_in_stock": True, "warning_level": 0, "bin_picking_number": ""}


def mount_v3(app: FastAPI, sandbox: BigCommerceState) -> None:
    """Register the store's V3 routes (under `/stores/{hash}/v3/`) on `app`."""
    api = InventoryAndHooksApi(sandbox)
    routes: list[tuple[str, str, Callable[..., Any]]] = [
        ("GET", "/v3/inventory/locations", api.list_locations),
        ("GET", "/v3/inventory/items", api.list_items),
        ("GET", "/v3/inventory/locations/{location_id}/items", api.location_items),
        ("PUT", "/v3/inventory/adjustments/absolute", api.adjust_absolute),
        ("POST", "/v3/inventory/adjustments/relative", api.adjust_relative),
        ("GET", "/v3/hooks", api.list_hooks),
        ("POST", "/v3/hooks", api.create_hook),
        ("GET", "/v3/hooks/{hook_id}", api.get_hook),
        ("PUT", "/v3/hooks/{hook_id}", api.put_hook),
        ("DELETE", "/v3/hooks/{hook_id}", api.delete_hook),
    ]
    for method, path, endpoint in routes:
        app.add_api_route(sandbox.prefix + path, endpoint, methods=[method])


def v3_invalid(field: str, message: str) -> JSONResponse:
    body = {"status": 422, "title": "JSON data is missing or invalid", "type": STATUS_CODES_URL}
    return JSONResponse({**body, "errors": {field: message}}, status_code=422)


def v3_page(rows: Sequence[Any], query: Mapping[str, str]) -> dict[str, Any]:
    """One page of a V3 collection with its `meta.pagination` block."""
    page, limit = checked_paging(query)
    chunk = list(rows[(page - 1) * limit : page * limit])
    pages = max(1, -(-len(rows) // limit))
    links = {"current": f"?page={page}&limit={limit}"}
    if page > 1:
        links["previous"] = f"?page={page - 1}&limit={limit}"
    if page < pages:
        links["next"] = f"?page={page + 1}&limit={limit}"
    pagination = {
        "total": len(rows),
        "count": len(chunk),
        "per_page": limit,
        "current_page": page,
        "total_pages": pages,
        "links": links,
    }
    return {"data": chunk, "meta": {"pagination": pagination}}


def csv(query: Mapping[str, str], name: str, read: Callable[[str], Any] = str) -> set[Any] | None:
    """The comma-separated values of an `...:in` filter, or None when it is absent."""
    if name not in query:
        return None
    try:
        return {read(v) for v in query[name].split(",") if v}
    except ValueError as exc:
        raise bad(f"The field '{name}' is invalid.") from exc


class InventoryAndHooksApi:
    """V3 route handlers; each takes the sandbox lock while it reads or changes the store."""

    def __init__(self, sandbox: BigCommerceState) -> None:
        self.sb = sandbox

    # --- inventory --------------------------------------------------------------------------------------------
    def list_locations(self, request: Request) -> Response:
        query = request.query_params
        ids, codes = csv(query, "location_id:in", int), csv(query, "location_code:in")
        rows = [
            location_json(n, name)
            for n, name in enumerate(self.sb.locations, 1)
            if (ids is None or n in ids) and (codes is None or name.upper() in codes)
        ]
        return JSONResponse(v3_page(rows, query))

    def list_items(self, request: Request) -> Response:
        query = request.query_params
        skus, variants = csv(query, "sku:in"), csv(query, "variant_id:in", int)
        products, ids = csv(query, "product_id:in", int), csv(query, "location_id:in", int)
        codes = csv(query, "location_code:in")
        wanted = [
            (n, name)
            for n, name in enumerate(self.sb.locations, 1)
            if (ids is None or n in ids) and (codes is None or name.upper() in codes)
        ]
        with self.sb.lock:
            rows = [
                {"identity": identity(item), "locations": [item_at(item, n, name) for n, name in wanted]}
                for item in self.sb.catalogue.values()
                if (skus is None or item.sku in skus)
                and (variants is None or item.variant_id in variants)
                and (products is None or item.product_id in products)
            ]
        return JSONResponse(v3_page(rows, query))

    def location_items(self, request: Request, location_id: str) -> Response:
        if not location_id.isdigit() or not 1 <= int(location_id) <= len(self.sb.locations):
            raise bad(f"Location with id [{location_id}] not found", 404)
        name = self.sb.locations[int(location_id) - 1]
        skus = csv(request.query_params, "sku:in")
        with self.sb.lock:
            rows = [
                {"identity": identity(item), **stock_fields(item.stock.get(name, 0)), "settings": SETTINGS}
                for item in self.sb.catalogue.values()
                if skus is None or item.sku in skus
            ]
        return JSONResponse(v3_page(rows, request.query_params))

    def adjust_absolute(self, body: dict[str, Any]) -> Response:
        return self._adjust(body, absolute=True)

    def adjust_relative(self, body: dict[str, Any]) -> Response:
        return self._adjust(body, absolute=False)

    def _adjust(self, body: dict[str, Any], absolute: bool) -> Response:
        items = body.get("items")
        if not isinstance(items, list) or not items:
            return v3_invalid("items", "items must be a non-empty list")
        with self.sb.lock:
            changes = []
            for n, item in enumerate(items):
                change = self._adjustment(item, absolute)
                if isinstance(change, str):
                    return v3_invalid(f"items.{n}", change)
                changes.append(change)
            for stock, location, quantity in changes:
                stock[location] = quantity if absolute else stock.get(location, 0) + quantity
            transaction = str(self.sb.rng.getrandbits(64))
        return JSONResponse({"transaction_id": transaction})

    def _adjustment(self, item: Any, absolute: bool) -> tuple[dict[str, int], str, int] | str:
        """(stock of the item, location name, quantity) for one adjustment, or why it is refused."""
        if not isinstance(item, dict):
            return "each item must be an object"
        location, quantity = item.get("location_id"), item.get("quantity")
        if not isinstance(location, int) or not 1 <= location <= len(self.sb.locations):
            return f"Location with id [{location}] not found"
        if not isinstance(quantity, int) or isinstance(quantity, bool) or (absolute and quantity < 0):
            return "quantity must be an integer" + (" of at least 0" if absolute else "")
        found = [
            i
            for i in self.sb.catalogue.values()
            if item.get("sku") == i.sku
            or item.get("variant_id") == i.variant_id
            or item.get("product_id") == i.product_id
        ]
        if not found:
            return "one of sku, variant_id or product_id must name an item of the catalogue"
        return found[0].stock, self.sb.locations[location - 1], quantity

    # --- hooks ------------------------------------------------------------------------------------------------
    def list_hooks(self, request: Request) -> Response:
        query = request.query_params
        active = query.get("is_active")
        with self.sb.lock:
            rows = [
                self._hook_json(s)
                for s in self.sb.subscriptions.values()
                if (active is None or str(s.active).lower() == active.lower())
                and query.get("scope", s.topic) == s.topic
                and query.get("destination", s.address) == s.address
            ]
        return JSONResponse(v3_page(rows, query))

    def _hook_json(self, sub: Subscription) -> dict[str, Any]:
        extra = sub.extra
        return {
            "id": sub.id,
            "client_id": self.sb.client_id,
            "store_hash": self.sb.store_hash,
            "created_at": extra["created_at"],
            "updated_at": extra["updated_at"],
            "scope": sub.topic,
            "destination": sub.address,
            "is_active": sub.active,
            "headers": extra["headers"],
        }

    def _hook(self, hook_id: str) -> Subscription:
        sub = self.sb.subscriptions.get(int(hook_id)) if hook_id.isdigit() else None
        if sub is None:
            raise bad(f"Webhook with id [{hook_id}] not found", 404)
        return sub

    def get_hook(self, hook_id: str) -> Response:
        with self.sb.lock:
            return JSONResponse({"data": self._hook_json(self._hook(hook_id)), "meta": {}})

    def create_hook(self, body: dict[str, Any]) -> Response:
        problem = hook_problem(body, required=True)
        with self.sb.lock:
            if problem is None:
                problem = self._hook_conflict(body["scope"], body["destination"])
            if problem:
                return v3_invalid(*problem)
            sub = self.sb.subscribe(body["scope"], body["destination"], headers=body.get("headers"))
            sub.active = body.get("is_active", True)
            return JSONResponse({"data": self._hook_json(sub), "meta": {}})

    def _hook_conflict(self, scope: str, destination: str, this: int = 0) -> tuple[str, str] | None:
        same = [s for s in self.sb.subscriptions.values() if s.topic == scope and s.id != this]
        if any(s.address == destination for s in same):
            return "destination", "A webhook with this scope and destination already exists."
        if len(same) >= MAX_HOOKS_PER_SCOPE:
            return "scope", f"A store may have at most {MAX_HOOKS_PER_SCOPE} webhooks per scope."
        return None

    def put_hook(self, hook_id: str, body: dict[str, Any]) -> Response:
        problem = hook_problem(body, required=False) or (None if body else ("body", "At least one field is required."))
        with self.sb.lock:
            sub = self._hook(hook_id)
            scope, destination = body.get("scope", sub.topic), body.get("destination", sub.address)
            problem = problem or self._hook_conflict(scope, destination, sub.id)
            if problem:
                return v3_invalid(*problem)
            sub.topic, sub.address = scope, destination
            sub.active = body.get("is_active", sub.active)
            sub.failures = 0 if sub.active else sub.failures
            sub.extra["headers"] = body.get("headers", sub.extra["headers"])
            sub.extra["updated_at"] = int(self.sb.now().timestamp())
            return JSONResponse({"data": self._hook_json(sub), "meta": {}})

    def delete_hook(self, hook_id: str) -> Response:
        with self.sb.lock:
            sub = self._hook(hook_id)
            del self.sb.subscriptions[sub.id]
            sub.active = False  # what is still queued for it is not delivered
            return JSONResponse({"data": self._hook_json(sub), "meta": {}})


# --- helpers without state ------------------------------------------------------------------------------------------


def hook_problem(body: dict[str, Any], required: bool) -> tuple[str, str] | None:
    """(field, message) when a hook body is not acceptable."""
    for field in ("scope", "destination"):
        if required and field not in body:
            return field, "error.path.missing."
    if "scope" in body and body["scope"] not in SCOPES:
        return "scope", f"{body['scope']!r} is not a webhook scope."
    if "destination" in body and not good_destination(body["destination"]):
        return "destination", "The destination must be an HTTPS URL served on port 443."
    if "is_active" in body and not isinstance(body["is_active"], bool):
        return "is_active", "is_active must be a boolean."
    headers = body.get("headers")
    if headers is not None and not (isinstance(headers, dict) and all(isinstance(v, str) for v in headers.values())):
        return "headers", "headers must be an object of strings."
    return None


def good_destination(url: Any) -> bool:
    """HTTPS on port 443, or (sandbox only, it can reach nothing else) plain HTTP to this machine."""
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return parts.port in (None, 443)
    return parts.scheme == "http" and parts.hostname in LOCAL_HOSTS


def identity(item: CatalogueItem) -> dict[str, Any]:
    return {"sku": item.sku, "variant_id": item.variant_id, "product_id": item.product_id, "sku_id": None}


def stock_fields(units: int) -> dict[str, int]:
    return {"available_to_sell": units, "total_inventory_onhand": units}


def item_at(item: CatalogueItem, location_id: int, name: str) -> dict[str, Any]:
    return {
        "location_id": location_id,
        "location_code": name.upper(),
        "location_name": name,
        **stock_fields(item.stock.get(name, 0)),
        "location_enabled": True,
        "settings": SETTINGS,
    }
