"""Alembic migrations of the connector's schema, run in code by `connector.storage.db.upgrade`."""
