"""`connector status` as a user reads it: 80 columns, the last poll's age, the daemon's heartbeat, exit codes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from connector.cli.status_cmds import render
from connector.cli.timeutil import ago
from connector.runtime.config import load_config
from connector.storage import tables as t
from connector.storage.db import upgrade
from connector.storage.inbox import delivery_values, keep_deliveries
from connector.storage.leases import renew_lease
from connector.storage.runtime import Runtime
from connector.storage.types import InboxStatus
from connector.sync.status import overview
from tests.support import SHOPIFY_STORE, cli, write_config

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
LONG = {**SHOPIFY_STORE, "name": "amsterdam-flagship-shopify-store-with-a-long-name"}
OTHER = {**SHOPIFY_STORE, "name": "utrecht"}


def setup(tmp_path: Path, sqlite_url: str, *, beat_at: datetime | None, now: datetime = NOW) -> tuple[Path, Runtime]:
    """Two stores: the long-named one polled 12 s before `now` with a dead letter; the daemon last beat at `beat_at`."""
    path = write_config(tmp_path / "c.toml", sqlite_url, stores=[LONG, OTHER])
    runtime = Runtime.open(load_config(path))
    upgrade(runtime.engine)
    runtime.sync_stores()
    store_id = runtime.store_ids[LONG["name"]]
    ttl = runtime.config.daemon.lease_ttl
    with runtime.sessions.begin() as session:
        polled = now - timedelta(seconds=12)
        session.add(t.Cursor(store_id=store_id, stream="orders", last_poll_finished_at=polled, last_success_at=polled))
        dead = delivery_values(store_id=store_id, delivery_id="d1", source="poll", topic="order", headers={},
                               body=b"{}", status=InboxStatus.DEAD, error="cannot map: no line items")  # fmt: skip
        keep_deliveries(session, [dead])
        if beat_at is not None:
            renew_lease(session, "daemon:host:1", "host:1", ttl, now=beat_at)
            for name in (LONG["name"], OTHER["name"]):
                renew_lease(session, f"store:{name}", "host:1", ttl, now=beat_at)
    return path, runtime


def rendered(runtime: Runtime, now: datetime) -> list[str]:
    out = Console(width=80, record=True, force_terminal=False)
    with runtime.reads() as session:
        render(overview(session, runtime.config, now), out)
    return out.export_text().splitlines()


def test_status_fits_80_columns_and_shows_the_poll_age(tmp_path: Path, sqlite_url: str) -> None:
    _, runtime = setup(tmp_path, sqlite_url, beat_at=NOW - timedelta(seconds=5))
    try:
        lines = rendered(runtime, NOW)
    finally:
        runtime.close()
    assert max(len(line) for line in lines) <= 80, "\n".join(lines)
    text = "\n".join(lines)
    assert lines[0] == "daemon: running (host:1, heartbeat 5s ago)"
    assert "12s ago" in text
    assert "degraded" in text  # the dead letter: degraded, not "ok"
    assert f"{LONG['name']}: 1 dead letters" in text.replace("\n", "")


def test_status_says_the_daemon_is_not_running_one_ttl_after_its_last_heartbeat(
    tmp_path: Path, sqlite_url: str
) -> None:
    _, runtime = setup(tmp_path, sqlite_url, beat_at=NOW)
    ttl = runtime.config.daemon.lease_ttl
    try:
        before = rendered(runtime, NOW + ttl - timedelta(seconds=1))
        after = rendered(runtime, NOW + ttl + timedelta(seconds=1))
    finally:
        runtime.close()
    assert before[0].startswith("daemon: running")
    assert after[0] == f"daemon: not running (last heartbeat {int(ttl.total_seconds()) + 1}s ago)"
    assert " ok " not in "\n".join(after)
    assert "unhealthy" in "\n".join(after)


def test_status_exit_codes_in_a_fresh_process(tmp_path: Path, sqlite_url: str) -> None:
    """Unhealthy (no daemon ever ran) exits 1; degraded (a dead letter, daemon beating) exits 0. COLUMNS=80."""
    path, runtime = setup(tmp_path, sqlite_url, beat_at=None, now=datetime.now(UTC))  # a poll the CLI sees as fresh
    stopped = cli("status", "--config", str(path), cwd=tmp_path, env={"COLUMNS": "80"})
    assert stopped.returncode == 1, stopped.stderr
    assert all(len(line) <= 80 for line in stopped.stdout.splitlines()), stopped.stdout
    assert "daemon: not running (no heartbeat: stopped, or never started)" in stopped.stdout
    with runtime.sessions.begin() as session:  # a heartbeat that stays live however slow this machine is
        for name in ("daemon:host:1", *(f"store:{store['name']}" for store in (LONG, OTHER))):
            renew_lease(session, name, "host:1", timedelta(days=1))
    runtime.close()
    running = cli("status", "--json", "--config", str(path), cwd=tmp_path)
    assert running.returncode == 0, running.stdout
    assert '"health": "degraded"' in running.stdout


def test_ages_read_short() -> None:
    assert [ago(s) for s in (0, 119, 120, 7199, 7200, 172_799, 172_800)] == [
        "0s ago", "119s ago", "2 min ago", "119 min ago", "2 h ago", "47 h ago", "2 d ago",
    ]  # fmt: skip
