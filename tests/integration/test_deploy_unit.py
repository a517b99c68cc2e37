"""`deploy/connector.service`: `systemd-analyze verify` accepts it, and it keeps the promises deploy/README.md makes.

`systemd-analyze verify` also checks that `ExecStart`'s program exists on this machine. The unit names the
virtualenv deploy/README.md installs (`/opt/connector/venv`); unless that exists here, the unit is verified with
that one prefix pointed at the virtualenv running these tests (which has the same `bin/connector`), every other
line as written. Where `systemd-analyze` is missing (not Linux, no `systemd` package: `scripts/check` installs
Debian's as root) the verification is skipped, saying so in pytest's summary.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "connector.service"
INSTALLED = "/opt/connector/venv/bin/connector"


def _directives(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian's systemd package): the unit was not verified")
    text = UNIT.read_text()
    if not Path(INSTALLED).exists():
        here = Path(sys.executable).parent / "connector"
        assert here.exists(), f"{here}: the test virtualenv has no `connector` script to stand in for {INSTALLED}"
        text = text.replace(INSTALLED, str(here))
    unit = tmp_path / UNIT.name
    unit.write_text(text)
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout + done.stderr == "", "verify warned: " + done.stdout + done.stderr


def test_the_unit_runs_the_daemon_as_its_own_user_with_its_state_directory_and_secrets_file() -> None:
    unit = _directives(UNIT.read_text())
    assert unit["ExecStart"] == [f"{INSTALLED} run --config /etc/connector/connector.toml"]
    assert unit["User"] == ["connector"]
    assert unit["StateDirectory"] == ["connector"]
    assert unit["EnvironmentFile"] == ["/etc/connector/connector.env"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ProtectSystem"] == ["strict"]
    assert unit["KillSignal"] == ["SIGTERM"]
