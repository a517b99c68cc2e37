"""The bigcommerce emulator: state, API routes and server, imported one way (state -> API -> server)."""

from __future__ import annotations

from sandbox.bigcommerce.server import BigCommerceSandbox

__all__ = ["BigCommerceSandbox"]
