"""Serving sandboxes over HTTP: one uvicorn server per platform on its own port, each in a thread.

`serve(sandbox, port)` is a context manager used by tests, the demo and the `connector sandbox` command; it binds
the socket first, so `--port 0` gets a free port and the sandbox knows its own base URL before the first request.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from sandbox.core import Sandbox


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:
        """The owner of the process handles signals; a sandbox thread never does."""


def bind(host: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted sockets inherit this: without it, keep-alive answers wait ~40 ms for a delayed ACK (Nagle).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(512)
    return sock


@contextmanager
def serve(sandbox: Sandbox, port: int = 0, host: str = "127.0.0.1") -> Iterator[Sandbox]:
    """Serve `sandbox` until the block ends; `sandbox.base_url` is set inside the block."""
    sock = bind(host, port)
    actual = sock.getsockname()[1]
    sandbox.root_url = f"http://{host}:{actual}"
    sandbox.on_bound(sandbox.root_url)
    config = uvicorn.Config(sandbox.build_app(), log_level="warning", access_log=False, lifespan="off")
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{sandbox.platform}")
    thread.daemon = True
    thread.start()
    sandbox.dispatcher.start()
    try:
        _wait_started(server, thread)
        yield sandbox
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sandbox.dispatcher.stop()
        sock.close()


def _wait_started(server: uvicorn.Server, thread: threading.Thread, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
