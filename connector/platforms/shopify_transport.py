"""GraphQL requests to one Shopify store: the SDK's session, the cost-based rate budget, errors by meaning.

`ShopifyTransport.query(operation, document, variables)` is the only way `connector.platforms.shopify` talks to
Shopify. It

* sets the `ShopifyAPI` SDK's per-thread state (`ShopifyResource.site` and the `X-Shopify-Access-Token` header)
  in the calling thread before every request (the daemon calls a client from several threads) and takes the
  endpoint and headers from `shopify.GraphQL()`; the request itself is posted with urllib, the SDK's own
  transport, because `GraphQL.execute` has no timeout (a stalled connection would hang a worker for ever) and
  prints error bodies to stdout;
* paces requests by Shopify's calculated query cost (`CostGauge`, below) under the store's `RateBudget`, through
  `call` (the one retry loop);
* turns every failure into `connector.runtime.errors`: HTTP errors by `classify_status` (a 404 is a wrong `base_url` or
  `api_version`: fatal), transport failures retriable, and GraphQL `errors` by their `extensions.code`:

      THROTTLED                         RateLimited(retry_after = (requested - available) / restoreRate)
      MAX_COST_EXCEEDED                 QueryTooCostly (fatal; a page listing asks again with a smaller page)
      INTERNAL_SERVER_ERROR, TIMEOUT    RetriableError
      ACCESS_DENIED on some fields      the rest of the answer is used (e.g. customer data the app may not read),
                                        unless the caller needs all of it (`partial_ok=False`: a stock read,
                                        where a field left out would look like a location that is not there)
      anything else                     FatalError (a query this API version rejects, a missing scope)

Cost gauge: every answer reports `extensions.cost.throttleStatus` (`currentlyAvailable`, `maximumAvailable`,
`restoreRate`). The gauge keeps it, projects it forward at the restore rate and, before a query, pauses the budget
until that operation's requested cost (as Shopify reported it last time; 1000, the most any query may cost, before
its first answer) fits. A query is charged its actual cost afterwards, so a listing drains the bucket at its
restore rate without being refused.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import shopify
import structlog

from connector.orders.model import Platform as PlatformName
from connector.platforms.base import RateBudget, RetryPolicy, call, classify_status, parse_retry_after
from connector.runtime.config import StoreConfig
from connector.runtime.errors import FatalError, RateLimited, RetriableError

log = structlog.get_logger(__name__)

PLATFORM = PlatformName.SHOPIFY.value
TIMEOUT_S = 30.0
RETRIABLE_CODES = frozenset({"INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE", "TIMEOUT"})
DEFAULT_POLICY = RetryPolicy()
UNKNOWN_COST = 1000.0  # an operation not sent yet is assumed to cost Shopify's single-query maximum
MARGIN = 1.0  # points: Shopify reports whole points, and clocks differ by a little


class QueryTooCostly(FatalError):
    """Shopify refused a query for costing more than its single-query maximum (`MAX_COST_EXCEEDED`)."""

    def __init__(self, message: str, *, cost: float, limit: float, **context: str) -> None:
        super().__init__(message, **context)
        self.cost = cost
        self.limit = limit


@dataclass
class CostGauge:
    """Shopify's GraphQL cost bucket as its last answer reported it, projected forward at `restore_rate`."""

    clock: Callable[[], float] = time.monotonic
    available: float | None = None
    maximum: float = 0.0
    restore_rate: float = 0.0
    stamp: float = 0.0
    requested: dict[str, float] = field(default_factory=dict)  # operation -> its last requestedQueryCost
    spent: float = 0.0  # points charged so far (actualQueryCost)
    queries: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def reserve(self, operation: str) -> float:
        """Seconds to wait until `operation`'s requested cost fits; books that cost for concurrent callers."""
        with self._lock:
            cost = self.requested.get(operation, UNKNOWN_COST)
            if self.available is None or self.restore_rate <= 0:
                return 0.0
            cost = min(cost, self.maximum)
            now = self.clock()
            level = min(self.maximum, self.available + (now - self.stamp) * self.restore_rate)
            self.available, self.stamp = level - cost, now
            return max(0.0, (cost + MARGIN - level) / self.restore_rate)

    def observe(self, operation: str, cost: Mapping[str, Any]) -> None:
        throttle = cost.get("throttleStatus")
        if not isinstance(throttle, Mapping):
            return
        with self._lock:
            self.requested[operation] = float(cost.get("requestedQueryCost") or 0)
            self.available = float(throttle.get("currentlyAvailable") or 0)
            self.maximum = float(throttle.get("maximumAvailable") or 0)
            self.restore_rate = float(throttle.get("restoreRate") or 0)
            self.stamp = self.clock()
            self.spent += float(cost.get("actualQueryCost") or 0)
            self.queries += 1


