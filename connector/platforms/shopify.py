"""Shopify client: the GraphQL Admin API through the official `ShopifyAPI` SDK, and webhook checks.

What it is for: read a store's orders (incremental poll and backfill), fetch one order, write fulfilments,
ready-for-pickup and cancellations back, and subscribe the daemon to the order webhooks. No business rule and no
database here. The raw bundle handed to `connector.mapping.shopify` is a GraphQL `Order` node as the fragment
`ORDER_QUERY_FIELDS` selects it (with its fulfillment orders: the only reliable sign of an in-store pickup).

Everything goes through GraphQL, nothing through REST: Shopify calls REST legacy (new public apps must be
GraphQL-only since 2025-04), GraphQL gives an order with its fulfillment orders in one request where REST needs
two, and every operation the connector needs has a GraphQL form (platforms.md section 1):

    orders(first, after, sortKey: UPDATED_AT, query: "updated_at:>='…'")  polls and backfills, oldest change first
    order(id:)                                                           one order; webhook completion
    order(id:) / fulfillmentOrder(id:) { <connection>(after:) }          the rest of a long list of lines
    order(id:) { cancelledAt displayFulfillmentStatus fulfillmentOrders } the state a write-back is decided on
    fulfillmentCreateV2, fulfillmentOrderLineItemsPreparedForPickup, orderCancel      write-backs
    webhookSubscriptions, webhookSubscriptionCreate                      the orders/* subscriptions
    location(id:) { inventoryLevels(first, after) }                      stock per location (`read_stock`)

The module is split in four: this one (the `Platform`, webhook checks), `shopify_transport` (one GraphQL request:
the SDK's per-thread session set in the calling thread, the cost gauge, errors by meaning), `shopify_queries` (the
documents, sized so each stays under Shopify's cost limits) and `shopify_writes` (what a write-back sends, decided
from the fulfillment orders Shopify shows).

Pagination: Relay cursors over `sortKey: UPDATED_AT` (ties by id), filtered with Shopify's search syntax
(`updated_at:>='2024-05-01T12:00:00Z'`; dates must be quoted). An order changed during a walk moves behind the
cursor and simply comes again later, as its new version. `OrderPage.total` stays None: the 2024-07 `ordersCount`
query is not in the API this client is built against. Order history older than 60 days needs the
`read_all_orders` scope.

Rate budget: GraphQL is limited by calculated query cost per app and store (Standard plan: 100 points a second
restored; the sandbox's bucket holds 2000), not by requests. Every answer reports
`extensions.cost.throttleStatus`; `CostGauge` keeps it, projects it forward at `restoreRate`, and before each
query pauses the store's `RateBudget` until the query's requested cost (as Shopify reported it for the same
operation) fits, so the bucket drains at its restore rate and Shopify rarely has to refuse. A page of the listing
asks for 902 points but is charged what it returns (see `shopify_queries`). A refusal (`THROTTLED`, HTTP 200)
becomes `RateLimited(retry_after=(requested - available) / restoreRate)`, an HTTP 429 `RateLimited(Retry-After)`.
`budget()` spaces calls at least `MIN_INTERVAL_S` apart: 10 calls a second, what the cheapest calls (10-point
mutations) can sustain at 100 points a second.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from connector.mapping.statuses import Action
from connector.platforms import shopify_queries as q
from connector.platforms.base import OrderPage, PlatformWrite, RateBudget, RetryPolicy, StockCount, WebhookDelivery
from connector.platforms.shopify_transport import (
    DEFAULT_POLICY,
    TIMEOUT_S,
    CostGauge,
    QueryTooCostly,
    ShopifyTransport,
    messages,
    obj,
)
from connector.platforms.shopify_writes import Plan, fulfilment_plan, nodes, pickup_orders, tracking_input
from connector.platforms.signatures import check_base64_hmac, webhook_json
from connector.runtime.config import StoreConfig
from connector.runtime.errors import ConfigError, FatalError, RetriableError, SkippableError, WebhookRejected

log = structlog.get_logger(__name__)

MIN_INTERVAL_S = 0.1
HMAC_HEADER = "x-shopify-hmac-sha256"
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
LOCATION_GID = re.compile(r"gid://shopify/Location/[0-9]+")
ONCE = RetryPolicy(attempts=1)  # mutations: a lost answer is retried by the outbox, which reads Shopify first
CANCEL_NOTE = "Cancelled by the order sync connector"


def budget() -> RateBudget:
    """A store's budget: calls at most every `MIN_INTERVAL_S`; the cost gauge paces the expensive ones."""
    return RateBudget(min_interval=MIN_INTERVAL_S)


