"""The daemon's lifecycle: serves health, stops cleanly on SIGTERM, refuses a second daemon, dies loudly."""

from __future__ import annotations

import json
import signal
import socket
from datetime import timedelta
from pathlib import Path

import httpx

from connector.app.daemon import Daemon, Job
from connector.runtime.config import load_config
from connector.storage.runtime import Runtime
from tests.support import ADMIN_TOKEN, SHOPIFY_STORE, cli, cli_process, wait_until, write_config


def wait_ready(url: str) -> httpx.Response:
    def ready() -> httpx.Response | None:
        try:
            response = httpx.get(url, timeout=10)
        except httpx.HTTPError:
            return None
        return response if response.status_code == 200 else None

    return wait_until(ready, timeout=60, every=0.1, what=f"{url} to answer 200")


def test_run_serves_health_and_stops_on_sigterm(tmp_path: Path, database_url: str) -> None:
    config = write_config(tmp_path / "c.toml", database_url, stores=[SHOPIFY_STORE])
    listen = load_config(config).daemon.listen
    proc = cli_process("run", "--config", str(config), cwd=tmp_path)
    try:
        ready = wait_ready(f"http://{listen}/readyz")
        assert ready.json()["checks"] == {"database": True, "schema": True, "scheduler": True}
        assert httpx.get(f"http://{listen}/healthz").json() == {"status": "ok"}
        metrics = httpx.get(f"http://{listen}/metrics").text
        assert "connector_webhooks_received" in metrics
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        assert httpx.get(f"http://{listen}/api/stores", headers=auth).json()["daemon"]["running"] is True
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "daemon_stopped" in out
    assert "shpat_test_token" not in out + err
    status = cli("status", "--json", "--config", str(config), cwd=tmp_path)
    assert status.returncode == 1  # a cleanly stopped daemon takes its heartbeat with it: at once "not running"
    assert json.loads(status.stdout)["daemon"]["running"] is False


def test_second_daemon_on_the_same_sqlite_file_refuses(tmp_path: Path, sqlite_url: str) -> None:
    first_config = write_config(tmp_path / "a.toml", sqlite_url)
    second_config = write_config(tmp_path / "b.toml", sqlite_url)
    proc = cli_process("run", "--config", str(first_config), cwd=tmp_path)
    try:
        wait_ready(f"http://{load_config(first_config).daemon.listen}/healthz")
        second = cli("run", "--config", str(second_config), cwd=tmp_path)
        assert second.returncode == 1
        assert f"pid {proc.pid}" in second.stderr
        assert "already running" in second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert proc.returncode == 0


def test_a_dead_background_loop_ends_the_daemon_with_failure(tmp_path: Path, sqlite_url: str) -> None:
    config = load_config(write_config(tmp_path / "c.toml", sqlite_url))

    runs: list[int] = []

    def broken() -> None:
        runs.append(1)
        raise RuntimeError("the loop broke")

    runtime = Runtime.open(config)
    try:
        code = Daemon(runtime, extra_jobs=(Job("broken", broken, timedelta(seconds=60)),)).run()
    finally:
        runtime.close()
    assert code == 1
    assert runs == [1]  # it ended on the loop's first failure, not on a later run 60 s on


def test_a_taken_port_ends_the_daemon_with_failure(tmp_path: Path, sqlite_url: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = load_config(write_config(tmp_path / "c.toml", sqlite_url, listen=f"127.0.0.1:{port}"))
        runtime = Runtime.open(config)
        try:
            code = Daemon(runtime).run()
        finally:
            runtime.close()
    assert code == 1
