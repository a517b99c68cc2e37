"""The lightspeed emulator: state, API routes and server, imported one way (state -> API -> server)."""

from __future__ import annotations

from sandbox.lightspeed.server import LightspeedSandbox

__all__ = ["LightspeedSandbox"]
