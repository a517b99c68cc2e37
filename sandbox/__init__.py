"""Faithful local emulators of the four platforms, for the demo, the tests and the benchmarks.

One module per platform; `SANDBOXES` is the explicit registry (a fifth platform adds one line here).
"""

from __future__ import annotations

from connector.orders.model import Platform
from sandbox.bigcommerce import BigCommerceSandbox
from sandbox.core import DEFAULT_LOCATIONS, Sandbox
from sandbox.lightspeed import LightspeedSandbox
from sandbox.shopify import ShopifySandbox
from sandbox.woocommerce import WooCommerceSandbox

SANDBOXES: dict[Platform, type[Sandbox]] = {
    Platform.SHOPIFY: ShopifySandbox,
    Platform.WOOCOMMERCE: WooCommerceSandbox,
    Platform.BIGCOMMERCE: BigCommerceSandbox,
    Platform.LIGHTSPEED: LightspeedSandbox,
}

__all__ = ["DEFAULT_LOCATIONS", "SANDBOXES", "Sandbox"]
