"""BigCommerce: the store's orders over the V2 REST API, its webhooks over the V3 hooks API, and webhook receipt.

Why these endpoints: orders exist only in V2 (`/v2/orders`); webhooks and stock per location only in V3
(`/v3/hooks`, `/v3/inventory`: see `bigcommerce_stock`). One `httpx.Client` per store (keep-alive) sends
`X-Auth-Token` (plus `X-Auth-Client` when the store has a `client_id`) and `Accept: application/json` to
`{base_url}/v2/...` and `{base_url}/v3/...`.

The bundle handed to `connector.mapping.bigcommerce`: the V2 order with `products` (order products),
`shipping_addresses` and `consignments` (object structure) in place of their resource links. The listing asks for
`include=consignments,consignments.line_items,fees&consignment_structure=object`, which embeds every order
product inside its consignment, so a page of 250 orders costs one call:

* `products` are the consignments' line items (pickups, shipping, downloads, gift certificates), by id. When
  they are links rather than products, or do not add up to the order's `items_total`, they are fetched from
  `/v2/orders/{id}/products` instead (one more call for that order).
* `shipping_addresses` are the shipping consignments (a shipping consignment is the order's shipping address
  with its line items), without `line_items` and `shipping_quotes`, plus `order_id`.
* When the platform ignored the include, `/v2/orders/{id}/consignments` is fetched (one more call).

Polling: `min_date_modified` / `max_date_modified` (ISO-8601, whole seconds), `sort=date_modified:asc`,
`limit=250`. Pages are walked by the modification date (keyset), not by page number alone: after each full
page the next request starts one second before the page's last `date_modified` (dates have whole seconds, and
`min_date_modified` may be inclusive or not), and versions already handed out are dropped. An order modified
during the walk therefore moves behind the walk instead of shifting an unread order onto a page already read.
Only when a whole page shares that second does `page` go up. An empty page is `204 No Content` or `[]`.
`OrderPage.total` comes from one `GET /v2/orders/count` per run. Archived orders (`is_deleted`) are not listed
and `fetch_order` treats them as gone.

Rate budget: the platform's quota is per 30-second window (150 on Standard/Plus, 450 on Pro), shared by every
app of the store. `budget()` spaces calls at 150 / 30 s; every answer's `X-Rate-Limit-Requests-Quota` and
`X-Rate-Limit-Time-Window-Ms` retune the spacing to the store's plan, and when `X-Rate-Limit-Requests-Left` is
down to 1 the budget pauses for `X-Rate-Limit-Time-Reset-Ms`. A 429 raises `RateLimited` with that reset time;
without the headers (platform-wide load) `call` backs off exponentially.

Errors: `classify_status` decides, except that a 404 outside `/v2/orders/{id}` means the store itself is not
there (`FatalError`) and `fetch_order` takes a 404 as "gone" (None). Timeouts and connection failures are
`RetriableError`; no httpx exception leaves this module, and no message carries the token.

Webhooks are thin (`{scope, store_id, data: {type, id}, hash, created_at, producer}`), signed per Standard
Webhooks with the app's client secret (the store's `webhook_secret`). The dedupe key is the `webhook-id` header
(stable across retries of one event), else `scope:hash:created_at`: BigCommerce's own samples show one `hash`
for created, updated and archived events of an order, so the hash alone could drop genuine later events.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx
import structlog

from connector.mapping.statuses import Action
from connector.platforms import bigcommerce_stock as stock
from connector.platforms.base import (
    OrderPage,
    PlatformWrite,
    RateBudget,
    StockCount,
    WebhookDelivery,
    classify_status,
    parse_retry_after,
)
from connector.platforms.rest import JsonApi
from connector.platforms.signatures import check_standard_webhooks, webhook_json
from connector.runtime.config import StoreConfig
from connector.runtime.errors import ConfigError, FatalError, RetriableError, SkippableError, WebhookRejected

log = structlog.get_logger(__name__)

PLATFORM = "bigcommerce"
QUOTA, WINDOW_S = 150, 30.0  # Standard / Plus plans; the headers retune it per store
PAGE_LIMIT = 250
ORDER_SCOPES = ("store/order/created", "store/order/updated", "store/order/archived", "store/order/statusUpdated")
ARCHIVED = "store/order/archived"
EMBED = {"include": "consignments,consignments.line_items,fees", "consignment_structure": "object"}
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
ADDRESS_DROPPED = ("line_items", "shipping_quotes")
_ORDER_ID = re.compile(r"[0-9]{1,20}")
_ORDER_PATH = re.compile(r"/v2/orders/[0-9]+(/|$)")  # a 404 below it is about one order, elsewhere the store
_RATE = ("requests-quota", "time-window-ms", "requests-left", "time-reset-ms")  # X-Rate-Limit-* on every answer


def budget() -> RateBudget:
    """A fresh budget at BigCommerce's sustained rate: 150 calls per 30-second window, 5 per second."""
    return RateBudget(min_interval=WINDOW_S / QUOTA)


