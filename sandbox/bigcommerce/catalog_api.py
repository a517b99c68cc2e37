"""The BigCommerce sandbox's store-level and catalog reads: V2 store information and time, V3 catalog products and
variants, and the order sub-resources a client lists beside products and shipments (fees, taxes, messages).

Shapes follow bigcommerce/docs `reference/store_information.v2.yml`, `catalog/products_catalog.v3.yml`,
`catalog/product-variants_catalog.v3.yml` and `orders.v2.oas2.yml`. The catalogue is the sandbox's own: each SKU is
a physical product without options, so it has one variant (its base variant) carrying the same SKU, as BigCommerce
models a product without options. Stock is tracked per product (`inventory_tracking: product`) and its
`inventory_level` is the sum over the store's locations, as the catalog API reports it for a multi-location store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from sandbox.bigcommerce.state import BigCommerceState
from sandbox.bigcommerce.v2_api import bad, v2_page
from sandbox.bigcommerce.v3_api import csv, v3_page
from sandbox.core import CatalogueItem

CATALOGUE_EPOCH = datetime(2024, 1, 8, 9, 0, tzinfo=UTC)
STORE_TIMEZONE = {
    "name": "Europe/Amsterdam",
    "raw_offset": 3600,
    "dst_offset": 3600,
    "dst_correction": False,
    "date_format": {"display": "jS M Y", "export": "M jS Y", "extended_display": "M jS Y @ g:i A"},
}


def mount_catalog(app: FastAPI, sandbox: BigCommerceState) -> None:
    """Register the store information, catalog and order sub-resource reads under the store's prefix."""
    api = CatalogApi(sandbox)
    order = "/v2/orders/{order_id}"
    routes: list[tuple[str, str, Callable[..., Any]]] = [
        ("GET", "/v2/store", api.store),
        ("GET", "/v2/time", api.time),
        ("GET", order + "/fees", api.fees),
        ("GET", order + "/taxes", api.taxes),
        ("GET", order + "/messages", api.messages),
        ("GET", order + "/shipping_addresses/{address_id}/shipping_quotes", api.shipping_quote),
        ("GET", order + "/shippingaddresses/{address_id}/shippingquotes", api.shipping_quote),  # the legacy spelling
        ("GET", order + "/consignments/shipping/{address_id}/shipping_quotes", api.shipping_quote),
        ("GET", "/v3/catalog/products", api.list_products),
        ("GET", "/v3/catalog/products/{product_id}", api.get_product),
        ("GET", "/v3/catalog/products/{product_id}/variants", api.product_variants),
        ("GET", "/v3/catalog/products/{product_id}/variants/{variant_id}", api.get_variant),
        ("GET", "/v3/catalog/variants", api.list_variants),
    ]
    for method, path, endpoint in routes:
        app.add_api_route(sandbox.prefix + path, endpoint, methods=[method])


def _stamp(item: CatalogueItem) -> str:
    return (CATALOGUE_EPOCH + timedelta(hours=item.product_id - 1000)).isoformat()


