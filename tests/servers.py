"""Servers for the tests that talk to packserve over a real socket, all on 127.0.0.1.

- In this process: ``start(app)`` runs an ASGI app under uvicorn in a thread, on a port the
  kernel picks; ``stop`` ends it; ``serving(app)`` wraps both around an httpx client.
- As a separate process: ``PACKSERVE`` is the production command line, run from ``ROOT`` on
  a ``free_port()`` (``tests.ops.proc.running`` waits for ``/-/healthz`` and checks the
  shutdown; ``tests.faults.server.Server`` watches memory and descriptors).

Rule: whatever starts a server stops it (threads by ``should_exit``, processes by pid).
"""

from __future__ import annotations

import dataclasses
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parents[1]
PACKSERVE = (sys.executable, "-m", "app")


def free_port() -> int:
    """A TCP port nobody listened on a moment ago (for a server in another process)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclasses.dataclass
class ThreadedServer:
    """A server in a background thread and its base URL."""

    server: uvicorn.Server
    thread: threading.Thread
    url: str


def start(app: Any) -> ThreadedServer:
    """Run ``app`` under uvicorn (h11, asyncio) on a free port; return once it listens."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return ThreadedServer(server, thread, f"http://127.0.0.1:{port}")


def stop(running: ThreadedServer) -> None:
    """Ask the server to exit and wait for its thread."""
    running.server.should_exit = True
    running.thread.join(timeout=20)


@contextmanager
def serving(app: Any) -> Iterator[httpx.Client]:
    """Run ``app`` with ``start``; yield a client for it; stop it on leaving."""
    running = start(app)
    try:
        with httpx.Client(base_url=running.url) as client:
            yield client
    finally:
        stop(running)
