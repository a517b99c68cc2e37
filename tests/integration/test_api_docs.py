"""`/api/docs` serves Swagger UI from the installed package: the page names no other host, its assets answer here.

The browser test (`tests/acceptance/test_api_docs_browser.py`) shows the page renders with the network cut off;
this one pins the parts that make that true, and that the API it documents still needs the token.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from connector.runtime.config import load_config
from connector.storage.db import upgrade
from connector.storage.runtime import Runtime
from connector.web.app import create_app
from tests.support import write_config


@pytest.fixture
def client(tmp_path: Path, sqlite_url: str) -> Iterator[TestClient]:
    runtime = Runtime.open(load_config(write_config(tmp_path / "c.toml", sqlite_url)))
    upgrade(runtime.engine)
    try:
        with TestClient(create_app(runtime)) as test_client:
            yield test_client
    finally:
        runtime.close()


def test_the_docs_page_loads_its_assets_from_this_server_only(client: TestClient) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    linked = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert linked, "the page links no script or stylesheet"
    assert all(url.startswith("/") and not url.startswith("//") for url in linked), linked
    assert "'/api/openapi.json'" in page.text
    for url in linked:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100, url


def test_swagger_ui_is_version_5_which_renders_openapi_3_1(client: TestClient) -> None:
    assert client.get("/api/openapi.json").json()["openapi"].startswith("3.1")
    bundle = client.get("/api/docs/static/swagger-ui-bundle.js").text
    assert re.search(r'"5\.\d+\.\d+"', bundle), "Swagger UI 4 and older show OpenAPI 3.1 as an invalid document"


def test_the_documented_routes_still_need_the_token(client: TestClient) -> None:
    assert client.get("/api/docs").status_code == 200  # the description is public, as FastAPI's default page was
    assert client.get("/api/orders").status_code == 401
