"""The state layer: SQLAlchemy tables, engines and sessions, Alembic migrations, the SQLite daemon lock.

Storage knows nothing of HTTP or platforms, and never commits on its own: the use case that opens a session owns
its transaction. Typical start-up:

    engine = make_engine(database_url)
    lock = DatabaseLock(database_url)
    lock.acquire()                       # raises DaemonLocked if another daemon owns this SQLite file
    upgrade(engine)
    sessions = session_factory(engine)
"""

from __future__ import annotations

from connector.storage.db import (
    DatabaseLock,
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    session_factory,
    sqlite_file,
    upgrade,
)
from connector.storage.tables import (
    Base,
    Binding,
    Cursor,
    Fulfilment,
    FulfilmentLine,
    InboxItem,
    Lease,
    Order,
    OrderLine,
    OutboxItem,
    StockMovement,
    Store,
    TimelineEntry,
)
from connector.storage.types import (
    BindingKind,
    DecimalText,
    InboxSource,
    InboxStatus,
    OutboxStatus,
    TimelineKind,
    UTCDateTime,
    utcnow,
)

__all__ = [
    "Base",
    "Binding",
    "BindingKind",
    "Cursor",
    "DatabaseLock",
    "DecimalText",
    "Fulfilment",
    "FulfilmentLine",
    "InboxItem",
    "InboxSource",
    "InboxStatus",
    "Lease",
    "Order",
    "OrderLine",
    "OutboxItem",
    "OutboxStatus",
    "StockMovement",
    "Store",
    "TimelineEntry",
    "TimelineKind",
    "UTCDateTime",
    "alembic_config",
    "current_revision",
    "head_revision",
    "make_engine",
    "session_factory",
    "sqlite_file",
    "upgrade",
    "utcnow",
]
