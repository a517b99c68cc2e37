"""Lightspeed eCom (C-Series): a shop's orders over its REST API, webhook registration, and webhook receipt.

Plain REST, the only API the platform has: one keep-alive `httpx.Client` per store with HTTP Basic
`api_key:api_secret` against `{base_url}/...json`, where `base_url` carries the language segment
(`https://api.webshopapp.com/nl`). Endpoints and why:

* `orders.json` and `orders/count.json` (`updated_at_min` / `updated_at_max`, `since_id`, `limit=250`): polling.
  The list only links each order's products, so every polled order costs one more call,
  `orders/{id}/products.json` (`{"orderProducts": [...]}`); the bundle handed to `connector.mapping.lightspeed` is
  the order with `products` replaced by that list. `orders/{id}.json` (`{"order": {...}}`) for `fetch_order`.
* `webhooks.json` (GET, POST `{"webhook": {...}}`) and `webhooks/{id}.json` (PUT) for `register_webhooks`.
* `orders/{id}.json` (GET, then PUT `{"order": {"status", "doNotify"}}`), `shipments.json?order={id}` and
  `shipments/{id}.json` (PUT `{"shipment": {"trackingCode", "doNotifyTrackingCode"}}`) for `apply_write`.

Pagination: the API lists in id order (no source shows a sort parameter), so "oldest change first" is built from
time windows. `orders/count.json` counts the orders changed in `[since, until]` (that count is `OrderPage.total`);
a window holding more than one page (250) is halved by its modification time, and halved again, until each
window fits one page (or spans less than two seconds: dates have whole seconds). Windows are read oldest
first, each page sorted by `(updatedAt, id)`, so every page is newer than the ones before it and the poll
cursor never passes an unread order. Halves share their middle second (whether the platform's `_max` bound is
inclusive is undocumented) and an order version `(id, updatedAt)` is handed out once per run. A window that
still overflows (orders changing during the walk, or more than 250 in one second) is paged with `since_id`,
which neither skips nor repeats when orders change or disappear mid-walk. Cost of a backfill of N orders:
N product calls plus about 2 % for listing and counting (10 000 orders: 63 list and 125 count calls).
Webhooks cost nothing: they embed the products.

Rate budget: 300 calls per 5 minutes, 3 000 per hour, 12 000 per day per API key (Lightspeed staff, community
discussion 1360) and 20 per second. `budget()` spaces calls at 1 per second, the 5-minute window's sustained
rate. Every answer carries `X-RateLimit-Remaining` and `X-RateLimit-Reset` as `5min/hour/day` triples: when a
window is down to 1 call the budget pauses until that window resets (this is how the hour and day windows are
kept). A 429 raises `RateLimited` with `Retry-After` when sent, else the reset of the exhausted window (1 s
when none is: the per-second limit); the budget holds every call of the store back until then and `call`
retries.

Webhooks: the body is the whole order, wrapped (`{"order": {...}}`) with its products embedded, encoded as PHP's
`json_encode` does (`\\/`), and signed `X-Signature` = hex md5(raw body + API secret): verified over the raw
bytes. Lightspeed sends no topic header; each subscription's address carries `?topic=orders/<action>`, which the
webhook endpoint passes on as the `x-connector-topic` header. Lightspeed sends no event id either: the dedupe
key is topic, order id, `updatedAt` and a digest of the body (a retry resends the same bytes; two changes within
one second differ in their bodies).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import structlog

from connector.mapping.statuses import Action
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
from connector.platforms.signatures import check_md5_suffix, webhook_json
from connector.runtime.config import StoreConfig
from connector.runtime.errors import RetriableError, SkippableError, WebhookRejected

log = structlog.get_logger(__name__)

PLATFORM = "lightspeed"
QUOTA, WINDOW_S = 300, 300.0  # the 5-minute window; the hour and day windows are kept through the headers
PAGE_LIMIT = 250
ORDER_ACTIONS = ("created", "updated", "deleted", "paid", "shipped")
DEFAULT_TOPIC = "orders/updated"
DELETED_TOPIC = "orders/deleted"
TOPIC_HEADER = "x-connector-topic"
SIGNATURE_HEADER = "x-signature"
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
FLOOR = datetime(2000, 1, 1, tzinfo=UTC)  # where halving an open-ended window starts when no order says
RESET_MARGIN_S = 1.0  # resets are whole seconds: wait a little past them
PER_SECOND_WAIT_S = 1.0  # a 429 with room left in every window came from the 20-per-second limit

Window = tuple[datetime | None, datetime | None]


def budget() -> RateBudget:
    """A fresh budget at Lightspeed's sustained rate: 300 calls per 5 minutes, one a second."""
    return RateBudget(min_interval=WINDOW_S / QUOTA)


