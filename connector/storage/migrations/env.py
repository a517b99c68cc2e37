"""Alembic's entry point: runs the migrations on the connection `connector.storage.db.upgrade` hands over.

No alembic.ini is involved. The connection comes through `config.attributes["connection"]`, so the migrations
also run on in-memory and temporary databases. Without one, `sqlalchemy.url` is used: online through
`make_engine`, or offline (`--sql`) to print the SQL. SQLite gets batch mode, since it cannot ALTER most things.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from connector.storage.db import make_engine
from connector.storage.tables import Base


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = make_engine(_configured_url())
    try:
        with engine.connect() as own_connection:
            _configure(own_connection)
    finally:
        engine.dispose()


def run_offline() -> None:
    url = _configured_url()
    context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def _configured_url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no connection and no sqlalchemy.url: run migrations through connector.storage.db")
    return url


if context.is_offline_mode():
    run_offline()
else:
    run_online()
