"""The Shopify sandbox: a local Shopify Admin API (REST and GraphQL) with Shopify's auth, limits and webhooks.

`ShopifyState` owns the state (orders, fulfillment orders, fulfillments, webhook subscriptions) and the
operations both APIs share: cancelling, fulfilling from fulfillment orders, tracking updates, marking pickups ready.
The routes live in `shopify_rest` and `shopify_graphql`; the order JSON in `shopify_orders`.

What it copies from Shopify (platforms.md section 1):

* auth by `X-Shopify-Access-Token`; a wrong or missing token gets 401 `{"errors": "[API] Invalid API key ..."}`;
* REST: a leaky bucket of 40 calls leaking 2/s, `X-Shopify-Shop-Api-Call-Limit: used/40` on every answer, and
  429 with `Retry-After: 2.0` past it; GraphQL: calculated query cost against 2000 points restoring 100/s;
* webhooks signed with base64 HMAC-SHA256 of the raw body under the app's client secret, with the `X-Shopify-*`
  headers, the payload frozen at trigger time, 8 retries over about 4 hours, and the subscription deleted when
  all of them fail.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import structlog
from fastapi import Request, Response
from fastapi.responses import JSONResponse

from sandbox.core import DEFAULT_LOCATIONS, Sandbox, Subscription, spec_lines
from sandbox.ratelimit import CostBucket, LeakyBucket
from sandbox.shopify.documents import customer_address, render_fo, render_fulfillment, render_order
from sandbox.shopify.orders import (
    SHOP_DOMAIN,
    Customer,
    FoLine,
    Fulfillment,
    FulfillmentOrder,
    IdBank,
    Json,
    Line,
    OrderState,
    Tracking,
    assign,
    cents,
    make_locations,
    reassign,
    shipping_price,
    token,
)

log = structlog.get_logger(__name__)

API_VERSION = "2024-07"
ORDER_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/paid",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "orders/delete",
    "orders/edited",
)
TOPICS = (*ORDER_TOPICS, "fulfillments/create", "fulfillments/update")
UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"
THROTTLED = "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
NOT_FOUND: Json = {"errors": "Not Found"}
Event = tuple[str, Json]  # (topic, payload)


class ShopifyError(Exception):
    """An API call Shopify would refuse: `status` and Shopify's own error body."""

    def __init__(self, status: int, body: Json) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body


def unprocessable(message: str) -> ShopifyError:
    return ShopifyError(422, {"errors": [message]})


class Refused(Exception):
    """A control-surface change the platform cannot make (answered 409)."""


@dataclass
class FulfilRequest:
    """One fulfillment from fulfillment orders, whichever API asked for it."""

    groups: list[tuple[int, list[tuple[int, int]] | None]]  # (fo id, [(fo line item id, quantity)] or None: all)
    tracking: Tracking


