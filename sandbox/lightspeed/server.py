"""The Lightspeed sandbox served over HTTP: `LightspeedState` plus its routes, auth guard and error bodies.

Imports go one way: state -> API routes -> this module, the only one that mounts the routes.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response

from sandbox.lightspeed import orders as native
from sandbox.lightspeed.api import LightspeedApi, error_body
from sandbox.lightspeed.resources_api import LightspeedResourcesApi
from sandbox.lightspeed.state import MESSAGES, REQUEST, LightspeedState


class LightspeedSandbox(LightspeedState):
    """Lightspeed's API on top of the state: what a client sees."""

    def mount(self, app: FastAPI) -> None:
        LightspeedResourcesApi(self).mount(app)  # ahead of LightspeedApi, whose last route answers the rest
        LightspeedApi(self).mount(app)

    def guard(self, request: Request) -> Response | None:
        """Auth first (401), then the rate limits (429), then the language segment (404)."""
        method, path = request.method, request.url.path
        REQUEST.set((method, path))
        if not self._authorized(request.headers.get("authorization")):
            return error_body(401, method, path, "Access denied.")
        allowed = self.rate_limit != "realistic" or self._take(self.monotonic())
        # Guards run one at a time on the event loop, so these counts are exactly this request's.
        request.state.lightspeed_headers = self.ratelimit_headers()
        if not allowed:
            return error_body(429, method, path, "Too many requests.")
        if path.lstrip("/").split("/", 1)[0] not in native.LANGUAGES:
            return error_body(404, method, path, "Unknown or inactive language.")
        return None

    def decorate(self, request: Request, response: Response) -> None:
        headers = getattr(request.state, "lightspeed_headers", None)
        if headers:
            response.headers.update(headers)

    def error_response(self, status: int) -> Response:
        method, path = REQUEST.get()
        return error_body(status, method, path, MESSAGES.get(status, "Error."))
