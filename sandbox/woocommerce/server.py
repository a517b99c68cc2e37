"""The WooCommerce sandbox served over HTTP: `WooCommerceState` plus its routes, auth guard and error bodies.

Imports go one way: state -> API routes -> this module, the only one that mounts the routes.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from sandbox.woocommerce.api import V3, WooRestApi, unauthenticated, wp_error
from sandbox.woocommerce.auth import BASIC_REALM, AuthError
from sandbox.woocommerce.site_api import WooSiteApi
from sandbox.woocommerce.state import SERVER_ERROR, WooCommerceState


class WooCommerceSandbox(WooCommerceState):
    """WooCommerce's API on top of the state: what a client sees."""

    def mount(self, app: FastAPI) -> None:
        WooSiteApi(self).mount(app)  # ahead of WooRestApi, whose last route answers every other path rest_no_route
        WooRestApi(self).mount(app)

    def guard(self, request: Request) -> Response | None:
        if request.method == "GET" and request.url.path.rstrip("/") in (V3, "/wp-json"):
            return None  # the indexes need no credentials ("Authentication is not required to access the API index")
        try:
            if self._authenticated(request):
                return None
        except AuthError as exc:
            response = wp_error(exc.code, exc.message, 401)
            if exc.basic:
                response.headers["WWW-Authenticate"] = BASIC_REALM
            return response
        return unauthenticated(request.method, request.url.path)

    def decorate(self, request: Request, response: Response) -> None:
        response.headers.append("Link", f'<{self.root_url}/wp-json/>; rel="https://api.w.org/"')
        response.headers["X-Robots-Tag"] = "noindex"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Access-Control-Expose-Headers"] = "X-WP-Total, X-WP-TotalPages, Link"

    def error_response(self, status: int) -> Response:
        """What a failing WordPress answers on a REST route (its fatal-error handler's JSON)."""
        return wp_error("internal_server_error", SERVER_ERROR, status, additional_errors=[])
