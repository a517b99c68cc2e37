"""WooCommerce client: the REST API `wc/v3` through the official `woocommerce` SDK, and webhook checks.

What it is for: read a self-hosted WooCommerce store's orders (incremental poll and backfill), fetch one order,
and subscribe the daemon to the order webhooks. No business rule and no database here: the raw bundle handed to
`connector.mapping.woocommerce` is exactly the REST order document (`GET orders/{id}`), which is also what a
webhook delivers, so webhooks need no extra fetch.

Endpoints (WooCommerce core has REST only, no GraphQL):

    GET  orders?orderby=modified&order=asc&status=any&dates_are_gmt=true&per_page=100
             [&modified_after=…][&modified_before=…][&exclude=…]     polls and backfills
    GET  orders/{id}                                                 one order (an unknown id gives None)
    GET  webhooks, POST webhooks, PUT webhooks/{id}                  the order.* subscriptions

Auth is the SDK's: OAuth 1.0a one-legged over `http://`, HTTP Basic over `https://` (or the keys as query
parameters when the store's credentials set `query_string_auth = "true"`, for hosts that drop the Authorization
header). Over `http://` the SDK signs `True` as "1" but sends "True", and a "/" in a value breaks its signature:
so booleans go as the string "true" and timestamps as ISO-8601 without offset (`dates_are_gmt=true` says GMT).

Pagination is keyset on the modification time, not page numbers. WooCommerce sorts `orderby=modified` by
(modified, ID) and `modified_after` is strict, so each request asks for orders modified at or after the newest
second already read (`modified_after` = that second - 1 s) and `exclude`s the ids already read in that very
second. Deep page numbers would skip an order whenever an earlier one is modified mid-walk (platforms.md §2.1);
here an order changed during the walk simply comes again later, as its new version. `OrderPage.total` is the
`X-WP-Total` of the first request (how many orders changed since `since`).

Rate budget: WooCommerce core puts no limit on the REST API (only the opt-in Store API has one), but every call
runs PHP and MySQL on the merchant's own, often small, host. So calls are spaced `MIN_INTERVAL_S` (10 per
second per store, shared by polls and write-backs); a 429 (or a 503 with `Retry-After`) from a host, WAF or
plugin is honoured through `RateLimited`, and `RateLimit-Remaining`/`RateLimit-Reset` headers, when a host sends
them, pause the budget before the host would refuse.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.client import HTTPException
from typing import Any

import requests
import structlog
from urllib3.exceptions import HTTPError as Urllib3Error
from woocommerce import API

from connector.mapping.statuses import Action
from connector.orders.model import Platform as PlatformName
from connector.platforms.base import (
    OrderPage,
    PlatformWrite,
    RateBudget,
    RetryPolicy,
    StockCount,
    WebhookDelivery,
    call,
    classify_status,
    parse_retry_after,
)
from connector.platforms.signatures import check_base64_hmac, webhook_json
from connector.runtime.config import StoreConfig
from connector.runtime.errors import FatalError, RateLimited, RetriableError, SkippableError, WebhookRejected

log = structlog.get_logger(__name__)

PLATFORM = PlatformName.WOOCOMMERCE.value
API_VERSION = "wc/v3"
PER_PAGE = 100  # the REST controllers' maximum
MIN_INTERVAL_S = 0.1  # 10 calls/s: no limit in core, but the merchant's host does all the work
TIMEOUT_S = 30  # the SDK's default of 5 s is short for a busy WordPress host
ORDER_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
SIGNATURE_HEADER = "x-wc-webhook-signature"
LIST_PARAMS = {"orderby": "modified", "order": "asc", "status": "any", "dates_are_gmt": "true"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
DEFAULT_POLICY = RetryPolicy()

_PING = re.compile(rb"webhook_id=(\d+)")
_ENTITY = re.compile(r"&(?:amp|lt|gt|quot|#0?38|#x26|#0?60|#0?62|#0?34|#x22|#0?39|#x27);")
_QUERY = re.compile(r"\?[^\s'\"]*")
_TAGS = re.compile(r"<[^>]+>")
_FATAL_TRANSPORT = (
    requests.exceptions.SSLError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.TooManyRedirects,
)


def budget() -> RateBudget:
    """A store's budget: calls spaced `MIN_INTERVAL_S` apart (see the module docstring for why)."""
    return RateBudget(min_interval=MIN_INTERVAL_S)


# --- webhooks --------------------------------------------------------------------------------------------------
def specialchars_decode(secret: str) -> str:
    """`wp_specialchars_decode($secret, ENT_QUOTES)`: WooCommerce signs with the entity-decoded secret."""
    return _ENTITY.sub(lambda m: html.unescape(m.group(0)), secret)


