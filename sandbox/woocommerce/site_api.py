"""The store-level reads of WooCommerce's REST API: the index, system status and its tools, registered customers.

What a client calls at connect time before it touches an order: `GET /wp-json/wc/v3` (the namespace index, no
authentication needed), `system_status` (versions, settings, pages) and `system_status/tools` (list, read, run),
and `customers`. Shapes follow the WooCommerce REST API documentation (`woocommerce-rest-api-docs`,
`_system-status.md`, `_system-status-tools.md`, `_customers.md`, `_index.md`); tool names, buttons, descriptions and
the messages a run answers follow `WC_REST_System_Status_Tools_V2_Controller`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.routing import Route

from sandbox.woocommerce.api import (
    V3,
    ListQuery,
    RestError,
    WpResponse,
    _guarded,
    _int,
    paginated,
    read_body,
    truthy,
)
from sandbox.woocommerce.auth import php_query
from sandbox.woocommerce.documents import (
    CATALOGUE_EPOCH,
    CURRENCY,
    FIRST_NAMES,
    LAST_NAMES,
    STREETS,
    WC_VERSION,
    WP_VERSION,
    date_pair,
    links,
)

if TYPE_CHECKING:
    from sandbox.woocommerce.state import WooCommerceState

# (id, name, button, description, message) — `get_tools()` and `execute_tool()` of the tools controller
NOTE = '<strong class="red">Note:</strong> '
TOOLS: tuple[tuple[str, str, str, str, str], ...] = (
    (
        "clear_transients",
        "WC transients",
        "Clear transients",
        "This tool will clear the product/shop transients cache.",
        "Product transients cleared",
    ),
    (
        "clear_expired_transients",
        "Expired transients",
        "Clear expired transients",
        "This tool will clear ALL expired transients from WordPress.",
        "0 transients rows cleared",
    ),
    (
        "delete_orphaned_variations",
        "Orphaned variations",
        "Delete orphaned variations",
        "This tool will delete all variations which have no parent.",
        "0 orphaned variations deleted",
    ),
    (
        "recount_terms",
        "Term counts",
        "Recount terms",
        "This tool will recount product terms - useful when changing your settings in a way which hides products "
        "from the catalog.",
        "Terms successfully recounted",
    ),
    (
        "reset_roles",
        "Capabilities",
        "Reset capabilities",
        "This tool will reset the admin, customer and shop_manager roles to default. Use this if your users cannot "
        "access all of the WooCommerce admin pages.",
        "Roles successfully reset",
    ),
    (
        "clear_sessions",
        "Customer sessions",
        "Clear all sessions",
        NOTE + "This tool will delete all customer session data from the database, including any current live carts.",
        "Deleted all active sessions, and 0 saved carts.",
    ),
    (
        "install_pages",
        "Install WooCommerce pages",
        "Install pages",
        NOTE + "This tool will install all the missing WooCommerce pages. Pages already defined and set up will not "
        "be replaced.",
        "All missing WooCommerce pages successfully installed",
    ),
    (
        "delete_taxes",
        "Delete all WooCommerce tax rates",
        "Delete ALL tax rates",
        NOTE + "This option will delete ALL of your tax rates, use with caution.",
        "Tax rates successfully deleted",
    ),
    (
        "reset_tracking",
        "Reset usage tracking settings",
        "Reset usage tracking settings",
        "This will reset your usage tracking settings, causing it to show the opt-in banner again and not sending "
        "any data.",
        "Usage tracking settings successfully reset.",
    ),
)
TABLES = (
    "woocommerce_sessions",
    "woocommerce_api_keys",
    "woocommerce_attribute_taxonomies",
    "woocommerce_downloadable_product_permissions",
    "woocommerce_order_items",
    "woocommerce_order_itemmeta",
    "woocommerce_tax_rates",
    "woocommerce_tax_rate_locations",
    "woocommerce_shipping_zones",
    "woocommerce_shipping_zone_locations",
    "woocommerce_shipping_zone_methods",
    "woocommerce_payment_tokens",
    "woocommerce_payment_tokenmeta",
)
PAGES = (  # (page name, page id, shortcode, shortcode required)
    ("Shop base", "4", "", False),
    ("Cart", "5", "[woocommerce_cart]", True),
    ("Checkout", "6", "[woocommerce_checkout]", True),
    ("My account", "7", "[woocommerce_my_account]", True),
)
REGISTERED_CUSTOMERS = 3  # the store's registered accounts; its orders are guest checkouts (`customer_id` 0)


def tool_document(root: str, tool: tuple[str, str, str, str, str], ran: bool = False) -> dict[str, Any]:
    ident, name, button, desc, message = tool
    doc: dict[str, Any] = {"id": ident, "name": name, "action": button, "description": desc}
    if ran:
        doc |= {"success": True, "message": message}
    return doc | {"_links": links(root, f"system_status/tools/{ident}")}


def system_status(root: str) -> dict[str, Any]:
    """`GET system_status`: the environment of a plain WordPress + WooCommerce site serving this sandbox."""
    return {
        "environment": {
            "home_url": root,
            "site_url": root,
            "version": WC_VERSION,
            "log_directory": "/var/www/html/wp-content/uploads/wc-logs/",
            "log_directory_writable": True,
            "wp_version": WP_VERSION,
            "wp_multisite": False,
            "wp_memory_limit": 268435456,
            "wp_debug_mode": False,
            "wp_cron": True,
            "language": "nl_NL",
            "server_info": "Apache/2.4.62 (Debian)",
            "php_version": "8.2.28",
            "php_post_max_size": 67108864,
            "php_max_execution_time": 30,
            "php_max_input_vars": 1000,
            "curl_version": "7.88.1, OpenSSL/3.0.15",
            "suhosin_installed": False,
            "max_upload_size": 67108864,
            "mysql_version": "8.0.41",
            "default_timezone": "UTC",
            "fsockopen_or_curl_enabled": True,
            "soapclient_enabled": False,
            "domdocument_enabled": True,
            "gzip_enabled": True,
            "mbstring_enabled": True,
            "remote_post_successful": True,
            "remote_post_response": "200",
            "remote_get_successful": True,
            "remote_get_response": "200",
        },
        "database": {
            "wc_database_version": WC_VERSION,
            "database_prefix": "wp_",
            "maxmind_geoip_database": "",
            "database_tables": dict.fromkeys(TABLES, True),
        },
        "active_plugins": [
            {
                "plugin": "woocommerce/woocommerce.php",
                "name": "WooCommerce",
                "version": WC_VERSION,
                "version_latest": WC_VERSION,
                "url": "https://woocommerce.com/",
                "author_name": "Automattic",
                "author_url": "https://woocommerce.com",
                "network_activated": False,
            }
        ],
        "theme": {
            "name": "Storefront",
            "version": "4.6.1",
            "version_latest": "4.6.1",
            "author_url": "https://woocommerce.com/",
            "is_child_theme": False,
            "has_woocommerce_support": True,
            "has_woocommerce_file": False,
            "has_outdated_templates": False,
            "overrides": [],
            "parent_name": "",
            "parent_version": "",
            "parent_version_latest": "",
            "parent_author_url": "",
        },
        "settings": {
            "api_enabled": True,
            "force_ssl": False,
            "currency": CURRENCY,
            "currency_symbol": "&euro;",
            "currency_position": "left_space",
            "thousand_separator": ".",
            "decimal_separator": ",",
            "number_of_decimals": 2,
            "geolocation_enabled": False,
            "taxonomies": {"external": "external", "grouped": "grouped", "simple": "simple", "variable": "variable"},
        },
        "security": {"secure_connection": root.startswith("https:"), "hide_errors": True},
        "pages": [
            {
                "page_name": name,
                "page_id": page_id,
                "page_set": True,
                "page_exists": True,
                "page_visible": True,
                "shortcode": shortcode,
                "shortcode_required": required,
                "shortcode_present": required,
            }
            for name, page_id, shortcode, required in PAGES
        ],
    }


def customer_document(n: int, root: str) -> dict[str, Any]:
    """A registered customer (ids from 2: user 1 is the shop's administrator)."""
    ident = n + 2
    first, last = FIRST_NAMES[n % len(FIRST_NAMES)], LAST_NAMES[n % len(LAST_NAMES)]
    street, postcode, city = STREETS[n % len(STREETS)]
    username = f"{first}.{last}".lower().replace(" ", "")
    email = f"{username}@example.com"
    address = {
        "first_name": first,
        "last_name": last,
        "company": "",
        "address_1": street,
        "address_2": "",
        "city": city,
        "state": "",
        "postcode": postcode,
        "country": "NL",
    }
    created = CATALOGUE_EPOCH + timedelta(days=n)
    return {
        "id": ident,
        **date_pair("date_created", created),
        **date_pair("date_modified", created),
        "email": email,
        "first_name": first,
        "last_name": last,
        "role": "customer",
        "username": username,
        "billing": {**address, "email": email, "phone": f"+31 6 {20000000 + n}"},
        "shipping": address,
        "is_paying_customer": False,
        "avatar_url": "https://secure.gravatar.com/avatar/?s=96&d=mm&r=g",
        "meta_data": [],
        "_links": links(root, f"customers/{ident}"),
    }


def storefront(title: str, text: str) -> str:
    return (
        f'<!DOCTYPE html><html lang="nl-NL"><head><meta charset="UTF-8"><title>{title} &#8211; Sandbox Shop'
        f"</title></head><body><main><h1>{title}</h1><p>{text}</p></main></body></html>"
    )


def wp_route(path: str) -> str:
    """A FastAPI path as WordPress names the route in its index: the resource's own id is `id`, a parent's keeps
    its name (`/orders/{order_id:int}/notes/{note_id:int}` → `/wc/v3/orders/(?P<order_id>[\\d]+)/notes/(?P<id>[\\d]+)`).
    """

    def name(match: re.Match[str]) -> str:
        last = match.end() == len(match.string)
        pattern = r"[\d]+" if match.group(2) else r"[\w-]+"
        return f"(?P<{'id' if last else match.group(1)}>{pattern})"

    return re.sub(r"\{(\w+)(:int)?\}", name, path.removeprefix("/wp-json"))


class WooSiteApi:
    """Route handlers for the index, system status, tools and customers."""

    def __init__(self, sandbox: WooCommerceState) -> None:
        self.sb = sandbox
        self.app: FastAPI | None = None

    def mount(self, app: FastAPI) -> None:
        self.app = app
        routes: list[tuple[str, Callable[[Request], Any], list[str]]] = [
            ("/wp-json/", self.wp_index, ["GET"]),
            (V3, self.index, ["GET"]),
            (V3 + "/", self.index, ["GET"]),
            (f"{V3}/system_status", self.system_status, ["GET"]),
            (f"{V3}/system_status/tools", self.list_tools, ["GET"]),
            (f"{V3}/system_status/tools/{{tool_id}}", self.get_tool, ["GET"]),
            (f"{V3}/system_status/tools/{{tool_id}}", self.run_tool, ["POST", "PUT", "PATCH"]),
            (f"{V3}/customers", self.list_customers, ["GET"]),
            (f"{V3}/customers/{{customer_id:int}}", self.get_customer, ["GET"]),
            (f"{V3}/customers/{{customer_id:int}}/downloads", self.customer_downloads, ["GET"]),
        ]
        for path, endpoint, methods in routes:
            app.add_api_route(path, _guarded(endpoint), methods=methods, include_in_schema=False)
        # The storefront pages the API's documents link to (`permalink`, `payment_url`): public, plain HTML.
        app.add_api_route("/product/{slug}/", self.product_page, methods=["GET"], include_in_schema=False)
        app.add_api_route("/checkout/order-pay/{order_id}/", self.pay_page, methods=["GET"], include_in_schema=False)

    # --- the indexes --------------------------------------------------------------------------------------
    def _routes(self) -> dict[str, dict[str, Any]]:
        """Every `wc/v3` route this sandbox serves, with its methods, as `rest_get_server()->get_routes()`."""
        out: dict[str, dict[str, Any]] = {}
        for route in self.app.routes if self.app else ():
            if (
                not isinstance(route, Route)
                or not route.path.startswith(V3)
                or route.path.endswith("/")
                or "{rest" in route.path
            ):
                continue
            name = wp_route(route.path)
            entry = out.setdefault(name, {"namespace": "wc/v3", "methods": [], "endpoints": []})
            methods = sorted(route.methods or ())
            entry["methods"] += [m for m in methods if m not in entry["methods"]]
            entry["endpoints"].append({"methods": methods, "args": {}})
            if "(?P<" not in name:
                entry["_links"] = {"self": f"{self.sb.root_url}/wp-json{name}"}
        return dict(sorted(out.items()))

    async def index(self, request: Request) -> Response:
        return WpResponse({"namespace": "wc/v3", "routes": self._routes(), "_links": {"up": [{"href": self._root()}]}})

    async def wp_index(self, request: Request) -> Response:
        """`GET /wp-json/`: the site's REST index (the `Link: rel="https://api.w.org/"` every answer points to)."""
        return WpResponse(
            {
                "name": "Sandbox Shop",
                "description": "",
                "url": self.sb.root_url,
                "home": self.sb.root_url,
                "gmt_offset": "1",
                "timezone_string": "Europe/Amsterdam",
                "namespaces": ["wc/v3"],
                "authentication": [],
                "routes": self._routes(),
            }
        )

    def _root(self) -> str:
        return f"{self.sb.root_url}/wp-json/"

    # --- storefront pages ---------------------------------------------------------------------------------
    async def product_page(self, request: Request) -> Response:
        slug = request.path_params["slug"]
        with self.sb.lock:  # slugs as `product_document` writes them, for a product and its variation
            shown = [n for item in self.sb.catalogue.values() for n in (item.name, f"{item.name} - M")]
        names = {name.lower().replace(" ", "-"): name for name in shown}
        if slug not in names:
            return HTMLResponse(storefront("Page not found", "Nothing was found at this location."), 404)
        return HTMLResponse(storefront(names[slug], "In stock"))

    async def pay_page(self, request: Request) -> Response:
        ident = request.path_params["order_id"]
        order = self.sb.orders.get(int(ident)) if ident.isdigit() else None
        if order is None or request.query_params.get("key") != order.doc.get("order_key"):
            return HTMLResponse(
                storefront("Pay for order", "Sorry, this order is invalid and cannot be paid for."), 403
            )
        return HTMLResponse(storefront("Pay for order", f"Order #{order.doc['number']}"))

    # --- system status ------------------------------------------------------------------------------------
    async def system_status(self, request: Request) -> Response:
        return WpResponse(system_status(self.sb.root_url))

    async def list_tools(self, request: Request) -> Response:
        return WpResponse([tool_document(self.sb.root_url, tool) for tool in TOOLS])

    def _tool(self, request: Request) -> tuple[str, str, str, str, str]:
        ident = request.path_params["tool_id"]
        for tool in TOOLS:
            if tool[0] == ident:
                return tool
        raise RestError("woocommerce_rest_system_status_tool_invalid_id", "Invalid tool ID.", 404)

    async def get_tool(self, request: Request) -> Response:
        return WpResponse(tool_document(self.sb.root_url, self._tool(request)))

    async def run_tool(self, request: Request) -> Response:
        tool = self._tool(request)
        params, _ = await read_body(request)
        truthy(params.get("confirm", False), "confirm")  # validated like the schema's boolean; a run needs no more
        return WpResponse(tool_document(self.sb.root_url, tool, ran=True))

    # --- customers ----------------------------------------------------------------------------------------
    async def list_customers(self, request: Request) -> Response:
        query = php_query(request.url.query)
        page, per_page = _int(query, "page", 1, 1), _int(query, "per_page", 10, 1, 100)
        docs = [customer_document(n, self.sb.root_url) for n in range(REGISTERED_CUSTOMERS)]
        email = query.get("email")
        if isinstance(email, str) and email:
            docs = [d for d in docs if d["email"] == email]
        start = (page - 1) * per_page
        lq = ListQuery(page, per_page, None, False, "id", None, (), frozenset(), (None, None), (None, None))
        return paginated(docs[start : start + per_page], len(docs), lq, query, f"{self.sb.root_url}{V3}/customers")

    def _customer(self, request: Request) -> int:
        n = int(request.path_params["customer_id"]) - 2
        if not 0 <= n < REGISTERED_CUSTOMERS:
            raise RestError("woocommerce_rest_invalid_id", "Invalid resource ID.", 404)
        return n

    async def get_customer(self, request: Request) -> Response:
        return WpResponse(customer_document(self._customer(request), self.sb.root_url))

    async def customer_downloads(self, request: Request) -> Response:
        self._customer(request)
        return WpResponse([])  # the sandbox's catalogue sells no downloadable products