class ShopifyState(Sandbox):
    """One Shopify store: three locations, the core's catalogue as products, orders created via the control surface."""

    platform = "shopify"
    # 8 retries over about 4 hours, exponential: 56 s doubling up to 2 h (sum 14344 s = 3 h 59 m).
    retry_delays = (56.25, 112.5, 225.0, 450.0, 900.0, 1800.0, 3600.0, 7200.0)
    webhook_timeout = 5.0

    def __init__(self, *, locations: tuple[str, ...] = DEFAULT_LOCATIONS, seed: int = 1) -> None:
        super().__init__(locations=locations, seed=seed)
        self.ids = IdBank()
        self.shop_locations = make_locations(locations)
        self.orders: dict[int, OrderState] = {}
        self.order_ids: list[int] = []  # ascending, live orders only
        self.fo_owner: dict[int, int] = {}  # fulfillment order id -> order id
        self.fulfillment_owner: dict[int, int] = {}  # fulfillment id -> order id
        self.customers: dict[str, Customer] = {}
        self.rest_bucket = LeakyBucket(size=40, rate=2.0)
        self.cost_bucket = CostBucket(maximum=2000.0, restore_rate=100.0, available=2000.0)
        self.access_token = "shpat_" + token("access", seed)
        self.client_secret = "shpss_" + token("client-secret", seed)
        self.opened = self.now()
        self.triggered: dict[str, str] = {}  # event id -> X-Shopify-Triggered-At
        self._numbers = iter(range(1, 10**9))

    # --- ready line and config ------------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "base_url": self.base_url,
            "credentials": {"access_token": self.access_token},
            "webhook_secret": self.webhook_secret(),
            "locations": {key: f"gid://shopify/Location/{loc.id}" for key, loc in self.shop_locations.items()},
        }

    def webhook_secret(self) -> str:
        return self.client_secret

    def default_topics(self) -> tuple[str, ...]:
        return ORDER_TOPICS

    # --- the app --------------------------------------------------------------------------------------------

    # --- control surface ------------------------------------------------------------------------------------
    def create_order(self, spec: dict[str, Any]) -> dict[str, Any]:
        created = (spec.get("created_at") or self.now()).replace(microsecond=0)
        with self.lock:
            order = self._new_order(spec, created)
            assign(order, order.lines, self.shop_locations, self.ids, created)
            if order.financial_status == "paid":
                order.received = order.original.total
            self._store(order)
            native = order.native
        if not spec.get("historical"):
            paid = [("orders/paid", native)] if order.financial_status == "paid" else []
            self.fire([("orders/create", native), *paid])
        return native

    def change_order(self, order_id: str, change: dict[str, Any]) -> dict[str, Any]:
        events: list[Event] = []
        with self.lock:
            order = self.live_order(order_id)
            _refuse(order, change)
            if change.get("lines"):
                events += self._edit(order, change["lines"])
            if change.get("paid") and order.financial_status in {"pending", "partially_paid"}:
                events += self._mark_paid(order)
            if "cancelled" in change:
                events += self._control_cancel(order, bool(change["cancelled"]))
            if change.get("deleted"):
                events += self._delete(order)
            native = order.native
        self.fire(events)
        return native

    def order_view(self, order_id: str) -> dict[str, Any]:
        with self.lock:
            order = self.orders[_int(order_id)]
            fos = [render_fo(fo, order) for fo in order.fos]
            fulfilments = [render_fulfillment(f, order) for f in order.fulfillments]
            return {
                "platform": self.platform,
                "order": order.native,
                "status": _status(order),
                "financial_status": order.financial_status,
                "fulfillment_status": order.fulfillment_status(),
                "deleted": order.deleted,
                "writes": list(self.writes.get(str(order.id), [])),
                "fulfillment_orders": fos,
                "fulfillments": fulfilments,
                "tracking": [_tracking_view(f) for f in fulfilments],
                "ready_for_pickup": [fo.id for fo in order.fos if fo.prepared_at is not None],
            }

    # --- lookups (callers hold the lock) --------------------------------------------------------------------
    def live_order(self, order_id: str | int) -> OrderState:
        order = self.orders[_int(order_id)]
        if order.deleted:
            raise KeyError(order_id)
        return order

    def find_order(self, order_id: str | int) -> OrderState:
        try:
            return self.live_order(order_id)
        except KeyError:
            raise ShopifyError(404, NOT_FOUND) from None

    def find_fo(self, fo_id: int) -> tuple[OrderState, FulfillmentOrder]:
        order = self.orders.get(self.fo_owner.get(fo_id, -1))
        fo = order.fo(fo_id) if order is not None and not order.deleted else None
        if order is None or fo is None:
            raise ShopifyError(404, NOT_FOUND)
        return order, fo

    def find_fulfillment(self, fulfillment_id: int) -> tuple[OrderState, Fulfillment]:
        order = self.orders.get(self.fulfillment_owner.get(fulfillment_id, -1))
        found = [f for f in order.fulfillments if f.id == fulfillment_id] if order and not order.deleted else []
        if order is None or not found:
            raise ShopifyError(404, NOT_FOUND)
        return order, found[0]

    def committed(self) -> dict[tuple[str, str], int]:
        """(sku, location key) -> units committed: ordered, routed to that location and not fulfilled yet.

        Shopify moves an order's units from `available` to `committed` when the order comes in and takes them out
        of `committed` (and `on_hand`) when they are fulfilled; a cancelled order's closed fulfillment orders commit
        nothing. The sandbox's catalogue counts stay as seeded (they are the units on hand), so only `committed`
        and `available` follow the orders.
        """
        units: dict[tuple[str, str], int] = {}
        with self.lock:
            for order in self.orders.values():
                if order.deleted:
                    continue
                for fo in order.fos:
                    for fo_line in fo.lines if fo.fulfillable else ():
                        key = (fo_line.line.item.sku, fo.location.key)
                        units[key] = units.get(key, 0) + fo_line.remaining
        return units

    def walk(self, after: int | None, ascending: bool) -> Iterator[OrderState]:
        """Live orders in id order (ascending or descending), strictly after id `after` in that order."""
        ids = self.order_ids
        if ascending:
            start = 0 if after is None else bisect.bisect_right(ids, after)
            indices: range = range(start, len(ids))
        else:
            start = len(ids) if after is None else bisect.bisect_left(ids, after)
            indices = range(start - 1, -1, -1)
        for index in indices:
            yield self.orders[ids[index]]

    # --- operations both APIs share -------------------------------------------------------------------------
    def cancel(self, order_id: str | int, reason: str, refund: bool, write: Json) -> Json:
        with self.lock:
            order = self.find_order(order_id)
            if order.cancelled_at is not None:
                raise ShopifyError(422, {"errors": {"base": ["Order has already been cancelled"]}})
            if order.fulfillments:
                raise ShopifyError(422, {"errors": {"base": ["Cannot cancel an order that has fulfillments"]}})
            events = self._cancel(order, reason, refund)
            self.record_write(str(order.id), write)
            native = order.native
        self.fire(events)
        return native

    def fulfil(self, request: FulfilRequest, write: Json) -> Json:
        with self.lock:
            order, plan = self._fulfil_plan(request)
            now = self.now()
            fulfillment = self._apply_fulfilment(order, plan, request.tracking, now)
            self._touch(order, now)
            self.record_write(str(order.id), write)
            rendered = render_fulfillment(fulfillment, order)
            done = "orders/fulfilled" if order.fulfillment_status() == "fulfilled" else "orders/partially_fulfilled"
            events = [("fulfillments/create", rendered), (done, order.native), ("orders/updated", order.native)]
        self.fire(events)
        return rendered

    def update_tracking(self, fulfillment_id: int, tracking: Tracking, write: Json) -> Json:
        with self.lock:
            order, fulfillment = self.find_fulfillment(fulfillment_id)
            now = self.now()
            fulfillment.tracking = tracking
            fulfillment.updated_at = now
            self._touch(order, now)
            self.record_write(str(order.id), write)
            rendered = render_fulfillment(fulfillment, order)
            events = [("fulfillments/update", rendered), ("orders/updated", order.native)]
        self.fire(events)
        return rendered

    def prepare_for_pickup(self, fo_ids: list[int], write: Json) -> list[tuple[str, str]]:
        """Mark pickup fulfillment orders ready; returns (code, message) user errors, none when all went well."""
        events: list[Event] = []
        with self.lock:
            errors = self._pickup_errors(fo_ids)
            if errors:
                return errors
            now = self.now()
            for fo_id in fo_ids:
                order, fo = self.find_fo(fo_id)
                fo.prepared_at = fo.updated_at = now
                self._touch(order, now)
                self.record_write(str(order.id), write)
                events.append(("orders/updated", order.native))
        self.fire(events)
        return []

    # --- webhooks -------------------------------------------------------------------------------------------
    def subscribe(self, topic: str, address: str, secret: str = "", **extra: Any) -> Subscription:
        stamp = self.now().isoformat()
        meta = {"api_version": API_VERSION, "format": "json", "fields": [], "created_at": stamp, "updated_at": stamp}
        with self.lock:
            for existing in self.subscriptions.values():
                if existing.active and (existing.topic, existing.address) == (topic, address):
                    return existing  # Shopify never holds two subscriptions for one topic and address
            sub = Subscription(self.ids.next("webhook"), topic, address, secret or self.webhook_secret())
            sub.extra = meta | extra
            self.subscriptions[sub.id] = sub
            return sub

    def fire(self, events: list[Event]) -> None:
        """Deliver each event to the subscriptions for its topic, payload frozen now (retries resend it as is)."""
        for topic, payload in events:
            event_id = str(uuid.uuid4())
            moment = datetime.now(UTC) + self.clock_offset
            self.triggered[event_id] = moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
            with self.lock:
                subs = [s for s in self.subscriptions.values() if s.active and s.topic == topic]
            for sub in subs:
                body = _webhook_body(payload, sub.extra.get("fields") or [])
                self.dispatcher.enqueue(sub, topic, _frozen(body), event_id)

    def webhook_headers(
        self, sub: Subscription, topic: str, body: bytes, event_id: str, attempt: int
    ) -> dict[str, str]:
        sub.extra["last_attempt"] = attempt
        digest = hmac.new(self.webhook_secret().encode(), body, hashlib.sha256).digest()
        return {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": SHOP_DOMAIN,
            "X-Shopify-API-Version": str(sub.extra.get("api_version", API_VERSION)),
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id,
            "X-Shopify-Triggered-At": self.triggered.get(event_id, ""),
        }

    def webhook_failed(self, sub: Subscription) -> None:
        """Shopify deletes an Admin-API subscription once a delivery has failed all its retries."""
        if sub.extra.get("last_attempt", 0) < len(self.retry_delays):
            return
        with self.lock:
            sub.active = False
            self.subscriptions.pop(sub.id, None)
        log.info("sandbox_webhook_subscription_deleted", topic=sub.topic, address=sub.address)

    # --- internals ------------------------------------------------------------------------------------------
    def _new_order(self, spec: dict[str, Any], created: datetime) -> OrderState:
        lines = [
            Line(self.ids.next("line"), item, cents(price), qty, qty) for item, qty, price in spec_lines(self, spec)
        ]
        pickup = None
        if spec.get("kind") == "pickup":
            pickup = self.shop_locations[spec.get("pickup_location") or self.locations[0]]
        number = next(self._numbers)
        customer = self._customer(spec.get("customer") or {}, number, created)
        address = None if pickup else customer_address(customer, number)
        return OrderState(
            id=self.ids.next("order"),
            number=number,
            customer=customer,
            address=address,
            lines=lines,
            shipping=shipping_price(lines, pickup is not None),
            shipping_line_id=self.ids.next("shipping_line"),
            pickup=pickup,
            financial_status="paid" if spec.get("paid") else "pending",
            created_at=created,
            updated_at=created,
            **_discount(spec.get("discount")),
        )

    def _customer(self, info: dict[str, Any], number: int, created: datetime) -> Customer:
        email = str(info.get("email") or f"customer{number}@example.com")
        if email not in self.customers:
            first, _, last = str(info.get("name") or f"Customer {number}").partition(" ")
            phone = info.get("phone")
            self.customers[email] = Customer(self.ids.next("customer"), first, last, email, phone, created)
        return self.customers[email]

    def _store(self, order: OrderState) -> None:
        order.native = render_order(order)
        self.orders[order.id] = order
        bisect.insort(self.order_ids, order.id)
        for fo in order.fos:
            self.fo_owner[fo.id] = order.id

    def _touch(self, order: OrderState, now: datetime) -> None:
        order.updated_at = now
        order.native = render_order(order)
        for fo in order.fos:
            self.fo_owner[fo.id] = order.id

    def _edit(self, order: OrderState, changes: list[dict[str, Any]]) -> list[Event]:
        now = self.now()
        deltas = [self._edit_line(order, change, now) for change in changes]
        additions = [{"id": i, "delta": d} for i, d in deltas if d > 0]
        removals = [{"id": i, "delta": -d} for i, d in deltas if d < 0]
        if not additions and not removals:
            return []
        if order.financial_status == "paid" and order.current.total > order.received:
            order.financial_status = "partially_paid"  # the edit added to a paid order: a balance is due
        self._touch(order, now)
        edit = {"id": self.ids.next("edit"), "app_id": None, "created_at": order.native["updated_at"]}
        edit |= {"notify_customer": False, "order_id": order.id, "staff_note": "", "user_id": None}
        edit |= {"line_items": {"additions": additions, "removals": removals}}
        edit |= {"discounts": {"line_item": {"additions": [], "removals": []}}}
        edit |= {"shipping_lines": {"additions": [], "removals": []}}
        return [("orders/edited", {"order_edit": edit}), ("orders/updated", order.native)]

    def _edit_line(self, order: OrderState, change: dict[str, Any], now: datetime) -> tuple[int, int]:
        item = self.item(str(change["sku"]))
        wanted = int(change["quantity"])
        line = next((x for x in order.lines if x.item.sku == item.sku), None)
        if line is None:
            if wanted <= 0:
                return 0, 0
            line = Line(self.ids.next("line"), item, cents(item.price), wanted, wanted)
            order.lines.append(line)
            assign(order, [line], self.shop_locations, self.ids, now)
            return line.id, wanted
        delta = max(wanted, line.fulfilled) - line.current
        line.current += delta
        if delta:
            reassign(order, line, delta, self.shop_locations, self.ids, now)
        return line.id, delta

    def _mark_paid(self, order: OrderState) -> list[Event]:
        order.financial_status = "paid"
        order.received = order.current.total
        self._touch(order, self.now())
        return [("orders/paid", order.native), ("orders/updated", order.native)]

    def _control_cancel(self, order: OrderState, cancelled: bool) -> list[Event]:
        if cancelled == (order.cancelled_at is not None):
            return []
        return self._cancel(order, "customer", refund=True)

    def _cancel(self, order: OrderState, reason: str, refund: bool) -> list[Event]:
        now = self.now()
        order.cancelled_at = now
        order.cancel_reason = reason
        if order.received == 0:
            order.financial_status = "voided"
        elif refund:
            order.financial_status = "refunded"
        for fo in order.fos:
            if fo.fulfillable:
                fo.status, fo.updated_at = "closed", now
        self._touch(order, now)
        return [("orders/cancelled", order.native), ("orders/updated", order.native)]

    def _delete(self, order: OrderState) -> list[Event]:
        order.deleted = True
        index = bisect.bisect_left(self.order_ids, order.id)
        if index < len(self.order_ids) and self.order_ids[index] == order.id:
            del self.order_ids[index]
        return [("orders/delete", {"id": order.id})]

    def _fulfil_plan(self, request: FulfilRequest) -> tuple[OrderState, list[tuple[FulfillmentOrder, FoLine, int]]]:
        if not request.groups:
            raise unprocessable("line_items_by_fulfillment_order must contain at least one fulfillment order")
        found = [(self.find_fo(fo_id), lines) for fo_id, lines in request.groups]
        orders = {order.id for (order, _fo), _lines in found}
        locations = {fo.location.id for (_order, fo), _lines in found}
        if len(orders) > 1 or len(locations) > 1:
            raise unprocessable("Fulfillment orders must belong to the same order and location")
        plan = [step for (_order, fo), lines in found for step in _fo_plan(fo, lines)]
        if not plan:
            raise unprocessable("Invalid fulfillment order line item quantity requested.")
        return found[0][0][0], plan

    def _apply_fulfilment(
        self, order: OrderState, plan: list[tuple[FulfillmentOrder, FoLine, int]], tracking: Tracking, now: datetime
    ) -> Fulfillment:
        for fo, fo_line, qty in plan:
            fo_line.remaining -= qty
            fo_line.line.fulfilled += qty
            fo.status = "closed" if all(x.remaining == 0 for x in fo.lines) else "in_progress"
            fo.updated_at = now
        fos = list({fo.id: fo for fo, _line, _qty in plan}.values())
        fulfillment = Fulfillment(
            id=self.ids.next("fulfillment"),
            name=f"{order.name}.{len(order.fulfillments) + 1}",
            location=fos[0].location,
            lines=[(fo_line.line, qty) for _fo, fo_line, qty in plan],
            tracking=tracking,
            created_at=now,
            updated_at=now,
            fo_ids=[fo.id for fo in fos],
            pickup=fos[0].method == "pick_up",
        )
        order.fulfillments.append(fulfillment)
        self.fulfillment_owner[fulfillment.id] = order.id
        return fulfillment

    def _pickup_errors(self, fo_ids: list[int]) -> list[tuple[str, str]]:
        errors = []
        for fo_id in fo_ids:
            try:
                _order, fo = self.find_fo(fo_id)
            except ShopifyError:
                errors.append(("FULFILLMENT_ORDER_INVALID", "Invalid fulfillment order ID provided."))
                continue
            if fo.method != "pick_up" or not fo.fulfillable or not any(x.remaining for x in fo.lines):
                message = "The fulfillment order does not have any line items that can be prepared."
                errors.append(("NO_LINE_ITEMS_TO_PREPARE_FOR_FULFILLMENT_ORDER", message))
        return errors