def _ping_id(headers: Mapping[str, str], body: bytes) -> str | None:
    """The webhook id of WooCommerce's creation ping (`webhook_id=<id>`, form-encoded, unsigned), else None."""
    if headers.get(SIGNATURE_HEADER) or headers.get("x-wc-webhook-topic"):
        return None
    match = _PING.fullmatch(body.strip())
    return match.group(1).decode() if match else None


def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Raise `WebhookRejected(401)` unless `X-WC-Webhook-Signature` = base64(HMAC-SHA256(secret, body))."""
    if _ping_id(headers, body) is not None:
        return  # the ping carries no signature and no data: it is answered 200 and nothing is kept
    check_base64_hmac(headers, body, specialchars_decode(secret), SIGNATURE_HEADER)


def parse_webhook(headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
    """What a delivery is about. The dedupe key is ours: `X-WC-Webhook-Delivery-ID` is not an event id."""
    ping = _ping_id(headers, body)
    if ping is not None:
        return WebhookDelivery(delivery_id=f"wc-ping:{ping}", topic="ping", ping=True)
    topic = headers.get("x-wc-webhook-topic", "")
    if not topic.startswith("order."):
        raise WebhookRejected(400, f"unsupported webhook topic {topic!r}: only order.* topics are handled")
    webhook_id = headers.get("x-wc-webhook-id", "")
    if not webhook_id:
        raise WebhookRejected(400, "missing X-WC-Webhook-ID header")
    payload = _payload(body)
    order_id = str(payload["id"])
    if topic == "order.deleted":  # body is only {"id": …}: the delivery header tells a later trash from a repeat
        sent = headers.get("x-wc-webhook-delivery-id", "")
        key = f"wc:{webhook_id}:{order_id}:deleted" + (f":{sent}" if sent else "")
        extra = sorted(set(payload) - {"id"})
        contradiction = f"the order.deleted body is a whole order (it has {', '.join(extra[:3])})" if extra else ""
        return WebhookDelivery(key, topic, order_id, deleted=True, contradiction=contradiction)
    modified = str(payload.get("date_modified_gmt") or "")
    # The body is built when delivered: two changes in one second differ by content, a repeat does not.
    key = f"wc:{webhook_id}:{order_id}:{modified}:{hashlib.sha256(body).hexdigest()[:16]}"
    return WebhookDelivery(key, topic, order_id, payload=payload, updated_at=_gmt_or_none(modified))


def _payload(body: bytes) -> dict[str, Any]:
    payload = webhook_json(body)
    if "id" not in payload:
        code = payload.get("code", "")  # WordPress's error JSON: the order was deleted before delivery
        raise WebhookRejected(400, f"webhook body has no order id{f' (WordPress error {code})' if code else ''}")
    if not str(payload["id"]).isdigit():
        raise WebhookRejected(400, "webhook body's id is not an order id")
    return payload


# --- small values ----------------------------------------------------------------------------------------------
def iso_gmt(moment: datetime) -> str:
    """A timestamp as WooCommerce filters take it: GMT, whole seconds, no offset (so no "+" or "/" to sign)."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _gmt_or_none(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None
    except ValueError:
        return None


def modified_at(order: Mapping[str, Any]) -> datetime:
    """An order's last modification (GMT, whole seconds): the key the listing is sorted and walked by."""
    for key in ("date_modified_gmt", "date_created_gmt"):
        moment = _gmt_or_none(str(order.get(key) or ""))
        if moment is not None:
            return moment.replace(microsecond=0)
    return EPOCH


def _order_id(order: Mapping[str, Any]) -> int:
    return int(order["id"])


@dataclass(frozen=True)
class Reply:
    """One answer from the store, its JSON body already parsed."""

    status: int
    headers: Mapping[str, str]
    data: Any