def product_json(item: CatalogueItem) -> dict[str, Any]:
    price = float(item.price)
    slug = item.name.lower().replace(" ", "-")
    return {
        "id": item.product_id,
        "name": item.name,
        "type": "physical",
        "sku": item.sku,
        "description": "",
        "weight": 1,
        "width": 0,
        "depth": 0,
        "height": 0,
        "price": price,
        "cost_price": 0,
        "retail_price": 0,
        "sale_price": 0,
        "map_price": 0,
        "tax_class_id": 0,
        "product_tax_code": "",
        "calculated_price": price,
        "categories": [23],
        "brand_id": 0,
        "option_set_id": 0,  # no option set (the published schema types it a non-null integer)
        "option_set_display": "right",
        "inventory_level": sum(item.stock.values()),
        "inventory_warning_level": 0,
        "inventory_tracking": "product",
        "reviews_rating_sum": 0,
        "reviews_count": 0,
        "total_sold": 0,
        "fixed_cost_shipping_price": 0,
        "is_free_shipping": False,
        "is_visible": True,
        "is_featured": False,
        "related_products": [-1],
        "warranty": "",
        "bin_picking_number": "",
        "layout_file": "product.html",
        "upc": "",
        "mpn": "",
        "gtin": "",
        "search_keywords": "",
        "availability": "available",
        "availability_description": "",
        "gift_wrapping_options_type": "any",
        "gift_wrapping_options_list": [],
        "sort_order": 0,
        "condition": "New",
        "is_condition_shown": False,
        "order_quantity_minimum": 0,
        "order_quantity_maximum": 0,
        "page_title": "",
        "meta_keywords": [],
        "meta_description": "",
        "date_created": _stamp(item),
        "date_modified": _stamp(item),
        "view_count": 0,
        "preorder_release_date": None,
        "preorder_message": "",
        "is_preorder_only": False,
        "is_price_hidden": False,
        "price_hidden_label": "",
        "custom_url": {"url": f"/{slug}/", "is_customized": False},
        "base_variant_id": item.variant_id,
        "open_graph_type": "product",
        "open_graph_title": "",
        "open_graph_description": "",
        "open_graph_use_meta_description": True,
        "open_graph_use_product_name": True,
        "open_graph_use_image": True,
    }


def variant_json(item: CatalogueItem) -> dict[str, Any]:
    price = float(item.price)
    return {
        "id": item.variant_id,
        "product_id": item.product_id,
        "sku": item.sku,
        "sku_id": item.variant_id,
        "price": price,
        "calculated_price": price,
        "sale_price": 0,
        "retail_price": 0,
        "weight": 1,
        "calculated_weight": 1,
        "width": 0,
        "height": 0,
        "depth": 0,
        "is_free_shipping": False,
        "fixed_cost_shipping_price": 0,
        "purchasing_disabled": False,
        "purchasing_disabled_message": "",
        "image_url": "",
        "cost_price": 0,
        "upc": "",
        "mpn": "",
        "gtin": "",
        "inventory_level": sum(item.stock.values()),
        "inventory_warning_level": 0,
        "bin_picking_number": "",
        "option_values": [],
    }