# --- webhooks ---------------------------------------------------------------------------------------------------


def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """`X-Signature` = hex md5(raw body + API secret), compared in constant time."""
    check_md5_suffix(headers, body, secret, SIGNATURE_HEADER)


def parse_webhook(headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
    """What a (verified) delivery is about; its payload is the bundle when the products are embedded."""
    event = webhook_json(body)
    order = event.get("order")
    if not isinstance(order, Mapping):
        raise WebhookRejected(400, "the webhook body has no order object")
    external_id = _order_id(order)
    topic = headers.get(TOPIC_HEADER, "").strip() or DEFAULT_TOPIC
    updated = order.get("updatedAt")
    return WebhookDelivery(
        delivery_id=_delivery_id(topic, external_id, updated, body),
        topic=topic,
        external_id=external_id,
        payload=event if _embedded_products(order) is not None else None,
        updated_at=_moment(updated),
        deleted=topic == DELETED_TOPIC,
    )


def _order_id(order: Mapping[str, Any]) -> str:
    value = order.get("id")
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise WebhookRejected(400, "the webhook's order has no id")
    return str(value)


def _delivery_id(topic: str, external_id: str, updated: Any, body: bytes) -> str:
    digest = hashlib.sha256(body).hexdigest()[:16]
    return f"{topic}:{external_id}:{updated if isinstance(updated, str) else ''}:{digest}"


def _embedded_products(order: Mapping[str, Any]) -> list[Any] | None:
    """The products a webhook embeds (`products.resource.embedded`), or a list already attached; else None."""
    products = order.get("products")
    if isinstance(products, list):
        return products
    resource = products.get("resource") if isinstance(products, Mapping) else None
    embedded = resource.get("embedded") if isinstance(resource, Mapping) else None
    return embedded if isinstance(embedded, list) else None


def _moment(value: Any) -> datetime | None:
    """An ISO-8601 date with offset (`2024-06-03T00:56:12+02:00`) in UTC; None when absent or unreadable."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- the client ---------------------------------------------------------------------------------------------------


class LightspeedClient:
    """One shop's orders and webhooks over one keep-alive `httpx.Client`, every call under its budget."""

    page_limit = PAGE_LIMIT  # orders per listing page (tests shrink it)

    def __init__(self, store: StoreConfig, budget: RateBudget, *, transport: httpx.BaseTransport | None = None):
        self.store = store
        self.budget = budget
        self._context = {"store": store.name, "platform": PLATFORM}
        auth = (store.credentials.get("api_key", ""), store.credentials.get("api_secret", ""))
        self._http = httpx.Client(
            base_url=store.base_url,
            auth=auth,
            headers={"Accept": "application/json"},
            timeout=TIMEOUT,
            transport=transport,
        )
        self._api = JsonApi(
            self._http, budget, self._context, observe=self._observe, refuse=self._refusal, check=self._hidden_error
        )

    # --- the Platform protocol ------------------------------------------------------------------------------
    def iter_order_pages(self, since: datetime | None, until: datetime | None = None) -> Iterator[OrderPage]:
        window = (_whole_second(since), _whole_second(until))
        total = self._count(window)
        for number, rows in enumerate(self._walk(window, total), 1):
            bundles: list[Mapping[str, Any]] = [bundle for bundle in map(self._bundle, rows) if bundle is not None]
            log.info("orders_page_fetched", store=self.store.name, page=number, orders=len(bundles), total=total)
            yield OrderPage(bundles, total=total)

    def fetch_order(self, external_id: str) -> Mapping[str, Any] | None:
        if not external_id.isdigit():
            raise SkippableError(f"{external_id!r} is not a Lightspeed order id", **self._context)
        answer = self._get(f"/orders/{external_id}.json", missing_ok=True)
        order = answer.get("order") if isinstance(answer, Mapping) else None
        return self._bundle(order) if isinstance(order, Mapping) else None

    def complete(self, delivery: WebhookDelivery) -> Mapping[str, Any] | None:
        payload = delivery.payload
        order = payload.get("order", payload) if payload is not None else None
        if isinstance(order, Mapping) and _embedded_products(order) is not None:
            return payload
        return self.fetch_order(delivery.external_id)

    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        """Set the order's status (`PUT orders/{id}.json`), the tracking code on its shipment first when given.

        Lightspeed has no idempotency key: the order (and shipment) are read first and a value already there is not
        sent again (`{"already": True}`). Shipments cannot be created through the API, so only the order's own
        shipment takes a tracking code (`trackingCode`; the platform has no carrier or URL field).
        """
        context = {**self._context, "external_id": write.external_id}
        if write.action != Action.SET_STATUS:
            raise SkippableError(f"Lightspeed cannot {write.action}: only order statuses are written", **context)
        answer = (
            self._get(f"/orders/{write.external_id}.json", missing_ok=True) if write.external_id.isdigit() else None
        )
        order = _single(answer, "order")
        if not order:
            raise SkippableError(f"order {write.external_id} no longer exists on Lightspeed", **context)
        tracking = self._write_tracking(write) if write.tracking.get("number") else {}
        if order.get("status") == write.target:
            return {"already": True, "id": order.get("id"), "status": write.target, **tracking}
        body = {"order": {"status": write.target, "doNotify": write.notify}}
        done = _single(
            self._api.send("PUT", f"/orders/{write.external_id}.json", body=body, refuse=self._item_refusal), "order"
        )
        return {**{key: done.get(key) for key in ("id", "status", "updatedAt")}, **tracking}

    def register_webhooks(self, address: str) -> list[str]:
        hooks = list(self._webhooks())
        described = []
        for action in ORDER_ACTIONS:
            target = _topic_address(address, action)
            mine = [h for h in hooks if _is_hook_for(h, action, target)]
            hook, what = self._ensure_webhook(action, target, mine[0] if mine else None)
            described.append(f"orders/{action} -> {target} (webhook {hook.get('id')}, {what})")
        return described

    def read_stock(self, location_ids: Mapping[str, str]) -> Iterator[StockCount]:
        """Refused: Lightspeed eCom keeps one `stockLevel` per variant, not one per location."""
        raise SkippableError(
            "Lightspeed eCom has no per-location stock; import counts from the POS instead", **self._context
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LightspeedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- orders: windows, pages, bundles ------------------------------------------------------------------------
    def _count(self, window: Window) -> int:
        answer = self._get("/orders/count.json", _time_filters(window))
        count = answer.get("count") if isinstance(answer, Mapping) else None
        if isinstance(count, bool) or not isinstance(count, int):
            raise RetriableError("orders/count.json answered without a count", **self._context)
        return count

    def _walk(self, window: Window, count: int) -> Iterator[list[Mapping[str, Any]]]:
        """Pages of order rows, oldest change first, each order version once (see the module docstring)."""
        seen: dict[tuple[str, str], datetime | None] = {}
        pending: list[tuple[Window, int | None]] = [(window, count)]
        floor = self._oldest() if window[0] is None and count > self.page_limit else FLOOR
        while pending:
            part, known = pending.pop()
            size = self._count(part) if known is None else known
            middle = _middle(part, floor, datetime.now(UTC)) if size > self.page_limit else None
            if middle is not None:
                pending += [((middle, part[1]), None), ((part[0], middle), None)]  # the older half is read first
            elif size:
                seen = {key: at for key, at in seen.items() if part[0] is None or at is None or at >= part[0]}
                yield from self._window_pages(part, seen)

    def _oldest(self) -> datetime:
        """Where halving an open-ended backfill starts: the first order's date (orders are listed by id)."""
        params = {"limit": "1", "fields": "id,createdAt,updatedAt"}
        rows = _records(self._get("/orders.json", params), "orders")
        dates = [_moment(row.get(key)) for row in rows for key in ("createdAt", "updatedAt")]
        return min((date for date in dates if date is not None), default=FLOOR).replace(microsecond=0)

    def _window_pages(
        self, window: Window, seen: dict[tuple[str, str], datetime | None]
    ) -> Iterator[list[Mapping[str, Any]]]:
        """One window's rows by `since_id`, each page sorted by change; versions handed out before are dropped."""
        after = 0
        while True:
            rows = self._order_rows(window, after)
            fresh = sorted((row for row in rows if _version(row) not in seen), key=_change_order)
            seen.update((_version(row), _moment(row.get("updatedAt"))) for row in fresh)
            if fresh:
                yield fresh
            if len(rows) < self.page_limit:
                return
            after = max(_row_id(row) for row in rows)

    def _order_rows(self, window: Window, after: int) -> list[Mapping[str, Any]]:
        params = {**_time_filters(window), "limit": str(self.page_limit)}
        if after:
            params["since_id"] = str(after)
        return _records(self._get("/orders.json", params), "orders")

    def _bundle(self, order: Mapping[str, Any]) -> dict[str, Any] | None:
        """The order with its products attached (the mapper's input); None when it vanished meanwhile."""
        order_id = str(order.get("id", ""))
        products = self._products(order_id)
        if products is None:
            log.info("order_vanished", store=self.store.name, order=order_id)
            return None
        return {**order, "products": products}

    def _products(self, order_id: str) -> list[Mapping[str, Any]] | None:
        """`orders/{id}/products.json`, page by page (an order may have more lines than the default 50)."""
        products: dict[str, Mapping[str, Any]] = {}
        page = 1
        while True:
            params = {"limit": str(PAGE_LIMIT), "page": str(page)}
            answer = self._get(f"/orders/{order_id}/products.json", params, missing_ok=True)
            if answer is None:
                return None
            rows = _records(answer, "orderProducts")
            fresh = {str(row.get("id")): row for row in rows if str(row.get("id")) not in products}
            products.update(fresh)
            if len(rows) < PAGE_LIMIT or not fresh:
                return list(products.values())
            page += 1

    def _write_tracking(self, write: PlatformWrite) -> dict[str, Any]:
        """The tracking number on the order's shipment, unless it is there already."""
        number = write.tracking["number"]
        shipments = _records(self._get("/shipments.json", {"order": write.external_id}), "shipments")
        if not shipments:
            raise SkippableError(f"order {write.external_id} has no shipment to take a tracking code", **self._context)
        shipment = shipments[0]
        if shipment.get("trackingCode") == number:
            return {"shipment": shipment.get("id"), "trackingCode": number}
        body = {"shipment": {"trackingCode": number, "doNotifyTrackingCode": write.notify}}
        done = _single(
            self._api.send("PUT", f"/shipments/{shipment.get('id')}.json", body=body, refuse=self._item_refusal),
            "shipment",
        )
        return {"shipment": done.get("id"), "trackingCode": done.get("trackingCode")}

    # --- webhooks -----------------------------------------------------------------------------------------------
    def _webhooks(self) -> Iterator[Mapping[str, Any]]:
        page = 1
        while True:
            rows = _records(self._get("/webhooks.json", {"limit": str(PAGE_LIMIT), "page": str(page)}), "webhooks")
            yield from rows
            if len(rows) < PAGE_LIMIT:
                return
            page += 1

    def _ensure_webhook(
        self, action: str, address: str, existing: Mapping[str, Any] | None
    ) -> tuple[Mapping[str, Any], str]:
        """The subscription for `action` at `address`: kept when active JSON, else repaired, else created."""
        if existing is not None and existing.get("isActive") is True and existing.get("format") == "json":
            return existing, "kept"
        if existing is not None:
            answer = self._api.send("PUT", f"/webhooks/{existing.get('id')}.json", body=_webhook_body(action, address))
            return _single(answer, "webhook"), "reactivated"
        answer = self._api.send("POST", "/webhooks.json", body=_webhook_body(action, address))
        return _single(answer, "webhook"), "created"

    # --- HTTP ---------------------------------------------------------------------------------------------------
    def _get(self, path: str, params: Mapping[str, str] | None = None, *, missing_ok: bool = False) -> Any:
        return self._api.send("GET", path, params=params, missing_ok=missing_ok)

    def _observe(self, response: httpx.Response) -> None:
        """Pause the budget before the platform would refuse: a window down to its last call waits for its reset."""
        wait = _spent_window_reset(response.headers, threshold=1)
        if wait is not None and response.status_code != 429:
            log.info("rate_budget_paused", store=self.store.name, wait_s=wait)
            self.budget.pause(wait)

    def _refusal(self, response: httpx.Response, method: str, path: str) -> Exception:
        """The error for a refusal; a 429 waits for `Retry-After`, else the exhausted window's reset."""
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if response.status_code == 429 and retry_after is None:
            retry_after = _spent_window_reset(response.headers, threshold=0)
            if retry_after is None and _triple(response.headers, "x-ratelimit-remaining"):
                retry_after = PER_SECOND_WAIT_S
        message = f"{method} {path}: {_error_message(response)}"
        return classify_status(response.status_code, message, retry_after=retry_after, **self._context)

    def _item_refusal(self, response: httpx.Response, method: str, path: str) -> Exception:
        """A write's refusal: a 400 (a value this shop refuses, such as a status it does not have) concerns this one
        item, so it is skippable rather than the store's problem."""
        if response.status_code == 400:
            return SkippableError(f"{method} {path}: {_error_message(response)}", **self._context)
        return self._refusal(response, method, path)

    def _hidden_error(self, answer: Any, response: httpx.Response, what: str) -> None:
        if isinstance(answer, Mapping) and isinstance(answer.get("error"), Mapping):  # the PHP client's rule
            raise RetriableError(f"{what}: {_error_message(response)}", **self._context)


# --- helpers without state ------------------------------------------------------------------------------------------


def _whole_second(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def _time_filters(window: Window) -> dict[str, str]:
    """`updated_at_min` / `updated_at_max` in ISO-8601 UTC, whole seconds."""
    bounds = zip(("updated_at_min", "updated_at_max"), window, strict=True)
    return {name: moment.isoformat() for name, moment in bounds if moment is not None}


def _middle(window: Window, floor: datetime, now: datetime) -> datetime | None:
    """A whole second strictly inside the window, or None when it spans less than two seconds.

    An open start is taken as `floor` and an open end as `now`: only to place the cut, the halves stay open.
    """
    start, end = window[0] or floor, window[1] or max(now, floor)
    if end - start < timedelta(seconds=2):
        return None
    return (start + (end - start) / 2).replace(microsecond=0)


def _version(row: Mapping[str, Any]) -> tuple[str, str]:
    return str(row.get("id")), str(row.get("updatedAt"))


def _change_order(row: Mapping[str, Any]) -> tuple[datetime, int]:
    return _moment(row.get("updatedAt")) or FLOOR, _row_id(row)


def _row_id(row: Mapping[str, Any]) -> int:
    value = row.get("id")
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else 0


def _records(answer: Any, key: str) -> list[Mapping[str, Any]]:
    """The objects of an envelope such as `{"orders": [...]}`."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get(key), list):
        raise RetriableError(f"the answer has no {key!r} list")
    return [item for item in answer[key] if isinstance(item, Mapping)]


def _single(answer: Any, key: str) -> Mapping[str, Any]:
    item = answer.get(key) if isinstance(answer, Mapping) else None
    return item if isinstance(item, Mapping) else {}


def _topic_address(address: str, action: str) -> str:
    """The subscription address: Lightspeed sends no topic header, so the address says which action it is."""
    return f"{address}{'&' if '?' in address else '?'}topic=orders/{action}"


def _is_hook_for(hook: Mapping[str, Any], action: str, address: str) -> bool:
    return hook.get("itemGroup") == "orders" and hook.get("itemAction") == action and hook.get("address") == address


def _webhook_body(action: str, address: str) -> dict[str, Any]:
    fields = {"isActive": True, "itemGroup": "orders", "itemAction": action, "format": "json", "address": address}
    return {"webhook": fields}


def _triple(headers: httpx.Headers, name: str) -> list[float]:
    """A `5min/hour/day` header as numbers; empty when absent or unreadable."""
    try:
        return [float(part) for part in headers.get(name, "").split("/") if part.strip()]
    except ValueError:
        return []


def _spent_window_reset(headers: httpx.Headers, *, threshold: int) -> float | None:
    """Seconds until the latest reset among windows with at most `threshold` calls left; None when none is."""
    remaining, resets = _triple(headers, "x-ratelimit-remaining"), _triple(headers, "x-ratelimit-reset")
    spent = [reset for left, reset in zip(remaining, resets, strict=False) if left <= threshold]
    return max(spent) + RESET_MARGIN_S if spent else None


def _error_message(response: httpx.Response) -> str:
    """The platform's own reason: `{"error": {"message": ...}}`."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no reason given"
    error = body.get("error") if isinstance(body, Mapping) else None
    message = error.get("message") if isinstance(error, Mapping) else None
    return str(message)[:300] if message else response.reason_phrase or "no reason given"


__all__ = ["LightspeedClient", "budget", "parse_webhook", "verify_webhook"]
