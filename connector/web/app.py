"""The FastAPI application: health and readiness, Prometheus metrics, the webhook endpoint, API and dashboard."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

import structlog
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import ClientDisconnect
from starlette.types import Receive, Scope, Send

from connector import __version__
from connector.orders.service import Service
from connector.storage.db import current_revision, head_revision, read_only
from connector.storage.runtime import Runtime
from connector.sync.receipts_first import receipt_ended, receipt_started
from connector.sync.webhooks import DeliveryWriter
from connector.web.api import build_api
from connector.web.dashboard import build_dashboard
from connector.web.docs import mount_docs

log = structlog.get_logger(__name__)


def create_app(
    runtime: Runtime,
    *,
    on_webhook: Callable[[], None] | None = None,
    on_action: Callable[[], None] | None = None,
) -> FastAPI:
    """The daemon's HTTP app. `on_webhook` runs after each kept delivery (wakes the inbox worker), `on_action`
    after each API or dashboard action (wakes the outbox worker)."""
    app = ConnectorApp(
        title="Order sync connector",
        version=__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,  # `web.docs` serves it, without a CDN
        redoc_url=None,
    )
    mount_docs(app)
    app.state.runtime = runtime
    service = Service(runtime)
    app.include_router(build_api(runtime, service, on_action))
    app.include_router(build_dashboard(runtime, service, on_action))
    writer = DeliveryWriter(runtime.engine, runtime.metrics)
    app.state.delivery_writer = writer
    app.webhook_endpoint = WebhookEndpoint(runtime=runtime, writer=writer, on_webhook=on_webhook)

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


class ConnectorApp(FastAPI):
    """FastAPI, with `POST /webhooks/{store}` answered before the app's middleware stack (see `WebhookEndpoint`)."""

    webhook_endpoint: WebhookEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.webhook_endpoint is not None and scope["type"] == "http" and _webhook_store(scope["path"]):
            await self.webhook_endpoint(scope, receive, send)
            return
        await super().__call__(scope, receive, send)


def _webhook_store(path: str) -> str:
    store = path[len(WebhookEndpoint.PREFIX) :] if path.startswith(WebhookEndpoint.PREFIX) else ""
    return "" if "/" in store else store


class WebhookEndpoint:
    """`POST /webhooks/{store}`: verify, keep, acknowledge; processing happens later from the inbox.

    Plain ASGI, reached before FastAPI's stack (routing, dependency injection, validation, error and body-limit
    middleware): platforms send hundreds of deliveries a second at peaks, every request's CPU delays the next
    answer, and this path needs none of that. Not in the OpenAPI document (it is the platforms' interface, not
    ours). A failure to keep a delivery is answered 503, so the platform delivers it again.
    """

    PREFIX = "/webhooks/"

    def __init__(self, *, runtime: Runtime, writer: DeliveryWriter, on_webhook: Callable[[], None] | None) -> None:
        self.runtime = runtime
        self.writer = writer
        self.on_webhook = on_webhook
        self.stores = {s.name: s for s in runtime.config.stores}
        self.max_body = runtime.config.daemon.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        store = _webhook_store(scope["path"])
        if scope["method"] != "POST":
            await _answer(send, 405, {"error": "method not allowed"}, ((b"allow", b"POST"),))
            return
        receipt_started()
        try:
            status, body = await self.receive(store, scope, receive)
            await _answer(send, status, body)
        except ClientDisconnect:
            return  # the sender hung up before its body was complete: nothing kept, nobody to answer
        finally:
            receipt_ended()
        if status == 200 and self.on_webhook is not None:
            self.on_webhook()  # after the answer: the woken worker must not delay it

    async def receive(self, store: str, scope: Scope, receive: Receive) -> tuple[int, dict[str, Any]]:
        config, store_id = self.stores.get(store), self.runtime.store_ids.get(store)
        if config is None or store_id is None:  # before the body is read; the name never becomes a label
            self.runtime.metrics.webhooks_unknown_store.inc()
            return 404, {"error": "unknown store"}
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        raw = await _capped_body(headers.get("content-length", ""), receive, self.max_body)
        if raw is None:
            self.runtime.metrics.webhooks_rejected.labels(store, "too_large").inc()
            return 413, {"error": "body too large"}
        if scope["query_string"]:  # platforms that send no topic header (Lightspeed) say it in the URL
            topic = parse_qs(scope["query_string"].decode("latin-1")).get("topic")
            if topic:
                headers["x-connector-topic"] = topic[0]
        try:
            receipt = await self.writer.receive(config, store_id, headers, raw)
        except Exception as exc:  # noqa: BLE001 -- the platform must hear that it has to deliver again
            log.error("webhook_not_kept", store=store, error=repr(exc))
            return 503, {"error": "the delivery could not be stored; deliver it again"}
        return receipt.status, receipt.body


async def _answer(send: Send, status: int, body: dict[str, Any], extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    payload = json.dumps(body, separators=(",", ":")).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), *extra]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def _capped_body(declared: str, receive: Receive, limit: int) -> bytes | None:
    """The raw body, or None when it is larger than `limit` (announced or actual)."""
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks += message.get("body", b"")
        if len(chunks) > limit:
            return None
        if not message.get("more_body", False):
            return bytes(chunks)


def _database_ok(runtime: Runtime) -> bool:
    try:
        with read_only(runtime.engine).connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return False
    return True


def _schema_ok(runtime: Runtime) -> bool:
    try:
        return current_revision(read_only(runtime.engine)) == head_revision()
    except SQLAlchemyError:
        return False
