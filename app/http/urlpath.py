"""Request-target path validation, before any ref or tree lookup (RFC 3986 §2.1, §3.3).

Rules of this module:
1. Work from the raw path bytes (ASGI ``scope["raw_path"]``), never from a path some other
   layer already decoded: only the raw bytes tell ``%2F`` from ``/`` and show malformed escapes.
2. Everything suspicious is an error, never "fixed up": malformed or truncated ``%`` escapes,
   invalid UTF-8 after decoding (Python's strict decoder also rejects overlong forms and
   surrogates), C0 controls, DEL, C1 controls, backslashes, ``.``/``..`` segments (also when
   spelled ``%2e%2e``), empty segments (``a//b``) and paths over the configured length.
3. Segments are checked *after* decoding, so an encoded ``/`` (``%2F``) becomes a real separator
   and cannot smuggle ``..`` or an empty segment past the checks. That is safe because the ref
   grammar allows slashes: ``feature%2Fx`` and ``feature/x`` name the same ref.
4. ``PathError.status`` is 414 for an over-long path (§15.5.15 of RFC 9110) and 400 otherwise;
   its message is safe to put in a response body (it never echoes the input).
"""

from __future__ import annotations

import re
from itertools import product
from typing import NamedTuple

__all__ = ["PathError", "RequestPath", "is_reserved", "parse_path"]


class PathError(ValueError):
    """The request path is unacceptable; ``str(exc)`` is a short message for the 400/414 body."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class RequestPath(NamedTuple):
    """A validated, percent-decoded request path.

    ``path`` is everything after the leading ``/`` (``""`` for the root), trailing ``/`` kept: it
    is exactly ``Repository.resolve``'s ``url_path``. ``trailing_slash`` is
    ``path.endswith("/")``, so the root has ``("", False)``.
    """

    path: str
    trailing_slash: bool


_HEX_DIGITS = "0123456789abcdefABCDEF"
_HEX_PAIRS = {
    (a + b).encode("ascii"): int(a + b, 16) for a, b in product(_HEX_DIGITS, repeat=2)
}
# Decoded characters we refuse: C0 controls, DEL, C1 controls, backslash.
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f-\x9f\\]")


def _percent_decode(raw: bytes) -> bytes:
    pieces = raw.split(b"%")
    out = bytearray(pieces[0])
    for piece in pieces[1:]:
        value = _HEX_PAIRS.get(piece[:2])
        if value is None:
            raise PathError("malformed percent-encoding in path")
        out.append(value)
        out += piece[2:]
    return bytes(out)


def parse_path(raw_path: bytes, max_length: int = 4096) -> RequestPath:
    """Validate and decode a raw request path; raise ``PathError`` when it is unacceptable.

    ``raw_path`` is ``scope["raw_path"]`` (no query string); ``max_length`` bounds the raw
    length in bytes (``Settings.max_path_length``).
    """
    if len(raw_path) > max_length:
        raise PathError("path too long", 414)
    if not raw_path.startswith(b"/"):
        raise PathError("path must start with '/'")
    if b" " in raw_path:
        raise PathError("control character in path")  # never valid in a request-target
    decoded = _percent_decode(raw_path) if b"%" in raw_path else raw_path
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        raise PathError("path is not valid UTF-8") from None
    # Raw and percent-encoded controls alike show up here, after decoding.
    if text.isascii():
        if not text.isprintable() or "\\" in text:  # printable ASCII is exactly 0x20-0x7E
            raise PathError("control character or backslash in path")
    elif _FORBIDDEN.search(text) is not None:
        raise PathError("control character or backslash in path")
    path = text[1:]
    # One trailing slash is meaningful (a directory); any other empty segment is an error.
    if path.startswith("/") or "//" in path:
        raise PathError("empty segment in path")
    if "." in path:
        bounded = f"/{path}/"
        if "/./" in bounded or "/../" in bounded:
            raise PathError("dot segment in path")
    return RequestPath(path, path.endswith("/"))


def is_reserved(path: str) -> bool:
    """Whether a decoded ``RequestPath.path`` lies in the service's own ``/-/`` namespace.

    ``-`` itself and everything under ``-/`` are reserved (``/-/healthz``); no ref is looked up
    there. A ref whose name starts with ``-`` elsewhere (``-x/``) is not affected.
    """
    return path == "-" or path.startswith("-/")
