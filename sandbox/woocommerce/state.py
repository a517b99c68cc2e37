"""WooCommerce sandbox: a self-hosted WooCommerce store (REST `wc/v3`) emulated on 127.0.0.1.

What it emulates, and where each behaviour comes from (see `shared/platforms.md` §2):

* the REST API under `/wp-json/wc/v3/` (`woocommerce_api.py`): orders (list with WordPress pagination headers,
  get, update, trash/delete, batch), order notes, products and variations, webhooks CRUD;
* authentication as `WC_REST_Authentication` does it (`woocommerce_auth.py`): OAuth 1.0a one-legged over
  plain HTTP, which is what the `woocommerce` Python package sends to an `http://` store, and Basic or query-string
  keys as over HTTPS;
* no rate limiting: WooCommerce core has none for `wc/v3` (only the opt-in Store API has), so `rate_limit`
  "realistic" and "off" behave the same and no request is ever answered 429 here;
* the order documents (`woocommerce_docs.py`): EUR store in Europe/Amsterdam, 21 % VAT, flat rate or
  block-checkout Local Pickup shipping lines carrying the `pickup_location` meta;
* order side effects WooCommerce applies: status-change notes, `date_paid` set on reaching processing/completed,
  `date_completed` on completion, stock reduced once (processing/on-hold/completed) and restored on cancel;
* webhooks as `WC_Webhook` delivers them: topics `order.created|updated|deleted|restored`, `X-WC-Webhook-*`
  headers, base64 HMAC-SHA256 signature with the webhook's secret, payload built at delivery time, one pending
  delivery per webhook and order (later events coalesce into it), no retries, success is HTTP < 303, and a
  webhook whose failure count already exceeds 5 is set to `disabled` on the next failure. Creating a webhook
  through the API sends the unsigned `webhook_id=<id>` ping first.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
from fastapi import Request

from sandbox.core import DEFAULT_LOCATIONS, CatalogueItem, Sandbox, Subscription, spec_lines
from sandbox.woocommerce.auth import (
    ApiKey,
    check_basic,
    check_oauth,
    oauth_header_params,
    php_query,
)
from sandbox.woocommerce.documents import (
    BANK_METHOD,
    STATUS_LABELS,
    WC_VERSION,
    WP_VERSION,
    Line,
    WooOrder,
    customer_from,
    date_pair,
    new_note,
    note_document,
    order_document,
    php_json,
    refresh_flags,
    refresh_money,
    render_order,
    site,
)

USER_AGENT = f"WooCommerce/{WC_VERSION} Hookshot (WordPress/{WP_VERSION})"
ORDER_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
MAX_DELIVERY_FAILURES = 5  # `woocommerce_max_webhook_delivery_failures`
STOCK_REDUCING = frozenset({"processing", "completed", "on-hold"})
STOCK_RESTORING = frozenset({"cancelled", "pending"})
GENERATED_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_ []{}<>~`+=,.;:/?|"
ENTITIES = {"&quot;": '"', "&#039;": "'", "&#x27;": "'", "&lt;": "<", "&gt;": ">", "&amp;": "&", "&#038;": "&"}
SERVER_ERROR = (
    '<p>There has been a critical error on this website.</p><p><a href="https://wordpress.org/documentation/'
    'article/faq-troubleshooting/">Learn more about troubleshooting WordPress.</a></p>'
)


def specialchars_decode(secret: str) -> str:
    """`wp_specialchars_decode($secret, ENT_QUOTES)`, applied to the secret before signing."""
    for entity, char in ENTITIES.items():
        secret = secret.replace(entity, char)
    return secret


class WooCommerceState(Sandbox):
    """A WooCommerce store: REST API, order state, stock and webhook delivery."""

    platform = "woocommerce"
    retry_delays: tuple[float, ...] = ()  # WooCommerce never retries a delivery
    webhook_timeout = 60.0  # `WC_Webhook::deliver`: MINUTE_IN_SECONDS

    def __init__(self, *, locations: tuple[str, ...] = DEFAULT_LOCATIONS, seed: int = 1) -> None:
        super().__init__(locations=locations, seed=seed)
        self.api_key = ApiKey("ck_" + _digest("ck", seed)[:40], "cs_" + _digest("cs", seed)[:40])
        self._secret = _digest("webhook", seed)[:32]
        self._salt = _digest("salt", seed).encode()
        self.orders: dict[int, WooOrder] = {}
        self._order_ids = itertools.count(101)
        self._item_ids = itertools.count(1)
        self._meta_ids = itertools.count(1)
        self._note_ids = itertools.count(1)
        self.sold: dict[str, int] = {}
        self.pings: list[dict[str, Any]] = []
        self._pending: dict[tuple[int, int], object] = {}
        self.clock: Callable[[], float] = time.time  # OAuth timestamps are checked against it

    # --- the ready line and the app -----------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "base_url": self.root_url,
            "credentials": {"consumer_key": self.api_key.consumer_key, "consumer_secret": self.api_key.consumer_secret},
            "webhook_secret": self.webhook_secret(),
            "locations": {name: site(name)[0] for name in self.locations},
        }

    def webhook_secret(self) -> str:
        return self._secret

    def default_topics(self) -> tuple[str, ...]:
        return ORDER_TOPICS

    def is_api_path(self, path: str) -> bool:
        return path.startswith("/wp-json")

    # --- auth, headers, errors ----------------------------------------------------------------------------

    def _authenticated(self, request: Request) -> bool:
        query = php_query(request.url.query)
        key, secret = query.get("consumer_key"), query.get("consumer_secret")
        if not (isinstance(key, str) and isinstance(secret, str) and key and secret):
            key, secret = _basic_credentials(request.headers.get("authorization", ""))
        if check_basic(self.api_key, key, secret):
            return True
        raw = request.scope.get("raw_path") or request.url.path.encode()
        url = f"{self.root_url}/{raw.decode('latin-1').split('?')[0].lstrip('/')}"
        params = {**query, **oauth_header_params(request.headers.get("authorization", ""))}
        return check_oauth(self.api_key, request.method, url, params, self.clock())

    # --- control surface ----------------------------------------------------------------------------------
    def create_order(self, spec: dict[str, Any]) -> dict[str, Any]:
        lines = spec_lines(self, spec)
        historical = bool(spec.get("historical"))
        created = _as_utc(spec.get("created_at")) or self.now()
        with self.lock:
            order = self._new_order(spec, lines, created)
            self.orders[order.id] = order
            self._settle_stock(order, apply=not historical)
            if not historical:
                self._note(order, f"Order status changed from Pending payment to {STATUS_LABELS[order.doc['status']]}.")
            doc = render_order(order, self.root_url)
        if not historical:
            self.emit_order("order.created", order.id)
            if doc["created_via"] == "store-api":  # checkout then takes the payment: a status change, an update
                self.emit_order("order.updated", order.id)
        return doc

    def _new_order(
        self, spec: dict[str, Any], items: list[tuple[CatalogueItem, int, Decimal]], at: datetime
    ) -> WooOrder:
        oid = next(self._order_ids)
        kind = str(spec.get("kind") or "delivery")
        pickup = (spec.get("pickup_location") or self.locations[0]) if kind == "pickup" else None
        paid = bool(spec.get("paid"))
        admin = kind == "pickup" and not paid  # a phone order, to be paid at the counter
        status = "processing" if paid else "pending" if admin else "on-hold"
        lines = [self._line(item, quantity, price) for item, quantity, price in items]
        ids = (next(self._item_ids), next(self._item_ids))
        meta = tuple(next(self._meta_ids) for _ in range(7))
        order = WooOrder(oid, {}, at, at, lines, kind, pickup, ids[0], ids[1], meta)
        order.doc = order_document(order, customer_from(spec.get("customer"), oid), status, paid, admin)
        refresh_money(order)
        return order

    def _line(self, item: CatalogueItem, quantity: int, price: Decimal) -> Line:
        return Line(item, quantity, price, next(self._item_ids), (next(self._meta_ids),))

    def change_order(self, order_id: str, change: dict[str, Any]) -> dict[str, Any]:
        oid = _order_id(order_id)
        with self.lock:
            order = self.orders[oid]
            topics = self._apply_change(order, change)
            doc = render_order(order, self.root_url)
        for topic in dict.fromkeys(topics):
            self.emit_order(topic, oid)
        return doc

    def _apply_change(self, order: WooOrder, change: dict[str, Any]) -> list[str]:
        topics: list[str] = []
        if change.get("deleted") is True and order.doc["status"] != "trash":
            topics.append(self.trash(order))
        if change.get("deleted") is False and order.doc["status"] == "trash":
            topics.append(self.restore(order))
        if change.get("paid") is True and order.doc["date_paid"] is None:
            self.pay(order)
            topics.append("order.updated")
        if isinstance(change.get("lines"), list):
            self.set_lines(order, change["lines"])
            topics.append("order.updated")
        if "cancelled" in change:
            self.set_status(order, "cancelled" if change["cancelled"] else self._reopened_status(order))
            topics.append("order.updated")
        return topics

    def order_view(self, order_id: str) -> dict[str, Any]:
        oid = _order_id(order_id)
        with self.lock:
            order = self.orders[oid]
            return {
                "platform": self.platform,
                "order": render_order(order, self.root_url),
                "status": order.doc["status"],
                "writes": list(self.writes.get(str(oid), [])),
                "notes": [note_document(oid, n, self.root_url) for n in reversed(order.notes)],
                "stock": {x.item.sku: self.stock_of(x.item) for x in order.lines},
            }

    # --- order state, as WooCommerce changes it (callers hold the lock) --------------------------------
    def touch(self, order: WooOrder) -> None:
        order.modified = max(self.now(), order.modified)
        order.doc.update(date_pair("date_modified", order.modified))

    def set_status(self, order: WooOrder, status: str) -> None:
        old = order.doc["status"]
        self.touch(order)
        if status == old:
            return
        order.doc["status"] = status
        self._note(order, f"Order status changed from {STATUS_LABELS[old]} to {STATUS_LABELS[status]}.")
        if status in {"processing", "completed"} and order.doc["date_paid"] is None:
            order.doc.update(date_pair("date_paid", order.modified))  # WC_Order::maybe_set_date_paid
        if status == "completed":
            order.doc.update(date_pair("date_completed", order.modified))
        self._settle_stock(order, apply=True)
        refresh_flags(order.doc)

    def pay(self, order: WooOrder, transaction_id: str = "") -> None:
        """`WC_Order::payment_complete`: record the payment and move the order on to processing."""
        if transaction_id:
            order.doc["transaction_id"] = transaction_id
        order.doc.update(date_pair("date_paid", self.now()))
        if order.doc["status"] in {"pending", "on-hold", "failed", "cancelled"}:
            self.set_status(order, "processing")
        self.touch(order)

    def _reopened_status(self, order: WooOrder) -> str:
        if order.doc["status"] != "cancelled":
            return str(order.doc["status"])
        if order.doc["date_paid"] is not None:
            return "processing"
        return "on-hold" if order.doc["payment_method"] == BANK_METHOD[0] else "pending"

    def set_lines(self, order: WooOrder, changes: list[dict[str, Any]]) -> None:
        by_sku = {line.item.sku: line for line in order.lines}
        for change in changes:
            sku, quantity = str(change["sku"]), int(change["quantity"])
            line = by_sku.get(sku)
            if line is None and quantity > 0:
                item = self.item(sku)
                line = by_sku[sku] = self._line(item, 0, item.price)
                order.lines.append(line)
            if line is not None:
                self._adjust_stock(order, line, quantity)
                line.quantity = quantity
        order.lines = [line for line in order.lines if line.quantity > 0]
        refresh_money(order)
        refresh_flags(order.doc)
        self.touch(order)

    def trash(self, order: WooOrder) -> str:
        order.trashed_from = str(order.doc["status"])
        order.doc["status"] = "trash"
        refresh_flags(order.doc)
        self.touch(order)
        return "order.deleted"

    def restore(self, order: WooOrder) -> str:
        order.doc["status"] = order.trashed_from or "pending"
        refresh_flags(order.doc)
        self.touch(order)
        return "order.restored"

    def delete(self, order: WooOrder) -> None:
        del self.orders[order.id]

    def add_note(self, order: WooOrder, text: str, customer_note: bool, by_user: bool) -> dict[str, Any]:
        note = self._note(order, text, customer_note, by_user)
        return note_document(order.id, note, self.root_url)

    def _note(self, order: WooOrder, text: str, customer_note: bool = False, by_user: bool = False) -> dict[str, Any]:
        note = new_note(next(self._note_ids), text, customer_note, by_user, self.now())
        order.notes.append(note)
        return note

    def next_meta_id(self) -> int:
        with self.lock:
            return next(self._meta_ids)

    # --- stock: one pool per product or variation -----------------------------------------------------------
    def stock_of(self, item: CatalogueItem) -> int:
        with self.lock:
            return sum(item.stock.values()) - self.sold.get(item.sku, 0)

    def _settle_stock(self, order: WooOrder, *, apply: bool) -> None:
        """Reduce stock once when the order reaches a reducing status; give it back on cancel (or pending)."""
        status = order.doc["status"]
        if status in STOCK_REDUCING and not order.stock_reduced:
            order.stock_reduced = True
            sign = 1
        elif status in STOCK_RESTORING and order.stock_reduced:
            order.stock_reduced = False
            sign = -1
        else:
            return
        for line in order.lines if apply else ():
            self.sold[line.item.sku] = self.sold.get(line.item.sku, 0) + sign * line.quantity

    def _adjust_stock(self, order: WooOrder, line: Line, quantity: int) -> None:
        if not order.stock_reduced or quantity == line.quantity:
            return
        self.sold[line.item.sku] = self.sold.get(line.item.sku, 0) + quantity - line.quantity
        name = line.item.name
        self._note(order, f"Adjusted stock: {name} ({line.item.sku}) {line.quantity}&rarr;{quantity}")

    # --- webhooks ------------------------------------------------------------------------------------------
    def subscribe(self, topic: str, address: str, secret: str = "", **extra: Any) -> Subscription:
        now = self.now()
        details: dict[str, Any] = {"name": f"Connector {topic}", "status": "active", "api_version": "wp_api_v3"}
        details.update(created=now, modified=now)
        return super().subscribe(topic, address, secret or self.generated_secret(), **{**details, **extra})

    def generated_secret(self) -> str:
        """`wp_generate_password(50, true, true)`: what WooCommerce sets when a webhook is created without one."""
        return "".join(self.rng.choice(GENERATED_CHARS) for _ in range(50))

    def set_webhook_status(self, sub: Subscription, status: str) -> None:
        sub.extra["status"] = status
        sub.active = status == "active"

    def emit_order(self, topic: str, order_id: int) -> None:
        """Queue `topic` for every active webhook, unless one is already pending for this webhook and order."""
        with self.lock:
            if self.dispatcher.idle():
                self._pending.clear()
            for sub in [s for s in self.subscriptions.values() if s.active and s.topic == topic]:
                key = (sub.id, order_id)
                if key in self._pending:
                    continue
                token = self._pending[key] = object()
                self.dispatcher.enqueue(sub, topic, self._payload(topic, order_id, key, token), f"{sub.id}-{order_id}")

    def _payload(self, topic: str, order_id: int, key: tuple[int, int], token: object) -> Callable[[], bytes]:
        """The body, built when the delivery runs (`WC_Webhook::build_payload`), so it shows the current order."""

        def build() -> bytes:
            with self.lock:
                if self._pending.get(key) is token:
                    del self._pending[key]
                if topic == "order.deleted":
                    return php_json({"id": order_id})
                order = self.orders.get(order_id)
                if order is None:
                    error = {"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID."}
                    return php_json({**error, "data": {"status": 404}})
                return php_json(render_order(order, self.root_url))

        return build

    def webhook_headers(
        self, sub: Subscription, topic: str, body: bytes, event_id: str, attempt: int
    ) -> dict[str, str]:
        resource, _, event = sub.topic.partition(".")
        mac = hmac.new(specialchars_decode(sub.secret).encode(), body, hashlib.sha256)
        delivery = hmac.new(self._salt, f"{sub.id}{int(time.time())}".encode(), hashlib.md5)  # wp_hash()
        return {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "X-WC-Webhook-Source": f"{self.root_url}/",
            "X-WC-Webhook-Topic": sub.topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Signature": base64.b64encode(mac.digest()).decode(),
            "X-WC-Webhook-ID": str(sub.id),
            "X-WC-Webhook-Delivery-ID": delivery.hexdigest(),
        }

    def webhook_succeeded(self, status: int) -> bool:
        return 200 <= status < 303  # `log_delivery`: 2xx, 301 and 302 (redirects are not followed)

    def webhook_failed(self, sub: Subscription) -> None:
        """`failed_delivery`: past 5 recorded failures the webhook is disabled instead of counting on."""
        before = sub.failures - 1  # the dispatcher has already counted this failure
        if before > MAX_DELIVERY_FAILURES:
            sub.failures = before
            self.set_webhook_status(sub, "disabled")

    def ping(self, sub: Subscription) -> None:
        """`deliver_ping`: POST `webhook_id=<id>`, form-encoded and unsigned; only exactly 200 counts."""
        try:
            status = httpx.post(
                sub.address,
                content=f"webhook_id={sub.id}",
                headers={"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"},
                timeout=5.0,
            ).status_code
        except httpx.HTTPError:
            status = 0
        with self.lock:
            self.pings.append({"webhook_id": sub.id, "address": sub.address, "status": status, "ok": status == 200})


def _digest(label: str, seed: int) -> str:
    return hashlib.sha256(f"woocommerce-{label}-{seed}".encode()).hexdigest()


def _order_id(value: str) -> int:
    if not str(value).isdigit():
        raise KeyError(value)
    return int(value)


def _as_utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0)


def _basic_credentials(header: str) -> tuple[str, str]:
    if not header.lower().startswith("basic "):
        return "", ""
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except ValueError:
        return "", ""
    key, _, secret = decoded.partition(":")
    return key, secret