class CatalogApi:
    def __init__(self, sandbox: BigCommerceState) -> None:
        self.sb = sandbox

    # --- store information ------------------------------------------------------------------------------------
    def store(self) -> Response:
        host = self.sb.base_url.split("://", 1)[-1].split("/", 1)[0]
        return JSONResponse(
            {
                "id": self.sb.store_hash,
                "account_uuid": "0b6f1c4e-7a39-4a57-9d0e-5c2a1f1d9b10",
                "domain": host,
                "secure_url": f"http://{host}",
                "control_panel_base_url": f"http://{host}",
                "status": "live",
                "name": "Sandbox Shop",
                "first_name": "Sandbox",
                "last_name": "Owner",
                "address": "Prinsengracht 263, 1016 GV Amsterdam",
                "country": "Netherlands",
                "country_code": "NL",
                "phone": "+31 20 123 4567",
                "admin_email": "owner@example.com",
                "order_email": "orders@example.com",
                "favicon_url": "",
                "timezone": STORE_TIMEZONE,
                "language": "nl",
                "currency": "EUR",
                "currency_symbol": "€",
                "decimal_separator": ",",
                "thousands_separator": ".",
                "decimal_places": 2,
                "currency_symbol_location": "left",
                "weight_units": "kg",
                "dimension_units": "Centimeters",
                "dimension_decimal_places": 2,
                "dimension_decimal_token": ",",
                "dimension_thousands_token": ".",
                "plan_name": "Standard",
                "plan_level": "Standard",
                "plan_is_trial": False,
                "industry": "Retail",
                "logo": [],
                "is_price_entered_with_tax": True,
                "store_id": 1000123,
                "default_channel_id": 1,
                "default_site_id": 1000,
                "active_comparison_modules": [],
                "features": {
                    "stencil_enabled": True,
                    "sitewidehttps_enabled": False,
                    "facebook_catalog_id": "",
                    "checkout_type": "optimized",
                    "wishlists_enabled": True,
                    "graphql_storefront_api_enabled": True,
                    "shopper_consent_tracking_enabled": False,
                    "multi_storefront_enabled": False,
                    "storefront_limits": {"active": 1, "total_including_inactive": 1},
                },
            }
        )

    def time(self) -> Response:
        return JSONResponse({"time": int(time.time())})

    # --- order sub-resources ----------------------------------------------------------------------------------
    def _order(self, order_id: str) -> None:
        if not order_id.isdigit() or int(order_id) not in self.sb.orders:
            raise bad("The requested resource was not found.", 404)

    def fees(self, request: Request, order_id: str) -> Response:
        self._order(order_id)
        return v2_page([], request.query_params)  # the sandbox's orders carry no fees: 204 No Content

    def taxes(self, request: Request, order_id: str) -> Response:
        self._order(order_id)
        return v2_page([], request.query_params)

    def messages(self, request: Request, order_id: str) -> Response:
        self._order(order_id)
        return v2_page([], request.query_params)

    def shipping_quote(self, order_id: str, address_id: str) -> Response:
        """The quote behind a shipping address's method: the sandbox ships at a flat rate, so the quote names
        the flat-rate provider and carries no carrier rate."""
        with self.sb.lock:
            self._order(order_id)
            order = self.sb.orders[int(order_id)]
            if not any(str(a["id"]) == address_id for a in order.addresses):
                raise bad("The requested resource was not found.", 404)
            stamp = order.created.isoformat()
        quote: dict[str, Any] = {
            "id": address_id,
            "uuid": f"00000000-0000-4000-8000-{int(order_id):06d}{int(address_id):06d}",
        }
        quote |= {"timestamp": stamp, "shipping_provider_id": "flatrate", "shipping_provider_quote": []}
        quote |= {"provider_code": "flatrate", "carrier_code": "", "rate_code": "", "rate_id": "", "method_id": 1}
        return JSONResponse(quote)

    # --- catalog ----------------------------------------------------------------------------------------------
    def _items(self) -> list[CatalogueItem]:
        with self.sb.lock:
            return sorted(self.sb.catalogue.values(), key=lambda item: item.product_id)

    def _item(self, product_id: str) -> CatalogueItem:
        for item in self._items():
            if str(item.product_id) == product_id:
                return item
        raise bad("The requested product was not found.", 404)

    def list_products(self, request: Request) -> Response:
        query = request.query_params
        ids, skus = csv(query, "id:in", int), csv(query, "sku:in")
        rows = [
            product_json(item)
            for item in self._items()
            if (ids is None or item.product_id in ids)
            and (skus is None or item.sku in skus)
            and query.get("sku", item.sku) == item.sku
        ]
        return JSONResponse(v3_page(rows, query))

    def get_product(self, product_id: str) -> Response:
        return JSONResponse({"data": product_json(self._item(product_id)), "meta": {}})

    def product_variants(self, request: Request, product_id: str) -> Response:
        return JSONResponse(v3_page([variant_json(self._item(product_id))], request.query_params))

    def get_variant(self, product_id: str, variant_id: str) -> Response:
        item = self._item(product_id)
        if str(item.variant_id) != variant_id:
            raise bad("The requested variant was not found.", 404)
        return JSONResponse({"data": variant_json(item), "meta": {}})

    def list_variants(self, request: Request) -> Response:
        query = request.query_params
        ids, products, skus = csv(query, "id:in", int), csv(query, "product_id:in", int), csv(query, "sku:in")
        rows = [
            variant_json(item)
            for item in self._items()
            if (ids is None or item.variant_id in ids)
            and (products is None or item.product_id in products)
            and (skus is None or item.sku in skus)
            and query.get("sku", item.sku) == item.sku
        ]
        return JSONResponse(v3_page(rows, query))