# --- webhooks --------------------------------------------------------------------------------------------------
def verify_webhook(headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """Raise `WebhookRejected(401)` unless `X-Shopify-Hmac-Sha256` = base64(HMAC-SHA256(client secret, body)).

    Shopify has no unsigned liveness call: every delivery, the admin's test notification included, is signed.
    """
    check_base64_hmac(headers, body, secret, HMAC_HEADER)


def parse_webhook(headers: Mapping[str, str], body: bytes) -> WebhookDelivery:
    """What a delivery is about; deduplicated on `X-Shopify-Event-Id` (a retry carries the same one).

    The body is the REST order as it was when the event fired; it lacks fulfillment orders, so `complete`
    fetches the order. `orders/delete` carries only the id; `orders/edited` carries an `order_edit`.
    """
    topic = headers.get("x-shopify-topic", "")
    if not topic.startswith("orders/"):
        raise WebhookRejected(400, f"unsupported webhook topic {topic!r}: only orders/* topics are handled")
    event = headers.get("x-shopify-event-id") or headers.get("x-shopify-webhook-id")
    if not event:
        raise WebhookRejected(400, "missing X-Shopify-Event-Id (and X-Shopify-Webhook-Id) header")
    payload = webhook_json(body)
    key = f"shopify:{event}"
    if topic == "orders/edited":
        edit = payload.get("order_edit")
        order_id = _order_id(edit.get("order_id") if isinstance(edit, Mapping) else None)
        return WebhookDelivery(key, topic, order_id)
    order_id = _order_id(payload.get("id"))
    if topic == "orders/delete":
        return WebhookDelivery(key, topic, order_id, deleted=True, contradiction=_delete_contradiction(payload))
    cancelled = topic == "orders/cancelled"
    contradiction = ""
    if cancelled and not payload.get("cancelled_at"):
        contradiction = "the orders/cancelled body says the order is not cancelled (no cancelled_at)"
    updated = _utc(payload.get("updated_at"))
    return WebhookDelivery(
        key, topic, order_id, payload=payload, updated_at=updated, cancelled=cancelled, contradiction=contradiction
    )


def _delete_contradiction(payload: Mapping[str, Any]) -> str:
    """An `orders/delete` body is only `{"id": …}`; a whole order under that topic is some other event's body."""
    extra = sorted(set(payload) - {"id"})
    return f"the orders/delete body is a whole order (it has {', '.join(extra[:3])}), not a deletion" if extra else ""


def _order_id(value: object) -> str:
    text = str(value) if isinstance(value, int | str) and not isinstance(value, bool) else ""
    if not text.isdigit():
        raise WebhookRejected(400, "webhook body has no order id")
    return text


def _utc(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
    return moment.astimezone(UTC) if moment is not None and moment.tzinfo else None


# --- small values ----------------------------------------------------------------------------------------------
def order_gid(external_id: str) -> str:
    return f"gid://shopify/Order/{external_id}"


def search_time(moment: datetime) -> str:
    """A timestamp for Shopify's search syntax: UTC, whole seconds (rounded down), quoted."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return "'" + aware.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") + "'"


def orders_search(since: datetime | None, until: datetime | None) -> str | None:
    """`updated_at:>='…' updated_at:<'…'` (terms are ANDed), or None for every order.

    Shopify stamps changes to the second: `since` is rounded down and `until` up, so neither loses an order.
    """
    terms = []
    if since is not None:
        terms.append(f"updated_at:>={search_time(since)}")
    if until is not None:
        rounded_up = until + timedelta(microseconds=(1_000_000 - until.microsecond) % 1_000_000)
        terms.append(f"updated_at:<{search_time(rounded_up)}")
    return " ".join(terms) or None


def location_gid(name: str, platform_id: str) -> str:
    """The gid of our location `name`'s Shopify location, configured as the gid itself or as its number."""
    text = platform_id.strip()
    if text.isdigit():
        return f"gid://shopify/Location/{text}"
    if LOCATION_GID.fullmatch(text):
        return text
    key = f"locations.{name}.platform_ids.shopify"
    raise ConfigError(key, f"{platform_id!r} is not a Shopify location id (gid://shopify/Location/N, or N)")


def topic_enum(topic: str) -> str:
    """`orders/partially_fulfilled` -> `ORDERS_PARTIALLY_FULFILLED` (GraphQL's `WebhookSubscriptionTopic`)."""
    return topic.upper().replace("/", "_")


# --- the client ------------------------------------------------------------------------------------------------
class ShopifyClient:
    """The `Platform` for one Shopify store. Every request goes through `call(budget, …)`."""

    def __init__(
        self,
        store: StoreConfig,
        budget: RateBudget,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        page_size: int = q.PAGE_ORDERS,
        stock_page_size: int = q.PAGE_LEVELS,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.store = store
        self.budget = budget
        self.page_size = page_size
        self.stock_page_size = stock_page_size
        self.api = ShopifyTransport(store, budget, policy=policy, timeout=timeout)

    @property
    def gauge(self) -> CostGauge:
        """Shopify's cost bucket as last reported (and the points this client has been charged)."""
        return self.api.gauge

    @property
    def _context(self) -> dict[str, str]:
        return self.api.context

    def _query(
        self,
        operation: str,
        document: str,
        variables: Mapping[str, Any],
        *,
        what: str,
        once: bool = False,
        partial_ok: bool = True,
    ) -> dict[str, Any]:
        policy = ONCE if once else None
        return self.api.query(operation, document, variables, what=what, policy=policy, partial_ok=partial_ok)

    def _mapping(self, value: object, what: str) -> dict[str, Any]:
        return obj(value, what, **self._context)

    # --- orders --------------------------------------------------------------------------------------------
    def iter_order_pages(self, since: datetime | None, until: datetime | None = None) -> Iterator[OrderPage]:
        variables: dict[str, Any] = {"first": self.page_size, "after": None, "query": orders_search(since, until)}
        while True:
            connection = self._orders_page(variables)
            orders = nodes(connection)
            for order in orders:
                self._complete_lists(order)
            log.info("orders_page_fetched", store=self.store.name, orders=len(orders), spent=self.gauge.spent)
            if orders:
                yield OrderPage(orders=orders)
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage") or not info.get("endCursor"):
                return
            variables["after"] = info["endCursor"]

    def _orders_page(self, variables: dict[str, Any]) -> Mapping[str, Any]:
        """One page; a page Shopify finds too costly is asked again smaller (its cost scales with `first`)."""
        while True:
            try:
                data = self._query("OrdersPage", q.ORDERS_PAGE, variables, what="list orders")
            except QueryTooCostly as exc:
                if variables["first"] <= 1:
                    raise
                variables["first"] = max(1, int(variables["first"] * exc.limit // max(exc.cost, 1)))
                log.warning("orders_page_shrunk", store=self.store.name, first=variables["first"], cost=exc.cost)
                continue
            return self._mapping(data.get("orders"), "list orders")

    def fetch_order(self, external_id: str) -> Mapping[str, Any] | None:
        if not external_id.isdigit():
            raise SkippableError(f"{external_id!r} is not a Shopify order id", **self._context)
        variables = {"id": order_gid(external_id)}
        data = self._query("Order", q.ORDER_QUERY, variables, what=f"get order {external_id}")
        order = data.get("order")
        if order is None:
            return None
        order = self._mapping(order, f"get order {external_id}")
        self._complete_lists(order)
        return order

    def complete(self, delivery: WebhookDelivery) -> Mapping[str, Any] | None:
        """The order as Shopify has it now (one query): the webhook body is REST-shaped, frozen at trigger time
        and has no fulfillment orders, so pickup could not be told from it. Deletions need nothing."""
        if delivery.deleted:
            return None
        return self.fetch_order(delivery.external_id)

    def _complete_lists(self, node: Any, path: str = "") -> None:
        """Fetch the rest of every connection Shopify cut off (`hasNextPage`), in place, nested ones too."""
        for connection_path in q.CONNECTIONS.get(path, ()):
            name = connection_path.rpartition(".")[2]
            connection = node.get(name)
            while isinstance(connection, dict) and (connection.get("pageInfo") or {}).get("hasNextPage"):
                variables = {"id": node["id"], "after": connection["pageInfo"]["endCursor"]}
                operation, document = q.more_operation(connection_path), q.more_query(connection_path)
                data = self._query(operation, document, variables, what=f"read more {name}")
                more = self._mapping(self._mapping(data.get("owner"), "read more").get("conn"), "read more")
                connection["nodes"] = [*connection.get("nodes", []), *more.get("nodes", [])]
                connection["pageInfo"] = more.get("pageInfo") or {}
            if connection_path in q.CONNECTIONS:
                for child in nodes(connection):
                    self._complete_lists(child, connection_path)

    # --- write-back ----------------------------------------------------------------------------------------
    def apply_write(self, write: PlatformWrite) -> dict[str, Any]:
        """Read the order's fulfillment orders, then write only what Shopify does not show yet (no idempotency
        key exists for fulfilments): a write already there answers `{"already": True, ...}`."""
        handlers: dict[str, Callable[[PlatformWrite, Mapping[str, Any]], dict[str, Any]]] = {
            Action.CREATE_FULFILLMENT: self._fulfil,
            Action.READY_FOR_PICKUP: self._ready_for_pickup,
            Action.CANCEL_ORDER: self._cancel,
        }
        handler = handlers.get(write.action)
        context = {**self._context, "external_id": write.external_id}
        if handler is None:
            raise SkippableError(f"Shopify cannot {write.action}: no such write for Shopify", **context)
        state = self._write_state(write.external_id)
        if state is None:
            raise SkippableError(f"order {write.external_id} no longer exists on Shopify", **context)
        return handler(write, state)

    def _write_state(self, external_id: str) -> Mapping[str, Any] | None:
        if not external_id.isdigit():
            raise SkippableError(f"{external_id!r} is not a Shopify order id", **self._context)
        data = self._query("WriteState", q.WRITE_STATE, {"id": order_gid(external_id)}, what="read order state")
        if data.get("order") is None:
            return None
        order = self._mapping(data["order"], "read order state")
        self._complete_lists(order)
        return order

    def _fulfil(self, write: PlatformWrite, order: Mapping[str, Any]) -> dict[str, Any]:
        context = {**self._context, "external_id": write.external_id}
        if order.get("cancelledAt"):
            raise SkippableError(f"order {write.external_id} is cancelled on Shopify: nothing to fulfil", **context)
        plan = fulfilment_plan(nodes(order.get("fulfillmentOrders")), write.location_id, write.lines)
        if not plan.groups and plan.waiting:
            message = f"fulfillment orders {', '.join(plan.waiting)} are on hold or scheduled on Shopify"
            raise RetriableError(message, **context)
        if not plan.groups and plan.unknown:
            message = f"SKUs {', '.join(plan.unknown)} are not on order {write.external_id}'s fulfillment orders"
            raise SkippableError(message, **context)
        if not plan.groups:
            return {"already": True, "order": order.get("id"), "status": order.get("displayFulfillmentStatus")}
        created = [self._create_fulfillment(write, plan, location) for location in plan.groups]
        return {"already": False, "order": order.get("id"), "fulfillments": created}

    def _create_fulfillment(self, write: PlatformWrite, plan: Plan, location: str) -> dict[str, Any]:
        fulfillment: dict[str, Any] = {"lineItemsByFulfillmentOrder": plan.groups[location]}
        fulfillment["notifyCustomer"] = write.notify
        tracking = tracking_input(write.tracking)
        if tracking:
            fulfillment["trackingInfo"] = tracking
        what = f"fulfil order {write.external_id}"
        data = self._query("Fulfill", q.FULFILL, {"fulfillment": fulfillment}, what=what, once=True)
        payload = self._mapping(data.get("fulfillmentCreateV2"), what)
        self._refuse_on_user_errors(payload.get("userErrors"), what, write.external_id)
        done = self._mapping(payload.get("fulfillment"), what)
        return {**done, "location": location}

    def _ready_for_pickup(self, write: PlatformWrite, order: Mapping[str, Any]) -> dict[str, Any]:
        context = {**self._context, "external_id": write.external_id}
        if order.get("cancelledAt"):
            raise SkippableError(f"order {write.external_id} is cancelled on Shopify", **context)
        ready, has_pickup = pickup_orders(nodes(order.get("fulfillmentOrders")), write.location_id)
        if not has_pickup:
            raise SkippableError(f"order {write.external_id} has no in-store pickup on Shopify", **context)
        if not ready or order.get("displayFulfillmentStatus") == "IN_PROGRESS":
            return {"already": True, "order": order.get("id"), "status": order.get("displayFulfillmentStatus")}
        what = f"mark order {write.external_id} ready for pickup"
        variables = {"input": {"lineItemsByFulfillmentOrder": [{"fulfillmentOrderId": fo} for fo in ready]}}
        data = self._query("PrepareForPickup", q.PREPARE_FOR_PICKUP, variables, what=what, once=True)
        errors = self._mapping(data.get("fulfillmentOrderLineItemsPreparedForPickup"), what).get("userErrors")
        if errors and all(_code(e) == "NO_LINE_ITEMS_TO_PREPARE_FOR_FULFILLMENT_ORDER" for e in errors):
            return {"already": True, "order": order.get("id"), "fulfillment_orders": ready}
        self._refuse_on_user_errors(errors, what, write.external_id)
        return {"already": False, "order": order.get("id"), "fulfillment_orders": ready}

    def _cancel(self, write: PlatformWrite, order: Mapping[str, Any]) -> dict[str, Any]:
        """`orderCancel` without refunding (money is the merchant's call) and restocking Shopify's inventory."""
        if order.get("cancelledAt"):
            return {"already": True, "order": order.get("id"), "cancelled_at": order.get("cancelledAt")}
        what = f"cancel order {write.external_id}"
        variables = {
            "orderId": order_gid(write.external_id),
            "reason": "OTHER",
            "refund": False,
            "restock": True,
            "notifyCustomer": write.notify,
            "staffNote": CANCEL_NOTE,
        }
        data = self._query("Cancel", q.CANCEL, variables, what=what, once=True)
        payload = self._mapping(data.get("orderCancel"), what)
        errors = payload.get("orderCancelUserErrors") or []
        if errors and all("already" in str(e.get("message", "")).lower() for e in errors):
            return {"already": True, "order": order.get("id")}
        self._refuse_on_user_errors(errors, what, write.external_id)
        return {"already": False, "order": order.get("id"), "job": payload.get("job")}

    def _refuse_on_user_errors(self, errors: Any, what: str, external_id: str) -> None:
        if errors:
            message = f"{what}: Shopify refused: {messages(list(errors))}"
            raise SkippableError(message, **self._context, external_id=external_id)

    # --- webhooks ------------------------------------------------------------------------------------------
    def register_webhooks(self, address: str) -> list[str]:
        """One subscription per order topic at `address`, through GraphQL; existing ones are kept.

        Shopify signs every delivery with the app's client secret (the store's `webhook_secret`): a
        subscription has no secret of its own. `callbackUrl`/`endpoint` are right for the 2024-07 API; the newest
        versions deprecate them in favour of `uri`.
        """
        existing = {sub["topic"]: sub for sub in self._subscriptions() if _callback(sub) == address}
        described = []
        for topic in ORDER_TOPICS:
            found = existing.get(topic_enum(topic))
            action = "kept" if found else "created"
            sub = found or self._subscribe(topic, address)
            log.info("webhook_registered", store=self.store.name, topic=topic, webhook=sub.get("id"), action=action)
            described.append(f"{topic} -> {address} ({sub.get('id')}; {action})")
        return described

    def _subscriptions(self) -> Iterator[Mapping[str, Any]]:
        after: str | None = None
        while True:
            data = self._query("Webhooks", q.WEBHOOKS, {"after": after}, what="list webhooks")
            connection = self._mapping(data.get("webhookSubscriptions"), "list webhooks")
            yield from nodes(connection)
            info = connection.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            after = info.get("endCursor")

    def _subscribe(self, topic: str, address: str) -> Mapping[str, Any]:
        what = f"create webhook {topic}"
        variables = {"topic": topic_enum(topic), "webhookSubscription": {"callbackUrl": address, "format": "JSON"}}
        data = self._query("WebhookCreate", q.WEBHOOK_CREATE, variables, what=what)
        payload = self._mapping(data.get("webhookSubscriptionCreate"), what)
        errors = payload.get("userErrors") or []
        if errors and all("already been taken" in str(e.get("message", "")) for e in errors):
            # an earlier attempt's answer was lost, but it created the subscription: use that one
            taken = (
                s for s in self._subscriptions() if s.get("topic") == topic_enum(topic) and _callback(s) == address
            )
            return next(taken, {"topic": topic_enum(topic)})
        if errors:
            raise FatalError(f"{what}: Shopify refused: {messages(list(errors))}", **self._context)
        return self._mapping(payload.get("webhookSubscription"), what)

    # --- stock ---------------------------------------------------------------------------------------------
    def read_stock(self, location_ids: Mapping[str, str]) -> Iterator[StockCount]:
        """Each location's inventory levels, page by page: `on_hand` where the API version has it (2023-01 on),
        else `available`, which leaves out units committed to unfulfilled orders (see `shopify_queries`).

        Items Shopify does not track (`tracked: false`) and items without a SKU are left out: they have no count
        to give, and our ledger knows items by SKU only.
        """
        operation, document, quantity = q.stock_query(self.store.api_version)
        wanted = {name: location_gid(name, platform_id) for name, platform_id in location_ids.items()}
        for name, gid in wanted.items():
            variables: dict[str, Any] = {"id": gid, "first": self.stock_page_size, "after": None}
            while True:
                levels = self._stock_page(operation, document, variables, name)
                counts = [c for c in (stock_count(lv, name, quantity) for lv in nodes(levels)) if c is not None]
                log.info("stock_page_fetched", store=self.store.name, location=name, counts=len(counts))
                yield from counts
                info = levels.get("pageInfo") or {}
                if not info.get("hasNextPage") or not info.get("endCursor"):
                    break
                variables["after"] = info["endCursor"]

    def _stock_page(self, operation: str, document: str, variables: Mapping[str, Any], name: str) -> dict[str, Any]:
        """One page of a location's inventory levels; a location Shopify does not have is a configuration error.

        Every field is needed (`partial_ok=False`): without `read_inventory` (or `read_locations`) Shopify answers
        `location: null` with ACCESS_DENIED, which must not pass for a location that is not there.
        """
        what = f"read stock at {name}"
        location = self._query(operation, document, variables, what=what, partial_ok=False).get("location")
        if location is None:
            key = f"locations.{name}.platform_ids.shopify"
            raise ConfigError(key, f"Shopify has no location {variables['id']} (check the id in the admin)")
        return self._mapping(self._mapping(location, what).get("inventoryLevels"), what)

    def close(self) -> None:
        """Nothing to release: every request opens its own connection (urllib, as the SDK does)."""


def stock_count(level: Mapping[str, Any], location: str, quantity: str) -> StockCount | None:
    """The count one inventory level gives (`quantity` is "on_hand" or "available"), None for an untracked item
    or one without a SKU. Shopify lets a level go below zero (oversold); that is passed on as it is."""
    item = level.get("item")
    sku = str(item.get("sku") or "").strip() if isinstance(item, Mapping) else ""
    if not sku or not isinstance(item, Mapping) or item.get("tracked") is False:
        return None
    if quantity == "available":
        units = level.get("available")
    else:
        named = [x for x in level.get("quantities") or () if isinstance(x, Mapping) and x.get("name") == quantity]
        units = named[0].get("quantity") if named else None
    if isinstance(units, bool) or not isinstance(units, int):
        raise RetriableError(f"read stock at {location}: Shopify gave no {quantity} for {sku}")
    return StockCount(sku, location, units)


def _code(error: Any) -> str:
    return str(error.get("code") or "") if isinstance(error, Mapping) else ""


def _callback(subscription: Mapping[str, Any]) -> str:
    endpoint = subscription.get("endpoint")
    return str(endpoint.get("callbackUrl") or "") if isinstance(endpoint, Mapping) else ""


__all__ = [
    "ORDER_TOPICS",
    "ShopifyClient",
    "budget",
    "location_gid",
    "order_gid",
    "orders_search",
    "parse_webhook",
    "stock_count",
    "topic_enum",
    "verify_webhook",
]
