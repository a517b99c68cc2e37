"""BigCommerce sandbox: a local store that answers the V2 Orders and V3 Inventory / Webhooks APIs as BigCommerce does.

The store lives under `/stores/{store_hash}/` (its `base_url`, what a `[[stores]]` entry takes). Auth is
`X-Auth-Token` (plus an optional `X-Auth-Client`, which must then match the app's client id); anything else is
401. Every API answer carries `X-Rate-Limit-Time-Window-Ms`, `X-Rate-Limit-Time-Reset-Ms`,
`X-Rate-Limit-Requests-Quota` and `X-Rate-Limit-Requests-Left` (Standard/Plus plan: 150 requests per 30 s window);
over quota the answer is 429 with those headers. Errors use BigCommerce's shapes: V2 answers a list
`[{"status", "message"}]`, V3 an object `{"status", "title", "type"}`.

Webhooks are thin (`{"scope", "store_id", "data": {"type", "id", ...}, "hash", "created_at", "producer"}`) and signed
per Standard Webhooks: `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256 of
"{id}.{timestamp}.{body}">` keyed with the raw bytes of the app's client secret; a hook's own `headers` are sent
too. A failed delivery is retried after 60, 180, 300, 600, 900, 1800, 3600, 7200, 21600, 50400 and 86400 s; when
the last retry fails the hook is deactivated (`is_active: false`). Retries and duplicates keep the event's `hash`
and `webhook-id`. Where the sandbox knowingly differs from the real platform:

* hook destinations must be HTTPS on port 443, except that `http://127.0.0.1`, `localhost` and `[::1]` on any
  port are accepted too, because a sandbox can reach nothing else; new hooks work at once (not within a minute);
* orders do not consume the inventory (as with the store setting "Reduce stock: never"): the catalogue stock is
  what the merchant sets through the inventory adjustments;
* the domain block-listing (success ratio under 90 % in a two-minute window) is not modelled, only the retries.

Order documents are built in `bigcommerce_orders`; the routes are in `bigcommerce_v2` and `bigcommerce_v3`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
import zlib
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from fastapi.responses import JSONResponse

from sandbox.bigcommerce.orders import (
    AWAITING_FULFILLMENT,
    AWAITING_PAYMENT,
    CANCELLED,
    BcOrder,
    LineSpec,
    address_fields,
    consignments,
    order_fields,
    parse_date,
    pickup_fields,
    product_fields,
    render_address,
    render_order,
    reprice,
    reprice_product,
    ship_address_costs,
    status_fields,
)
from sandbox.core import DEFAULT_LOCATIONS, CatalogueItem, Sandbox, Subscription, spec_lines
from sandbox.ratelimit import FixedWindow

RETRY_DELAYS = (60.0, 180.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0, 50400.0, 86400.0)
QUOTA, WINDOW_S = 150, 30.0
DEFAULT_TOPICS = ("store/order/created", "store/order/updated", "store/order/archived", "store/order/statusUpdated")
STATUS_CODES_URL = "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"
REASONS = {
    401: "No credentials were supplied in the request.",
    404: "The requested resource was not found.",
    429: "Too many requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
FIRST_NAMES = ("Anna", "Daan", "Emma", "Lucas", "Sophie", "Sem", "Julia", "Noah", "Tess", "Finn")
LAST_NAMES = ("de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder")
STREETS = ("Kerkstraat", "Dorpsstraat", "Stationsweg", "Molenweg", "Schoolstraat", "Hoofdstraat", "Julianalaan")
CITIES = (("Amsterdam", "Noord-Holland", "1012"), ("Utrecht", "Utrecht", "3511"), ("Rotterdam", "Zuid-Holland", "3011"))

Event = tuple[str, dict[str, Any]]  # (scope, data)
api_version: ContextVar[str] = ContextVar("bigcommerce_api_version", default="v3")


def error_body(status: int, message: str, version: str) -> JSONResponse:
    """BigCommerce's error shape: V2 a list of `{status, message}`, V3 `{status, title, type}`."""
    if version == "v2":
        return JSONResponse([{"status": status, "message": message}], status_code=status)
    return JSONResponse({"status": status, "title": message, "type": STATUS_CODES_URL}, status_code=status)


