"""Platform clients and webhook verification, one module per platform, in one explicit registry.

    PLATFORMS[platform].client(store, budget)        the `Platform` client of a configured store
    PLATFORMS[platform].verify_webhook(h, body, s)   raises WebhookRejected(401) unless the signature holds
    PLATFORMS[platform].parse_webhook(h, body)       what a (verified) delivery is about
    PLATFORMS[platform].budget()                     a fresh RateBudget at the platform's sustained rate

Headers are passed as a dict with lower-case names. Adding a platform: one module here, one line below.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from connector.orders.model import Platform as PlatformName
from connector.platforms.base import Platform, RateBudget, WebhookDelivery
from connector.runtime.config import StoreConfig

from . import bigcommerce, lightspeed, shopify, woocommerce

Verifier = Callable[[Mapping[str, str], bytes, str], None]
Parser = Callable[[Mapping[str, str], bytes], WebhookDelivery]


@dataclass(frozen=True)
class PlatformModule:
    client: Callable[[StoreConfig, RateBudget], Platform]
    verify_webhook: Verifier
    parse_webhook: Parser
    budget: Callable[[], RateBudget]


PLATFORMS: dict[PlatformName, PlatformModule] = {
    PlatformName.SHOPIFY: PlatformModule(
        shopify.ShopifyClient, shopify.verify_webhook, shopify.parse_webhook, shopify.budget
    ),
    PlatformName.WOOCOMMERCE: PlatformModule(
        woocommerce.WooCommerceClient, woocommerce.verify_webhook, woocommerce.parse_webhook, woocommerce.budget
    ),
    PlatformName.BIGCOMMERCE: PlatformModule(
        bigcommerce.BigCommerceClient, bigcommerce.verify_webhook, bigcommerce.parse_webhook, bigcommerce.budget
    ),
    PlatformName.LIGHTSPEED: PlatformModule(
        lightspeed.LightspeedClient, lightspeed.verify_webhook, lightspeed.parse_webhook, lightspeed.budget
    ),
}


def open_client(store: StoreConfig, budget: RateBudget | None = None) -> Platform:
    module = PLATFORMS[store.platform]
    return module.client(store, budget or module.budget())


__all__ = ["PLATFORMS", "Platform", "PlatformModule", "RateBudget", "WebhookDelivery", "open_client"]
