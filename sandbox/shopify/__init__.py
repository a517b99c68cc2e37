"""The shopify emulator: state, API routes and server, imported one way (state -> API -> server)."""

from __future__ import annotations

from sandbox.shopify.server import ShopifySandbox

__all__ = ["ShopifySandbox"]