class BigCommerceState(Sandbox):
    """A BigCommerce store: V2 orders, shipments and statuses; V3 inventory, locations and hooks."""

    platform = "bigcommerce"
    retry_delays = RETRY_DELAYS

    def __init__(
        self,
        *,
        locations: tuple[str, ...] = DEFAULT_LOCATIONS,
        seed: int = 1,
        clock: Callable[[], float] | None = None,
    ) -> None:
        super().__init__(locations=locations, seed=seed)
        digest = hashlib.sha256(f"bigcommerce-sandbox-{seed}".encode()).hexdigest()
        secret = hashlib.sha256(f"bigcommerce-app-{seed}".encode()).hexdigest()
        self.store_hash = "sbx" + digest[:7]
        self.store_id = str(1_000_000_000 + int(digest[7:15], 16) % 1_000_000_000)
        self.access_token, self.client_id, self.client_secret = digest[16:47], secret[:31], secret[31:]
        self.limiter = FixedWindow(QUOTA, WINDOW_S)
        self._clock = clock or time.monotonic
        self.orders: dict[int, BcOrder] = {}  # insertion order is id order
        self.ids = {name: itertools.count(start) for name, start in (("order", 100), ("product", 1), ("other", 1))}
        self.hook_ids = itertools.count(20_172_984)
        self._attempt = 0  # the delivery attempt in flight (the dispatcher delivers on one thread)

    # --- identity ---------------------------------------------------------------------------------------------
    @property
    def prefix(self) -> str:
        return f"/stores/{self.store_hash}"

    @property
    def api_base(self) -> str:
        """The absolute V2 URL that order links point at."""
        return f"{self.base_url}/v2"

    def on_bound(self, root_url: str) -> None:
        self.base_url = root_url + self.prefix

    def monotonic(self) -> float:
        return self._clock()

    def webhook_secret(self) -> str:
        return self.client_secret

    def default_topics(self) -> tuple[str, ...]:
        return DEFAULT_TOPICS

    def describe(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "base_url": self.base_url,
            "credentials": {"access_token": self.access_token, "client_id": self.client_id},
            "webhook_secret": self.client_secret,
            "locations": {name: str(n) for n, name in enumerate(self.locations, 1)},
        }

    # --- auth, rate limits, errors -----------------------------------------------------------------------------

    def error(self, status: int, message: str) -> JSONResponse:
        """An error in the shape of the API version the current request is for."""
        return error_body(status, message, api_version.get())

    # --- webhooks ----------------------------------------------------------------------------------------------
    def subscribe(self, topic: str, address: str, secret: str = "", **extra: Any) -> Subscription:
        """A hook as `POST /v3/hooks` makes it (ids in BigCommerce's range); every hook is signed with the secret."""
        stamp = int(self.now().timestamp())
        fields = {"headers": None, "created_at": stamp, "updated_at": stamp, **extra}
        with self.lock:
            sub = Subscription(next(self.hook_ids), topic, address, self.client_secret, True, 0, fields)
            self.subscriptions[sub.id] = sub
            return sub

    def topic_matches(self, subscribed: str, topic: str) -> bool:
        return subscribed == topic or (subscribed.endswith("/*") and topic.startswith(subscribed[:-1]))

    def webhook_headers(
        self, sub: Subscription, topic: str, body: bytes, event_id: str, attempt: int
    ) -> dict[str, str]:
        self._attempt = attempt
        stamp = str(int(self.now().timestamp()))
        digest = hmac.new(self.client_secret.encode(), f"{event_id}.{stamp}.".encode() + body, hashlib.sha256)
        custom: dict[str, str] = sub.extra.get("headers") or {}
        signature = "v1," + base64.b64encode(digest.digest()).decode()
        own = {"content-type": "application/json", "webhook-id": event_id, "webhook-timestamp": stamp}
        return {**custom, **own, "webhook-signature": signature}

    def webhook_failed(self, sub: Subscription) -> None:
        """After the last retry fails, BigCommerce deactivates the hook."""
        if self._attempt >= len(self.retry_delays):
            with self.lock:
                sub.active = False
                sub.extra["updated_at"] = int(self.now().timestamp())

    def fire(self, events: list[Event]) -> None:
        """Send each distinct event once to the hooks subscribed to its scope."""
        seen: list[Event] = []
        for event in events:
            if event not in seen:
                seen.append(event)
                self._send(*event)

    def _send(self, scope: str, data: dict[str, Any]) -> None:
        with self.lock:
            event_id = f"msg_{uuid.UUID(int=self.rng.getrandbits(128), version=4).hex}"
        created = int(self.now().timestamp())
        digest = hashlib.sha1(f"{event_id}:{scope}:{json.dumps(data)}".encode(), usedforsecurity=False).hexdigest()
        payload = {"scope": scope, "store_id": self.store_id, "data": data, "hash": digest, "created_at": created}
        body = json.dumps({**payload, "producer": f"stores/{self.store_hash}"}).encode()
        self.emit(scope, lambda: body, event_id)

    # --- the control surface -------------------------------------------------------------------------------------
    def create_order(self, spec: dict[str, Any]) -> dict[str, Any]:
        created = spec.get("created_at") or self.now()
        created = (parse_date(created) if isinstance(created, str) else created).replace(microsecond=0)
        with self.lock:
            lines = [LineSpec(i.sku, i.name, i.product_id, i.variant_id, q, p) for i, q, p in spec_lines(self, spec)]
            order = self._build(spec, lines, created)
            self.orders[order.id] = order
            rendered = self.render(order)
        if not spec.get("historical"):
            # A storefront order is created Incomplete (0) and moves on once checkout completes.
            status = {"previous_status_id": 0, "new_status_id": order.status_id}
            created, moved = order_event("created", order), order_event("statusUpdated", order, status=status)
            self.fire([created, moved, order_event("updated", order)])
        return rendered

    def change_order(self, order_id: str, change: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            order = self.order(order_id)
            events = self._edit_lines(order, change["lines"]) if change.get("lines") else []
            events += self._mark_paid(order) if change.get("paid") else []
            if "cancelled" in change:
                events += self._cancel(order, bool(change["cancelled"]))
            events += self.archive(order) if change.get("deleted") else []
            rendered = self.render(order)
        self.fire(events)
        return rendered

    def order_view(self, order_id: str) -> dict[str, Any]:
        with self.lock:
            order = self.order(order_id)
            shipments = [dict(s) for s in order.shipments]
            return {
                "platform": self.platform,
                "order": self.render(order),
                "status": order.data["status"],
                "status_id": order.status_id,
                "writes": list(self.writes.get(str(order.id), [])),
                "products": [dict(p) for p in order.products],
                "shipping_addresses": [render_address(a, self.api_base) for a in order.addresses],
                "consignments": consignments(order, self.api_base, with_lines=True),
                "shipments": shipments,
                "tracking": [{k: s[k] for k in TRACKING_KEYS} for s in shipments],
            }

    # --- orders ----------------------------------------------------------------------------------------------------
    def order(self, order_id: str | int) -> BcOrder:
        """The order with this id; KeyError when there is none (also for an id that is not a number)."""
        try:
            return self.orders[int(order_id)]
        except ValueError as exc:
            raise KeyError(order_id) from exc

    def render(self, order: BcOrder, include: frozenset[str] = frozenset(), as_object: bool = False) -> dict[str, Any]:
        return render_order(order, self.api_base, set(include), as_object)

    def set_status(self, order: BcOrder, status_id: int) -> list[Event]:
        previous = order.status_id
        if previous == status_id:
            return []
        if status_id == CANCELLED:
            order.status_before_cancel = previous
        order.data.update(status_fields(status_id))
        order.touch(self.now())
        status = {"previous_status_id": previous, "new_status_id": status_id}
        return [order_event("statusUpdated", order, status=status), order_event("updated", order)]

    def archive(self, order: BcOrder) -> list[Event]:
        if order.data["is_deleted"]:
            return []
        order.data["is_deleted"] = True
        order.touch(self.now())
        return [order_event("archived", order)]

    def _mark_paid(self, order: BcOrder) -> list[Event]:
        if order.data["payment_status"] in {"captured", "paid"}:
            return []
        order.data["payment_status"] = "paid"
        order.touch(self.now())
        moved = self.set_status(order, AWAITING_FULFILLMENT) if order.status_id == AWAITING_PAYMENT else []
        return [*moved, order_event("updated", order)]

    def _cancel(self, order: BcOrder, cancelled: bool) -> list[Event]:
        if cancelled:
            return self.set_status(order, CANCELLED)
        return self.set_status(order, order.status_before_cancel) if order.status_id == CANCELLED else []

    def _edit_lines(self, order: BcOrder, lines: list[dict[str, Any]]) -> list[Event]:
        """Set line quantities as a merchant editing the order would; quantity 0 removes the line."""
        for line in lines:
            sku, quantity = line["sku"], int(line["quantity"])
            product = next((p for p in order.products if p["sku"] == sku), None)
            if product is None and quantity > 0:
                self._add_product(order, self._line(self.item(sku), quantity))
            elif product is not None and quantity == 0:
                order.products.remove(product)
            elif product is not None:
                product["quantity"] = quantity
                reprice_product(product)
        reprice(order)
        order.touch(self.now())
        return [order_event("updated", order)]

    # --- building orders ---------------------------------------------------------------------------------------
    def _build(self, spec: dict[str, Any], lines: list[LineSpec], created: datetime) -> BcOrder:
        oid = next(self.ids["order"])
        pickup = spec.get("kind") == "pickup"
        customer = self._customer(spec.get("customer") or {}, pickup)
        order = BcOrder(order_fields(oid, created, customer, bool(spec.get("paid"))), created, created)
        if pickup:
            location = self.pickup_location(spec.get("pickup_location") or self.locations[0])
            order.pickups.append(pickup_fields(next(self.ids["other"]), location))
        else:
            order.addresses.append(address_fields(next(self.ids["other"]), oid, customer["billing_address"]))
        for line in lines:
            self._add_product(order, line)
        ship_address_costs(order)
        reprice(order)
        return order

    def _line(self, item: CatalogueItem, quantity: int) -> LineSpec:
        return LineSpec(item.sku, item.name, item.product_id, item.variant_id, quantity, item.price)

    def _add_product(self, order: BcOrder, line: LineSpec) -> None:
        address_id = order.addresses[0]["id"] if order.addresses else 0
        pickup_id = order.pickups[0]["id"] if order.pickups else 0
        product = product_fields(next(self.ids["product"]), order.id, line, address_id, pickup_id)
        reprice_product(product)
        order.products.append(product)

    def _customer(self, given: dict[str, Any], pickup: bool) -> dict[str, Any]:
        rng = self.rng
        first, _, last = (given.get("name") or f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}").partition(" ")
        email = given.get("email") or f"{first.lower()}.{rng.randint(1, 9999)}@example.com"
        city, state, postcode = rng.choice(CITIES)
        billing: dict[str, Any] = {
            "first_name": first,
            "last_name": last,
            "company": "",
            "street_1": f"{rng.choice(STREETS)} {rng.randint(1, 200)}",
            "street_2": "",
            "city": city,
            "state": state,
            "zip": f"{postcode} {rng.choice('ABCDEHKL')}{rng.choice('NPRSTVXZ')}",
            "country": "Netherlands",
            "country_iso2": "NL",
            "phone": given.get("phone") or f"06{rng.randint(10_000_000, 99_999_999)}",
            "email": email,
            "form_fields": [],
        }
        return {
            "customer_id": zlib.crc32(email.encode()) % 90_000 + 10_000 if given else 0,
            "billing_address": billing,
            "ip": f"84.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}",
            "cart_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "pickup": pickup,
        }

    # --- locations -------------------------------------------------------------------------------------------------
    def location_id(self, name: str) -> int:
        return self.locations.index(name) + 1

    def pickup_location(self, name: str) -> dict[str, Any]:
        """The location block of a pickup consignment (`pickupConsignmentLocation_Get`), as the V3 location says."""
        location = location_json(self.location_id(name), name)
        address = location["address"]
        return {
            "id": location["id"],
            "name": location["label"],
            "code": location["code"],
            "address_line_1": address["address1"],
            "address_line_2": address["address2"],
            "city": address["city"],
            "state": address["state"],
            "postal_code": address["zip"],
            "country_alpha2": address["country_code"],
            "email": address["email"],
            "phone": address["phone"],
        }


TRACKING_KEYS = ("id", "tracking_number", "tracking_carrier", "shipping_provider", "tracking_link")


def order_event(action: str, order: BcOrder, **extra: Any) -> Event:
    """A `store/order/{action}` event: the order's type and id, plus what the scope adds (e.g. `status`)."""
    return f"store/order/{action}", {"type": "order", "id": order.id, **extra}


def location_json(n: int, name: str) -> dict[str, Any]:
    """A location as `GET /v3/inventory/locations` lists it (`LocationResponse`)."""
    day = {"open": True, "opening": "09:00", "closing": "18:00"}
    hours = {d: day for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday")}
    address = {
        "address1": f"Stationsplein {n}",
        "address2": "",
        "city": name.title(),
        "state": "",
        "zip": f"{1000 + n * 11} AB",
        "email": f"{name}@example.com",
        "phone": f"020555{n:04d}",
        "geo_coordinates": {"latitude": 52.0 + n / 10, "longitude": 4.5 + n / 10},
        "country_code": "NL",
    }
    return {
        "id": n,
        "code": name.upper(),
        "label": name,
        "description": f"The {name.title()} shop",
        "managed_by_external_source": False,
        "type_id": "PHYSICAL",
        "enabled": True,
        "operating_hours": {**hours, "sunday": {"open": False, "opening": "00:00", "closing": "00:00"}},
        "time_zone": "Europe/Amsterdam",
        "created_at": "2024-01-02T09:00:00Z",
        "updated_at": "2024-01-02T09:00:00Z",
        "address": address,
        "storefront_visibility": True,
        "special_hours": [],
    }
