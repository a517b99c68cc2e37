"""The FastAPI application: health and readiness, Prometheus metrics, the webhook endpoint, API and dashboard."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from connector import __version__
from connector.runtime import Runtime
from connector.service import Service
from connector.storage.db import current_revision, head_revision
from connector.web.api import build_api
from connector.web.dashboard import build_dashboard
from connector.webhooks import DeliveryWriter


def create_app(
    runtime: Runtime,
    *,
    on_webhook: Callable[[], None] | None = None,
    on_action: Callable[[], None] | None = None,
) -> FastAPI:
    """The daemon's HTTP app. `on_webhook` runs after each kept delivery (wakes the inbox worker), `on_action`
    after each API or dashboard action (wakes the outbox worker)."""
    app = FastAPI(
        title="Order sync connector",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    service = Service(runtime)
    app.include_router(build_api(runtime, service, on_action))
    app.include_router(build_dashboard(runtime, service, on_action))
    writer = DeliveryWriter(runtime.sessions, runtime.metrics)
    app.state.delivery_writer = writer
    app.add_middleware(WebhookEndpoint, runtime=runtime, writer=writer, on_webhook=on_webhook)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        """The process answers: it is alive."""
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """Ready when the database answers, its schema is current and the scheduler runs."""
        checks = {
            "database": _database_ok(runtime),
            "schema": _schema_ok(runtime),
            "scheduler": runtime.scheduler_running,
        }
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


class WebhookEndpoint:
    """`POST /webhooks/{store}`: verify, keep, acknowledge; processing happens later from the inbox.

    A pure ASGI middleware in front of FastAPI's routing rather than a route: platforms send hundreds of
    deliveries a second at peaks, and the answer must not wait on a stack built for the API (dependency
    injection, validation, exception and body-limit layers): this path costs a fraction of a route's CPU.
    Everything else goes on to the app. Not in the OpenAPI document (it is the platforms' interface, not ours).
    """

    PREFIX = "/webhooks/"

    def __init__(
        self, app: ASGIApp, *, runtime: Runtime, writer: DeliveryWriter, on_webhook: Callable[[], None] | None
    ) -> None:
        self.app = app
        self.runtime = runtime
        self.writer = writer
        self.on_webhook = on_webhook
        self.stores = {s.name: s for s in runtime.config.stores}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        store = path[len(self.PREFIX) :] if path.startswith(self.PREFIX) else ""
        if not store or "/" in store:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            response = JSONResponse({"error": "method not allowed"}, status_code=405, headers={"allow": "POST"})
        else:
            response = await self.receive(store, Request(scope, receive))
        await response(scope, receive, send)
        if response.status_code == 200 and self.on_webhook is not None:
            self.on_webhook()  # after the answer: the woken worker must not delay it

    async def receive(self, store: str, request: Request) -> JSONResponse:
        body = await _capped_body(request, self.runtime.config.daemon.max_body_bytes)
        if body is None:
            self.runtime.metrics.webhooks_rejected.labels(store, "413").inc()
            return JSONResponse({"error": "body too large"}, status_code=413)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if "topic" in request.query_params:  # platforms that send no topic header (Lightspeed) say it in the URL
            headers["x-connector-topic"] = request.query_params["topic"]
        receipt = await self.writer.receive(self.stores.get(store), self.runtime.store_ids.get(store), headers, body)
        return JSONResponse(receipt.body, status_code=receipt.status)


def _database_ok(runtime: Runtime) -> bool:
    try:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def _schema_ok(runtime: Runtime) -> bool:
    try:
        return current_revision(runtime.engine) == head_revision()
    except SQLAlchemyError:
        return False


async def _capped_body(request: Request, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than `limit` (announced or actual)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        return None
    chunks = bytearray()
    async for chunk in request.stream():
        chunks += chunk
        if len(chunks) > limit:
            return None
    return bytes(chunks)
