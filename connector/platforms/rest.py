"""A JSON REST API over httpx, for the platforms without an SDK of their own (BigCommerce, Lightspeed eCom).

    api = JsonApi(http, budget, context, observe=..., refuse=...)
    api.send("GET", "/v2/orders", params=...)       # the decoded JSON, or None for 204 (or a 404 when missing_ok)

Each call waits for the store's `RateBudget` and runs in the shared retry loop (`base.call`); httpx's exceptions
never leave here. The platform module supplies what differs between platforms: `observe` learns from the
rate-limit headers, `refuse` turns an error status into the exception that says what to do, `check` finds an
error hidden in a 2xx answer.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from connector.platforms.base import RateBudget, call
from connector.runtime.errors import FatalError, RetriableError

Refuse = Callable[[httpx.Response, str, str], Exception]  # (response, method, path) -> the error to raise


def _nothing_hidden(answer: Any, response: httpx.Response, what: str) -> None:
    return None


@dataclass
class JsonApi:
    http: httpx.Client
    budget: RateBudget
    context: Mapping[str, str]
    observe: Callable[[httpx.Response], None]
    refuse: Refuse
    check: Callable[[Any, httpx.Response, str], None] = _nothing_hidden

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        missing_ok: bool = False,
        refuse: Refuse | None = None,
    ) -> Any:
        """One call; `refuse` overrides the API's for this call (an error that concerns only this item)."""
        what = f"{method} {path}"
        refusal = refuse or self.refuse

        def attempt() -> Any:
            response = http_request(self.http, method, path, params=params, body=body, context=self.context)
            self.observe(response)
            if response.status_code == 404 and missing_ok:
                return None
            if response.status_code >= 400:
                raise refusal(response, method, path)
            return self._decoded(response, what)

        return call(self.budget, attempt, what=what)

    def _decoded(self, response: httpx.Response, what: str) -> Any:
        if response.status_code == 204 or not response.content:
            return None
        try:
            answer = response.json()
        except ValueError:
            message = f"{what}: HTTP {response.status_code} with a body that is not JSON"
            raise RetriableError(message, **self.context) from None
        self.check(answer, response, what)
        return answer


def http_request(
    client: httpx.Client,
    method: str,
    path: str,
    *,
    params: Mapping[str, str] | None,
    body: Any,
    context: Mapping[str, str],
) -> httpx.Response:
    """One request on a store's httpx client, with httpx's own exceptions translated (they never leave here)."""
    try:
        return client.request(method, path, params=params, json=body)
    except httpx.TimeoutException as exc:
        raise RetriableError(f"{method} {path} timed out ({type(exc).__name__})", **context) from exc
    except httpx.HTTPError as exc:
        raise RetriableError(f"{method} {path} failed: {type(exc).__name__}: {exc}", **context) from exc
    except httpx.InvalidURL as exc:
        raise FatalError(f"{method} {path}: the store's base_url is not usable ({exc})", **context) from exc
