"""A raw ASGI driver: requests with exact bytes (raw path, any header) to an in-process app.

httpx normalises paths and headers before they reach an app; a fuzzer needs to send what a
hostile client sends. The scope is built as uvicorn builds it (``path`` is the
percent-decoded ``raw_path``, UTF-8 with replacement like uvicorn's ``unquote``).

Rules:
1. One event loop per driver; the app's lifespan starts in ``__enter__`` and is shut down
   in ``__exit__``. Background tasks the app spawns run whenever a request runs.
2. An exception escaping the app is re-raised to the test: for the fuzzer that is a bug as
   bad as a 500.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import unquote

Headers = Sequence[tuple[bytes, bytes]]


@dataclass
class AsgiResponse:
    """Status, headers (lower-cased names) and the whole body."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The first header called ``name``, decoded as latin-1."""
        key = name.lower().encode()
        for k, v in self.headers:
            if k.lower() == key:
                return v.decode("latin-1")
        return None


class AsgiDriver:
    """Runs an ASGI app's lifespan and sends it requests, synchronously."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._lifespan: asyncio.Task[None] | None = None
        self._to_app: asyncio.Queue[dict[str, Any]] | None = None
        self._from_app: asyncio.Queue[dict[str, Any]] | None = None

    def __enter__(self) -> AsgiDriver:
        self.loop.run_until_complete(self._start())
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.loop.run_until_complete(self._stop())
        finally:
            self.loop.close()

    async def _start(self) -> None:
        self._to_app = asyncio.Queue()
        self._from_app = asyncio.Queue()
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._lifespan = asyncio.ensure_future(
            self.app(scope, self._to_app.get, self._from_app.put)
        )
        await self._to_app.put({"type": "lifespan.startup"})
        message = await asyncio.wait_for(self._from_app.get(), 30)
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"lifespan startup failed: {message}")

    async def _stop(self) -> None:
        if self._lifespan is None or self._to_app is None or self._from_app is None:
            return
        await self._to_app.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self._from_app.get(), 30)
        await asyncio.wait_for(self._lifespan, 30)

    def request(
        self, raw_path: bytes, headers: Headers = (), method: str = "GET", timeout: float = 30
    ) -> AsgiResponse:
        """Send one request; ``raw_path`` may carry a ``?query``."""
        return self.loop.run_until_complete(
            asyncio.wait_for(self._request(raw_path, headers, method), timeout)
        )

    async def _request(self, target: bytes, headers: Headers, method: str) -> AsgiResponse:
        raw_path, _, query = target.partition(b"?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            # uvicorn: unquote(raw_path.decode("ascii")), i.e. UTF-8 with replacement.
            "path": unquote(raw_path.decode("latin-1")),
            "raw_path": raw_path,
            "query_string": query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
            "state": {},
        }
        sent: list[dict[str, Any]] = []
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(3600)  # a client that stays connected
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        start = next((m for m in sent if m["type"] == "http.response.start"), None)
        if start is None:
            raise RuntimeError(f"{target!r}: the app sent no response")
        body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
        return AsgiResponse(start["status"], list(start.get("headers", [])), body)
