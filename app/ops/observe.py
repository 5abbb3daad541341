"""ASGI middleware that watches each HTTP response go by and reports it once it ends.

Rules: it never changes a message; it reads the status and ``Content-Encoding`` from
``http.response.start`` and counts body bytes, then hands one summary to the metrics and
the access log. A response the app never started (an exception) counts as 500. The access
log's pending lines are written when the app reports its lifespan shutdown: uvicorn
finishes in-flight responses before that, and afterwards re-raises the SIGTERM it caught,
so the process dies of it and ``atexit`` handlers never run.
"""

from __future__ import annotations

import time
from typing import Any

from app.ops.accesslog import AccessLog
from app.ops.metrics import Metrics

Scope = dict[str, Any]
Message = dict[str, Any]


# The codings the service sends, as the metrics label them: spares a decode per response.
_CODINGS = {b"gzip": "gzip", b"deflate": "deflate", b"identity": "identity"}


def _coding(headers: list[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key == b"content-encoding":
            return _CODINGS.get(value) or value.decode("latin-1")
    return "identity"


class ObserveRequests:
    """Wraps an ASGI app; reports every HTTP response to ``metrics`` and ``access_log``."""

    def __init__(
        self, app: Any, *, metrics: Metrics | None, access_log: AccessLog | None
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        """ASGI entry: pass everything through; watch HTTP responses on the way out."""
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.access_log is not None:
                send = _flushing_at_shutdown(send, self.access_log)
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500
        representation = "identity"
        sent = 0

        async def watch(message: Message) -> None:
            nonlocal status, representation, sent
            kind = message["type"]
            if kind == "http.response.body":
                sent += len(message.get("body", b""))
            elif kind == "http.response.start":
                status = message["status"]
                representation = _coding(message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            seconds = time.perf_counter() - start
            if self.metrics is not None:
                self.metrics.request(status, representation, sent, seconds)
            if self.access_log is not None:
                self.access_log.request(scope, status, sent, seconds, representation)


def _flushing_at_shutdown(send: Any, log: AccessLog) -> Any:
    """``send`` for the lifespan: writes the log's pending lines as shutdown ends."""

    async def flushing(message: Message) -> None:
        if message["type"] in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
            log.flush()
        await send(message)

    return flushing
