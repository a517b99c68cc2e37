"""What every platform sandbox shares: the control surface, faults, the request log and webhook delivery.

A platform sandbox (one module per platform) subclasses `Sandbox` and fills in the platform's own API: its routes,
its native order JSON, its auth and rate-limit answers, and its webhook topics, headers and signature. This module
holds what is the same everywhere:

* the control surface under `/_sandbox/` (orders, requests, faults, rate_limit, seed), outside the platform's API;
* a request log (every API call with method, path, status and time);
* fault injection on API calls (error rate, latency) and on webhooks (drop, duplicate, reorder, delay);
* a webhook dispatcher thread that delivers with the platform's retry schedule;
* a deterministic catalogue (SKUs with stock per location) and order generator.

The platform hooks are listed on `Sandbox` below; everything else is shared.
"""

from __future__ import annotations

import heapq
import itertools
import random
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

log = structlog.get_logger(__name__)

CONTROL_PREFIX = "/_sandbox"
DEFAULT_LOCATIONS = ("amsterdam", "utrecht", "rotterdam")


@dataclass
class Faults:
    error_rate: float = 0.0  # share of API calls answered with a 5xx
    latency_ms: float = 0.0  # added to every API call
    webhook_drop: float = 0.0  # share of webhook events never sent
    webhook_duplicate: float = 0.0  # share of webhook events sent twice
    webhook_reorder: bool = False  # hold each event and send it after the next one
    webhook_delay_s: float = 0.0  # every webhook event waits this long before its first attempt
    webhook_retry_scale: float = 1.0  # multiply the platform's retry schedule (tests shrink it)

    def update(self, changes: Mapping[str, Any]) -> None:
        for key, value in changes.items():
            if not hasattr(self, key):
                raise ValueError(f"unknown fault {key!r}")
            setattr(self, key, type(getattr(self, key))(value))


@dataclass(frozen=True)
class CatalogueItem:
    sku: str
    name: str
    price: Decimal
    stock: dict[str, int]  # location name -> units
    product_id: int
    variant_id: int


@dataclass
class Subscription:
    """A webhook subscription, whichever API created it."""

    id: int
    topic: str
    address: str
    secret: str = ""
    active: bool = True
    failures: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(order=True)
class _Pending:
    due: float
    seq: int
    subscription: Subscription = field(compare=False)
    topic: str = field(compare=False)
    body: Callable[[], bytes] = field(compare=False)
    attempt: int = field(compare=False, default=0)
    event_id: str = field(compare=False, default="")


