"""`/api/docs`: the Swagger UI page for the JSON API, served with no internet.

FastAPI's own docs page loads Swagger UI's script and stylesheet from a CDN, so on a shop's network without
outside access (or behind a strict proxy) it stays blank. The assets come from the `fastapi-offline` package
instead (Swagger UI 5, which renders the OpenAPI 3.1 documents FastAPI writes), served by Starlette's
`StaticFiles` from that package's `static/` folder under `/api/docs/static/`, and the page itself is FastAPI's
`get_swagger_ui_html` pointed at them. Like FastAPI's default page and `/api/openapi.json`, the page and its
assets need no token: they describe the API; every route they describe does.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

DOCS_URL = "/api/docs"
ASSETS_URL = f"{DOCS_URL}/static"
ASSETS_PACKAGE = ("fastapi_offline", "static")  # swagger-ui-bundle.js, swagger-ui.css, favicon.png


def mount_docs(app: FastAPI) -> None:
    """Serve the Swagger UI page at `/api/docs` with its assets from the installed package (no CDN)."""
    app.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="api-docs-static")

    @app.get(DOCS_URL, include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title=f"{app.title} - API",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}/static/favicon.svg",
        )
