"""Prometheus metrics of the service, and the ``/-/metrics`` endpoint.

Rules:
1. Recording is on the request path, so every call is a pre-bound child's ``inc`` or
   ``observe``: label values are resolved once, at construction, never per request.
   An unforeseen label value (an odd status code) falls back to ``labels()`` once and
   is then kept too.
2. One ``Metrics`` per process (``METRICS``), registered in prometheus-client's default
   registry so the process and GC collectors come along.
3. Multi-worker runs: the runner sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers
   start (prometheus-client reads it at import); ``endpoint`` then aggregates every
   worker's files, so a scrape that lands on any worker sees the whole service.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, make_asgi_app
from prometheus_client.multiprocess import MultiProcessCollector

from app.diskcache import DiskCache

REPRESENTATIONS = ("identity", "gzip", "deflate")
_STATUSES = (200, 206, 301, 302, 304, 308, 400, 404, 405, 409, 412, 416, 500, 503)
# Files the service derives from a blob and keeps in the disk cache (app/http/representation):
# zz = a deflated copy of a blob without a usable stored stream (delta, loose, FDICT),
# crc = the content CRC-32 of a stored stream, raw = the inflated copy of a blob above 64 KiB
# asked for in identity twice (served as slices instead of inflating per request).
DERIVED = ("zz", "crc", "raw")
# Sub-millisecond for cached hits up to seconds for large cold bodies.
_LATENCY_BUCKETS = (
    0.0002, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
)

Child = Any  # prometheus-client's bound metric children are untyped


class Metrics:
    """The service's collectors, with children pre-bound for the hot path."""

    def __init__(self, registry: CollectorRegistry = REGISTRY) -> None:
        self.registry = registry
        self._requests = Counter(
            "packserve_requests", "HTTP responses by status and representation (content-coding)",
            ("status", "representation"), registry=registry,
        )
        self._bytes = Counter(
            "packserve_response_body_bytes", "Body bytes sent, by representation",
            ("representation",), registry=registry,
        )
        self._latency = Histogram(
            "packserve_request_duration_seconds",
            "Time from request to the last body byte handed to the server, by representation",
            ("representation",), buckets=_LATENCY_BUCKETS, registry=registry,
        )
        self._lookups = Counter(
            "packserve_cache_lookups", "Disk cache lookups of derived files, by file and result",
            ("cache", "result"), registry=registry,
        )
        self._deltas = Counter(
            "packserve_delta_resolutions",
            "Blobs without a usable stored stream (deltas, loose objects) resolved and deflated",
            registry=registry,
        )
        self._inflates = Counter(
            "packserve_inflates",
            "Whole-blob inflates whose result was kept (crc: gzip trailer; raw: identity copy)",
            ("reason",), registry=registry,
        )
        self._request_children: dict[tuple[int, str], Child] = {
            (status, rep): self._requests.labels(str(status), rep)
            for status in _STATUSES for rep in REPRESENTATIONS
        }
        self._bytes_children = {rep: self._bytes.labels(rep) for rep in REPRESENTATIONS}
        self._latency_children = {rep: self._latency.labels(rep) for rep in REPRESENTATIONS}
        self._hits = {kind: self._lookups.labels(kind, "hit") for kind in DERIVED}
        self._misses = {kind: self._lookups.labels(kind, "miss") for kind in DERIVED}
        self._made = {
            "zz": self._deltas,
            "crc": self._inflates.labels("crc"),
            "raw": self._inflates.labels("raw"),
        }

    def request(self, status: int, representation: str, sent: int, seconds: float) -> None:
        """Count one finished response: its status, coding, body bytes and duration."""
        child = self._request_children.get((status, representation))
        if child is None:
            child = self._bind(status, representation)
        child.inc()
        self._latency_children[representation].observe(seconds)
        if sent:
            self._bytes_children[representation].inc(sent)

    def _bind(self, status: int, representation: str) -> Child:
        # Rare label values (a 418, an unexpected coding): bind once and keep.
        self._bytes_children.setdefault(representation, self._bytes.labels(representation))
        self._latency_children.setdefault(representation, self._latency.labels(representation))
        return self._request_children.setdefault(
            (status, representation), self._requests.labels(str(status), representation)
        )

    def cache_lookup(self, kind: str, hit: bool) -> None:
        """A disk cache lookup of a derived file ``kind`` (one of ``DERIVED``)."""
        (self._hits if hit else self._misses)[kind].inc()

    def derived(self, kind: str) -> None:
        """The service computed a derived file ``kind``: a delta resolution or an inflate."""
        self._made[kind].inc()


class CountingDiskCache(DiskCache):
    """The service's ``DiskCache``, reporting lookups and writes of derived files.

    Every file the service derives from a blob passes through this cache, so its lookups
    are the cache hits and misses and its writes are exactly the delta resolutions and
    inflates the service performed (and a warm-up spares the first visitor).
    """

    def __init__(
        self, root: str | os.PathLike[str], max_bytes: int, metrics: Metrics | None = None
    ) -> None:
        super().__init__(root, max_bytes)
        self.metrics = metrics or METRICS

    def map(self, key: str) -> memoryview | None:
        """``DiskCache.map``, counted as a hit or a miss."""
        view = super().map(key)
        kind = key.rpartition(".")[2]
        if kind in DERIVED:
            self.metrics.cache_lookup(kind, view is not None)
        return view

    def put(self, key: str, chunks: Iterable[bytes | memoryview]) -> int:
        """``DiskCache.put``, counted as the derivation it stores."""
        size = super().put(key, chunks)
        kind = key.rpartition(".")[2]
        if kind in DERIVED:
            self.metrics.derived(kind)
        return size


def endpoint(registry: CollectorRegistry = REGISTRY) -> Callable[..., Any]:
    """The ASGI app answering ``/-/metrics`` in Prometheus (or OpenMetrics) text format."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every worker writes its own files; read them all rather than this process only.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return make_asgi_app(registry)


METRICS = Metrics()