# --- webhooks ---------------------------------------------------------------------------------------------------


def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Standard Webhooks over the raw body, keyed with the app's client secret; ±5 minutes."""
    check_standard_webhooks(headers, body, secret)


def parse_webhook(headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
    """What a (verified) delivery is about; thin, so `payload` is None and the client fetches the order."""
    event = webhook_json(body)
    scope = event.get("scope")
    data = event.get("data")
    if not isinstance(scope, str) or not scope:
        raise WebhookRejected(400, "the webhook body has no scope")
    if not isinstance(data, Mapping):
        raise WebhookRejected(400, f"the {scope} webhook has no data object")
    return WebhookDelivery(
        delivery_id=_delivery_id(headers, event, scope),
        topic=scope,
        external_id=_event_order_id(scope, data),
        deleted=scope == ARCHIVED,
    )


def _delivery_id(headers: Mapping[str, str], event: Mapping[str, Any], scope: str) -> str:
    """The Standard Webhooks message id; without it, the event's scope, hash and time."""
    message_id = headers.get("webhook-id", "").strip()
    if message_id:
        return message_id
    digest = event.get("hash")
    if not isinstance(digest, str) or not digest:
        raise WebhookRejected(400, "the webhook has neither a webhook-id header nor a hash")
    return f"{scope}:{digest}:{event.get('created_at', '')}"


def _event_order_id(scope: str, data: Mapping[str, Any]) -> str:
    """The order an event is about: `data.id` of order events, `data.orderId` of shipment events."""
    kind = data.get("type")
    value = data.get("orderId") if kind == "shipment" else data.get("id") if kind == "order" else None
    if isinstance(value, bool) or not isinstance(value, int | str) or not _ORDER_ID.fullmatch(str(value)):
        raise WebhookRejected(400, f"the {scope} webhook names no order id")
    return str(value)


# --- the client ---------------------------------------------------------------------------------------------------


class BigCommerceClient:
    """One store's V2 orders and V3 hooks over one keep-alive `httpx.Client`, every call under its budget."""

    page_limit = PAGE_LIMIT

    def __init__(self, store: StoreConfig, budget: RateBudget, *, transport: httpx.BaseTransport | None = None):
        self.store = store
        self.budget = budget
        self._context = {"store": store.name, "platform": PLATFORM}
        self._http = httpx.Client(
            base_url=store.base_url, headers=_auth_headers(store), timeout=TIMEOUT, transport=transport
        )
        self._api = JsonApi(self._http, budget, self._context, observe=self._observe, refuse=self._refusal)

    # --- the Platform protocol ------------------------------------------------------------------------------
    def iter_order_pages(self, since: datetime | None, until: datetime | None = None) -> Iterator[OrderPage]:
        filters = _date_filters(since, until)
        total = self._count(filters)
        for number, rows in enumerate(self._walk(since, until), 1):
            log.info("orders_page_fetched", store=self.store.name, page=number, orders=len(rows), total=total)
            yield OrderPage([self._bundle(row) for row in rows], total=total)

    def fetch_order(self, external_id: str) -> Mapping[str, Any] | None:
        if not _ORDER_ID.fullmatch(external_id):
            raise SkippableError(
                f"{external_id!r} is not a BigCommerce order id", external_id=external_id, **self._context
            )
        order = self._get(f"/v2/orders/{external_id}", EMBED, missing_ok=True)
        if not isinstance(order, Mapping) or order.get("is_deleted") is True:
            return None  # gone, or archived (the control panel's "delete"; the archived webhook removed it)
        return self._bundle(order)

    def complete(self, delivery: WebhookDelivery) -> Mapping[str, Any] | None:
        payload = delivery.payload
        if payload is not None and isinstance(payload.get("products"), list):
            return payload
        return self.fetch_order(delivery.external_id)

    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        """`set_status` (`PUT /v2/orders/{id}` with only `status_id`, which keeps discounts intact) or
        `create_shipment` (`POST /v2/orders/{id}/shipments` for this location's items, with tracking).

        BigCommerce has no idempotency key: the order (or its shipments) is read first, and a status already set or
        a shipment already holding these items is answered `{"already": True}` instead of being sent again.
        """
        context = {**self._context, "external_id": write.external_id}
        if not _ORDER_ID.fullmatch(write.external_id):
            raise SkippableError(f"{write.external_id!r} is not a BigCommerce order id", **context)
        if write.action == Action.SET_STATUS:
            return self._set_status(write, context)
        if write.action == Action.CREATE_SHIPMENT:
            return self._create_shipment(write, context)
        raise SkippableError(f"BigCommerce cannot {write.action}", **context)

    def _set_status(self, write: PlatformWrite, context: Mapping[str, str]) -> dict[str, Any]:
        if not write.target.isdigit():
            raise SkippableError(f"BigCommerce status ids are numbers, not {write.target!r}", **context)
        order = self._get(f"/v2/orders/{write.external_id}", missing_ok=True)
        if not isinstance(order, Mapping):
            raise SkippableError(f"order {write.external_id} no longer exists on BigCommerce", **context)
        if str(order.get("status_id")) == write.target:
            return {"already": True, "id": order.get("id"), "status_id": order.get("status_id")}
        done = self._api.send("PUT", f"/v2/orders/{write.external_id}", body={"status_id": int(write.target)})
        answer = done if isinstance(done, Mapping) else {}
        return {key: answer.get(key) for key in ("id", "status_id", "status", "date_modified")}

    def _create_shipment(self, write: PlatformWrite, context: Mapping[str, str]) -> dict[str, Any]:
        order_id = write.external_id
        products = self._products(order_id)
        items = _shipment_items(products, write.lines)
        if not items:
            raise SkippableError(f"none of {dict(write.lines)} are lines of order {order_id}", **context)
        shipments = _records(self._get(f"/v2/orders/{order_id}/shipments"))
        wanted = {(i["order_product_id"], i["quantity"]) for i in items}
        for shipment in shipments:
            had = {(i.get("order_product_id"), i.get("quantity")) for i in _records(shipment.get("items"))}
            if wanted <= had:
                return {"already": True, "shipment_id": shipment.get("id")}
        address_id = next((p.get("order_address_id") for p in products if p.get("order_address_id")), None)
        body = {
            "order_address_id": address_id,
            "items": items,
            "tracking_number": write.tracking.get("number", ""),
            "tracking_carrier": write.tracking.get("carrier", "").lower(),
            "tracking_link": write.tracking.get("url", ""),
        }
        done = self._api.send("POST", f"/v2/orders/{order_id}/shipments", body=body)
        answer = done if isinstance(done, Mapping) else {}
        return {key: answer.get(key) for key in ("id", "order_id", "tracking_number", "date_created")}

    def register_webhooks(self, address: str) -> list[str]:
        hooks = list(self._hooks())
        described = []
        for scope in ORDER_SCOPES:
            mine = [h for h in hooks if h.get("scope") == scope and h.get("destination") == address]
            hook, what = self._ensure_hook(scope, address, mine[0] if mine else None)
            described.append(f"{scope} -> {address} (hook {hook.get('id')}, {what})")
        return described

    def read_stock(self, location_ids: Mapping[str, str]) -> Iterator[StockCount]:
        """`total_inventory_onhand` of every item at the configured locations, page by page (`bigcommerce_stock`);
        a location the store does not have is a configuration error, not an empty count."""
        names = stock.location_names(location_ids)
        params = {"location_id:in": stock.id_filter(names), "limit": str(self.page_limit)}
        missing = stock.missing_location(self._get("/v3/inventory/locations", params), names)
        if missing is not None:
            name, number = missing
            raise ConfigError(f"locations.{name}.platform_ids.bigcommerce", f"BigCommerce has no location {number}")
        page, pages = 1, 1
        while page <= pages:
            answer = self._get("/v3/inventory/items", {**params, "page": str(page)})
            counts = list(stock.stock_counts(answer, names, **self._context))
            log.info("stock_page_fetched", store=self.store.name, page=page, counts=len(counts))
            yield from counts
            page, pages = page + 1, _total_pages(answer)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> BigCommerceClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- orders -----------------------------------------------------------------------------------------------
    def _count(self, filters: Mapping[str, str]) -> int | None:
        counted = self._get("/v2/orders/count", filters)
        total = counted.get("count") if isinstance(counted, Mapping) else None
        return total if isinstance(total, int) else None

    def _walk(self, since: datetime | None, until: datetime | None) -> Iterator[list[Mapping[str, Any]]]:
        """Pages of order rows, oldest change first, each version of an order once (see the module docstring)."""
        lower, page = _whole_second(since), 1
        seen: dict[tuple[str, str], datetime | None] = {}
        while True:
            rows = self._order_rows(lower, until, page)
            fresh = [row for row in rows if _version(row) not in seen]
            if fresh:
                yield fresh
            if len(rows) < self.page_limit:
                return
            seen.update((_version(row), _modified(row)) for row in rows)
            lower, page, seen = _next_window(rows, lower, page, seen)

    def _order_rows(self, lower: datetime | None, until: datetime | None, page: int) -> list[Mapping[str, Any]]:
        params = {**_date_filters(lower, until), **EMBED}
        params.update(sort="date_modified:asc", limit=str(self.page_limit), page=str(page))
        return _rows(self._get("/v2/orders", params), "orders")

    def _bundle(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """The order with `products`, `shipping_addresses` and `consignments` attached (the mapper's input)."""
        order_id = str(order.get("id", ""))
        consignments = order.get("consignments")
        if not isinstance(consignments, Mapping):
            consignments = self._consignments(order_id)
        products = _consignment_products(consignments)
        if products is None or not _adds_up(order, products):
            log.info("order_products_fetched", store=self.store.name, order=order_id)
            products = self._products(order_id)
        addresses = [_address(shipping, order.get("id")) for shipping in _records(consignments.get("shipping"))]
        return {**order, "products": products, "shipping_addresses": addresses, "consignments": consignments}

    def _consignments(self, order_id: str) -> Mapping[str, Any]:
        found = self._get(f"/v2/orders/{order_id}/consignments", {"include": "consignments.line_items"})
        if not isinstance(found, Mapping):
            raise SkippableError(f"order {order_id} has no consignments object", external_id=order_id, **self._context)
        return found

    def _products(self, order_id: str) -> list[Mapping[str, Any]]:
        products: list[Mapping[str, Any]] = []
        page = 1
        while True:
            params = {"limit": str(self.page_limit), "page": str(page)}
            rows = _rows(self._get(f"/v2/orders/{order_id}/products", params), "order products")
            products += rows
            if len(rows) < self.page_limit:
                return products
            page += 1

    # --- hooks ------------------------------------------------------------------------------------------------
    def _hooks(self) -> Iterator[Mapping[str, Any]]:
        page = 1
        while True:
            answer = self._get("/v3/hooks", {"limit": str(self.page_limit), "page": str(page)})
            yield from _records(answer.get("data") if isinstance(answer, Mapping) else None)
            if page >= _total_pages(answer):
                return
            page += 1

    def _ensure_hook(
        self, scope: str, address: str, existing: Mapping[str, Any] | None
    ) -> tuple[Mapping[str, Any], str]:
        """The hook for `scope` and `address`: kept when active, reactivated when not, else created."""
        if existing is not None and existing.get("is_active"):
            return existing, "kept"
        if existing is not None:
            answer = self._api.send("PUT", f"/v3/hooks/{existing.get('id')}", body={"is_active": True})
            return _data(answer), "reactivated"
        body = {"scope": scope, "destination": address, "is_active": True}
        return _data(self._api.send("POST", "/v3/hooks", body=body)), "created"

    # --- HTTP -------------------------------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, str] | None = None, *, missing_ok: bool = False) -> Any:
        return self._api.send("GET", path, params=params, missing_ok=missing_ok)

    def _observe(self, response: httpx.Response) -> None:
        """Learn the store's plan from the rate-limit headers; pause before the platform would refuse."""
        quota, window_ms, left, reset_ms = (_header_int(response.headers, f"x-rate-limit-{name}") for name in _RATE)
        if quota and window_ms:
            self.budget.min_interval = window_ms / 1000 / quota
        if left is not None and left <= 1 and reset_ms and response.status_code != 429:
            log.info("rate_budget_paused", store=self.store.name, requests_left=left, wait_s=reset_ms / 1000)
            self.budget.pause(reset_ms / 1000)

    def _refusal(self, response: httpx.Response, method: str, path: str) -> Exception:
        """The error for a refusal; a 429 waits for the window's reset (a `Retry-After` only if that is missing)."""
        reset_ms = _header_int(response.headers, "x-rate-limit-time-reset-ms")
        retry_after = parse_retry_after(response.headers.get("retry-after")) if reset_ms is None else reset_ms / 1000
        message = f"{method} {path}: {_error_message(response)}"
        if response.status_code == 404 and not _ORDER_PATH.match(path):
            return FatalError(f"{message} (is the store's base_url right?)", **self._context)
        return classify_status(response.status_code, message, retry_after=retry_after, **self._context)


# --- helpers without state ------------------------------------------------------------------------------------------


def _auth_headers(store: StoreConfig) -> dict[str, str]:
    headers = {"X-Auth-Token": store.credentials.get("access_token", ""), "Accept": "application/json"}
    if store.credentials.get("client_id"):
        headers["X-Auth-Client"] = store.credentials["client_id"]
    return headers


def _whole_second(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def _date_filters(since: datetime | None, until: datetime | None) -> dict[str, str]:
    """`min_date_modified` / `max_date_modified` in ISO-8601, whole seconds (BigCommerce dates have no fraction)."""
    filters = {}
    for name, moment in (("min_date_modified", since), ("max_date_modified", until)):
        second = _whole_second(moment)
        if second is not None:
            filters[name] = second.isoformat()
    return filters


def _modified(row: Mapping[str, Any]) -> datetime | None:
    value = row.get("date_modified") or row.get("date_created")
    try:
        return parsedate_to_datetime(value) if isinstance(value, str) else None
    except (TypeError, ValueError):
        return None


def _version(row: Mapping[str, Any]) -> tuple[str, str]:
    return str(row.get("id")), str(row.get("date_modified"))


def _next_window(
    rows: list[Mapping[str, Any]],
    lower: datetime | None,
    page: int,
    seen: dict[tuple[str, str], datetime | None],
) -> tuple[datetime | None, int, dict[tuple[str, str], datetime | None]]:
    """Where the next request starts: one second before the last row's change, or the next page of that second."""
    last = _modified(rows[-1])
    boundary = last - timedelta(seconds=1) if last is not None else None
    if boundary is None or (lower is not None and boundary <= lower):
        return lower, page + 1, seen
    kept: dict[tuple[str, str], datetime | None] = {
        version: moment for version, moment in seen.items() if moment is not None and moment >= boundary
    }
    return boundary, 1, kept


def _rows(answer: Any, what: str) -> list[Mapping[str, Any]]:
    """A V2 collection page: a list, or nothing at all (204 No Content)."""
    if answer is None:
        return []
    if not isinstance(answer, list):
        raise RetriableError(f"the {what} page is not a list")
    return _records(answer)


def _records(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _data(answer: Any) -> Mapping[str, Any]:
    data = answer.get("data") if isinstance(answer, Mapping) else None
    return data if isinstance(data, Mapping) else {}


def _total_pages(answer: Any) -> int:
    """`meta.pagination.total_pages` of a V3 collection (1 when it does not say)."""
    meta = answer.get("meta") if isinstance(answer, Mapping) else None
    pagination = meta.get("pagination") if isinstance(meta, Mapping) else None
    pages = pagination.get("total_pages") if isinstance(pagination, Mapping) else None
    return pages if isinstance(pages, int) else 1


def _consignment_groups(consignments: Mapping[str, Any]) -> Iterator[Any]:
    """Every consignment of every kind; a kind of unknown shape yields None (so the products are fetched)."""
    email = consignments.get("email")
    kinds = [consignments.get(key) for key in ("pickups", "shipping", "downloads")]
    kinds.append(email.get("gift_certificates") if isinstance(email, Mapping) else email)
    for groups in kinds:
        if isinstance(groups, list):
            yield from groups
        elif groups is not None:
            yield None


def _consignment_products(consignments: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The order products embedded in the consignments, by id; None when any line item is only a link."""
    products: dict[str, Mapping[str, Any]] = {}
    for group in _consignment_groups(consignments):
        items = group.get("line_items") if isinstance(group, Mapping) else None
        items = [items] if isinstance(items, Mapping) else items
        if not isinstance(items, list):
            return None
        for item in items:
            if not isinstance(item, Mapping) or "quantity" not in item or "id" not in item:
                return None
            products[str(item["id"])] = item
    return [products[key] for key in sorted(products, key=_id_order)]


def _id_order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (0, key)


def _adds_up(order: Mapping[str, Any], products: list[Mapping[str, Any]]) -> bool:
    """Whether the products account for every item of the order (`items_total`), when the order says."""
    expected = order.get("items_total")
    if not isinstance(expected, int) or isinstance(expected, bool):
        return bool(products)
    return sum(_quantity(p) for p in products) == expected


def _quantity(product: Mapping[str, Any]) -> int:
    value = product.get("quantity")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else 0


def _address(shipping: Mapping[str, Any], order_id: Any) -> dict[str, Any]:
    """A shipping consignment as an order shipping address (same id and address fields)."""
    address = {key: value for key, value in shipping.items() if key not in ADDRESS_DROPPED}
    return {**address, "order_id": order_id}


def _shipment_items(products: list[Mapping[str, Any]], lines: Mapping[str, int]) -> list[dict[str, int]]:
    """Shipment items for `{sku: quantity}`: each SKU's order products, up to what is left to ship on each."""
    items = []
    for sku, wanted in lines.items():
        left = wanted
        for product in products:
            if product.get("sku") != sku or left <= 0:
                continue
            open_units = _quantity(product) - int(product.get("quantity_shipped") or 0)
            take = min(left, max(open_units, 0))
            if take:
                items.append({"order_product_id": int(product["id"]), "quantity": take})
                left -= take
    return items


def _header_int(headers: httpx.Headers, name: str) -> int | None:
    value = headers.get(name, "").strip()
    try:
        return int(float(value)) if value else None
    except (ValueError, OverflowError):  # not a number, or inf / nan
        return None


def _error_message(response: httpx.Response) -> str:
    """The platform's own reason: V2 answers `[{status, message}]`, V3 `{status, title, errors}`."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no reason given"
    if isinstance(body, list):
        parts = [str(item.get("message", "")) for item in body if isinstance(item, Mapping)]
        return "; ".join(p for p in parts if p)[:300] or response.reason_phrase
    if isinstance(body, Mapping):
        errors = body.get("errors")
        detail = "; ".join(f"{k}: {v}" for k, v in errors.items()) if isinstance(errors, Mapping) else ""
        return " - ".join(p for p in (str(body.get("title", "")), detail) if p)[:300] or response.reason_phrase
    return response.reason_phrase


__all__ = ["BigCommerceClient", "budget", "parse_webhook", "verify_webhook"]
