"""Resident memory of a server while many clients download the huge file at once.

The clients (httpx, one event loop, on the load-generator core) read the raw body and
discard it; a sampler reads the server's resident set from /proc every 20 ms. Caches are
warmed by one request per coding first, so the figure is what concurrency adds, not what the
first request built. The run is bounded in time; every download's length is checked.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass

import httpx

from bench.contenders import Server
from bench.corpus import Bodies
from bench.verify import fetch

MB = 1024 * 1024
TIME_LIMIT = 300.0


@dataclass(frozen=True, slots=True)
class MemoryRun:
    """One burst of concurrent downloads in one coding."""

    coding: str
    clients: int
    baseline_mb: float
    peak_mb: float
    seconds: float
    complete: int  # downloads that received the whole body

    @property
    def added_mb(self) -> float:
        """Peak resident memory above the warm baseline."""
        return self.peak_mb - self.baseline_mb


async def _download(client: httpx.AsyncClient, url: str, coding: str) -> int:
    received = 0
    async with client.stream("GET", url, headers={"Accept-Encoding": coding}) as response:
        async for chunk in response.aiter_raw():
            received += len(chunk)
    return received


async def _burst(port: int, bodies: Bodies, coding: str, clients: int) -> list[int]:
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits,
                                 timeout=httpx.Timeout(TIME_LIMIT)) as client:
        jobs = [_download(client, bodies.url, coding) for _ in range(clients)]
        results = await asyncio.wait_for(asyncio.gather(*jobs, return_exceptions=True),
                                         TIME_LIMIT)
    return [r if isinstance(r, int) else -1 for r in results]


class _PeakSampler:
    """Samples a server's resident set every 20 ms in a thread; keeps the peak."""

    def __init__(self, server: Server) -> None:
        self._server = server
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.peak = server.cpu_and_rss()[1]

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._server.cpu_and_rss()[1])
            self._stop.wait(0.02)

    def __enter__(self) -> _PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def measure(server: Server, bodies: Bodies, clients: int,
            codings: tuple[str, ...] = ("deflate", "gzip", "identity")) -> list[MemoryRun]:
    """One burst of ``clients`` concurrent downloads of ``bodies`` per coding."""
    runs = []
    for coding in codings:
        status, headers, body, _ = fetch(server.port, bodies.url, {"Accept-Encoding": coding})
        if status != 200:
            raise RuntimeError(f"{server.name}: status {status} for {bodies.url}")
        sent = headers.get("content-encoding", "identity")
        time.sleep(0.5)
        baseline = server.cpu_and_rss()[1]
        started = time.monotonic()
        with _PeakSampler(server) as sampler:
            received = asyncio.run(_burst(server.port, bodies, coding, clients))
        runs.append(MemoryRun(
            coding=coding if sent == coding else f"{coding} (sent {sent})",
            clients=clients,
            baseline_mb=baseline / MB,
            peak_mb=max(sampler.peak, baseline) / MB,
            seconds=time.monotonic() - started,
            complete=sum(1 for n in received if n == len(body)),
        ))
    return runs