def _fo_plan(fo: FulfillmentOrder, lines: list[tuple[int, int]] | None) -> list[tuple[FulfillmentOrder, FoLine, int]]:
    if not fo.fulfillable:
        raise unprocessable(f"Fulfillment order {fo.id} has an unfulfillable status= {fo.status}.")
    if lines is None:
        return [(fo, x, x.remaining) for x in fo.lines if x.remaining > 0]
    by_id = {x.id: x for x in fo.lines}
    plan = []
    for line_id, qty in lines:
        fo_line = by_id.get(line_id)
        if fo_line is None or not 0 < qty <= fo_line.remaining:
            raise unprocessable("Invalid fulfillment order line item quantity requested.")
        plan.append((fo, fo_line, qty))
    return plan


def _refuse(order: OrderState, change: dict[str, Any]) -> None:
    """Refuse, before touching anything, a change a merchant could not make in Shopify."""
    cancelled = order.cancelled_at is not None
    if change.get("lines") and cancelled:
        raise Refused("Shopify cannot edit a cancelled order")
    if change.get("cancelled") is False and cancelled:
        raise Refused("Shopify cannot un-cancel an order: cancelling is irreversible")
    if change.get("cancelled") and not cancelled and order.fulfillments:
        raise Refused("Shopify cannot cancel an order that has fulfillments")