class WebhookDispatcher:
    """Delivers webhook events on a thread, with faults and the platform's retry schedule."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._sandbox = sandbox
        self._heap: list[_Pending] = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._held: _Pending | None = None
        self._delivering = 0  # popped from the heap, not yet delivered (nor queued again for a retry)
        self._stop = False
        self._client = httpx.Client(timeout=sandbox.webhook_timeout)
        self._thread = threading.Thread(target=self._run, name=f"{sandbox.platform}-webhooks", daemon=True)
        self.delivered: list[dict[str, Any]] = []

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify_all()
        self._thread.join(timeout=5)
        self._client.close()

    def enqueue(self, sub: Subscription, topic: str, body: Callable[[], bytes], event_id: str) -> None:
        faults = self._sandbox.faults
        rng = self._sandbox.rng
        if rng.random() < faults.webhook_drop:
            log.info("sandbox_webhook_dropped", topic=topic, event_id=event_id)
            return
        copies = 2 if rng.random() < faults.webhook_duplicate else 1
        due = time.monotonic() + faults.webhook_delay_s
        with self._cv:
            for _ in range(copies):
                item = _Pending(due, next(self._seq), sub, topic, body, 0, event_id)
                if faults.webhook_reorder and self._held is None:
                    self._held = item
                    continue
                heapq.heappush(self._heap, item)
                if self._held is not None and self._held is not item:
                    self._held.due = due + 0.05
                    heapq.heappush(self._heap, self._held)
                    self._held = None
            self._cv.notify_all()

    def flush_held(self) -> None:
        with self._cv:
            if self._held is not None:
                heapq.heappush(self._heap, self._held)
                self._held = None
                self._cv.notify_all()

    def idle(self) -> bool:
        """Nothing queued, held back or being delivered: every event so far has had its last attempt."""
        with self._cv:
            return not self._heap and self._held is None and not self._delivering

    def _next(self) -> _Pending | None:
        with self._cv:
            while not self._stop:
                if self._heap and self._heap[0].due <= time.monotonic():
                    self._delivering += 1
                    return heapq.heappop(self._heap)
                timeout = (self._heap[0].due - time.monotonic()) if self._heap else None
                self._cv.wait(timeout=timeout)
            return None

    def _run(self) -> None:
        while (item := self._next()) is not None:
            try:
                self._deliver(item)
            finally:
                with self._cv:
                    self._delivering -= 1

    def _deliver(self, item: _Pending) -> None:
        sub = item.subscription
        if not sub.active:
            return
        body = item.body()
        headers = self._sandbox.webhook_headers(sub, item.topic, body, item.event_id, item.attempt)
        try:
            status = self._client.post(sub.address, content=body, headers=headers).status_code
        except httpx.HTTPError as exc:
            status = 0
            log.info("sandbox_webhook_failed", address=sub.address, error=str(exc))
        ok = self._sandbox.webhook_succeeded(status)
        self.delivered.append(
            {"topic": item.topic, "address": sub.address, "status": status, "attempt": item.attempt, "at": time.time()}
        )
        if ok:
            sub.failures = 0
            return
        sub.failures += 1
        self._sandbox.webhook_failed(sub)
        delays = self._sandbox.retry_delays
        if sub.active and item.attempt < len(delays):
            scale = self._sandbox.faults.webhook_retry_scale
            item.due = time.monotonic() + delays[item.attempt] * scale
            item.attempt += 1
            with self._cv:
                heapq.heappush(self._heap, item)
                self._cv.notify_all()


class Sandbox(ABC):
    """Shared state and control surface of one platform sandbox.

    Platform hooks (override in the platform module):
      `mount(app)` registers the platform's API routes; `create_order(spec)`, `change_order(id, change)` and
      `order_view(id)` implement the control surface on native orders; `describe(base_url)` gives the ready line's
      fields; `guard(request)` checks auth and rate limits before an API call (return a Response to refuse it) and
      `decorate(request, response)` adds the platform's headers after it; `error_response(status)` is the platform's
      own error body; `webhook_headers(...)`, `webhook_succeeded(status)`, `webhook_failed(sub)` and
      `retry_delays` describe webhook delivery.
    """

    platform: str = ""
    webhook_timeout: float = 5.0
    retry_delays: tuple[float, ...] = ()

    def __init__(self, *, locations: tuple[str, ...] = DEFAULT_LOCATIONS, seed: int = 1) -> None:
        self.lock = threading.RLock()
        self.locations = locations
        self.rng = random.Random(seed)
        self.faults = Faults()
        self.rate_limit = "realistic"
        self.requests: deque[dict[str, Any]] = deque(maxlen=500_000)
        self.catalogue: dict[str, CatalogueItem] = {}
        self.subscriptions: dict[int, Subscription] = {}
        self.writes: dict[str, list[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self.dispatcher = WebhookDispatcher(self)
        self.root_url = ""  # http://127.0.0.1:PORT, set when served
        self.base_url = ""  # what a [[stores]] entry's base_url is for this platform
        self.clock_offset = timedelta(0)
        self.seed_catalogue(seed)

    # --- time and ids ---------------------------------------------------------------------------------------
    def now(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0) + self.clock_offset

    def next_id(self) -> int:
        return next(self._ids)

    def monotonic(self) -> float:
        return time.monotonic()

    # --- catalogue ------------------------------------------------------------------------------------------
    def seed_catalogue(self, seed: int, skus: int = 24) -> None:
        rng = random.Random(seed)
        self.catalogue.clear()
        for n in range(1, skus + 1):
            sku = f"SKU-{n:04d}"
            stock = {loc: rng.randint(0, 12) for loc in self.locations}
            price = Decimal(rng.randint(299, 12999)) / 100
            self.catalogue[sku] = CatalogueItem(sku, f"Sample product {n}", price, stock, 1000 + n, 5000 + n)

    def item(self, sku: str, price: Decimal | None = None) -> CatalogueItem:
        """The catalogue entry for a SKU, adding it when the catalogue lacks it."""
        with self.lock:
            if sku not in self.catalogue:
                n = len(self.catalogue) + 1
                stock = dict.fromkeys(self.locations, 0)
                self.catalogue[sku] = CatalogueItem(
                    sku, f"Product {sku}", price or Decimal("10.00"), stock, 1000 + n, 5000 + n
                )
            return self.catalogue[sku]

    def random_order_spec(self, rng: random.Random) -> dict[str, Any]:
        skus = rng.sample(sorted(self.catalogue), k=rng.randint(1, 3))
        pickup = rng.random() < 0.2
        spec: dict[str, Any] = {
            "lines": [{"sku": s, "quantity": rng.randint(1, 3)} for s in skus],
            "kind": "pickup" if pickup else "delivery",
            "paid": rng.random() < 0.8,
            "customer": {"name": f"Customer {rng.randint(1, 9999)}", "email": f"c{rng.randint(1, 9999)}@example.com"},
        }
        if pickup:
            spec["pickup_location"] = rng.choice(self.locations)
        return spec

    def seed_orders(self, seed: int, count: int) -> int:
        """Create `count` historical orders, spread over the past days, firing no webhooks; returns the count."""
        rng = random.Random(seed)
        start = self.now() - timedelta(days=30)
        step = timedelta(days=29) / max(count, 1)
        for n in range(count):
            spec = self.random_order_spec(rng)
            spec["created_at"] = start + step * n
            spec["historical"] = True
            self.create_order(spec)
        return count

    # --- events ---------------------------------------------------------------------------------------------
    def emit(self, topic: str, body: Callable[[], bytes], event_id: str = "") -> None:
        """Send a webhook event to every active subscription for `topic`."""
        with self.lock:
            subs = [s for s in self.subscriptions.values() if s.active and self.topic_matches(s.topic, topic)]
        for sub in subs:
            self.dispatcher.enqueue(sub, topic, body, event_id or f"evt-{self.next_id()}")

    def topic_matches(self, subscribed: str, topic: str) -> bool:
        return subscribed in {topic, "*"}

    def record_write(self, order_id: str, what: dict[str, Any]) -> None:
        with self.lock:
            self.writes.setdefault(order_id, []).append({**what, "at": self.now().isoformat()})

    def subscribe(self, topic: str, address: str, secret: str = "", **extra: Any) -> Subscription:
        with self.lock:
            sub = Subscription(self.next_id(), topic, address, secret, True, 0, dict(extra))
            self.subscriptions[sub.id] = sub
            return sub

    def subscribe_defaults(self, address: str) -> list[Subscription]:
        """Subscribe `address` to the platform's order topics (the `--webhook-url` quick start)."""
        return [self.subscribe(topic, address, self.webhook_secret()) for topic in self.default_topics()]

    def on_bound(self, root_url: str) -> None:
        """Called once the port is known; platforms whose store URL has a path (a hash, a language) extend it."""
        self.base_url = root_url

    def webhook_secret(self) -> str:
        """The secret signing this sandbox's webhooks (what a store's `webhook_secret` must be)."""
        return ""

    # --- platform hooks -------------------------------------------------------------------------------------
    @abstractmethod
    def mount(self, app: FastAPI) -> None:
        """Platform hook (see the class docstring)."""

    @abstractmethod
    def create_order(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Platform hook (see the class docstring)."""

    @abstractmethod
    def change_order(self, order_id: str, change: dict[str, Any]) -> dict[str, Any]:
        """Platform hook (see the class docstring)."""

    @abstractmethod
    def order_view(self, order_id: str) -> dict[str, Any]:
        """Platform hook (see the class docstring)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Platform hook (see the class docstring)."""

    @abstractmethod
    def default_topics(self) -> tuple[str, ...]:
        """Platform hook (see the class docstring)."""

    def guard(self, request: Request) -> Response | None:
        return None

    def decorate(self, request: Request, response: Response) -> None:
        return None

    def error_response(self, status: int) -> Response:
        return JSONResponse({"errors": "Internal Server Error"}, status_code=status)

    @abstractmethod
    def webhook_headers(
        self, sub: Subscription, topic: str, body: bytes, event_id: str, attempt: int
    ) -> dict[str, str]:
        """The platform's delivery headers, including its signature over `body`."""

    def webhook_succeeded(self, status: int) -> bool:
        return 200 <= status < 300

    def webhook_failed(self, sub: Subscription) -> None:
        return None

    def is_api_path(self, path: str) -> bool:
        return not path.startswith(CONTROL_PREFIX)

    # --- the app --------------------------------------------------------------------------------------------
    def build_app(self) -> FastAPI:
        app = FastAPI(title=f"{self.platform} sandbox", docs_url=None, redoc_url=None, openapi_url=None)
        app.middleware("http")(self._api_middleware)
        _mount_control(app, self)
        self.mount(app)
        return app

    async def _api_middleware(self, request: Request, call_next: Callable[[Request], Any]) -> Response:
        path = request.url.path
        if not self.is_api_path(path):
            response: Response = await call_next(request)
            return response
        if self.faults.latency_ms:
            import asyncio

            await asyncio.sleep(self.faults.latency_ms / 1000)
        response = self.guard(request) or await self._faulty(request, call_next)
        self.decorate(request, response)
        self.requests.append(
            {
                "method": request.method,
                "path": path,
                "query": str(request.url.query),
                "status": response.status_code,
                "time": time.time(),
            }
        )
        return response

    async def _faulty(self, request: Request, call_next: Callable[[Request], Any]) -> Response:
        if self.faults.error_rate and self.rng.random() < self.faults.error_rate:
            return self.error_response(self.rng.choice((500, 502, 503)))
        response: Response = await call_next(request)
        return response


def _mount_control(app: FastAPI, sandbox: Sandbox) -> None:
    """The `/_sandbox/` control surface shared by every platform."""

    @app.post(f"{CONTROL_PREFIX}/orders")
    def create(spec: dict[str, Any]) -> JSONResponse:
        error = validate_spec(spec, sandbox.locations)
        if error:
            return JSONResponse({"error": error}, status_code=422)
        return JSONResponse(sandbox.create_order(spec), status_code=201)

    @app.patch(CONTROL_PREFIX + "/orders/{order_id}")
    def change(order_id: str, change: dict[str, Any]) -> JSONResponse:
        try:
            return JSONResponse(sandbox.change_order(order_id, change))
        except KeyError:
            return JSONResponse({"error": f"no order {order_id}"}, status_code=404)

    @app.get(CONTROL_PREFIX + "/orders/{order_id}")
    def view(order_id: str) -> JSONResponse:
        try:
            return JSONResponse(sandbox.order_view(order_id))
        except KeyError:
            return JSONResponse({"error": f"no order {order_id}"}, status_code=404)

    @app.get(f"{CONTROL_PREFIX}/requests")
    def requests() -> dict[str, Any]:
        items = list(sandbox.requests)
        return {"requests": items, "count": len(items), "throttled": sum(1 for r in items if r["status"] == 429)}

    @app.delete(f"{CONTROL_PREFIX}/requests")
    def clear_requests() -> dict[str, Any]:
        sandbox.requests.clear()
        return {"cleared": True}

    @app.post(f"{CONTROL_PREFIX}/faults")
    def faults(changes: dict[str, Any]) -> JSONResponse:
        try:
            sandbox.faults.update(changes)
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        if not sandbox.faults.webhook_reorder:
            sandbox.dispatcher.flush_held()
        return JSONResponse(vars(sandbox.faults))

    @app.post(f"{CONTROL_PREFIX}/rate_limit")
    def rate_limit(body: dict[str, Any]) -> JSONResponse:
        mode = body.get("mode")
        if mode not in {"realistic", "off"}:
            return JSONResponse({"error": "mode must be 'realistic' or 'off'"}, status_code=422)
        sandbox.rate_limit = mode
        return JSONResponse({"mode": mode})

    @app.post(f"{CONTROL_PREFIX}/seed")
    def seed(body: dict[str, Any]) -> JSONResponse:
        seed_value = int(body.get("seed", 1))
        with sandbox.lock:
            sandbox.seed_catalogue(seed_value, int(body.get("skus", 24)))
        orders = sandbox.seed_orders(seed_value, int(body.get("orders", 0)))
        return JSONResponse({"skus": len(sandbox.catalogue), "orders": orders})

    @app.get(f"{CONTROL_PREFIX}/catalogue")
    def catalogue() -> dict[str, Any]:
        return {
            "items": [
                {"sku": i.sku, "name": i.name, "price": str(i.price), "stock": i.stock}
                for i in sandbox.catalogue.values()
            ]
        }

    @app.get(f"{CONTROL_PREFIX}/webhooks")
    def webhooks() -> dict[str, Any]:
        return {
            "subscriptions": [
                {"id": s.id, "topic": s.topic, "address": s.address, "active": s.active, "failures": s.failures}
                for s in sandbox.subscriptions.values()
            ],
            "deliveries": sandbox.dispatcher.delivered[-1000:],
            "idle": sandbox.dispatcher.idle(),
        }


def validate_spec(spec: Mapping[str, Any], locations: tuple[str, ...]) -> str:
    """Why an order spec for `POST /_sandbox/orders` is unusable, or '' when it is fine."""
    lines = spec.get("lines")
    if not isinstance(lines, list) or not lines:
        return "lines must be a non-empty list"
    for n, line in enumerate(lines):
        if not isinstance(line, dict) or not line.get("sku"):
            return f"lines[{n}].sku is required"
        quantity = line.get("quantity")
        if not isinstance(quantity, int) or quantity < 1:
            return f"lines[{n}].quantity must be a positive integer"
    if spec.get("kind", "delivery") not in {"delivery", "pickup"}:
        return "kind must be delivery or pickup"
    pickup = spec.get("pickup_location")
    if spec.get("kind") == "pickup" and pickup is not None and pickup not in locations:
        return f"pickup_location must be one of {', '.join(locations)}"
    return ""


def spec_lines(sandbox: Sandbox, spec: Mapping[str, Any]) -> list[tuple[CatalogueItem, int, Decimal]]:
    """(catalogue item, quantity, unit price) for each line of an order spec, adding unknown SKUs."""
    out = []
    for line in spec["lines"]:
        price = Decimal(str(line["price"])) if line.get("price") is not None else None
        item = sandbox.item(line["sku"], price)
        out.append((item, int(line["quantity"]), price if price is not None else item.price))
    return out
