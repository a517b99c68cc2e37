"""What a running connector holds: configuration, database, metrics. Built once by the daemon or a CLI command."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connector.config import Config
from connector.metrics import Metrics
from connector.storage.db import make_engine, session_factory


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    metrics: Metrics = field(default_factory=Metrics)
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    scheduler_running: bool = False

    @classmethod
    def open(cls, config: Config) -> Runtime:
        engine = make_engine(config.daemon.database_url)
        return cls(config=config, engine=engine, sessions=session_factory(engine))

    def close(self) -> None:
        self.engine.dispose()
