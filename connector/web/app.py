"""The FastAPI application: health and readiness, Prometheus metrics; later webhooks, API and dashboard."""

from __future__ import annotations

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from connector import __version__
from connector.runtime import Runtime
from connector.storage.db import current_revision, head_revision


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(title="Order sync connector", version=__version__)
    app.state.runtime = runtime

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
