"""`/api/docs` in a real browser with the network cut off: Swagger UI renders the API's operations.

`connector run` serves the daemon (no stores, a SQLite file under `tmp_path`); headless Chromium (the system one,
as in `test_dashboard_browser.py`) opens the docs page with every request to a host other than this machine
aborted, so a script or stylesheet fetched from a CDN would leave the page blank and the test failing.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from connector.runtime.config import load_config
from tests.acceptance.harness import wait_for
from tests.acceptance.test_dashboard_browser import CHROMIUM_ARGS, chromium
from tests.support import write_config

pytestmark = pytest.mark.browser

LOCAL = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture
def daemon_url(tmp_path: Path) -> Iterator[str]:
    config = write_config(tmp_path / "c.toml", f"sqlite:///{tmp_path / 'connector.db'}")
    url = load_config(config).daemon.public_url
    with (tmp_path / "daemon.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "connector", "run", "--config", str(config)],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(lambda: _answers(f"{url}/readyz"), timeout=30, what="the daemon's /readyz")
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _answers(url: str) -> bool | None:
    try:
        return httpx.get(url, timeout=2).status_code == 200 or None
    except httpx.HTTPError:
        return None


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser: Browser = playwright.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def test_api_docs_render_the_operations_with_the_network_unreachable(daemon_url: str, page: Page) -> None:
    refused: list[str] = []

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname in LOCAL:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort("internetdisconnected")

    page.route("**/*", local_only)
    page.goto(f"{daemon_url}/api/docs")

    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Order sync connector")
    operations = page.locator(".opblock")
    expect(operations.first).to_be_visible()
    expect(page.locator(".opblock-summary-path[data-path='/api/orders/{ref}/ship']")).to_be_visible()
    assert operations.count() > 10
    expect(page.locator(".swagger-ui .errors-wrapper")).to_have_count(0)
    assert refused == [], f"the page asked for other hosts: {refused}"
