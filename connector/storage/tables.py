"""The connector's tables as SQLAlchemy 2 typed ORM classes: the single source of truth for the schema.

Every change here needs an Alembic migration in `connector/storage/migrations/versions/`; the test suite checks
that the migrations and these classes agree. Money columns are `DecimalText` (exact text), timestamps
`UTCDateTime` (aware UTC), payloads `JSON`. Status-like columns are plain strings whose known values are the
enums of `connector.storage.types` and `connector.orders.model`. Some class names repeat those of
`connector.orders.model` (`Order`, `Fulfilment`): modules that map between the two import this one as a module
(`tables.Order`).

    stores ─┬─ cursors            poll progress per (store, stream)
            ├─ orders ─┬─ order_lines
            │          ├─ fulfilments ── fulfilment_lines
            │          └─ timeline    what happened to the order, and why
            ├─ bindings           external id <-> internal id
            ├─ inbox              raw deliveries (webhook, poll, replay) awaiting ingest
            └─ outbox             write-backs awaiting the platform
    stock_movements               append-only stock ledger per (sku, location)
    leases                        which replica owns which piece of work, until when
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, MetaData, Table, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from connector.storage.types import DecimalText, InboxStatus, OutboxStatus, UTCDateTime, utcnow

# Named constraints make migrations reproducible and let SQLite batch mode find them again.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, Decimal: DecimalText, dict[str, Any]: JSON}


class Store(Base):
    __tablename__ = "stores"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    platform: Mapped[str]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Cursor(Base):
    """How far polling of one stream of one store has come: `(updated_at, external_id)` of the last item."""

    __tablename__ = "cursors"

    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), primary_key=True)
    stream: Mapped[str] = mapped_column(primary_key=True, default="orders")
    cursor_updated_at: Mapped[datetime | None]
    cursor_external_id: Mapped[str | None]
    last_poll_started_at: Mapped[datetime | None]
    last_poll_finished_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    orders_seen: Mapped[int] = mapped_column(default=0)
    budget_calls: Mapped[int] = mapped_column(default=0)  # platform calls made by the daemon's client (running total)
    budget_throttled: Mapped[int] = mapped_column(default=0)  # 429 / throttled answers among them


class Order(Base):
    """One platform order; `version` counts local changes and guards against lost concurrent updates."""

    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("store_id", "external_id"),
        Index("ix_orders_status", "status"),
        Index("ix_orders_platform_updated_at", "platform_updated_at"),
        # Waiting back-orders, oldest first: what arriving stock serves (`stock.order_effects.serve_back_orders`).
        Index("ix_orders_back_ordered", "back_ordered", "platform_created_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    external_id: Mapped[str]
    number: Mapped[str]
    kind: Mapped[str]
    status: Mapped[str]
    payment_status: Mapped[str]
    platform_status: Mapped[str]
    currency: Mapped[str]
    subtotal: Mapped[Decimal]
    shipping_total: Mapped[Decimal]
    tax_total: Mapped[Decimal]
    discount_total: Mapped[Decimal]
    total: Mapped[Decimal]
    totals_difference: Mapped[Decimal | None]
    customer_name: Mapped[str] = mapped_column(default="")
    customer_email: Mapped[str] = mapped_column(default="")
    customer_phone: Mapped[str] = mapped_column(default="")
    shipping_address: Mapped[dict[str, Any] | None]
    note: Mapped[str] = mapped_column(Text, default="")
    cancelled: Mapped[bool] = mapped_column(default=False)
    deleted: Mapped[bool] = mapped_column(default=False)
    pickup_location: Mapped[str] = mapped_column(default="")
    platform_created_at: Mapped[datetime]
    platform_updated_at: Mapped[datetime]
    payload_hash: Mapped[str]
    back_ordered: Mapped[bool] = mapped_column(default=False)
    back_orders: Mapped[dict[str, Any] | None]  # {sku: units} that no location could cover
    allocation: Mapped[dict[str, Any] | None]  # the last allocation decision: strategy, candidates, reason
    stock_event: Mapped[int] = mapped_column(default=0)  # bumps with each stock event (idempotency keys)
    hold_until: Mapped[datetime | None]  # reservations: when the hold expires
    paid_amount: Mapped[Decimal | None]  # payments recorded here (`orders pay`); takes no money
    conflict: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column()

    store: Mapped[Store] = relationship(lazy="joined", innerjoin=True)
    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderLine.position", lazy="selectin"
    )
    fulfilments: Mapped[list[Fulfilment]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="Fulfilment.id", lazy="selectin"
    )

    __mapper_args__ = {"version_id_col": version}


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int]
    external_id: Mapped[str] = mapped_column(default="")
    sku: Mapped[str]
    name: Mapped[str] = mapped_column(default="")
    quantity: Mapped[int]
    unit_price: Mapped[Decimal]
    total: Mapped[Decimal]

    order: Mapped[Order] = relationship(back_populates="lines")


class Fulfilment(Base):
    """The part of an order that one location serves, with its own workflow state."""

    __tablename__ = "fulfilments"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    location: Mapped[str]
    status: Mapped[str]
    tracking_number: Mapped[str | None]
    tracking_carrier: Mapped[str | None]
    tracking_url: Mapped[str | None]
    assigned_user: Mapped[str | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    order: Mapped[Order] = relationship(back_populates="fulfilments")
    lines: Mapped[list[FulfilmentLine]] = relationship(
        back_populates="fulfilment", cascade="all, delete-orphan", order_by="FulfilmentLine.id", lazy="selectin"
    )


class FulfilmentLine(Base):
    __tablename__ = "fulfilment_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    fulfilment_id: Mapped[int] = mapped_column(ForeignKey("fulfilments.id", ondelete="CASCADE"), index=True)
    sku: Mapped[str]
    quantity: Mapped[int]

    fulfilment: Mapped[Fulfilment] = relationship(back_populates="lines")


class Binding(Base):
    """An external id on the platform bound to an internal id here (OCA connector's "binder")."""

    __tablename__ = "bindings"
    __table_args__ = (UniqueConstraint("store_id", "kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    kind: Mapped[str]
    internal_id: Mapped[str]
    external_id: Mapped[str]
    data: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InboxItem(Base):
    """One raw delivery kept until ingested; `(store, delivery_id)` makes a redelivery a no-op."""

    __tablename__ = "inbox"
    __table_args__ = (
        UniqueConstraint("store_id", "delivery_id"),
        Index("ix_inbox_status_received_at", "status", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"))
    delivery_id: Mapped[str]
    source: Mapped[str]
    topic: Mapped[str]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(default=InboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)
    external_id: Mapped[str | None]
    processed_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None]
    claimed_until: Mapped[datetime | None]


class OutboxItem(Base):
    """One write-back to a platform, created in the same transaction as the state change it reports."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    store_id: Mapped[int] = mapped_column(ForeignKey("stores.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    fulfilment_id: Mapped[int | None] = mapped_column(ForeignKey("fulfilments.id"))
    action: Mapped[str]
    target_state: Mapped[str]
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    response: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    claimed_by: Mapped[str | None]
    claimed_until: Mapped[datetime | None]


class TimelineEntry(Base):
    """One line of an order's log: what came in, what was decided and why, what the platform answered."""

    __tablename__ = "timeline"
    __table_args__ = (Index("ix_timeline_order_id_at", "order_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str]
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    actor: Mapped[str] = mapped_column(default="connector")


class StockMovement(Base):
    """One append-only stock ledger entry; the idempotency key makes a replay move stock only once."""

    __tablename__ = "stock_movements"
    __table_args__ = (
        # The deltas ride along so that levels (sums per sku and location) are read from the index alone.
        Index("ix_stock_movements_levels", "sku", "location", "on_hand_delta", "allocated_delta", "reserved_delta"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str]
    location: Mapped[str]
    kind: Mapped[str]
    on_hand_delta: Mapped[int] = mapped_column(default=0)
    allocated_delta: Mapped[int] = mapped_column(default=0)
    reserved_delta: Mapped[int] = mapped_column(default=0)
    idempotency_key: Mapped[str] = mapped_column(unique=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(default="")  # a POS movement's reason (sale, receipt, ...); else empty


class Lease(Base):
    """Ownership of a named piece of work (e.g. one store's platform traffic) by one replica until expiry."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(primary_key=True)
    holder: Mapped[str]
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


def core(cls: type[Base]) -> Table:
    """The Core table of an ORM class, for bulk statements (one executemany, no unit of work)."""
    return Base.metadata.tables[cls.__tablename__]
