"""Initial schema: stores, poll cursors, orders with lines and fulfilments, bindings, inbox, outbox, timeline,
stock ledger and leases.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-23

Column types are spelled as what the database stores, so this revision never changes when Python-side types do:
`DecimalText` is a string column holding a plain decimal, `UTCDateTime` a timestamp without zone holding UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = (
    "leases",
    "stores",
    "cursors",
    "bindings",
    "inbox",
    "orders",
    "order_lines",
    "fulfilments",
    "fulfilment_lines",
    "outbox",
    "timeline",
    "stock_movements",
)


def _id(table: str) -> tuple[sa.Column[int], sa.PrimaryKeyConstraint]:
    return sa.Column("id", sa.Integer(), nullable=False), sa.PrimaryKeyConstraint("id", name=f"pk_{table}")


def _text(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(), nullable=nullable)


def _decimal(name: str, *, nullable: bool = False) -> sa.Column[str]:
    """A `DecimalText` column: the plain decimal string of an exact amount."""
    return sa.Column(name, sa.String(), nullable=nullable)


def _utc(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    """A `UTCDateTime` column: a timestamp without zone, always UTC."""
    return sa.Column(name, sa.DateTime(), nullable=nullable)


def _fk(table: str, column: str, target: str, *, ondelete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete)


def _int(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), nullable=nullable)


def _bool(name: str) -> sa.Column[bool]:
    return sa.Column(name, sa.Boolean(), nullable=False)


def upgrade() -> None:
    _create_leases_and_stores()
    _create_cursors()
    _create_bindings()
    _create_inbox()
    _create_orders()
    _create_order_lines()
    _create_fulfilments()
    _create_outbox()
    _create_timeline()
    _create_stock_movements()


def downgrade() -> None:
    for table in reversed(_TABLES):
        op.drop_table(table)


def _create_leases_and_stores() -> None:
    op.create_table(
        "leases",
        _text("name"),
        _text("holder"),
        _utc("acquired_at"),
        _utc("expires_at"),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )
    op.create_table(
        "stores",
        *_id("stores"),
        _text("name"),
        _text("platform"),
        _utc("created_at"),
        sa.UniqueConstraint("name", name="uq_stores_name"),
    )


def _create_cursors() -> None:
    op.create_table(
        "cursors",
        _int("store_id"),
        _text("stream"),
        _utc("cursor_updated_at", nullable=True),
        _text("cursor_external_id", nullable=True),
        _utc("last_poll_started_at", nullable=True),
        _utc("last_poll_finished_at", nullable=True),
        _utc("last_success_at", nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        _int("orders_seen"),
        _int("budget_calls"),
        _int("budget_throttled"),
        _fk("cursors", "store_id", "stores"),
        sa.PrimaryKeyConstraint("store_id", "stream", name="pk_cursors"),
    )


def _create_bindings() -> None:
    op.create_table(
        "bindings",
        *_id("bindings"),
        _int("store_id"),
        _text("kind"),
        _text("internal_id"),
        _text("external_id"),
        sa.Column("data", sa.JSON(), nullable=True),
        _utc("created_at"),
        _fk("bindings", "store_id", "stores"),
        sa.UniqueConstraint("store_id", "kind", "external_id", name="uq_bindings_store_id_kind_external_id"),
    )


def _create_inbox() -> None:
    op.create_table(
        "inbox",
        *_id("inbox"),
        _int("store_id"),
        _text("delivery_id"),
        _text("source"),
        _text("topic"),
        _utc("received_at"),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        _text("status"),
        _int("attempts"),
        sa.Column("error", sa.Text(), nullable=True),
        _text("external_id", nullable=True),
        _utc("processed_at", nullable=True),
        _text("claimed_by", nullable=True),
        _utc("claimed_until", nullable=True),
        _fk("inbox", "store_id", "stores"),
        sa.UniqueConstraint("store_id", "delivery_id", name="uq_inbox_store_id_delivery_id"),
    )
    op.create_index("ix_inbox_status_received_at", "inbox", ["status", "received_at"])


def _create_orders() -> None:
    op.create_table(
        "orders",
        *_id("orders"),
        _int("store_id"),
        _text("external_id"),
        _text("number"),
        _text("kind"),
        _text("status"),
        _text("payment_status"),
        _text("platform_status"),
        _text("currency"),
        _decimal("subtotal"),
        _decimal("shipping_total"),
        _decimal("tax_total"),
        _decimal("discount_total"),
        _decimal("total"),
        _decimal("totals_difference", nullable=True),
        _text("customer_name"),
        _text("customer_email"),
        _text("customer_phone"),
        sa.Column("shipping_address", sa.JSON(), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        _bool("cancelled"),
        _bool("deleted"),
        _text("pickup_location"),
        _utc("platform_created_at"),
        _utc("platform_updated_at"),
        _text("payload_hash"),
        _bool("back_ordered"),
        sa.Column("back_orders", sa.JSON(), nullable=True),
        sa.Column("allocation", sa.JSON(), nullable=True),
        _int("stock_event"),
        _utc("hold_until", nullable=True),
        _decimal("paid_amount", nullable=True),
        sa.Column("conflict", sa.Text(), nullable=True),
        _utc("created_at"),
        _utc("updated_at"),
        _int("version"),
        _fk("orders", "store_id", "stores"),
        sa.UniqueConstraint("store_id", "external_id", name="uq_orders_store_id_external_id"),
    )
    op.create_index("ix_orders_status", "orders", ["status"])
    op.create_index("ix_orders_platform_updated_at", "orders", ["platform_updated_at"])


def _create_order_lines() -> None:
    op.create_table(
        "order_lines",
        *_id("order_lines"),
        _int("order_id"),
        _int("position"),
        _text("external_id"),
        _text("sku"),
        _text("name"),
        _int("quantity"),
        _decimal("unit_price"),
        _decimal("total"),
        _fk("order_lines", "order_id", "orders", ondelete="CASCADE"),
    )
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id"])


def _create_fulfilments() -> None:
    op.create_table(
        "fulfilments",
        *_id("fulfilments"),
        _int("order_id"),
        _text("location"),
        _text("status"),
        _text("tracking_number", nullable=True),
        _text("tracking_carrier", nullable=True),
        _text("tracking_url", nullable=True),
        _text("assigned_user", nullable=True),
        _utc("created_at"),
        _utc("updated_at"),
        _fk("fulfilments", "order_id", "orders", ondelete="CASCADE"),
    )
    op.create_index("ix_fulfilments_order_id", "fulfilments", ["order_id"])
    op.create_table(
        "fulfilment_lines",
        *_id("fulfilment_lines"),
        _int("fulfilment_id"),
        _text("sku"),
        _int("quantity"),
        _fk("fulfilment_lines", "fulfilment_id", "fulfilments", ondelete="CASCADE"),
    )
    op.create_index("ix_fulfilment_lines_fulfilment_id", "fulfilment_lines", ["fulfilment_id"])


def _create_outbox() -> None:
    op.create_table(
        "outbox",
        *_id("outbox"),
        _int("store_id"),
        _int("order_id"),
        _int("fulfilment_id", nullable=True),
        _text("action"),
        _text("target_state"),
        _text("idempotency_key"),
        sa.Column("payload", sa.JSON(), nullable=False),
        _text("status"),
        _int("attempts"),
        _utc("next_attempt_at"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        _utc("created_at"),
        _utc("updated_at"),
        _text("claimed_by", nullable=True),
        _utc("claimed_until", nullable=True),
        _fk("outbox", "store_id", "stores"),
        _fk("outbox", "order_id", "orders"),
        _fk("outbox", "fulfilment_id", "fulfilments"),
        sa.UniqueConstraint("idempotency_key", name="uq_outbox_idempotency_key"),
    )
    op.create_index("ix_outbox_status_next_attempt_at", "outbox", ["status", "next_attempt_at"])
    op.create_index("ix_outbox_store_id", "outbox", ["store_id"])
    op.create_index("ix_outbox_order_id", "outbox", ["order_id"])


def _create_timeline() -> None:
    op.create_table(
        "timeline",
        *_id("timeline"),
        _int("order_id"),
        _utc("at"),
        _text("kind"),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        _text("actor"),
        _fk("timeline", "order_id", "orders"),
    )
    op.create_index("ix_timeline_order_id_at", "timeline", ["order_id", "at"])


def _create_stock_movements() -> None:
    op.create_table(
        "stock_movements",
        *_id("stock_movements"),
        _text("sku"),
        _text("location"),
        _text("kind"),
        _int("on_hand_delta"),
        _int("allocated_delta"),
        _int("reserved_delta"),
        _text("idempotency_key"),
        _int("order_id", nullable=True),
        _utc("at"),
        sa.Column("note", sa.Text(), nullable=False),
        _fk("stock_movements", "order_id", "orders"),
        sa.UniqueConstraint("idempotency_key", name="uq_stock_movements_idempotency_key"),
    )
    op.create_index("ix_stock_movements_sku_location", "stock_movements", ["sku", "location"])
    op.create_index("ix_stock_movements_order_id", "stock_movements", ["order_id"])
