"""The Alembic migrations build exactly the schema the ORM classes describe, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

from connector.storage.db import alembic_config, current_revision, head_revision, make_engine, session_factory, upgrade
from connector.storage.tables import Base, Store

EVERY_TABLE = {
    "stores",
    "cursors",
    "orders",
    "order_lines",
    "fulfilments",
    "fulfilment_lines",
    "bindings",
    "inbox",
    "outbox",
    "timeline",
    "stock_movements",
    "leases",
}


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_creates_every_table(database_url: str) -> None:
    engine = make_engine(database_url)
    assert _tables(engine) == set()
    upgrade(engine)
    assert _tables(engine) == EVERY_TABLE | {"alembic_version"}
    assert set(Base.metadata.tables) == EVERY_TABLE
    engine.dispose()


def test_upgrading_twice_changes_nothing(db_engine: Engine) -> None:
    with session_factory(db_engine).begin() as session:
        session.add(Store(name="demo-shop", platform="bigcommerce"))
    upgrade(db_engine)
    assert current_revision(db_engine) == head_revision()
    with session_factory(db_engine)() as session:
        assert session.scalars(select(Store.name)).all() == ["demo-shop"]


def test_the_migrations_match_the_orm_tables(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_downgrade_to_base_removes_everything_and_upgrade_rebuilds_it(db_engine: Engine) -> None:
    with db_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert _tables(db_engine) <= {"alembic_version"}
    assert current_revision(db_engine) is None
    upgrade(db_engine)
    assert _tables(db_engine) == EVERY_TABLE | {"alembic_version"}


def test_upgrade_takes_a_url_as_well_as_an_engine(sqlite_url: str) -> None:
    upgrade(sqlite_url)
    engine = make_engine(sqlite_url)
    assert current_revision(engine) == head_revision()
    engine.dispose()


def test_alembic_alone_can_migrate_from_a_url(sqlite_url: str) -> None:
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", sqlite_url)
    command.upgrade(config, "head")
    engine = make_engine(sqlite_url)
    assert _tables(engine) == EVERY_TABLE | {"alembic_version"}
    engine.dispose()


def test_the_migration_sql_can_be_printed_for_a_dba(capsys: pytest.CaptureFixture[str]) -> None:
    config = alembic_config()
    config.set_main_option("sqlalchemy.url", "postgresql+psycopg://postgres@db.invalid/connector")
    command.upgrade(config, "head", sql=True)
    printed = capsys.readouterr().out
    for table in EVERY_TABLE:
        assert f"CREATE TABLE {table} (" in printed
    assert "INSERT INTO alembic_version (version_num) VALUES ('0001_initial')" in printed
    assert "CREATE INDEX ix_stock_movements_levels ON stock_movements" in printed
