"""Error answers: a status, a short plain-text body, and the headers every answer carries.

Rules:
- Engine errors carry their status (``GitError.status_hint``, as h11's ``error_status_hint``):
  this module never guesses from the class name. A 4xx is the client's doing and is not
  logged as an error; a 5xx is logged with its traceback and answers that request only —
  the service keeps serving every other URL.
- Bodies are short ``text/plain`` explanations: they are read by people debugging a URL and
  must never echo request bytes back unescaped into a markup context.
- Errors the request caused, and server errors, are ``no-store``; a 404 gets the short
  lifetime ``cachecontrol.for_not_found`` gives its ref kind (the caller passes it).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from http import HTTPStatus

from app.git import GitError
from app.http.cachecontrol import NO_STORE

log = logging.getLogger("packserve.http")

Header = tuple[bytes, bytes]
Send = Callable[[dict[str, object]], Awaitable[None]]

# Sent on every answer of the service, errors included (http-semantics.md §7 item 4).
COMMON: tuple[Header, ...] = (
    (b"vary", b"Accept-Encoding"),
    (b"x-content-type-options", b"nosniff"),
)


def status_for(exc: GitError) -> int:
    """The HTTP status for an engine error, logging server-side failures."""
    status = exc.status_hint
    if status >= 500:
        log.error("engine error: %s", exc, exc_info=exc)
    return status


def error_body(status: int, detail: str) -> bytes:
    """``<code> <reason>: <detail>`` as UTF-8 text, one line."""
    reason = HTTPStatus(status).phrase
    text = f"{status} {reason}: {detail}" if detail else f"{status} {reason}"
    # Control characters from a request would only confuse a terminal or a log reader.
    return ("".join(c if c.isprintable() else "?" for c in text) + "\n").encode()


async def send_error(
    send: Send,
    status: int,
    detail: str,
    extra: Iterable[Header] = (),
    *,
    head: bool = False,
    cache_control: str = NO_STORE,
) -> None:
    """Send a complete plain-text error answer."""
    body = error_body(status, detail)
    headers = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", cache_control.encode()),
        *COMMON,
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
