"""The WooCommerce REST API (`/wp-json/wc/v3/`) the sandbox serves: routes, parameters and WordPress envelopes.

Answers as WordPress's REST server does: bodies encoded like `wp_json_encode` (slashes escaped, non-ASCII as
`\\u00e9`), errors as `{"code", "message", "data": {"status", ...}}`, parameters read like `$_GET` (a repeated key
keeps its last value) and validated against the controllers' schemas (`rest_invalid_param` with `params` and
`details`), collections paginated with `X-WP-Total`, `X-WP-TotalPages` and `Link` rel="next"/"prev" headers that
repeat the request's own query with another `page`. Order state changes go through the sandbox
(`WooCommerceState`), which fires the webhooks.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request, Response
from starlette.concurrency import run_in_threadpool

from sandbox.woocommerce.auth import QueryValue, php_query
from sandbox.woocommerce.documents import (
    SITE_TZ,
    STATUSES,
    WooOrder,
    is_variation,
    note_document,
    php_json,
    product_document,
    render_order,
    valid_topic,
    variation_document,
    webhook_document,
)

if TYPE_CHECKING:
    from sandbox.woocommerce.state import WooCommerceState

V3 = "/wp-json/wc/v3"
JSON_TYPE = "application/json; charset=UTF-8"
BATCH_LIMIT = 100
ORDER_STATUSES = (*(s for s in STATUSES if s != "trash"), "checkout-draft")
ORDERBY = ("date", "id", "include", "title", "slug", "modified")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}(:\d{2})?)?$")
CANNOT = {  # permission errors of the WooCommerce controllers for a request without valid credentials
    "list": ("woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
    "view": ("woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
    "create": ("woocommerce_rest_cannot_create", "Sorry, you are not allowed to create resources."),
    "edit": ("woocommerce_rest_cannot_edit", "Sorry, you are not allowed to edit this resource."),
    "delete": ("woocommerce_rest_cannot_delete", "Sorry, you are not allowed to delete this resource."),
    "batch": ("woocommerce_rest_cannot_batch", "Sorry, you are not allowed to batch manipulate this resource."),
}
Events = list[tuple[str, int]]


# --- WordPress envelopes --------------------------------------------------------------------------------------
class WpResponse(Response):
    media_type = JSON_TYPE

    def render(self, content: Any) -> bytes:
        return php_json(content)


def wp_error(code: str, message: str, status: int, *, data: dict[str, Any] | None = None, **extra: Any) -> Response:
    return WpResponse({"code": code, "message": message, "data": {"status": status, **(data or {})}, **extra}, status)


class RestError(Exception):
    def __init__(self, code: str, message: str, status: int, data: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status, self.data = code, message, status, data or {}

    def response(self) -> Response:
        return wp_error(self.code, self.message, self.status, data=self.data)

    def item(self, ident: Any) -> dict[str, Any]:
        return {"id": ident, "error": {"code": self.code, "message": self.message, "data": {"status": self.status}}}


def invalid_param(name: str, detail: str, message: str) -> RestError:
    """`rest_invalid_param`, as WP_REST_Request::has_valid_params reports one bad parameter."""
    details = {name: {"code": detail, "message": message, "data": None}}
    return RestError(
        "rest_invalid_param", f"Invalid parameter(s): {name}", 400, {"params": {name: message}, "details": details}
    )


def unauthenticated(method: str, path: str) -> Response:
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    if tail == "batch":
        action = "batch"
    elif method == "DELETE":
        action = "delete"
    elif method == "GET":
        action = "view" if tail.isdigit() else "list"
    else:
        action = "edit" if tail.isdigit() else "create"
    code, message = CANNOT[action]
    return wp_error(code, message, 401)


def _wp_list(items: list[str]) -> str:
    """`wp_sprintf_l`: "a and b", "a, b, and c"."""
    return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + ", and " + items[-1]


# --- parameters -----------------------------------------------------------------------------------------------
def _scalar(q: dict[str, QueryValue], name: str) -> str | None:
    value = q.get(name)
    return value if isinstance(value, str) else None


def _list(q: dict[str, QueryValue], name: str) -> list[str]:
    """`wp_parse_list`: an array parameter given as `a,b` or as `name[]=a&name[]=b`."""
    value = q.get(name)
    raw = list(value.values()) if isinstance(value, dict) else re.split(r"[\s,]+", value or "")
    return [v for v in raw if v]


def _int(q: dict[str, QueryValue], name: str, default: int, low: int, high: int | None = None) -> int:
    text = _scalar(q, name)
    if text is None or text == "":
        return default
    if not re.fullmatch(r"-?\d+", text.strip()):
        raise invalid_param(name, "rest_invalid_type", f"{name} is not of type integer.")
    value = int(text)
    if high is not None and not low <= value <= high:
        raise invalid_param(
            name, "rest_out_of_bounds", f"{name} must be between {low} (inclusive) and {high} (inclusive)"
        )
    if value < low:
        raise invalid_param(name, "rest_out_of_bounds", f"{name} must be greater than or equal to {low}")
    return value


def _enum(q: dict[str, QueryValue], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = _scalar(q, name) or default
    if value not in allowed:
        raise invalid_param(name, "rest_not_in_enum", f"{name} is not one of {_wp_list(list(allowed))}.")
    return value


def truthy(value: Any, name: str = "") -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in {"true", "1"}:
        return True
    if text in {"false", "0", ""}:
        return False
    raise invalid_param(name, "rest_invalid_type", f"{name} is not of type boolean.")


def _date(q: dict[str, QueryValue], name: str, as_gmt: bool) -> datetime | None:
    text = _scalar(q, name)
    if not text:
        return None
    if not DATE_RE.match(text):
        raise invalid_param(name, "rest_invalid_date", "Invalid date.")
    moment = datetime.fromisoformat(text.replace(" ", "T").replace("t", "T"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC if as_gmt else SITE_TZ)
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class ListQuery:
    page: int
    per_page: int
    offset: int | None
    descending: bool
    orderby: str
    statuses: frozenset[str] | None  # None: "any" (everything but trash)
    include: tuple[int, ...]
    exclude: frozenset[int]
    created: tuple[datetime | None, datetime | None]
    modified: tuple[datetime | None, datetime | None]

    @property
    def start(self) -> int:
        return self.offset if self.offset is not None else (self.page - 1) * self.per_page


def _ids(q: dict[str, QueryValue], name: str) -> list[int]:
    values = _list(q, name)
    bad = [v for v in values if not v.isdigit()]
    if bad:
        raise invalid_param(name, "rest_invalid_type", f"{name}[0] is not of type integer.")
    return [int(v) for v in values]


def parse_list(q: dict[str, QueryValue], orderby: tuple[str, ...] = ORDERBY) -> ListQuery:
    gmt = truthy(q.get("dates_are_gmt", "false"), "dates_are_gmt")
    statuses = _list(q, "status") or ["any"]
    for n, status in enumerate(statuses):
        if status not in ("any", "trash", *ORDER_STATUSES):
            allowed = _wp_list(["any", "trash", *ORDER_STATUSES])
            raise invalid_param("status", "rest_not_in_enum", f"status[{n}] is not one of {allowed}.")
    offset = _int(q, "offset", -1, 0) if _scalar(q, "offset") else None
    return ListQuery(
        page=_int(q, "page", 1, 1),
        per_page=_int(q, "per_page", 10, 1, 100),
        offset=offset,
        descending=_enum(q, "order", ("asc", "desc"), "desc") == "desc",
        orderby=_enum(q, "orderby", orderby, "date"),
        statuses=None if "any" in statuses else frozenset(statuses),
        include=tuple(_ids(q, "include")),
        exclude=frozenset(_ids(q, "exclude")),
        created=(_date(q, "after", gmt), _date(q, "before", gmt)),
        modified=(_date(q, "modified_after", gmt), _date(q, "modified_before", gmt)),
    )


def _within(moment: datetime, bounds: tuple[datetime | None, datetime | None]) -> bool:
    after, before = bounds
    return (after is None or moment > after) and (before is None or moment < before)


def select_orders(orders: Iterable[WooOrder], lq: ListQuery) -> list[WooOrder]:
    """Filter and sort orders as `WC_Order_Query` would for the list endpoint (one scan, one sort)."""
    included = set(lq.include)
    chosen = [
        o
        for o in orders
        if (o.doc["status"] != "trash" if lq.statuses is None else o.doc["status"] in lq.statuses)
        and (not included or o.id in included)
        and o.id not in lq.exclude
        and _within(o.created, lq.created)
        and _within(o.modified, lq.modified)
    ]
    if lq.orderby == "include" and lq.include:
        rank = {ident: n for n, ident in enumerate(lq.include)}
        return sorted(chosen, key=lambda o: rank[o.id])
    key: Callable[[WooOrder], Any] = {
        "id": lambda o: o.id,
        "modified": lambda o: (o.modified, o.id),
    }.get(lq.orderby, lambda o: (o.created, o.id))
    return sorted(chosen, key=key, reverse=lq.descending)


def paginated(items: list[Any], total: int, lq: ListQuery, query: dict[str, QueryValue], base: str) -> Response:
    """A collection answer with WordPress's pagination headers (`WC_REST_CRUD_Controller::get_items`)."""
    pages = math.ceil(total / lq.per_page)
    response = WpResponse(items)
    response.headers["X-WP-Total"] = str(total)
    response.headers["X-WP-TotalPages"] = str(pages)
    if lq.page > 1:
        response.headers.append("Link", f'<{_page_url(base, query, min(lq.page - 1, pages))}>; rel="prev"')
    if pages > lq.page:
        response.headers.append("Link", f'<{_page_url(base, query, lq.page + 1)}>; rel="next"')
    return response


