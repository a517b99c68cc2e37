"""The Shopify sandbox served over HTTP: `ShopifyState` plus its routes, auth guard and error bodies.

Imports go one way: state -> API routes -> this module, the only one that mounts the routes.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandbox.shopify.graphql_api import mount_graphql
from sandbox.shopify.rest_api import mount_rest
from sandbox.shopify.state import NOT_FOUND, REASONS, THROTTLED, UNAUTHORIZED, Refused, ShopifyState, refused_answer


class ShopifySandbox(ShopifyState):
    """Shopify's API on top of the state: what a client sees."""

    def mount(self, app: FastAPI) -> None:
        app.add_exception_handler(Refused, refused_answer)
        mount_rest(app, self)
        mount_graphql(app, self)

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"], include_in_schema=False)
        def not_found(path: str) -> JSONResponse:
            return JSONResponse(NOT_FOUND, status_code=404)

    def guard(self, request: Request) -> Response | None:
        path = request.url.path
        if not path.startswith("/admin/"):
            return None
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            return JSONResponse({"errors": UNAUTHORIZED}, status_code=401)
        if self.rate_limit != "realistic" or path.endswith("/graphql.json"):
            return None
        allowed, _wait = self.rest_bucket.take(self.monotonic())
        if allowed:
            return None
        return JSONResponse({"errors": THROTTLED}, status_code=429, headers={"Retry-After": "2.0"})

    def decorate(self, request: Request, response: Response) -> None:
        parts = request.url.path.split("/")
        if len(parts) > 3 and parts[1:3] == ["admin", "api"]:
            response.headers["X-Shopify-API-Version"] = parts[3]
        rest = request.url.path.startswith("/admin/") and not request.url.path.endswith("/graphql.json")
        if rest and response.status_code != 401:
            used = self.rest_bucket.used(self.monotonic())
            response.headers["X-Shopify-Shop-Api-Call-Limit"] = f"{used}/{self.rest_bucket.size}"

    def error_response(self, status: int) -> Response:
        return JSONResponse({"errors": REASONS.get(status, "Internal Server Error")}, status_code=status)
