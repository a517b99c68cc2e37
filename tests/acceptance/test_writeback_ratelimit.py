"""Write-back through the platforms' rate limits: refusals answered in the middle of write-back delay the writes,
and never lose, double or fail them.

Each test packs and ships two orders (one split over amsterdam and utrecht) in two rounds: the first round drains
normally, the second while the platform is refusing the store, each platform with its own mechanism, spent from
outside the connector with the store's own credentials (as another process of the same app would):

* Shopify (GraphQL only): the cost bucket is spent by cheap queries of ours right before the connector's
  `fulfillmentCreateV2` reaches the API, so the state-changing call itself is answered `THROTTLED` (HTTP 200, with
  `extensions.cost` saying how long to wait). A spy around the sandbox's GraphQL entry point keeps the GraphQL log
  the request log cannot (every GraphQL call is a 200 POST there); it observes, it changes no answer.
* BigCommerce: the 30-second quota window is spent; the connector's next call gets 429 with the
  `X-Rate-Limit-*` headers, whose `Time-Reset-Ms` says when the window reopens.
* Lightspeed: the 20-per-second limit is spent in a window our own call opened, right before the outbox is woken,
  and kept spent until the connector has been refused (spending the 5-minute window would make the test wait
  minutes); 429 with the `X-RateLimit-*` triples and no `Retry-After`.
* WooCommerce: core has no rate limit for `wc/v3` (platforms.md 2.5) and the sandbox, faithfully, never answers 429;
  it is covered with the sandbox's generic fault instead: every API call fails with a 5xx until the connector has
  been refused once.

Then: the platform shows the right state, exactly the writes needed were accepted, at least one refusal was answered
to the connector during write-back, every refusal was followed by a wait at least as long as the platform asked
for, and every outbox item is `done` at its first attempt (a refusal is waited out, not counted as a failure).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.responses import Response

from connector.orders.fulfilment import Tracking
from connector.orders.model import Platform
from connector.orders.service import Service
from connector.stock.ledger import Count
from sandbox.shopify import graphql_api as shopify_graphql
from tests.acceptance.harness import ADMIN_TOKEN, LOCATIONS, Stack, running_stack, wait_for
from tests.acceptance.test_writeback_contract import ingested, settled

PLATFORMS = list(Platform)
WRITEBACK: dict[Platform, dict[str, Any]] = {Platform.BIGCOMMERCE: {"shipments": True}}  # a write per location
CLOCK_SLACK_S = 0.02  # rounding of the signalled waits (milliseconds, whole points)


@dataclass(frozen=True)
class Call:
    """One API call the connector made while the platform was refusing: when it was answered and how."""

    at: float
    method: str
    path: str
    refused: bool
    wait: float = 0.0  # for a refusal: how long the platform said to wait (0 when it says nothing)


class Pressure:
    """Makes one platform refuse the store from outside the connector; `calls` are the connector's since `arm`."""

    def __init__(self, stack: Stack, platform: Platform) -> None:
        self.stack = stack
        self.platform = platform
        self.box = stack.box(platform)
        self.http = httpx.Client(base_url=self.box.root_url, timeout=30)
        self.start = 0

    def arm(self) -> None:
        self.start = len(self.log())

    def release(self) -> None:
        """Stop making the platform refuse (what was logged stays readable)."""
        self.http.close()

    def log(self, http: httpx.Client | None = None) -> list[dict[str, Any]]:
        """The platform's request log (`http`: the calling thread's own client, when not the test's)."""
        answer = (http or self.stack.http).get(f"{self.box.root_url}/_sandbox/requests")
        requests: list[dict[str, Any]] = answer.json()["requests"]
        return requests

    def calls(self) -> list[Call]:
        return [Call(r["time"], r["method"], r["path"], r["status"] == 429) for r in self.log()[self.start :]]

    def fired(self) -> bool:
        return any(c.refused for c in self.calls())