def _discount(given: Any) -> dict[str, Any]:
    """A Shopify-only spec extra: `"discount": {"code": "TENOFF", "amount": "10.00"}` (a fixed-amount code)."""
    if not isinstance(given, dict) or not given.get("code"):
        return {}
    return {"discount_code": str(given["code"]), "discount": cents(Decimal(str(given.get("amount", "0"))))}


def _status(order: OrderState) -> str:
    if order.deleted:
        return "deleted"
    if order.cancelled_at is not None:
        return "cancelled"
    return order.fulfillment_status() or "unfulfilled"


def _tracking_view(fulfillment: Json) -> Json:
    keys = ("tracking_company", "tracking_number", "tracking_numbers", "tracking_url", "tracking_urls")
    return {"fulfillment_id": fulfillment["id"], **{key: fulfillment[key] for key in keys}}


def _webhook_body(payload: Json, fields: list[str]) -> bytes:
    if fields:
        payload = {key: value for key, value in payload.items() if key in fields}
    return json.dumps(payload).encode()


def _frozen(body: bytes) -> Callable[[], bytes]:
    return lambda: body


def _int(value: str | int) -> int:
    """An order id from a path; a malformed one is as unknown as a missing one."""
    try:
        return int(value)
    except ValueError:
        raise KeyError(value) from None


async def refused_answer(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=409)
