"""`connector sandbox`: the four sandboxes in the foreground, one ready line each, usable as a store config."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import httpx

from tests.support import cli_process


def test_sandbox_command_prints_ready_lines_and_stops_on_sigint(tmp_path: Path) -> None:
    proc = cli_process("sandbox", "--platform", "all", "--port", "0", "--orders", "3", cwd=tmp_path)
    try:
        assert proc.stdout is not None
        lines = [json.loads(proc.stdout.readline()) for _ in range(4)]
        assert [line["platform"] for line in lines] == ["shopify", "woocommerce", "bigcommerce", "lightspeed"]
        for line in lines:
            assert set(line) == {"platform", "base_url", "credentials", "webhook_secret", "locations"}
            assert set(line["locations"]) == {"amsterdam", "utrecht", "rotterdam"}
        bc = lines[2]
        answer = httpx.get(f"{bc['base_url']}/v2/orders", headers={"X-Auth-Token": bc["credentials"]["access_token"],
                                                                    "Accept": "application/json"})  # fmt: skip
        assert answer.status_code == 200
        assert len(answer.json()) == 3
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