class SpentWindow(Pressure):
    """BigCommerce and Lightspeed: our own calls on `path` (one the connector never makes) spend the platform's
    window before the outbox is woken, and keep it spent until the connector has been refused once.

    `fresh`: wait for a window that our own call opened before saying it is spent, so that it stays spent for
    nearly its whole length (Lightspeed's one-second window; BigCommerce's lasts 30 s, any will do)."""

    def __init__(
        self, stack: Stack, platform: Platform, path: str, headers: dict[str, str], *, recheck: float, fresh: bool
    ) -> None:
        super().__init__(stack, platform)
        self.path, self.headers, self.recheck, self.fresh = path, headers, recheck, fresh
        self.spent = threading.Event()
        self.done = threading.Event()
        self.answers: list[httpx.Headers | None] = []  # per call of ours: the headers of a 429, else None
        self.thread = threading.Thread(target=self._spend, name=f"spend-{platform.value}", daemon=True)

    def arm(self) -> None:
        super().arm()
        self.thread.start()
        assert self.spent.wait(timeout=60), f"{self.platform.value}'s window was never spent"

    def release(self) -> None:
        self.done.set()
        self.thread.join(timeout=30)
        super().release()

    def _spend(self) -> None:
        opened, checked = not self.fresh, 0.0
        while not self.done.is_set():
            response = self.http.get(self.path, headers=self.headers)
            refused = response.status_code == 429
            self.answers.append(response.headers if refused else None)
            if not refused:  # after a refusal of ours, an accepted call of ours opened the window
                opened = opened or (len(self.answers) > 1 and self.answers[-2] is not None)
                continue
            if opened:
                self.spent.set()
            if self.spent.is_set() and time.monotonic() - checked >= 0.1:  # has the connector met it yet?
                checked = time.monotonic()
                if self._connector_refused(self.http):
                    return
            if self.spent.is_set():
                self.done.wait(self.recheck)

    def _connector_refused(self, http: httpx.Client | None = None) -> bool:
        return any(r["status"] == 429 and r["path"] != self.path for r in self.log(http)[self.start :])

    def fired(self) -> bool:
        return not self.thread.is_alive() and self._connector_refused()

    def calls(self) -> list[Call]:
        logged = self.log()[self.start :]
        ours = [r for r in logged if r["path"] == self.path]
        assert len(ours) == len(self.answers), "the request log lost calls of ours"
        spent = [(r["time"], self.signalled_wait(h)) for r, h in zip(ours, self.answers, strict=True) if h]
        return [
            Call(r["time"], r["method"], r["path"], True, self.wait_at(r["time"], spent))
            if r["status"] == 429
            else Call(r["time"], r["method"], r["path"], False)
            for r in logged
            if r["path"] != self.path
        ]

    def signalled_wait(self, headers: httpx.Headers) -> float:
        return int(headers["X-Rate-Limit-Time-Reset-Ms"]) / 1000

    def wait_at(self, at: float, spent: list[tuple[float, float]]) -> float:
        """For a refusal answered at `at`: until the window reopens, by our latest refusal before it."""
        before = [when + wait for when, wait in spent if when <= at]
        return max(0.0, before[-1] - at) if before else 0.0


class LightspeedSecond(SpentWindow):
    """Lightspeed: the 20-per-second limit is kept spent. A 429 with room left in every long window
    (`X-RateLimit-Remaining` a/b/c all above 0) is that limit; Lightspeed sends no `Retry-After` and no reset for
    it, so what its rule asks is a second."""

    def signalled_wait(self, headers: httpx.Headers) -> float:
        remaining = [int(n) for n in headers["X-RateLimit-Remaining"].split("/")]
        assert all(remaining), f"a long window was spent, not the per-second one: {remaining}"
        return 1.0

    def wait_at(self, at: float, spent: list[tuple[float, float]]) -> float:
        return 1.0 if any(when <= at for when, _ in spent) else 0.0


