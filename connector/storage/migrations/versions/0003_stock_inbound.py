"""Stock from the POS: a movement's reason, and an index that finds waiting back-orders oldest first.

Revision ID: 0003_stock_inbound
Revises: 0002_stock_levels_index
Create Date: 2026-12-05

`stock_movements.reason` keeps what the POS said a movement was (sale, return, receipt, transfer_out, transfer_in,
count_correction, damage), so a SKU's history reads like the shop floor; movements made by orders and counts leave
it empty (their `kind` says it). `ix_orders_back_ordered` lets every stock change look up the orders waiting for
stock, oldest first, without scanning the orders table.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_stock_inbound"
down_revision: str | None = "0002_stock_levels_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stock_movements") as batch:
        batch.add_column(sa.Column("reason", sa.String(), nullable=False, server_default=""))
    op.create_index("ix_orders_back_ordered", "orders", ["back_ordered", "platform_created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_orders_back_ordered", table_name="orders")
    with op.batch_alter_table("stock_movements") as batch:
        batch.drop_column("reason")
