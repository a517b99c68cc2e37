"""The BigCommerce sandbox served over HTTP: `BigCommerceState` plus its routes, auth guard and error bodies.

Imports go one way: state -> API routes -> this module, the only one that mounts the routes.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from sandbox.bigcommerce.catalog_api import mount_catalog
from sandbox.bigcommerce.state import QUOTA, REASONS, WINDOW_S, BigCommerceState, api_version
from sandbox.bigcommerce.v2_api import http_error, invalid_body, mount_v2
from sandbox.bigcommerce.v3_api import mount_v3


class BigCommerceSandbox(BigCommerceState):
    """BigCommerce's API on top of the state: what a client sees."""

    def mount(self, app: FastAPI) -> None:
        mount_catalog(app, self)
        mount_v2(app, self)
        mount_v3(app, self)
        app.add_exception_handler(StarletteHTTPException, http_error)
        app.add_exception_handler(RequestValidationError, invalid_body)

    def guard(self, request: Request) -> Response | None:
        path = request.url.path
        api_version.set("v3" if path.startswith(f"{self.prefix}/v3/") else "v2")
        token, client = request.headers.get("x-auth-token"), request.headers.get("x-auth-client")
        if not token:
            return self.error_response(401)
        if token != self.access_token or client not in (None, self.client_id) or not path.startswith(self.prefix):
            return self.error(401, "The access token and client id in the request are not valid for this store.")
        if self.rate_limit != "realistic":
            request.state.bc_rate = (QUOTA, WINDOW_S)
            return None
        now = self.monotonic()
        allowed = self.limiter.take(now)
        request.state.bc_rate = (self.limiter.remaining(now), self.limiter.reset_in(now))
        return None if allowed else self.error_response(429)

    def decorate(self, request: Request, response: Response) -> None:
        rate: tuple[int, float] | None = getattr(request.state, "bc_rate", None)
        if rate is None:
            return
        response.headers["X-Rate-Limit-Time-Window-Ms"] = str(int(WINDOW_S * 1000))
        response.headers["X-Rate-Limit-Time-Reset-Ms"] = str(round(rate[1] * 1000))
        response.headers["X-Rate-Limit-Requests-Quota"] = str(QUOTA)
        response.headers["X-Rate-Limit-Requests-Left"] = str(rate[0])

    def error_response(self, status: int) -> Response:
        return self.error(status, REASONS.get(status, "Internal Server Error"))
