"""Times for people: parsing `--since` (an ISO-8601 time, naive means UTC, or an age like `24h` / `7d`), and
printing ages (`12s ago`)."""

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


def ago(seconds: int) -> str:
    """A short age for people: `12s ago`, `3 min ago`, `2 h ago`, `4 d ago`."""
    if seconds < 120:
        return f"{seconds}s ago"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"
