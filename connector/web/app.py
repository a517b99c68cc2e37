"""The FastAPI application: health and readiness, Prometheus metrics; later webhooks, API and dashboard."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from connector import __version__
from connector.runtime import Runtime
from connector.service import Service
from connector.storage.db import current_revision, head_revision
from connector.web.api import build_api
from connector.web.dashboard import build_dashboard
from connector.webhooks import receive


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
    stores = {s.name: s for s in runtime.config.stores}

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

    @app.post("/webhooks/{store}", include_in_schema=False)
    async def webhook(store: str, request: Request) -> JSONResponse:
        """Verify, keep, acknowledge; processing happens later from the inbox."""
        body = await _capped_body(request, runtime.config.daemon.max_body_bytes)
        if body is None:
            runtime.metrics.webhooks_rejected.labels(store, "413").inc()
            return JSONResponse({"error": "body too large"}, status_code=413)
        store_config = stores.get(store)
        headers = {k.lower(): v for k, v in request.headers.items()}
        if "topic" in request.query_params:  # platforms that send no topic header (Lightspeed) say it in the URL
            headers["x-connector-topic"] = request.query_params["topic"]
        receipt = await run_in_threadpool(
            receive, runtime.sessions, runtime.metrics, store_config, runtime.store_ids.get(store), headers, body
        )
        if receipt.status == 200 and on_webhook is not None:
            on_webhook()
        return JSONResponse(receipt.body, status_code=receipt.status)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return app


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