class ShopifyBucket(Pressure):
    """Spends the GraphQL cost bucket right before the connector's `fulfillmentCreateV2` is run, with queries of
    our own (`shop` costs one point, nothing is refunded), so that the mutation meets an empty bucket."""

    DRAIN = "Drain"

    def __init__(self, stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
        super().__init__(stack, Platform.SHOPIFY)
        store = next(s for s in stack.config.stores if s.name == stack.store(Platform.SHOPIFY))
        self.graphql = f"/admin/api/{store.api_version}/graphql.json"
        self.token = {"X-Shopify-Access-Token": self.box.describe()["credentials"]["access_token"]}
        self.armed = False
        self.seen: list[tuple[Call, str]] = []  # (the call, its operation name), every GraphQL call from arming on
        self.lock = threading.Lock()
        original = shopify_graphql.run

        def spy(sandbox: Any, payload: dict[str, Any], path: str, *args: Any) -> Response:
            operation = str(payload.get("operationName") or "")
            if operation == "Fulfill" and self.armed:
                self._drain()
            response: Response = original(sandbox, payload, path, *args)
            body = json.loads(bytes(response.body))
            throttled = any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in body.get("errors") or [])
            cost = (body.get("extensions") or {}).get("cost") or {}
            call = Call(time.time(), "POST", path, throttled, _throttle_wait(cost) if throttled else 0.0)
            with self.lock:
                if operation == "Fulfill" and throttled:
                    self.armed = False  # once is enough: the rest drains as the bucket refills
                if operation != self.DRAIN:
                    self.seen.append((call, operation))
            return response

        monkeypatch.setattr(shopify_graphql, "run", spy)

    def arm(self) -> None:
        with self.lock:
            self.seen.clear()
        self.armed = True

    def release(self) -> None:
        self.armed = False
        super().release()

    def _drain(self) -> None:
        """Spend the bucket down to under two points (a mutation asks for ten: refused for the next ~80 ms)."""
        available = 2000
        while available >= 2:
            fields = " ".join(f"s{n}: shop {{ id }}" for n in range(min(available, 1000)))
            body = {"query": f"query {self.DRAIN} {{ {fields} }}", "operationName": self.DRAIN}
            answer = self.http.post(self.graphql, json=body, headers=self.token).json()
            throttle = answer["extensions"]["cost"]["throttleStatus"]
            available = int(throttle["currentlyAvailable"])

    def calls(self) -> list[Call]:
        with self.lock:
            return [call for call, _ in self.seen]

    def operations(self, *, refused: bool) -> list[str]:
        with self.lock:
            return [operation for call, operation in self.seen if call.refused is refused]


class WooFaults(Pressure):
    """No 429 exists on WooCommerce: every API call answers a 5xx until the connector has met one."""

    def arm(self) -> None:
        super().arm()
        self.stack.faults(self.platform, error_rate=1.0)

    def calls(self) -> list[Call]:
        return [Call(r["time"], r["method"], r["path"], r["status"] >= 500) for r in self.log()[self.start :]]

    def release(self) -> None:
        self.stack.faults(self.platform, error_rate=0.0)
        super().release()


def _throttle_wait(cost: dict[str, Any]) -> float:
    """Shopify's rule for a throttled query: (requested cost - available) / restore rate seconds."""
    throttle = cost["throttleStatus"]
    missing = float(cost["requestedQueryCost"]) - float(throttle["currentlyAvailable"])
    return max(0.0, missing / float(throttle["restoreRate"]))


def pressure(stack: Stack, platform: Platform, monkeypatch: pytest.MonkeyPatch) -> Pressure:
    credentials = stack.box(platform).describe()["credentials"]
    if platform is Platform.SHOPIFY:
        return ShopifyBucket(stack, monkeypatch)
    if platform is Platform.BIGCOMMERCE:
        box = stack.box(platform)
        path = box.base_url.removeprefix(box.root_url) + "/v2/order_statuses"
        headers = {"X-Auth-Token": credentials["access_token"]}
        return SpentWindow(stack, platform, path, headers, recheck=0.05, fresh=False)
    if platform is Platform.LIGHTSPEED:
        basic = base64.b64encode(f"{credentials['api_key']}:{credentials['api_secret']}".encode()).decode()
        headers = {"Authorization": f"Basic {basic}"}
        return LightspeedSecond(stack, platform, "/nl/account/ratelimit.json", headers, recheck=0.002, fresh=True)
    return WooFaults(stack, platform)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("writeback-ratelimit")
    database = f"sqlite:///{tmp / 'connector.db'}"
    with running_stack(tmp, database, outbox_interval="1s", writeback=WRITEBACK) as running:
        yield running


