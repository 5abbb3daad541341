"""Shared helpers of the operations tests: run an ASGI app on a real socket."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from tests.e2e.conftest import start, stop


@contextmanager
def serving(app: Any) -> Iterator[httpx.Client]:
    """Run ``app`` under uvicorn (the end-to-end tests' way); yield a client for it."""
    running = start(app)
    try:
        with httpx.Client(base_url=running.url) as client:
            yield client
    finally:
        stop(running)
