"""What a running connector holds: configuration, database, metrics. Built once by the daemon or a CLI command."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.runtime.config import Config
from connector.runtime.metrics import Metrics
from connector.storage.db import make_engine, read_session_factory, session_factory


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    metrics: Metrics = field(default_factory=Metrics)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    scheduler_running: bool = False
    store_ids: dict[str, int] = field(default_factory=dict)
    reads: sessionmaker[Session] = field(init=False)  # sessions that only read (never wait for a writer)

    def __post_init__(self) -> None:
        self.reads = read_session_factory(self.engine)

    @classmethod
    def open(cls, config: Config) -> Runtime:
        engine = make_engine(config.daemon.database_url)
        return cls(config=config, engine=engine, sessions=session_factory(engine))

    def sync_stores(self) -> dict[str, int]:
        """Make sure every configured store has its row; remember their ids."""
        from connector.storage.stores import sync_stores

        with self.sessions.begin() as session:
            ids = sync_stores(session, [(s.name, s.platform.value) for s in self.config.stores])
        self.store_ids = {s.name: ids[s.name] for s in self.config.stores}
        return self.store_ids

    def close(self) -> None:
        self.engine.dispose()