@dataclass
class KeysetWalk:
    """Where a walk over `orderby=modified` stands: the newest second read, and the ids read in that second.

    `page` only grows past 1 when a server ignores `exclude` or `modified_after` (a full page of rows already
    read): the walk then pages on inside the same query, so it still ends.
    """

    boundary: datetime | None
    seen: set[int] = field(default_factory=set)
    page: int = 1

    def params(self) -> dict[str, str]:
        params: dict[str, str] = {}
        if self.boundary is not None:
            params["modified_after"] = iso_gmt(self.boundary - timedelta(seconds=1))  # strict ">": 1 s earlier
        if self.seen:
            params["exclude"] = ",".join(str(i) for i in sorted(self.seen))
        if self.page > 1:
            params["page"] = str(self.page)
        return params

    def advance(self, rows: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The rows not read yet; moves the boundary to the newest of them."""
        fresh = [r for r in rows if self._unread(r)]
        if not fresh:
            self.page += 1
            return fresh
        newest = max(modified_at(r) for r in fresh)
        if newest != self.boundary:
            self.boundary, self.seen, self.page = newest, set(), 1
        self.seen.update(_order_id(r) for r in fresh if modified_at(r) == newest)
        return fresh

    def _unread(self, row: Mapping[str, Any]) -> bool:
        """Newer than the boundary, or in its second and not read yet (the walk never goes back)."""
        moment = modified_at(row)
        if self.boundary is None or moment > self.boundary:
            return True
        return moment == self.boundary and _order_id(row) not in self.seen


def _floor(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes"}


def _reset_wait(value: str | None) -> float | None:
    """Seconds until a `RateLimit-Reset`: WooCommerce sends a Unix time; other hosts send a delta."""
    reset = parse_retry_after(value)
    if reset is None:
        return None
    return max(0.0, reset - time.time()) if reset > 1_000_000_000 else reset


def _wp_error(data: Any, text: str) -> tuple[str, str]:
    """(code, message) of a WordPress error answer, or ("", the start of the body without markup)."""
    if isinstance(data, dict) and "code" in data:
        return str(data.get("code", "")), _TAGS.sub(" ", str(data.get("message", ""))).strip()[:200]
    return "", " ".join(_TAGS.sub(" ", text).split())[:200]


def _describe(hook: Mapping[str, Any], action: str) -> str:
    return (
        f"{hook.get('topic')} -> {hook.get('delivery_url')} (webhook {hook.get('id')}, {hook.get('status')}; {action})"
    )


# --- the client ------------------------------------------------------------------------------------------------
class WooCommerceClient:
    """The `Platform` for one WooCommerce store. Every call goes through `call(budget, …)`."""

    def __init__(
        self,
        store: StoreConfig,
        budget: RateBudget,
        *,
        per_page: int = PER_PAGE,
        policy: RetryPolicy = DEFAULT_POLICY,
    ) -> None:
        self.store = store
        self.budget = budget
        self.per_page = per_page
        self.policy = policy
        version = store.api_version if store.api_version.startswith("wc/") else API_VERSION
        self._api = API(
            url=store.base_url,
            consumer_key=store.credentials.get("consumer_key", ""),
            consumer_secret=store.credentials.get("consumer_secret", ""),
            version=version,
            timeout=TIMEOUT_S,
            query_string_auth=_flag(store.credentials.get("query_string_auth")),
        )

    @property
    def _context(self) -> dict[str, str]:
        return {"store": self.store.name, "platform": PLATFORM}

    # --- orders --------------------------------------------------------------------------------------------
    def iter_order_pages(self, since: datetime | None, until: datetime | None = None) -> Iterator[OrderPage]:
        walk = KeysetWalk(boundary=_floor(since))
        total: int | None = None
        while True:
            reply = self._list_orders(walk, until)
            rows = [row for row in reply.data if isinstance(row, Mapping)]
            if total is None:
                total = parse_int(reply.headers.get("X-WP-Total"))
            fresh = walk.advance(rows)
            log.info("orders_page_fetched", store=self.store.name, orders=len(fresh), total=total)
            if fresh:
                yield OrderPage(orders=fresh, total=total)
            if len(rows) < self.per_page:
                return

    def _list_orders(self, walk: KeysetWalk, until: datetime | None) -> Reply:
        params = {**LIST_PARAMS, "per_page": str(self.per_page), **walk.params()}
        if until is not None:
            params["modified_before"] = iso_gmt(until)
        reply = self._send("GET", "orders", params=params, what="list orders")
        if not isinstance(reply.data, list):
            raise RetriableError("list orders: the answer is not a JSON list", **self._context)
        return reply

    def fetch_order(self, external_id: str) -> Mapping[str, Any] | None:
        if not external_id.isdigit():
            raise SkippableError(f"{external_id!r} is not a WooCommerce order id", **self._context)
        reply = self._send("GET", f"orders/{external_id}", what=f"get order {external_id}", missing_ok=True)
        if reply.status == 404:
            return None
        if not isinstance(reply.data, dict):
            raise RetriableError(f"get order {external_id}: the answer is not a JSON object", **self._context)
        if reply.data.get("status") == "trash":
            return None  # WooCommerce's delete (order.deleted) moves the order to the trash
        return reply.data

    def complete(self, delivery: WebhookDelivery) -> Mapping[str, Any] | None:
        """The webhook body is the full order, built at delivery time; fetch only when it is not."""
        payload = delivery.payload
        if payload is not None and "line_items" in payload and "total" in payload:
            return payload
        return self.fetch_order(delivery.external_id)

    # --- write-back ----------------------------------------------------------------------------------------
    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        """Set the order's status (`PUT orders/{id}`), unless it already has it (WooCommerce has no idempotency key).

        Core WooCommerce has statuses only: no shipments, no tracking fields, no ready-for-pickup. It sends its
        own customer e-mails on status changes (e.g. "completed"), whatever `write.notify` says.
        """
        context = {**self._context, "external_id": write.external_id}
        if write.action != Action.SET_STATUS:
            raise SkippableError(f"WooCommerce cannot {write.action}: only order statuses are written", **context)
        order = self.fetch_order(write.external_id)
        if order is None:
            raise SkippableError(f"order {write.external_id} no longer exists on WooCommerce", **context)
        if order.get("status") == write.target:
            return {"already": True, "id": order.get("id"), "status": write.target}
        what = f"set order {write.external_id} {write.target}"
        body = {"status": write.target}
        reply = self._send("PUT", f"orders/{write.external_id}", data=body, what=what, item_refused=True)
        done = reply.data if isinstance(reply.data, Mapping) else {}
        return {key: done.get(key) for key in ("id", "status", "date_modified_gmt", "date_completed_gmt")}

    # --- webhooks ------------------------------------------------------------------------------------------
    def register_webhooks(self, address: str) -> list[str]:
        """One active webhook per order topic pointing at `address`; existing ones are kept, disabled revived.

        WooCommerce never shows a webhook's secret, so an active one is kept as it is; one that WooCommerce
        disabled (e.g. after failed deliveries with another secret) is re-activated with the store's secret.
        """
        if not self.store.webhook_secret:
            message = "webhook_secret is not set for this store: its deliveries could not be verified"
            raise FatalError(message, **self._context)
        existing = list(self._webhooks())
        return [self._ensure_webhook(topic, address, existing) for topic in ORDER_TOPICS]

    def _webhooks(self) -> Iterator[Mapping[str, Any]]:
        page, pages = 1, 1
        while page <= pages:
            params = {"per_page": str(PER_PAGE), "page": str(page)}
            reply = self._send("GET", "webhooks", params=params, what="list webhooks")
            yield from (hook for hook in reply.data or [] if isinstance(hook, Mapping))
            pages = parse_int(reply.headers.get("X-WP-TotalPages")) or 1
            page += 1

    def _ensure_webhook(self, topic: str, address: str, existing: list[Mapping[str, Any]]) -> str:
        same = [h for h in existing if h.get("topic") == topic and _same_url(h.get("delivery_url"), address)]
        active = next((h for h in same if h.get("status") == "active"), None)
        if active is not None:
            return self._registered(active, "kept")
        if same:  # paused, or disabled by WooCommerce after repeated failed deliveries
            body = {"status": "active", "secret": self.store.webhook_secret}
            reply = self._send("PUT", f"webhooks/{same[0]['id']}", data=body, what=f"re-activate webhook {topic}")
            return self._registered(reply.data, "re-activated")
        body = {
            "name": f"Order sync: {topic}",
            "topic": topic,
            "delivery_url": address,
            "secret": self.store.webhook_secret,
            "status": "active",
            "api_version": "wp_api_v3",
        }
        reply = self._send("POST", "webhooks", data=body, what=f"create webhook {topic}")
        return self._registered(reply.data, "created")

    def _registered(self, hook: Any, action: str) -> str:
        if not isinstance(hook, Mapping):
            raise RetriableError(f"webhook {action}: the answer is not a JSON object", **self._context)
        topic, ident = hook.get("topic"), hook.get("id")
        log.info("webhook_registered", store=self.store.name, topic=topic, webhook=ident, action=action)
        return _describe(hook, action)

    # --- stock -------------------------------------------------------------------------------------------
    def read_stock(self, location_ids: Mapping[str, str]) -> Iterator[StockCount]:
        """Refused: WooCommerce keeps one `stock_quantity` per product or variation, not one per location."""
        raise SkippableError(
            "WooCommerce has no per-location stock; import counts from the POS instead", **self._context
        )

    def close(self) -> None:
        """Nothing to release: the SDK opens a connection per call (`requests.request`)."""

    # --- HTTP ----------------------------------------------------------------------------------------------
    def _send(
        self,
        method: str,
        endpoint: str,
        *,
        what: str,
        params: Mapping[str, str] | None = None,
        data: Mapping[str, Any] | None = None,
        missing_ok: bool = False,
        item_refused: bool = False,
    ) -> Reply:
        """One call under the store's budget and retry policy; errors come out as `connector.runtime.errors`.

        `missing_ok`: a 404 about the resource is answered, not raised. `item_refused`: a 400 (an invalid
        parameter, such as a status this store does not have) concerns this one item, so it is skippable.
        """

        def attempt() -> Reply:
            response = self._transport(method, endpoint, params, data, what)
            reply = self._reply(response, what)
            self._observe(reply)
            if reply.status >= 400 and not (missing_ok and reply.status == 404 and _is_missing(reply)):
                error = self._refusal(reply, response.text, what)
                if item_refused and reply.status == 400:
                    error = SkippableError(str(error), **self._context)
                raise error
            return reply

        return call(self.budget, attempt, policy=self.policy, what=what)

    def _transport(
        self, method: str, endpoint: str, params: Mapping[str, str] | None, data: Mapping[str, Any] | None, what: str
    ) -> requests.Response:
        query = dict(params or {})  # a copy: over https with query_string_auth the SDK adds the keys to it
        try:
            if method == "GET":
                response: requests.Response = self._api.get(endpoint, params=query)
            elif method == "POST":
                response = self._api.post(endpoint, dict(data or {}), params=query)
            else:
                response = self._api.put(endpoint, dict(data or {}), params=query)
        except (requests.RequestException, Urllib3Error, HTTPException, OSError) as exc:
            raise self._transport_error(exc, what) from None
        return response

    def _transport_error(self, exc: Exception, what: str) -> Exception:
        # str(exc) may hold the URL, whose query carries OAuth parameters (or the keys): cut every query off.
        reason = _QUERY.sub("?…", str(exc))[:300]
        message = f"{what}: {type(exc).__name__} talking to {self.store.base_url}: {reason}"
        kind = FatalError if isinstance(exc, _FATAL_TRANSPORT) else RetriableError
        return kind(message, **self._context)

    def _reply(self, response: requests.Response, what: str) -> Reply:
        try:
            data = response.json() if response.content else None
        except ValueError:
            if response.status_code < 400:
                message = f"{what}: HTTP {response.status_code} with a body that is not JSON (maintenance page?)"
                raise RetriableError(message, **self._context) from None
            data = None
        return Reply(response.status_code, response.headers, data)

    def _observe(self, reply: Reply) -> None:
        """Pause before a host that counts requests would refuse (WooCommerce core itself never does)."""
        headers = reply.headers
        remaining = parse_int(headers.get("RateLimit-Remaining") or headers.get("X-RateLimit-Remaining"))
        if remaining is None or remaining > 1 or reply.status == 429:
            return
        wait = _reset_wait(headers.get("RateLimit-Reset") or headers.get("X-RateLimit-Reset"))
        if wait:
            self.budget.pause(wait)
            log.info("rate_budget_paused", store=self.store.name, remaining=remaining, wait_s=round(wait, 3))

    def _refusal(self, reply: Reply, text: str, what: str) -> Exception:
        code, message = _wp_error(reply.data, text)
        retry_after = parse_retry_after(reply.headers.get("Retry-After") or reply.headers.get("RateLimit-Retry-After"))
        detail = f"{what}: {code + ': ' if code else ''}{message}"
        if reply.status == 503 and retry_after is not None:  # maintenance mode or an overloaded host asking to wait
            return RateLimited(f"HTTP 503: {detail}", retry_after=retry_after, **self._context)
        if reply.status == 404 and code in {"", "rest_no_route"}:
            hint = "is WooCommerce active, with pretty permalinks, at this base_url?"
            return FatalError(f"HTTP 404: {detail} ({hint})", **self._context)
        if reply.status == 401:
            detail += " (check consumer_key/consumer_secret and that base_url is the site's exact home URL)"
        return classify_status(reply.status, detail, retry_after=retry_after, **self._context)


def _is_missing(reply: Reply) -> bool:
    """A 404 about the order itself (`…_invalid_id`), not about the route (no WooCommerce there)."""
    code, _ = _wp_error(reply.data, "")
    return code not in {"", "rest_no_route"}


def _same_url(left: Any, right: str) -> bool:
    return str(left or "").rstrip("/") == right.rstrip("/")


def parse_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


__all__ = [
    "ORDER_TOPICS",
    "KeysetWalk",
    "WooCommerceClient",
    "budget",
    "iso_gmt",
    "modified_at",
    "parse_webhook",
    "specialchars_decode",
    "verify_webhook",
]
