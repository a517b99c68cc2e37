"""Engines, sessions, migrations and the one-daemon-per-SQLite-file lock.

    engine = make_engine(settings.database_url)   # SQLite (WAL) or PostgreSQL
    with DatabaseLock(settings.database_url):     # SQLite: refuses a second daemon on the same file
        upgrade(engine)                           # Alembic to head, no alembic.ini involved
        sessions = session_factory(engine)

Sessions never commit on their own: the use case that opens one owns its transaction.

On SQLite every transaction starts with `BEGIN IMMEDIATE`: the sqlite3 driver's default leaves SELECTs outside
the transaction and breaks savepoints, and a deferred transaction that reads and then writes fails at once
(instead of waiting `busy_timeout`) when another connection wrote in between. Taking the write lock up front
serialises the daemon's writers cleanly; readers of other processes are not blocked thanks to WAL.

Work that only reads (status pages, API lists, gauges, CLI reports) uses `read_session_factory`: on SQLite its
transactions are plain deferred `BEGIN`s, consistent WAL snapshots that neither take nor wait for the write
lock, so a support engineer's dashboard never holds up a webhook answer. Such a session must not write.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

from connector.runtime.errors import DaemonLocked

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

READ_ONLY = "connector_read_only"  # execution option of the engine behind `read_session_factory`

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=NORMAL",
)


def sqlite_file(database_url: str | URL) -> Path | None:
    """The absolute path of a file SQLite database (relative paths resolve against the working directory).

    None for PostgreSQL and for in-memory SQLite, which have no file to lock or create.
    """
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        return None
    return (Path.cwd() / Path(database).expanduser()).resolve()


def make_engine(database_url: str | URL) -> Engine:
    """An engine for `database_url`: a SQLite file (created with its folder, WAL mode) or PostgreSQL."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        url = url.set(database=str(path))
    engine = create_engine(url)
    writer = _WriterLock()
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", writer.begin)
    event.listen(engine, "commit", writer.end)
    event.listen(engine, "rollback", writer.end)
    return engine


_urgent = threading.local()


_urgent_waiting = 0  # urgent threads waiting for any SQLite writer lock of this process (a hint, read unlocked)


def urgent_writer() -> None:
    """Mark the calling thread as the one whose SQLite transactions go first (the webhook receipt writer: a
    platform is waiting for its answer, while background jobs are not)."""
    _urgent.flag = True


def urgent_writer_waiting() -> bool:
    """Whether an urgent writer waits for the database now: a long background transaction should end early."""
    return _urgent_waiting > 0


class _WriterLock:
    """One SQLite transaction at a time in this process, queued on a lock instead of SQLite's busy handler.

    SQLite allows one writer; every transaction here is `BEGIN IMMEDIATE`. Left to SQLite, waiting threads poll
    with sleeps that grow to 100 ms, so under load (hundreds of webhooks a second) answers wait for sleeps, not
    for work. A process-wide lock hands the database over as soon as it is free; SQLite's busy timeout still
    guards against other processes (a CLI command next to the daemon). A thread marked by `urgent_writer` takes
    the database before any other waiting thread, so a webhook answer waits at most for the one transaction in
    progress.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self._free = threading.Condition()
        self._busy = False
        self._urgent_waiting = 0
        self._timeout = timeout
        self._holder: set[int] = set()

    def begin(self, connection: Connection) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a snapshot for reading: no write lock to take or wait for
            return
        self._acquire(getattr(_urgent, "flag", False))
        self._holder.add(id(connection))
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            self.end(connection)
            raise

    def _acquire(self, urgent: bool) -> None:
        global _urgent_waiting
        deadline = time.monotonic() + self._timeout
        with self._free:
            self._urgent_waiting += urgent
            _urgent_waiting += urgent
            try:
                while self._busy or (self._urgent_waiting and not urgent):
                    if not self._free.wait(deadline - time.monotonic()):
                        raise TimeoutError(f"the SQLite database stayed busy for {self._timeout:.0f} s")
                self._busy = True
            finally:
                self._urgent_waiting -= urgent
                _urgent_waiting -= urgent

    def end(self, connection: Connection) -> None:
        if id(connection) in self._holder:
            self._holder.discard(id(connection))
            with self._free:
                self._busy = False
                self._free.notify_all()


def _configure_sqlite_connection(dbapi_connection: Any, _record: object) -> None:
    # Hand transaction control to SQLAlchemy (see the module docstring) before the pragmas, which must run
    # outside a transaction to take effect.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in _SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose objects stay readable after commit (the web layer renders them after the transaction)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


def read_only(engine: Engine) -> Engine:
    """The same engine (and pool) for work that only reads: see the module docstring."""
    return engine.execution_options(**{READ_ONLY: True})


def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions for reading only; on SQLite they never wait for, nor hold up, a writer."""
    return session_factory(read_only(engine))


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration built in code: the packaged migrations, and the connection to run them on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine_or_url: Engine | str | URL, revision: str = "head") -> None:
    """Migrate the database to `revision` (the newest by default); a database already there is left as is."""
    if isinstance(engine_or_url, Engine):
        _upgrade_engine(engine_or_url, revision)
        return
    engine = make_engine(engine_or_url)
    try:
        _upgrade_engine(engine, revision)
    finally:
        engine.dispose()


def _upgrade_engine(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None when it was never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest revision this code ships; the database is ready when `current_revision` equals it."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


class DatabaseLock:
    """Exclusive ownership of a SQLite database file by one daemon, for as long as the daemon runs.

    An `flock` on `<database file>.lock`, which the kernel releases when the process dies, so a crash never
    leaves a stale lock; the holder's PID is written into the file for the error message. For PostgreSQL and
    in-memory SQLite this is a no-op: replicas share a PostgreSQL database through leases.
    """

    def __init__(self, database_url: str | URL) -> None:
        url = make_url(database_url)
        self.database = url.database or ""
        self.path = sqlite_file(url)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise `DaemonLocked` naming the holder's PID; taking a held lock again is an error."""
        if self.path is None:
            return
        if self._fd is not None:
            raise RuntimeError(f"the lock on {self.database} is already held by this DatabaseLock")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path(self.path), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise DaemonLocked(self._locked_message(holder)) from None
        _write_pid(fd)
        self._fd = fd

    def release(self) -> None:
        """Give the lock up; releasing a lock that is not held does nothing."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def __enter__(self) -> DatabaseLock:
        self.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    @staticmethod
    def _lock_path(path: Path) -> Path:
        return path.with_name(path.name + ".lock")

    def _locked_message(self, holder: str) -> str:
        return (
            f"another connector daemon (pid {holder}) is already running on {self.database}; "
            "stop it or use another database_url"
        )


def _read_pid(fd: int) -> str:
    content = os.pread(fd, 32, 0).decode("ascii", errors="replace").strip()
    return content if content.isdigit() else "unknown"


def _write_pid(fd: int) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
