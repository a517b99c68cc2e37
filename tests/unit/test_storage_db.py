"""Engines, sessions, readiness and the one-daemon-per-SQLite-file lock."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from connector.runtime.errors import DaemonLocked
from connector.storage.db import (
    DatabaseLock,
    current_revision,
    head_revision,
    make_engine,
    read_session_factory,
    session_factory,
    sqlite_file,
    upgrade,
)
from connector.storage.tables import Store

RELATIVE_URL = "sqlite:///state/connector.db"

# Holds the lock in another process until told to stop on stdin.
HOLDER = """
import sys
from connector.storage.db import DatabaseLock

lock = DatabaseLock(sys.argv[1])
lock.acquire()
print("locked", flush=True)
sys.stdin.readline()
lock.release()
"""


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def holder(in_tmp: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, RELATIVE_URL],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=in_tmp,
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "locked"
    yield process
    if process.poll() is None:
        process.kill()
    process.communicate(timeout=10)


def test_a_relative_sqlite_path_resolves_against_the_working_directory(in_tmp: Path) -> None:
    engine = make_engine(RELATIVE_URL)
    engine.dispose()
    assert engine.url.database == str(in_tmp / "state" / "connector.db")
    assert (in_tmp / "state").is_dir()


def test_sqlite_file_is_none_without_a_file() -> None:
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://postgres@localhost/test") is None


def test_a_file_database_runs_in_wal_mode_with_foreign_keys(engine: Engine) -> None:
    with engine.connect() as connection:
        settings = {
            pragma: connection.exec_driver_sql(f"PRAGMA {pragma}").scalar()
            for pragma in ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
        }
    assert settings == {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": 1}


def test_a_postgresql_connection_dropped_by_the_server_is_replaced(postgres_engine: Engine) -> None:
    with postgres_engine.connect() as killer:
        with postgres_engine.connect() as victim:
            victim_pid = victim.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        # The victim now idles in the pool; the server ends it behind the pool's back.
        killer.exec_driver_sql(f"SELECT pg_terminate_backend({victim_pid})")
        with postgres_engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar() != victim_pid


def test_a_rolled_back_savepoint_keeps_the_rest_of_the_transaction(db_engine: Engine) -> None:
    with session_factory(db_engine).begin() as session:
        session.add(Store(name="kept", platform="shopify"))
        with session.begin_nested() as savepoint:
            session.add(Store(name="undone", platform="shopify"))
            session.flush()
            savepoint.rollback()
    with session_factory(db_engine)() as session:
        assert session.scalars(select(Store.name)).all() == ["kept"]


def test_committed_objects_stay_readable_after_the_session(engine: Engine) -> None:
    with session_factory(engine).begin() as session:
        store = Store(name="demo-shop", platform="woocommerce")
        session.add(store)
    assert store.name == "demo-shop"
    assert store.created_at.tzinfo is not None


def test_a_read_session_neither_waits_for_nor_holds_up_a_writer(engine: Engine) -> None:
    # A writer holds SQLite's write lock (this process queues its writers on a lock of its own): a read session
    # still answers at once, from the snapshot before the writer's uncommitted change, and a second writer
    # is not kept waiting by an open read session.
    with session_factory(engine).begin() as setup:
        setup.add(Store(name="before", platform="shopify"))
    read = read_session_factory(engine)
    writing = threading.Event()
    release = threading.Event()
    committed = threading.Event()

    def writer() -> None:
        with session_factory(engine).begin() as session:
            session.add(Store(name="uncommitted", platform="shopify"))
            session.flush()
            writing.set()
            release.wait(60)
        committed.set()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(60)
        with read() as session:
            assert session.scalars(select(Store.name)).all() == ["before"]
        # the read ended while the writer still held its transaction: a writing session would have waited for it
        assert not committed.is_set()
    finally:
        release.set()
        thread.join(60)
    with read() as reading:
        assert reading.scalars(select(Store.name).order_by(Store.name)).all() == ["before", "uncommitted"]
        with session_factory(engine).begin() as session:  # a writer while the read transaction is open
            session.add(Store(name="after", platform="shopify"))
    with read() as session:
        assert session.scalar(select(func.count()).select_from(Store)) == 3


def test_readiness_compares_current_and_head_revisions(sqlite_url: str) -> None:
    engine = make_engine(sqlite_url)
    assert current_revision(engine) is None
    upgrade(sqlite_url)
    assert current_revision(engine) == head_revision() == "0003_stock_inbound"
    engine.dispose()


def test_a_second_daemon_on_the_same_file_is_refused(holder: subprocess.Popen[str]) -> None:
    with pytest.raises(DaemonLocked) as raised:
        DatabaseLock(RELATIVE_URL).acquire()
    assert str(raised.value) == (
        f"another connector daemon (pid {holder.pid}) is already running on state/connector.db; "
        "stop it or use another database_url"
    )


def test_a_released_lock_can_be_taken_again(holder: subprocess.Popen[str]) -> None:
    assert holder.stdin is not None
    holder.stdin.write("\n")
    holder.stdin.flush()
    assert holder.wait(timeout=10) == 0
    with DatabaseLock(RELATIVE_URL) as lock:
        assert lock.held
    assert not lock.held


def test_a_crashed_daemon_leaves_no_stale_lock(holder: subprocess.Popen[str]) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=10)
    with DatabaseLock(RELATIVE_URL) as lock:
        assert lock.held


def test_two_locks_in_one_process_exclude_each_other(in_tmp: Path) -> None:
    with DatabaseLock(RELATIVE_URL), pytest.raises(DaemonLocked, match=f"pid {os.getpid()}"):
        DatabaseLock(RELATIVE_URL).acquire()
    lock = DatabaseLock(RELATIVE_URL)
    lock.acquire()
    lock.release()
    lock.acquire()
    lock.release()


def test_taking_a_held_lock_twice_is_a_programming_error(in_tmp: Path) -> None:
    with DatabaseLock(RELATIVE_URL) as lock, pytest.raises(RuntimeError, match="already held"):
        lock.acquire()


@pytest.mark.parametrize("url", ["sqlite://", "postgresql+psycopg://postgres@127.0.0.1:5432/test"])
def test_without_a_database_file_the_lock_is_a_no_op(url: str) -> None:
    with DatabaseLock(url) as first, DatabaseLock(url) as second:
        assert not first.held
        assert not second.held


def test_a_session_fixture_sees_the_migrated_schema(session: Session) -> None:
    assert session.scalar(select(func.count()).select_from(Store)) == 0
