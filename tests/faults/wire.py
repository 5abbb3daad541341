"""Wire-level helpers shared by the socket tests: undo a content coding, send raw bytes.

Rules:
1. ``decode`` is strict: a deflate body must be exactly one zlib stream (no trailing bytes),
   a gzip body must pass its CRC-32 and length check, so a body that only *mostly* decodes
   counts as wrong.
2. ``raw_get`` writes the request target verbatim (no client-side normalisation of ``..``).
"""

from __future__ import annotations

import gzip
import socket
import time
import zlib

ANSWER_SECONDS = 5.0


def decode(encoding: str | None, body: bytes) -> bytes:
    """The representation's bytes back to the content (raises on a broken coding)."""
    if encoding in (None, "identity"):
        return body
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        inflater = zlib.decompressobj()
        out = inflater.decompress(body) + inflater.flush()
        if not inflater.eof or inflater.unused_data:
            raise ValueError("deflate body is not exactly one zlib stream")
        return out
    raise ValueError(f"unexpected Content-Encoding {encoding!r}")


def raw_get(port: int, target: str, timeout: float = ANSWER_SECONDS) -> tuple[int, bytes, bytes]:
    """Send ``GET <target>`` verbatim; return (status, head, body) read until close."""
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: identity\r\n"
        "Connection: close\r\n\r\n"
    ).encode("latin-1")
    chunks = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        deadline = time.monotonic() + timeout
        while True:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/1.1 ") else 0
    return status, head, body