def _page_url(base: str, query: dict[str, QueryValue], page: int) -> str:
    pairs: list[tuple[str, str]] = []
    for key, value in {**query, "page": str(page)}.items():
        if isinstance(value, dict):
            pairs.extend((f"{key}[{sub}]", v) for sub, v in value.items())
        else:
            pairs.append((key, value))
    return f"{base}?{urlencode(pairs)}"


async def read_body(request: Request) -> tuple[dict[str, Any], dict[str, Any]]:
    """(all parameters as WP_REST_Request merges them: JSON or form body over the query string, the body alone)."""
    query: dict[str, Any] = dict(php_query(request.url.query))
    raw = await request.body()
    body: Any = {}
    if raw.strip() and ("json" in request.headers.get("content-type", "") or raw.lstrip()[:1] in (b"{", b"[")):
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise RestError("rest_invalid_json", "Invalid JSON body passed.", 400) from exc
    elif raw.strip():
        body = php_query(raw.decode("utf-8", "replace"))
    body = body if isinstance(body, dict) else {}
    return {**query, **body}, body


# --- routes ---------------------------------------------------------------------------------------------------
class WooRestApi:
    """Route handlers; each parses the request, works on the sandbox under its lock, and answers."""

    def __init__(self, sandbox: WooCommerceState) -> None:
        self.sb = sandbox

    def mount(self, app: FastAPI) -> None:
        routes: list[tuple[str, Callable[[Request], Any], list[str]]] = [
            (f"{V3}/orders", self.list_orders, ["GET"]),
            (f"{V3}/orders/batch", self.batch_orders, ["POST", "PUT", "PATCH"]),
            (f"{V3}/orders/{{order_id:int}}", self.get_order, ["GET"]),
            (f"{V3}/orders/{{order_id:int}}", self.update_order, ["POST", "PUT", "PATCH"]),
            (f"{V3}/orders/{{order_id:int}}", self.delete_order, ["DELETE"]),
            (f"{V3}/orders/{{order_id:int}}/notes", self.list_notes, ["GET"]),
            (f"{V3}/orders/{{order_id:int}}/notes", self.create_note, ["POST"]),
            (f"{V3}/orders/{{order_id:int}}/notes/{{note_id:int}}", self.get_note, ["GET"]),
            (f"{V3}/products", self.list_products, ["GET"]),
            (f"{V3}/products/{{product_id:int}}", self.get_product, ["GET"]),
            (f"{V3}/products/{{product_id:int}}/variations", self.list_variations, ["GET"]),
            (f"{V3}/products/{{product_id:int}}/variations/{{variation_id:int}}", self.get_variation, ["GET"]),
            (f"{V3}/webhooks", self.list_webhooks, ["GET"]),
            (f"{V3}/webhooks", self.create_webhook, ["POST"]),
            (f"{V3}/webhooks/{{webhook_id:int}}", self.get_webhook, ["GET"]),
            (f"{V3}/webhooks/{{webhook_id:int}}", self.update_webhook, ["POST", "PUT", "PATCH"]),
            (f"{V3}/webhooks/{{webhook_id:int}}", self.delete_webhook, ["DELETE"]),
            ("/wp-json/{rest:path}", self.no_route, ["GET", "POST", "PUT", "PATCH", "DELETE"]),
        ]
        for path, endpoint, methods in routes:
            app.add_api_route(path, _guarded(endpoint), methods=methods, include_in_schema=False)

    async def no_route(self, request: Request) -> Response:
        return wp_error("rest_no_route", "No route was found matching the URL and request method.", 404)

    # --- orders -------------------------------------------------------------------------------------------
    async def list_orders(self, request: Request) -> Response:
        query = php_query(request.url.query)
        lq = parse_list(query)
        with self.sb.lock:
            chosen = select_orders(self.sb.orders.values(), lq)
            page = [render_order(o, self.sb.root_url) for o in chosen[lq.start : lq.start + lq.per_page]]
        return paginated(page, len(chosen), lq, query, f"{self.sb.root_url}{V3}/orders")

    def _order(self, order_id: int, status: int = 404) -> WooOrder:
        order = self.sb.orders.get(order_id)
        if order is None:
            raise RestError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", status)
        return order

    async def get_order(self, request: Request) -> Response:
        with self.sb.lock:
            return WpResponse(render_order(self._order(request.path_params["order_id"]), self.sb.root_url))

    async def update_order(self, request: Request) -> Response:
        params, body = await read_body(request)
        write = {"method": request.method, "path": request.url.path, "body": body}
        doc, events = self._update(request.path_params["order_id"], params, write)
        self._emit(events)
        return WpResponse(doc)

    def _update(self, order_id: int, params: dict[str, Any], write: dict[str, Any]) -> tuple[dict[str, Any], Events]:
        status = params.get("status")
        if status is not None and status not in ORDER_STATUSES:
            raise invalid_param("status", "rest_not_in_enum", f"status is not one of {_wp_list(list(ORDER_STATUSES))}.")
        with self.sb.lock:
            order = self._order(order_id, 400)
            self.sb.record_write(str(order_id), write)
            self._apply_update(order, params)
            return render_order(order, self.sb.root_url), [("order.updated", order_id)]

    def _apply_update(self, order: WooOrder, params: dict[str, Any]) -> None:
        doc = order.doc
        for key in ("customer_note", "transaction_id", "payment_method", "payment_method_title"):
            if isinstance(params.get(key), str):
                doc[key] = params[key]
        for key in ("billing", "shipping"):
            if isinstance(params.get(key), dict):
                doc[key].update({k: str(v) for k, v in params[key].items() if k in doc[key]})
        if isinstance(params.get("meta_data"), list):
            self._update_meta(doc["meta_data"], params["meta_data"])
        if params.get("status"):
            self.sb.set_status(order, str(params["status"]))
        if truthy(params.get("set_paid", False), "set_paid") and doc["needs_payment"]:
            self.sb.pay(order, str(params.get("transaction_id") or ""))
        self.sb.touch(order)

    def _update_meta(self, meta: list[dict[str, Any]], changes: list[Any]) -> None:
        for change in (c for c in changes if isinstance(c, dict) and c.get("key")):
            found = next((m for m in meta if m["id"] == change.get("id") or m["key"] == change["key"]), None)
            if found is None:
                meta.append({"id": self.sb.next_meta_id(), "key": str(change["key"]), "value": change.get("value")})
            else:
                found["value"] = change.get("value")

    async def delete_order(self, request: Request) -> Response:
        params, _ = await read_body(request)
        force = truthy(params.get("force", False), "force")
        doc, events = self._delete(request.path_params["order_id"], force, request.url.path)
        self._emit(events)
        return WpResponse(doc)

    def _delete(self, order_id: int, force: bool, path: str) -> tuple[dict[str, Any], Events]:
        with self.sb.lock:
            order = self._order(order_id)
            self.sb.record_write(str(order_id), {"method": "DELETE", "path": path, "body": {"force": force}})
            if force:  # a permanent delete: no trash hook runs, so no webhook fires
                doc = render_order(order, self.sb.root_url)
                self.sb.delete(order)
                return doc, []
            if order.doc["status"] == "trash":
                raise RestError("woocommerce_rest_already_trashed", "The shop_order has already been deleted.", 410)
            self.sb.trash(order)
            return render_order(order, self.sb.root_url), [("order.deleted", order_id)]

    async def batch_orders(self, request: Request) -> Response:
        params, _ = await read_body(request)
        groups = {k: params[k] for k in ("update", "delete") if isinstance(params.get(k), list)}
        if sum(len(v) for v in groups.values()) > BATCH_LIMIT:
            message = f"Unable to accept more than {BATCH_LIMIT} items for this request."
            return wp_error("woocommerce_rest_request_entity_too_large", message, 413)
        answer: dict[str, list[Any]] = {"update": [], "delete": []}
        events: Events = []
        for item in groups.get("update", []):
            answer["update"].append(self._batch_item(item, events, delete=False, path=request.url.path))
        for ident in groups.get("delete", []):
            answer["delete"].append(self._batch_item(ident, events, delete=True, path=request.url.path))
        self._emit(events)
        return WpResponse({k: v for k, v in answer.items() if k in groups})

    def _batch_item(self, item: Any, events: Events, *, delete: bool, path: str) -> dict[str, Any]:
        ident = item.get("id") if isinstance(item, dict) else item
        try:
            order_id = int(str(ident))
            if delete:  # batch deletes are forced (`WC_REST_Controller::batch_items`)
                doc, more = self._delete(order_id, True, path)
            else:
                doc, more = self._update(order_id, dict(item), {"method": "POST", "path": path, "body": item})
        except RestError as exc:
            return exc.item(ident)
        except (TypeError, ValueError):
            return RestError("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 400).item(ident)
        events.extend(more)
        return doc

    def _emit(self, events: Events) -> None:
        for topic, order_id in dict.fromkeys(events):
            self.sb.emit_order(topic, order_id)

    # --- notes --------------------------------------------------------------------------------------------
    async def list_notes(self, request: Request) -> Response:
        kind = _enum(php_query(request.url.query), "type", ("any", "customer", "internal"), "any")
        with self.sb.lock:
            order = self._order(request.path_params["order_id"])
            notes = [n for n in reversed(order.notes) if kind == "any" or n["customer_note"] == (kind == "customer")]
            return WpResponse([note_document(order.id, n, self.sb.root_url) for n in notes])

    async def create_note(self, request: Request) -> Response:
        params, body = await read_body(request)
        if not params.get("note"):
            raise RestError("rest_missing_callback_param", "Missing parameter(s): note", 400, {"params": ["note"]})
        with self.sb.lock:
            order = self._order(request.path_params["order_id"])
            self.sb.record_write(str(order.id), {"method": "POST", "path": request.url.path, "body": body})
            note = self.sb.add_note(
                order,
                str(params["note"]),
                truthy(params.get("customer_note", False), "customer_note"),
                truthy(params.get("added_by_user", False), "added_by_user"),
            )
        return WpResponse(note, 201)

    async def get_note(self, request: Request) -> Response:
        with self.sb.lock:
            order = self._order(request.path_params["order_id"])
            note = next((n for n in order.notes if n["id"] == request.path_params["note_id"]), None)
            if note is None:
                raise RestError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
            return WpResponse(note_document(order.id, note, self.sb.root_url))

    # --- products -----------------------------------------------------------------------------------------
    def _products(self, skus: list[str]) -> list[dict[str, Any]]:
        root, out = self.sb.root_url, []
        for item in self.sb.catalogue.values():
            stock = self.sb.stock_of(item)
            if not is_variation(item):
                out.append(product_document(item, stock, root, "simple"))
            elif skus:  # a SKU filter also searches variations
                out.append(product_document(item, stock, root, "variation"))
            else:
                out.append(product_document(item, stock, root, "variable"))
        if skus:
            out = [p for p in out if p["sku"] in skus]
        return sorted(out, key=lambda p: (p["date_created_gmt"], p["id"]), reverse=True)

    async def list_products(self, request: Request) -> Response:
        query = php_query(request.url.query)
        lq = parse_list({k: v for k, v in query.items() if k not in {"status", "after", "before"}})
        sku = _scalar(query, "sku") or ""
        skus = [*sku.split(","), sku] if sku else []
        with self.sb.lock:
            products = self._products(skus)
        page = products[lq.start : lq.start + lq.per_page]
        return paginated(page, len(products), lq, query, f"{self.sb.root_url}{V3}/products")

    async def get_product(self, request: Request) -> Response:
        ident = request.path_params["product_id"]
        with self.sb.lock:
            for item in self.sb.catalogue.values():
                if item.product_id == ident:
                    kind = "variable" if is_variation(item) else "simple"
                elif is_variation(item) and item.variant_id == ident:
                    kind = "variation"
                else:
                    continue
                return WpResponse(product_document(item, self.sb.stock_of(item), self.sb.root_url, kind))
        raise RestError("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)

    async def list_variations(self, request: Request) -> Response:
        query = php_query(request.url.query)
        lq = parse_list({k: v for k, v in query.items() if k not in {"status", "after", "before"}})
        parent = request.path_params["product_id"]
        with self.sb.lock:
            items = [i for i in self.sb.catalogue.values() if i.product_id == parent and is_variation(i)]
            docs = [variation_document(i, self.sb.stock_of(i), self.sb.root_url) for i in items]
        base = f"{self.sb.root_url}{V3}/products/{parent}/variations"
        return paginated(docs[lq.start : lq.start + lq.per_page], len(docs), lq, query, base)

    async def get_variation(self, request: Request) -> Response:
        parent, ident = request.path_params["product_id"], request.path_params["variation_id"]
        with self.sb.lock:
            for item in self.sb.catalogue.values():
                if is_variation(item) and (item.product_id, item.variant_id) == (parent, ident):
                    return WpResponse(variation_document(item, self.sb.stock_of(item), self.sb.root_url))
        raise RestError("woocommerce_rest_product_variation_invalid_id", "Invalid ID.", 404)

    # --- webhooks -----------------------------------------------------------------------------------------
    def _webhook_doc(self, ident: int) -> dict[str, Any]:
        sub = self.sb.subscriptions.get(ident)
        if sub is None:
            raise RestError("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
        return webhook_document(sub.id, sub.topic, sub.extra, sub.address, self.sb.root_url)

    async def list_webhooks(self, request: Request) -> Response:
        query = php_query(request.url.query)
        status = _enum(query, "status", ("all", "active", "paused", "disabled"), "all")
        lq = parse_list({k: v for k, v in query.items() if k not in {"status", "after", "before"}})
        with self.sb.lock:
            docs = [self._webhook_doc(i) for i in sorted(self.sb.subscriptions, reverse=True)]
        docs = [d for d in docs if status in ("all", d["status"])]
        page = docs[lq.start : lq.start + lq.per_page]
        return paginated(page, len(docs), lq, query, f"{self.sb.root_url}{V3}/webhooks")

    async def get_webhook(self, request: Request) -> Response:
        with self.sb.lock:
            return WpResponse(self._webhook_doc(request.path_params["webhook_id"]))

    async def create_webhook(self, request: Request) -> Response:
        params, _ = await read_body(request)
        topic, url = str(params.get("topic") or "").lower(), str(params.get("delivery_url") or "")
        _check_webhook(topic, url, required=True)
        name = str(params.get("name") or f"Webhook created on {self.sb.now():%b %d, %Y @ %I:%M %p}")
        sub = self.sb.subscribe(topic, url, str(params.get("secret") or ""), name=name)
        with self.sb.lock:
            doc = self._webhook_doc(sub.id)
        await run_in_threadpool(self.sb.ping, sub)
        response = WpResponse(doc, 201)
        response.headers["Location"] = f"{self.sb.root_url}{V3}/webhooks/{sub.id}"
        return response

    async def update_webhook(self, request: Request) -> Response:
        params, _ = await read_body(request)
        ident = request.path_params["webhook_id"]
        with self.sb.lock:
            sub = self.sb.subscriptions.get(ident)
            if sub is None:
                raise RestError("woocommerce_rest_webhook_invalid_id", "ID is invalid.", 400)
            topic, url = str(params.get("topic") or "").lower(), str(params.get("delivery_url") or "")
            _check_webhook(topic, url, required=False)
            status = str(params.get("status") or "")
            if status and status not in ("active", "paused", "disabled"):
                raise RestError("woocommerce_rest_webhook_invalid_status", "Webhook status must be valid.", 400)
            sub.topic, sub.address = topic or sub.topic, url or sub.address
            sub.secret = str(params.get("secret") or sub.secret)
            sub.extra["name"] = str(params.get("name") or sub.extra.get("name", ""))
            if status:
                self.sb.set_webhook_status(sub, status)
            sub.extra["modified"] = self.sb.now()
            return WpResponse(self._webhook_doc(ident))

    async def delete_webhook(self, request: Request) -> Response:
        params, _ = await read_body(request)
        if not truthy(params.get("force", False), "force"):
            raise RestError("woocommerce_rest_trash_not_supported", "Webhooks do not support trashing.", 501)
        with self.sb.lock:
            doc = self._webhook_doc(request.path_params["webhook_id"])
            self.sb.subscriptions[doc["id"]].active = False
            del self.sb.subscriptions[doc["id"]]
        return WpResponse(doc)


def _check_webhook(topic: str, url: str, *, required: bool) -> None:
    if (required or topic) and not valid_topic(topic):
        message = "Webhook topic is required and must be valid." if required else "Webhook topic must be valid."
        raise RestError("woocommerce_rest_webhook_invalid_topic", message, 400)
    if (required or url) and not re.match(r"^https?://[^\s/]+", url):
        message = "Webhook delivery URL must be a valid URL starting with http:// or https://."
        raise RestError("woocommerce_rest_webhook_invalid_delivery_url", message, 400)


def _guarded(endpoint: Callable[[Request], Any]) -> Callable[[Request], Any]:
    """Turn a `RestError` raised by a handler into WordPress's error answer."""

    async def handler(request: Request) -> Response:
        try:
            response: Response = await endpoint(request)
        except RestError as exc:
            return exc.response()
        return response

    handler.__name__ = getattr(endpoint, "__name__", "handler")
    return handler
