"""One request per (contender, workload) before any timing: is the answer right?

The status must be the expected one, the body must decode (per the Content-Encoding the
server chose) to exactly ``git cat-file`` bytes (or the requested slice of them), and a
304 needs the ETag of a 200 first. What the server actually sent is recorded: a contender
that answers a gzip request with identity is timed and labelled so; one that cannot answer
a deflate request with deflate is "n/a"; one that answers wrongly is marked and not timed.
"""

from __future__ import annotations

import gzip
import http.client
import time
import zlib
from dataclasses import dataclass

from bench.corpus import Bodies
from bench.workloads import Workload, range_bounds


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of the check of one (contender, workload)."""

    state: str  # "ok" | "n/a" | "wrong"
    sent: str  # the Content-Encoding that came back ("identity" for none)
    body_bytes: int  # bytes of body on the wire
    etag: str | None  # the validator (revalidate: the one the 304 was asked with)
    note: str  # why n/a or wrong; empty when ok
    seconds: float  # the latency of the checked request


def fetch(port: int, url: str, headers: dict[str, str],
          timeout: float = 120.0) -> tuple[int, dict[str, str], bytes, float]:
    """(status, lower-cased headers, raw body, seconds) of one GET on 127.0.0.1."""
    started = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        body = response.read()
        elapsed = time.monotonic() - started
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body, elapsed
    finally:
        conn.close()


def _decode(coding: str, body: bytes) -> bytes:
    if coding == "identity":
        return body
    if coding == "deflate":
        return zlib.decompress(body)  # RFC 9110 §8.4.1.2: deflate is the zlib format
    if coding == "gzip":
        return gzip.decompress(body)
    raise ValueError(f"unexpected Content-Encoding {coding!r}")


def check(port: int, workload: Workload, bodies: Bodies) -> Verdict:
    """Verify one contender (listening on ``port``) on one workload."""
    size = len(bodies.identity)
    etag = None
    if workload.kind == "revalidate":
        status, headers, _, _ = fetch(port, bodies.url, {"Accept-Encoding": workload.coding})
        etag = headers.get("etag")
        if status != 200 or etag is None:
            return Verdict("n/a", "", 0, None, f"no ETag on the 200 (status {status})", 0.0)
    request = workload.headers(size, etag)
    try:
        status, headers, body, seconds = fetch(port, bodies.url, request)
    except (OSError, http.client.HTTPException) as exc:
        return Verdict("wrong", "", 0, etag, f"request failed: {exc!r}", 0.0)
    sent = headers.get("content-encoding", "identity").strip().lower() or "identity"

    def verdict(state: str, note: str = "") -> Verdict:
        return Verdict(state, sent, len(body), etag, note, seconds)

    if status != workload.expected_status:
        return verdict("wrong", f"status {status}, expected {workload.expected_status}")
    if workload.kind == "revalidate":
        return verdict("ok") if not body else verdict("wrong", "a 304 with a body")
    if workload.kind == "get" and workload.coding == "deflate" and sent != "deflate":
        return verdict("n/a", f"cannot send deflate (sent {sent})")
    if workload.kind == "get" and sent not in (workload.coding, "identity"):
        return verdict("wrong", f"asked for {workload.coding}, sent {sent}")
    try:
        content = _decode(sent, body)
    except (ValueError, zlib.error, OSError, EOFError) as exc:
        return verdict("wrong", f"{sent} body does not decode: {exc}")
    if workload.kind == "range":
        first, last = range_bounds(size)
        expected = bodies.identity[first : last + 1]
        if sent != "identity":
            return verdict("wrong", f"range answered with Content-Encoding {sent}")
    else:
        expected = bodies.identity
    if content != expected:
        return verdict("wrong", f"body differs from git cat-file ({len(content)} vs "
                                f"{len(expected)} bytes)")
    return verdict("ok")
