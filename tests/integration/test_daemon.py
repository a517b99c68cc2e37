"""The daemon's lifecycle: serves health, stops cleanly on SIGTERM, refuses a second daemon, dies loudly."""

from __future__ import annotations

import signal
import socket
import time
from datetime import timedelta
from pathlib import Path

import httpx

from connector.app.daemon import Daemon, Job
from connector.runtime.config import load_config
from connector.storage.runtime import Runtime
from tests.support import SHOPIFY_STORE, cli, cli_process, write_config


def wait_ready(url: str, timeout: float = 60) -> httpx.Response:  # generous: xdist workers share the CPU
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=1)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


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
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "daemon_stopped" in out
    assert "shpat_test_token" not in out + err


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

    def broken() -> None:
        raise RuntimeError("the loop broke")

    runtime = Runtime.open(config)
    try:
        started = time.monotonic()
        code = Daemon(runtime, extra_jobs=(Job("broken", broken, timedelta(seconds=60)),)).run()
    finally:
        runtime.close()
    assert code == 1
    assert time.monotonic() - started < 20


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
