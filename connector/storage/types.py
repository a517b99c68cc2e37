"""Column types and value vocabularies of the storage layer.

`DecimalText` keeps money exact on every backend by storing a plain decimal string (SQLAlchemy's `Numeric`
goes through floats on SQLite and warns). Because the column is text, compare and sum amounts in Python, never
in SQL. `UTCDateTime` stores naive UTC and hands back timezone-aware UTC, refusing naive input whose zone would
be a guess. The `StrEnum`s name the values that the string status columns of the inbox, outbox, bindings,
timeline and stock ledger hold; the columns stay plain strings so new values need no migration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import DateTime, Dialect, String
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    """The current time as timezone-aware UTC: the default of every timestamp column."""
    return datetime.now(UTC)


class DecimalText(TypeDecorator[Decimal]):
    """An exact `Decimal`, stored as its plain decimal string (`"12.50"`, never `"1.25E+1"`)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Decimal | int | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Decimal | int) or isinstance(value, bool):
            raise TypeError(f"DecimalText takes a Decimal, got {type(value).__name__} {value!r}")
        amount = Decimal(value)
        if not amount.is_finite():
            raise ValueError(f"DecimalText takes a finite amount, got {amount}")
        return format(amount, "f")

    def process_result_value(self, value: str | None, dialect: Dialect) -> Decimal | None:
        return None if value is None else Decimal(value)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime, stored as naive UTC and returned as aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: its timezone is unknown, give it in UTC")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class InboxSource(StrEnum):
    WEBHOOK = "webhook"
    POLL = "poll"
    REPLAY = "replay"


class InboxStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    DONE = "done"
    DEAD = "dead"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"


class BindingKind(StrEnum):
    """What an external id names on the platform side (OCA's "binder" vocabulary)."""

    ORDER = "order"
    FULFILLMENT_ORDER = "fulfillment_order"
    SHIPMENT = "shipment"
    LOCATION = "location"


class TimelineKind(StrEnum):
    INBOUND = "inbound"
    CHANGE = "change"
    ALLOCATION = "allocation"
    STATE = "state"
    OUTBOUND = "outbound"
    NOTE = "note"
    CONFLICT = "conflict"
