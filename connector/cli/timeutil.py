"""Parsing `--since` values: an ISO-8601 date or time (naive means UTC), or an age like `24h` / `7d`."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.runtime.config import parse_duration


def parse_since(value: str, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            return now - parse_duration(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is neither an ISO-8601 time (2026-05-01T00:00Z) nor an age (24h, 7d)"
            ) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
