"""The release: `python -m build` makes a wheel that holds what the daemon reads, and that wheel, installed into a
clean virtualenv (not editable, nothing of this checkout on its path), migrates a database, runs the daemon with
its offline API docs, and runs the demo.

Slow (a build and an install from the package registry, pinned by `requirements/lock.txt`), so marked `release`:
`pytest -m release` runs only these, `-m "not release"` skips them. The wheel is built once per session (per
xdist worker: `scripts/check` keeps this module's tests on one worker with its `xdist_group`), from an sdist, as
`python -m build` does, so the sdist is checked to carry everything too.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import venv
import zipfile
from pathlib import Path
from typing import IO

import httpx
import pytest

from connector.runtime.config import load_config
from connector.storage.db import head_revision
from tests.acceptance.harness import wait_for
from tests.support import write_config

pytestmark = [pytest.mark.release, pytest.mark.xdist_group("wheel")]

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements" / "lock.txt"
PACKAGES = ("connector", "sandbox")
NOT_SOURCE = (".venv", ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "state")
SITE_PACKAGES = f"lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"


def _env() -> dict[str, str]:
    """This environment without what would let the installed program see this checkout or its virtualenv."""
    hidden = {"PYTHONPATH", "VIRTUAL_ENV", "CONNECTOR_CONFIG", "CONNECTOR_DEMO_TEMPLATE", "CONNECTOR_ADMIN_TOKEN"}
    return {k: v for k, v in os.environ.items() if k not in hidden}


def _run(*args: str | Path, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # From a copy: building an sdist stages files beside pyproject.toml, which must not collide with anything
    # else using the checkout (another xdist worker, a second run).
    source = tmp_path_factory.mktemp("source")
    shutil.copytree(ROOT, source, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    out = tmp_path_factory.mktemp("dist")
    _run(sys.executable, "-m", "build", "--outdir", out, source, cwd=out)
    (built,) = out.glob("*.whl")
    return built


@pytest.fixture(scope="session")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A clean virtualenv with the wheel installed from the registry at the locked versions; its `bin/`."""
    root = tmp_path_factory.mktemp("venv")
    venv.create(root, with_pip=True)
    bin_dir = root / "bin"
    _run(bin_dir / "python", "-m", "pip", "install", "-q", "-c", LOCK, wheel, cwd=root)
    return bin_dir


def _data_files() -> set[str]:
    """Every file in the packages' folders that is not Python source: what package-data must carry."""
    found = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*"):
            if path.is_file() and path.suffix not in {".py", ".pyc"} and "__pycache__" not in path.parts:
                found.add(path.relative_to(ROOT).as_posix())
    return found


def test_the_wheel_holds_migrations_templates_static_files_schemas_and_type_markers(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "connector/py.typed",
        "sandbox/py.typed",
        "connector/storage/migrations/env.py",
        "connector/storage/migrations/script.py.mako",
        "connector/storage/migrations/versions/0001_initial.py",
        "connector/web/templates/base.html",
        "connector/web/static/dashboard.css",
        "sandbox/shopify/schema.graphql",
    }
    assert expected <= names, sorted(expected - names)
    assert _data_files() <= names, sorted(_data_files() - names)
    assert not [n for n in names if n.startswith("tests/") or "__pycache__" in n]


def test_the_installed_wheel_migrates_a_database(installed: Path, tmp_path: Path) -> None:
    database = tmp_path / "connector.db"
    config = write_config(tmp_path / "connector.toml", f"sqlite:///{database}")
    located = _run(installed / "python", "-c", "import connector; print(connector.__file__)", cwd=tmp_path)
    assert Path(located.stdout.strip()).is_relative_to(installed.parent), "the checkout's package was imported"

    _run(installed / "connector", "db", "upgrade", "--config", config, cwd=tmp_path)

    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(head_revision(),)]


def test_the_installed_daemon_serves_its_api_docs_and_stops_on_sigterm(installed: Path, tmp_path: Path) -> None:
    config = write_config(tmp_path / "connector.toml", f"sqlite:///{tmp_path / 'connector.db'}")
    url = load_config(config).daemon.public_url
    with (tmp_path / "daemon.log").open("w+") as log:
        proc = subprocess.Popen(
            [installed / "connector", "run", "--config", config], cwd=tmp_path, env=_env(), stdout=log, stderr=log
        )
        try:
            wait_for(lambda: _ok(f"{url}/readyz"), timeout=60, what="the installed daemon's /readyz")
            assert _ok(f"{url}/api/docs/static/swagger-ui-bundle.js")
            assert "/api/docs/static/swagger-ui.css" in httpx.get(f"{url}/api/docs").text
            assert httpx.get(f"{url}/api/orders").status_code == 401
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=30) == 0, _tail(log)
        finally:
            _stop(proc)


def test_the_installed_demo_starts_in_an_empty_folder_and_stops_on_ctrl_c(installed: Path, tmp_path: Path) -> None:
    assert (installed.parent / SITE_PACKAGES / "connector/app/demo.toml").is_file()  # the template is package data
    with (tmp_path / "demo.log").open("w+") as log:
        proc = subprocess.Popen(
            [installed / "connector", "demo", "--json", "--port", "0"],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        try:
            assert proc.stdout is not None
            lines = _lines(proc.stdout)
            try:
                ready = json.loads(lines.get(timeout=90))
            except queue.Empty:
                raise AssertionError(f"no ready line from the installed demo: {_tail(log)}") from None
            assert {s["platform"] for s in ready["stores"]} == {"shopify", "woocommerce", "bigcommerce", "lightspeed"}
            login = httpx.get(ready["dashboard_url"] + "login", timeout=10)
            assert login.status_code == 200
            assert 'name="csrf_token"' in login.text
            headers = {"Authorization": f"Bearer {ready['admin_token']}"}
            assert httpx.get(ready["dashboard_url"] + "api/stores", headers=headers, timeout=10).status_code == 200
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=30) == 0, _tail(log)
        finally:
            _stop(proc)
    assert ready["admin_token"] in (tmp_path / "state" / "demo.toml").read_text()  # made in the working directory


def _lines(stream: IO[str]) -> queue.Queue[str]:
    """The stream's lines, read in a thread so a silent process never blocks the test."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def _ok(url: str) -> bool | None:
    try:
        return httpx.get(url, timeout=2).status_code == 200 or None
    except httpx.HTTPError:
        return None


def _tail(log: IO[str]) -> str:
    log.flush()
    log.seek(0)
    return log.read()[-3000:]


def _stop(proc: subprocess.Popen[str] | subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
