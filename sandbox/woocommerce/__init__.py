"""The woocommerce emulator: state, API routes and server, imported one way (state -> API -> server)."""

from __future__ import annotations

from sandbox.woocommerce.server import WooCommerceSandbox

__all__ = ["WooCommerceSandbox"]