def api(stack: Stack, path: str, **params: Any) -> Any:
    response = stack.http.get(
        f"{stack.url}/api{path}", params=params, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    response.raise_for_status()
    return response.json()


def quiet(stack: Stack, platform: Platform) -> None:
    """The platform has sent every webhook and the connector has ingested every delivery: nothing else calls the
    platform while the next round drains."""

    def idle() -> bool:
        hooks = stack.http.get(f"{stack.box(platform).root_url}/_sandbox/webhooks").json()
        pending = [
            i for i in api(stack, "/inbox", store=stack.store(platform)) if i["status"] in {"pending", "processing"}
        ]
        return bool(hooks["idle"]) and not pending

    wait_for(idle, timeout=30, what=f"{platform.value} webhooks delivered and ingested")


# --- the test ------------------------------------------------------------------------------------------------------

# Accepted state-changing writes per order (split, single): Shopify a fulfillment per location; WooCommerce and
# Lightspeed `completed` once the last location has shipped; BigCommerce Awaiting Shipment, a shipment per location,
# then Completed.
EXPECTED_WRITES = {
    Platform.SHOPIFY: (2, 1),
    Platform.WOOCOMMERCE: (1, 1),
    Platform.BIGCOMMERCE: (4, 3),
    Platform.LIGHTSPEED: (1, 1),
}


def skus(platform: Platform) -> tuple[str, str, str]:
    """Catalogue SKUs of this platform's test alone: one only at amsterdam, one only at utrecht, one for the single."""
    first = 3 * PLATFORMS.index(platform) + 1
    split_a, split_b, single = (f"SKU-{n:04d}" for n in range(first, first + 3))
    return split_a, split_b, single


def stock_for(split_a: str, split_b: str, single: str) -> list[Count]:
    where = {split_a: "amsterdam", split_b: "utrecht", single: "amsterdam"}
    return [Count(sku, loc, 5 if loc == home else 0) for sku, home in where.items() for loc in LOCATIONS]


def accepted_writes(stack: Stack, platform: Platform, ext: str) -> list[dict[str, Any]]:
    """The connector's POST/PUT calls on this order that the platform answered 2xx (REST platforms)."""
    log = stack.http.get(f"{stack.box(platform).root_url}/_sandbox/requests").json()["requests"]
    on_order = re.compile(rf"/orders/{ext}(\.json|/|$)")
    return [r for r in log if r["method"] in {"POST", "PUT"} and r["status"] < 300 and on_order.search(r["path"])]


@pytest.mark.parametrize("platform", PLATFORMS)
def test_writes_land_exactly_once_while_the_platform_refuses(
    stack: Stack, platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = Service(stack.daemon.runtime)
    split_a, split_b, single = skus(platform)
    service.set_stock(stock_for(split_a, split_b, single), "ratelimit")
    lines = [{"sku": split_a, "quantity": 1}, {"sku": split_b, "quantity": 1}]
    split_ext, split_ref = ingested(stack, platform, {"lines": lines, "kind": "delivery", "paid": True})
    single_ext, single_ref = ingested(
        stack, platform, {"lines": [{"sku": single, "quantity": 2}], "kind": "delivery", "paid": True}
    )
    assert sorted(f["location"] for f in service.order(split_ref)["fulfilments"]) == ["amsterdam", "utrecht"]

    # Round one drains normally: both orders packed, the split one shipped from amsterdam.
    service.act(split_ref, "pack", actor="test")
    service.act(single_ref, "pack", actor="test")
    service.act(split_ref, "ship", actor="test", location="amsterdam", tracking=Tracking("T-AMS", "DHL"))
    settled(stack, split_ref)
    settled(stack, single_ref)
    quiet(stack, platform)

    # Round two drains while the platform refuses: utrecht's part and the single order shipped.
    budget = stack.daemon.syncs[stack.store(platform)].budget
    throttled_before = budget.throttled
    squeeze = pressure(stack, platform, monkeypatch)
    stack.daemon.scheduler.pause_job("outbox")  # the writes wait until the platform is refusing
    try:
        service.act(split_ref, "ship", actor="test", location="utrecht", tracking=Tracking("T-UTR", "DHL"))
        service.act(single_ref, "ship", actor="test", tracking=Tracking("T-ONE", "DHL"))
        squeeze.arm()
    except BaseException:
        squeeze.release()
        raise
    finally:
        stack.daemon.scheduler.resume_job("outbox")
    try:
        stack.daemon._wake_outbox()
        wait_for(squeeze.fired, timeout=60, every=0.05, what=f"{platform.value} refusing the connector")
    finally:
        squeeze.release()
    settled(stack, split_ref)
    settled(stack, single_ref)

    calls = squeeze.calls()
    refusals = [c for c in calls if c.refused]
    assert refusals, f"{platform.value} never refused the connector during write-back"
    for refusal in refusals:  # waited as long as the platform said, rather than hammering
        following = [c for c in calls if c.at > refusal.at]
        assert following, f"nothing was sent after the refusal of {refusal}"
        assert following[0].at - refusal.at >= refusal.wait - CLOCK_SLACK_S, (refusal, following[0])
    if platform is not Platform.WOOCOMMERCE:  # the client knew it for a rate limit, not a failure
        assert budget.throttled > throttled_before

    numbers = {service.order(ref)["number"]: ref for ref in (split_ref, single_ref)}
    items = [o for o in api(stack, "/outbox", store=stack.store(platform), limit=100) if o["order"] in numbers]
    assert items
    assert [(o["status"], o["attempts"]) for o in items] == [("done", 1)] * len(items), items
    for number, ref in numbers.items():
        outbound = [e["summary"] for e in api(stack, f"/orders/{ref}")["timeline"] if e["kind"] == "outbound"]
        for item in (o for o in items if o["order"] == number):
            where = item["location"] or "order"
            assert f"{item['action']} -> {item['target']} ({where}): written" in outbound, outbound
        assert not [s for s in outbound if "fail" in s], outbound

    views = {ext: stack.view(platform, ext) for ext in (split_ext, single_ext)}
    for ext, expected in zip((split_ext, single_ext), EXPECTED_WRITES[platform], strict=True):
        assert len(views[ext]["writes"]) == expected, views[ext]["writes"]
        if platform is not Platform.SHOPIFY:
            assert len(accepted_writes(stack, platform, ext)) == expected
    split, one = views[split_ext], views[single_ext]
    if isinstance(squeeze, ShopifyBucket):  # one fulfillment per location, each with that location's lines
        fulfilled = {f["tracking_number"]: [x["sku"] for x in f["line_items"]] for f in split["order"]["fulfillments"]}
        assert len(split["order"]["fulfillments"]) == 2
        assert fulfilled == {"T-AMS": [split_a], "T-UTR": [split_b]}
        assert [f["tracking_number"] for f in one["order"]["fulfillments"]] == ["T-ONE"]
        assert {split["order"]["fulfillment_status"], one["order"]["fulfillment_status"]} == {"fulfilled"}
        assert squeeze.operations(refused=False).count("Fulfill") == 2  # one per fulfillment made in round two
        assert "Fulfill" in squeeze.operations(refused=True)
    elif platform is Platform.BIGCOMMERCE:
        assert sorted(s["tracking_number"] for s in split["shipments"]) == ["T-AMS", "T-UTR"]
        assert [s["tracking_number"] for s in one["shipments"]] == ["T-ONE"]
        assert split["order"]["status_id"] == one["order"]["status_id"] == 10
    else:
        assert split["order"]["status"] == one["order"]["status"] == "completed"
