"""`connector db copy --from URL`: a SQLite install's rows, moved into a new database (SQLite or PostgreSQL).

The copy is compared table by table with its source, the target keeps working afterwards (on PostgreSQL that
means its id sequences were moved past the copied ids), and a second copy into a filled database is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from connector.orders.model import Line, Money, Order, OrderKind, PaymentStatus, Platform
from connector.orders.service import Service
from connector.runtime.config import Config, load_config
from connector.stock import ledger
from connector.stock.order_effects import Stocker
from connector.storage.db import make_engine, upgrade
from connector.storage.runtime import Runtime
from connector.storage.tables import Base
from connector.sync.ingest import ingest_order
from tests.support import cli, write_config

STORE = {
    "name": "bc",
    "platform": "bigcommerce",
    "base_url": "https://api.bigcommerce.com/stores/abc",
    "credentials": {"access_token": "tok-123456"},
    "webhook_secret": "whsec-123456",
}
LOCATIONS = [{"name": "amsterdam", "priority": 1, "pickup": True}]


def _order(external_id: str, amount: str) -> Order:
    eur = lambda x: Money(Decimal(x), "EUR")  # noqa: E731
    when = datetime(2026, 5, 1, 12, 30, tzinfo=UTC)
    return Order(
        store="bc",
        platform=Platform.BIGCOMMERCE,
        external_id=external_id,
        number=external_id,
        kind=OrderKind.DELIVERY,
        payment_status=PaymentStatus.UNPAID,
        platform_status="7",
        currency="EUR",
        subtotal=eur(amount),
        shipping_total=eur("0"),
        tax_total=eur("0"),
        discount_total=eur("0"),
        total=eur(amount),
        created_at=when,
        updated_at=when,
        lines=(Line("A", "Alpha", 2, eur("10.05"), eur(amount)),),
    )


def _ingest(config: Config, runtime: Runtime, order: Order) -> None:
    with runtime.sessions.begin() as session:
        Stocker(config).on_outcome(session, ingest_order(session, runtime.store_ids["bc"], order, source="test"))


def _filled_sqlite(tmp_path: Path) -> str:
    """A SQLite install with stores, stock, orders, fulfilments, a payment, a timeline and an outbox row."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    config = load_config(write_config(tmp_path / "old.toml", url, stores=[STORE], locations=LOCATIONS))
    runtime = Runtime.open(config)
    try:
        upgrade(runtime.engine)
        runtime.sync_stores()
        with runtime.sessions.begin() as session:
            ledger.import_counts(session, [ledger.Count("A", "amsterdam", 9)])
        _ingest(config, runtime, _order("100", "20.10"))
        _ingest(config, runtime, _order("101", "20.10"))
        service = Service(runtime)
        service.pay("100", "20.10", "card", actor="test")
        service.act("100", "pack", actor="test")
    finally:
        runtime.close()
    return url


def _rows(engine: Engine) -> dict[str, list[dict[str, Any]]]:
    with engine.connect() as conn:
        return {
            t.name: [dict(r._mapping) for r in conn.execute(select(t).order_by(*t.primary_key.columns))]
            for t in Base.metadata.sorted_tables
        }


def test_db_copy_moves_every_row_and_the_copy_keeps_working(tmp_path: Path, database_url: str) -> None:
    source = _filled_sqlite(tmp_path)
    config_path = write_config(tmp_path / "new.toml", database_url, stores=[STORE], locations=LOCATIONS)

    done = cli("db", "copy", "--from", source, "--config", str(config_path), cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    assert "orders: 2 rows" in done.stdout
    old, new = make_engine(source), make_engine(database_url)
    try:
        copied = _rows(new)
        assert copied == _rows(old)
        assert all(copied[name] for name in ("outbox", "timeline", "stock_movements", "fulfilments"))
    finally:
        old.dispose()
        new.dispose()

    config = load_config(config_path)
    runtime = Runtime.open(config)
    try:
        runtime.sync_stores()
        _ingest(config, runtime, _order("102", "20.10"))  # new ids after the copied ones
        assert [o["number"] for o in Service(runtime).orders(limit=10)] == ["102", "101", "100"]
    finally:
        runtime.close()


def test_db_copy_refuses_a_target_that_has_rows_and_changes_nothing(tmp_path: Path, sqlite_url: str) -> None:
    source = _filled_sqlite(tmp_path)
    config_path = write_config(tmp_path / "new.toml", sqlite_url, stores=[STORE], locations=LOCATIONS)
    assert cli("db", "copy", "--from", source, "--config", str(config_path), cwd=tmp_path).returncode == 0
    engine = make_engine(sqlite_url)
    try:
        before = _rows(engine)
        again = cli("db", "copy", "--from", source, "--config", str(config_path), cwd=tmp_path)
        assert again.returncode == 1
        assert "nothing copied: the target database already has rows in stores" in again.stderr
        assert _rows(engine) == before
    finally:
        engine.dispose()


def test_db_copy_from_a_missing_sqlite_file_creates_nothing(tmp_path: Path, sqlite_url: str) -> None:
    config_path = write_config(tmp_path / "new.toml", sqlite_url)
    absent = tmp_path / "absent.db"
    done = cli("db", "copy", "--from", f"sqlite:///{absent}", "--config", str(config_path), cwd=tmp_path)
    assert done.returncode == 1
    assert "does not exist" in done.stderr
    assert not absent.exists()
