"""Prometheus metrics of the service, and the ``/-/metrics`` endpoint.

Rules:
1. Recording a response is on the request path of every answer. In a single process it is
   a few operations on plain numbers (``RequestTally``): no lock, since only the event
   loop records, and no prometheus-client call, whose ``inc``/``observe`` take a lock
   each (1.8 µs a response, measured, where all of packserve's work for a small file
   is ~8 µs).
   The tally is a collector: the numbers become metric families only when scraped.
2. Multi-worker runs: the runner sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers
   start (prometheus-client reads it at import). Each worker then records through
   prometheus-client's children, which write the shared files, with label values bound
   once at construction; ``endpoint`` aggregates every worker's files, so a scrape that
   lands on any worker sees the whole service. Both ways expose the same families.
3. Disk cache events (lookups, derivations) are rare and happen in worker threads: they
   always go through prometheus-client's children (thread-safe).
4. One ``Metrics`` per process (``METRICS``), registered in prometheus-client's default
   registry so the process and GC collectors come along.
"""

from __future__ import annotations

import os
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, make_asgi_app
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_REQUESTS = ("packserve_requests", "HTTP responses by status and representation (content-coding)")
_BYTES = ("packserve_response_body_bytes", "Body bytes sent, by representation")
_LATENCY = (
    "packserve_request_duration_seconds",
    "Time from request to the last body byte handed to the server, by representation",
)

Child = Any  # prometheus-client's bound metric children are untyped


class RequestTally(Collector):
    """The request metrics of one process as plain numbers, exposed when scraped.

    Only the event loop records (``record``); ``collect`` copies each table before reading
    it, so a scrape from another thread never sees one change size under it.
    """

    def __init__(self, buckets: tuple[float, ...] = _LATENCY_BUCKETS) -> None:
        self._bounds = buckets
        # The ``le`` label values, spelled as prometheus-client spells them ("+Inf" last).
        self._le = tuple(
            floatToGoString(bound)  # type: ignore[no-untyped-call]
            for bound in (*buckets, float("inf"))
        )
        self._created = time.time()
        # Known label values start at zero, as pre-bound prometheus-client children do, so
        # a rate over a series that has not happened yet is 0 rather than absent.
        self._requests: dict[tuple[int, str], int] = {
            (status, rep): 0 for status in _STATUSES for rep in REPRESENTATIONS
        }
        self._bytes: dict[str, int] = {}
        # Per representation: a count per bucket (the last one is +Inf), not cumulative.
        self._latency: dict[str, list[int]] = {}
        self._latency_sum: dict[str, float] = {}
        for rep in REPRESENTATIONS:
            self._add_representation(rep)

    def _add_representation(self, rep: str) -> list[int]:
        self._bytes[rep] = 0
        self._latency_sum[rep] = 0.0
        counts = self._latency[rep] = [0] * (len(self._bounds) + 1)
        return counts

    def record(self, status: int, representation: str, sent: int, seconds: float) -> None:
        """Count one finished response: its status, coding, body bytes and duration."""
        key = (status, representation)
        requests = self._requests
        requests[key] = requests.get(key, 0) + 1
        counts = self._latency.get(representation)
        if counts is None:
            counts = self._add_representation(representation)
        # A histogram bucket counts observations <= its bound (prometheus-client's rule).
        counts[bisect_left(self._bounds, seconds)] += 1
        self._latency_sum[representation] += seconds
        if sent:
            self._bytes[representation] += sent

    def collect(self) -> Iterator[Metric]:
        """The three request families, in prometheus-client's exposition."""
        requests = CounterMetricFamily(*_REQUESTS, labels=("status", "representation"))
        for (status, rep), count in tuple(self._requests.items()):
            requests.add_metric((str(status), rep), count, created=self._created)
        sent = CounterMetricFamily(*_BYTES, labels=("representation",))
        for rep, total in tuple(self._bytes.items()):
            sent.add_metric((rep,), total, created=self._created)
        latency = HistogramMetricFamily(*_LATENCY, labels=("representation",))
        for rep, counts in tuple(self._latency.items()):
            cumulative, buckets = 0, []
            for le, count in zip(self._le, tuple(counts), strict=True):
                cumulative += count
                buckets.append((le, float(cumulative)))
            latency.add_metric((rep,), buckets, self._latency_sum[rep])
        return iter((requests, sent, latency))


class Metrics:
    """The service's collectors; request recording as the process allows (module rules)."""

    def __init__(
        self, registry: CollectorRegistry = REGISTRY, *, shared: bool | None = None
    ) -> None:
        self.registry = registry
        if shared is None:
            shared = bool(os.environ.get(_MULTIPROC_ENV))
        self.request: Callable[[int, str, int, float], None]
        if shared:
            self._requests = Counter(
                *_REQUESTS, ("status", "representation"), registry=registry
            )
            self._bytes = Counter(*_BYTES, ("representation",), registry=registry)
            self._latency = Histogram(
                *_LATENCY, ("representation",), buckets=_LATENCY_BUCKETS, registry=registry
            )
            self._request_children: dict[tuple[int, str], Child] = {
                (status, rep): self._requests.labels(str(status), rep)
                for status in _STATUSES for rep in REPRESENTATIONS
            }
            self._bytes_children = {rep: self._bytes.labels(rep) for rep in REPRESENTATIONS}
            self._latency_children = {rep: self._latency.labels(rep) for rep in REPRESENTATIONS}
            self.request = self._shared_request
        else:
            tally = RequestTally()
            registry.register(tally)
            self.request = tally.record
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
        self._hits = {kind: self._lookups.labels(kind, "hit") for kind in DERIVED}
        self._misses = {kind: self._lookups.labels(kind, "miss") for kind in DERIVED}
        self._made = {
            "zz": self._deltas,
            "crc": self._inflates.labels("crc"),
            "raw": self._inflates.labels("raw"),
        }

    def _shared_request(
        self, status: int, representation: str, sent: int, seconds: float
    ) -> None:
        # ``request`` when workers share their metrics through prometheus-client's files.
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
    if os.environ.get(_MULTIPROC_ENV):
        # Every worker writes its own files; read them all rather than this process only.
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return make_asgi_app(registry)


METRICS = Metrics()