def throttle_wait(cost: Mapping[str, Any] | None) -> float | None:
    """(requested + 1 - available) / restoreRate from a refusal's `extensions.cost`, when it says (the extra point
    keeps a retry from arriving a rounding error too early and being refused again)."""
    throttle = cost.get("throttleStatus") if cost else None
    if not cost or not isinstance(throttle, Mapping) or not throttle.get("restoreRate"):
        return None
    missing = float(cost.get("requestedQueryCost") or 0) + 1 - float(throttle.get("currentlyAvailable") or 0)
    return max(0.0, missing / float(throttle["restoreRate"]))


def error_codes(errors: list[Any]) -> set[str]:
    """The `extensions.code` of each GraphQL error (older answers say only `"message": "Throttled"`)."""
    codes = set()
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, Mapping) else None
        code = extensions.get("code") if isinstance(extensions, Mapping) else None
        message = error.get("message") if isinstance(error, Mapping) else None
        codes.add(str(code or ("THROTTLED" if message == "Throttled" else "UNKNOWN")))
    return codes


def messages(errors: list[Any]) -> str:
    """The errors' messages, first lines only, short."""
    texts = [str(e.get("message", e)) if isinstance(e, Mapping) else str(e) for e in errors]
    return "; ".join(t.splitlines()[0] if t else t for t in texts)[:300]


def obj(value: object, what: str, **context: str) -> dict[str, Any]:
    """`value` when it is a JSON object; an answer of another shape is a platform hiccup (retriable)."""
    if not isinstance(value, dict):
        raise RetriableError(f"{what}: unexpected answer from Shopify", **context)
    return value


