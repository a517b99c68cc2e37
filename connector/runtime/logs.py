"""Structured logging: structlog, JSON when stdout is not a terminal, a console renderer when it is.

Context (`store`, `platform`, `order`, `delivery_id`) is bound with contextvars. A processor redacts secrets: any
key that names a secret, and any string value that equals a secret registered with `register_secret` (the
configured tokens and webhook secrets), so a secret never reaches a log line even inside a message or a URL.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable, MutableMapping
from typing import Any

import structlog

REDACTED = "[redacted]"
_SECRET_KEYS = re.compile(
    r"(secret|token|password|passwd|authorization|api_key|apikey|signature|hmac|credential|cookie)", re.IGNORECASE
)
_secrets: set[str] = set()


def register_secret(*values: str) -> None:
    """Remember values that must never be printed (short values are ignored: they'd redact ordinary words)."""
    _secrets.update(v for v in values if v and len(v) >= 6)


def registered_secrets() -> frozenset[str]:
    return frozenset(_secrets)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        for secret in _secrets:
            if secret in value:
                value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, dict):
        return {k: REDACTED if _SECRET_KEYS.search(str(k)) else _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


def redact_secrets(_logger: Any, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: blank secret-named keys and registered secret values anywhere in the event."""
    for key in list(event_dict):
        if _SECRET_KEYS.search(key):
            event_dict[key] = REDACTED
        else:
            event_dict[key] = _scrub(event_dict[key])
    return event_dict


def configure(*, json: bool | None = None, level: str = "info", secrets: Iterable[str] = ()) -> None:
    """Configure structlog and the standard library's logging (uvicorn, alembic) to go through it."""
    register_secret(*secrets)
    as_json = (not sys.stdout.isatty()) if json is None else json
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Any = structlog.processors.JSONRenderer() if as_json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stdout),
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared, processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer]
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet = ("alembic", "uvicorn.access", "httpx", "httpcore", "apscheduler.executors.default", "apscheduler.scheduler")
    for noisy in quiet:
        logging.getLogger(noisy).setLevel(logging.WARNING)