class ShopifyTransport:
    """GraphQL requests for one store, under its budget; see the module docstring."""

    def __init__(
        self,
        store: StoreConfig,
        budget: RateBudget,
        *,
        policy: RetryPolicy = DEFAULT_POLICY,
        timeout: float = TIMEOUT_S,
    ) -> None:
        self.store = store
        self.budget = budget
        self.policy = policy
        self.timeout = timeout
        self.gauge = CostGauge(clock=budget.clock)
        self._site = f"{store.base_url}/admin/api/{store.api_version}"
        self._token = store.credentials.get("access_token", "")

    @property
    def context(self) -> dict[str, str]:
        return {"store": self.store.name, "platform": PLATFORM}

    def query(
        self,
        operation: str,
        document: str,
        variables: Mapping[str, Any],
        *,
        what: str,
        policy: RetryPolicy | None = None,
        partial_ok: bool = True,
    ) -> dict[str, Any]:
        """The `data` of one GraphQL request, under the store's budget (paused first if its cost would not fit);
        with `partial_ok`, also when only fields the app may not read failed."""
        wait = self.gauge.reserve(operation)
        if wait > 0:
            self.budget.pause(wait)
            log.debug("rate_budget_paused", store=self.store.name, operation=operation, wait_s=round(wait, 3))
        return call(
            self.budget,
            lambda: self._attempt(operation, document, variables, what, partial_ok),
            policy=policy or self.policy,
            what=what,
        )

    def _attempt(
        self, operation: str, document: str, variables: Mapping[str, Any], what: str, partial_ok: bool
    ) -> dict[str, Any]:
        body = self._post(operation, document, variables, what)
        extensions = body.get("extensions")
        cost = extensions.get("cost") if isinstance(extensions, Mapping) else None
        if isinstance(cost, Mapping):
            self.gauge.observe(operation, cost)
        errors = body.get("errors")
        data = body.get("data")
        if errors:
            self._raise_for_errors(errors if isinstance(errors, list) else [errors], data, cost, what, partial_ok)
        return obj(data, what, **self.context)

    def _sdk(self) -> Any:
        """The SDK's GraphQL client for this store: its state is per thread, so every request sets it."""
        shopify.ShopifyResource.site = self._site
        shopify.ShopifyResource.headers["X-Shopify-Access-Token"] = self._token
        return shopify.GraphQL()

    def _post(self, operation: str, document: str, variables: Mapping[str, Any], what: str) -> dict[str, Any]:
        sdk = self._sdk()
        headers = {"Accept": "application/json", "Content-Type": "application/json", **sdk.headers}
        payload = json.dumps({"query": document, "variables": dict(variables), "operationName": operation}).encode()
        # base_url is validated as http(s) by the configuration, so urllib opens no other scheme here
        request = urllib.request.Request(sdk.endpoint, data=payload, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                raw = response.read()
        except urllib.error.HTTPError as exc:
            with exc:  # the refusal holds the connection open until it is read and closed
                raise self._refusal(exc, what) from None
        except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
            message = f"{what}: {_reason(exc)} talking to {self.store.base_url}"
            raise RetriableError(message, **self.context) from None
        except ValueError as exc:  # a base_url urllib cannot open
            raise FatalError(f"{what}: {_reason(exc)} (check base_url)", **self.context) from None
        try:
            body = json.loads(raw)
        except ValueError:
            raise RetriableError(f"{what}: the answer is not JSON", **self.context) from None
        return obj(body, what, **self.context)

    def _refusal(self, exc: urllib.error.HTTPError, what: str) -> Exception:
        retry_after = parse_retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        detail = f"{what}: {_error_text(exc)}"
        if exc.code == 404:
            hint = f"no Admin API at {self.store.base_url} for version {self.store.api_version}"
            return FatalError(f"HTTP 404: {detail} ({hint})", **self.context)
        if exc.code in {401, 403}:
            detail += " (check the access_token and the app's scopes)"
        return classify_status(exc.code, detail, retry_after=retry_after, **self.context)

    def _raise_for_errors(self, errors: list[Any], data: Any, cost: Any, what: str, partial_ok: bool) -> None:
        """Raise what Shopify's GraphQL `errors` mean; return when only fields the app may not read failed (and
        the caller can do without them)."""
        codes = error_codes(errors)
        detail = f"{what}: {messages(errors)}"
        if "THROTTLED" in codes:
            raise RateLimited(f"GraphQL throttled: {what}", retry_after=throttle_wait(cost), **self.context)
        if "MAX_COST_EXCEEDED" in codes:
            cost_of, limit = _cost_limit(errors)
            raise QueryTooCostly(detail, cost=cost_of, limit=limit, **self.context)
        if codes <= RETRIABLE_CODES:
            raise RetriableError(detail, **self.context)
        denied = codes == {"ACCESS_DENIED"} and all(_has_path(e) for e in errors)
        if partial_ok and isinstance(data, Mapping) and denied:
            log.warning("graphql_fields_denied", store=self.store.name, what=what, errors=messages(errors))
            return  # e.g. customer fields without protected-data access: the rest of the answer stands
        raise FatalError(f"GraphQL errors: {detail}", **self.context)


def _cost_limit(errors: list[Any]) -> tuple[float, float]:
    """(the query's cost, the maximum) from a `MAX_COST_EXCEEDED` error."""
    first = next(e for e in errors if "MAX_COST_EXCEEDED" in error_codes([e]))
    extensions = first.get("extensions") or {}
    return float(extensions.get("cost") or 0), float(extensions.get("maxCost") or 1000)


def _has_path(error: Any) -> bool:
    return isinstance(error, Mapping) and bool(error.get("path"))


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return f"{type(exc).__name__}: {reason}"[:200]


def _error_text(exc: urllib.error.HTTPError) -> str:
    """Shopify's error body, short (it never holds the token)."""
    try:
        text = exc.read().decode("utf-8", errors="replace")
    except (OSError, http.client.HTTPException):
        text = ""
    try:
        parsed = json.loads(text)
        text = str(parsed.get("errors", parsed)) if isinstance(parsed, Mapping) else text
    except ValueError:
        pass
    return " ".join(text.split())[:200] or str(exc.reason)


__all__ = ["CostGauge", "QueryTooCostly", "ShopifyTransport", "error_codes", "messages", "obj", "throttle_wait"]
