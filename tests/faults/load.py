"""Slow readers, fast probes and connection storms against a server on 127.0.0.1.

``slow_then_storm`` is the whole scenario, run by ``test_slow_clients.py`` (CI-sized
numbers) and ``soak.py`` (the issue's numbers).
Everything is asyncio on raw sockets so that hundreds of clients cost one thread; a slow
reader shrinks its receive buffer (``SO_RCVBUF``) so TCP back-pressure reaches the server
quickly instead of the kernel soaking up megabytes.

Rules:
1. Bounded: every client stops at its deadline or byte budget and closes its socket.
2. Every byte read is checked: a slow reader's prefix must be a prefix of the blob (after
   inflating, for deflate), a fast probe's body must equal the blob.
"""

from __future__ import annotations

import asyncio
import socket
import statistics
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.faults.server import Server

HEAD_LIMIT = 64 << 10


@dataclass
class Outcome:
    """Tallies of one load phase."""

    ok: int = 0
    failed: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    bytes_read: int = 0

    def latency_summary(self) -> str:
        """p50 / p99 / max of the recorded latencies, in milliseconds."""
        if not self.latencies:
            return "no samples"
        ordered = sorted(self.latencies)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        return (
            f"p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"max {ordered[-1] * 1000:.1f} ms over {len(ordered)}"
        )


def _request(path: str, coding: str, keep_alive: bool = False) -> bytes:
    connection = "keep-alive" if keep_alive else "close"
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Encoding: {coding}\r\n"
        f"Connection: {connection}\r\n\r\n"
    ).encode()


async def _connect(
    port: int, rcvbuf: int | None = None
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    return await asyncio.open_connection(sock=sock, limit=HEAD_LIMIT)


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            key, value = line.split(":", 1)
            headers[key.strip().lower()] = value.strip()
    return status, headers


async def slow_reader(
    port: int,
    path: str,
    coding: str,
    content: bytes,
    *,
    chunk: int,
    interval: float,
    until: float,
    outcome: Outcome,
) -> None:
    """Read ``chunk`` bytes every ``interval`` seconds until ``until``, then hang up."""
    writer = None
    try:
        reader, writer = await _connect(port, rcvbuf=4096)
        writer.write(_request(path, coding))
        await writer.drain()
        status, headers = await _read_head(reader)
        if status != 200:
            outcome.failed.append(f"slow {path} [{coding}]: {status}")
            return
        inflater = zlib.decompressobj() if headers.get("content-encoding") == "deflate" else None
        got = bytearray()
        while time.monotonic() < until:
            data = await reader.read(chunk)
            if not data:
                break
            got += data
            await asyncio.sleep(interval)
        prefix = bytes(got) if inflater is None else inflater.decompress(bytes(got))
        if not content.startswith(prefix):
            outcome.failed.append(f"slow {path} [{coding}]: wrong bytes in the first {len(got)}")
        else:
            outcome.ok += 1
            outcome.bytes_read += len(got)
    except (OSError, asyncio.IncompleteReadError, zlib.error, ValueError) as exc:
        outcome.failed.append(f"slow {path} [{coding}]: {exc!r}")
    finally:
        if writer is not None:
            writer.transport.abort()  # a client vanishing mid-body, no FIN handshake


async def fetch_once(
    port: int, path: str, content: bytes, outcome: Outcome, requests: int = 1, timeout: float = 30.0
) -> None:
    """``requests`` keep-alive GETs of ``path`` on one connection, each checked whole."""
    writer = None
    try:
        reader, writer = await asyncio.wait_for(_connect(port), timeout)
        for n in range(requests):
            start = time.monotonic()
            writer.write(_request(path, "identity", keep_alive=n + 1 < requests))
            status, headers = await asyncio.wait_for(_read_head(reader), timeout)
            body = await asyncio.wait_for(
                reader.readexactly(int(headers.get("content-length", "0"))), timeout
            )
            outcome.latencies.append(time.monotonic() - start)
            if status == 200 and body == content:
                outcome.ok += 1
            else:
                outcome.failed.append(f"{path}: {status}, {len(body)} bytes")
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
        outcome.failed.append(f"{path}: {exc!r}")
    finally:
        if writer is not None:
            writer.close()


async def fast_probes(
    port: int, path: str, content: bytes, until: float, every: float, outcome: Outcome
) -> None:
    """A well-behaved client fetching a small file every ``every`` seconds."""
    while time.monotonic() < until:
        await fetch_once(port, path, content, outcome)
        await asyncio.sleep(every)


async def storm(
    port: int, files: list[tuple[str, bytes]], connections: int, requests: int, outcome: Outcome
) -> None:
    """``connections`` concurrent connections, each ``requests`` keep-alive GETs."""
    await asyncio.gather(
        *(fetch_once(port, *files[i % len(files)], outcome, requests) for i in range(connections))
    )


class MemorySampler(threading.Thread):
    """Samples ``read()`` (e.g. a server's VmRSS in KiB) every ``every`` seconds."""

    def __init__(self, read: Callable[[], int], every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.read = read
        self.every = every
        self.peak = 0
        self.samples: list[int] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                value = self.read()
            except OSError:
                break
            self.samples.append(value)
            self.peak = max(self.peak, value)
            self._halt.wait(self.every)

    def stop(self) -> int:
        """Stop sampling; the peak seen."""
        self._halt.set()
        self.join(timeout=5)
        return self.peak


@dataclass
class SlowAndStorm:
    """What ``slow_then_storm`` saw: each phase's tallies and the server's footprint (KiB)."""

    warm: Outcome
    slow: Outcome
    fast: Outcome
    many: Outcome
    storm_seconds: float
    rss_before_kb: int
    slow_peak_kb: int
    peak_kb: int
    rss_after_kb: int
    fds_before: int
    fds_after: int
    alive: bool


def slow_then_storm(
    server: Server,
    large: bytes,
    small: list[tuple[str, bytes]],
    *,
    slow_clients: int,
    seconds: float,
    storm_connections: int,
    chunk: int,
    interval: float,
    sample_every: float = 0.1,
    settle_seconds: float = 10.0,
) -> SlowAndStorm:
    """Warm up with a small storm; then ``slow_clients`` readers trickle
    ``/stable/large.bin`` (identity and deflate; ``chunk`` bytes every ``interval`` s) for
    ``seconds`` and vanish, while a fast client fetches ``small[0]`` every 50 ms; then
    ``storm_connections`` connections make three keep-alive requests each. Resident memory
    is sampled throughout; at the end the server gets ``settle_seconds`` to close what the
    clients left behind before its descriptors are counted."""
    warm = Outcome()
    asyncio.run(storm(server.port, small, 4, 2, warm))
    fds_before = server.open_fds()
    rss_before = server.memory_kb()[0]
    sampler = MemorySampler(lambda: server.memory_kb()[0], every=sample_every)
    sampler.start()
    slow, fast, many = Outcome(), Outcome(), Outcome()

    async def trickle() -> None:
        until = time.monotonic() + seconds
        readers = [
            slow_reader(
                server.port,
                "/stable/large.bin",
                ("identity", "deflate")[i % 2],
                large,
                chunk=chunk,
                interval=interval,
                until=until,
                outcome=slow,
            )
            for i in range(slow_clients)
        ]
        await asyncio.gather(
            *readers, fast_probes(server.port, small[0][0], small[0][1], until, 0.05, fast)
        )

    asyncio.run(trickle())
    slow_peak = sampler.peak
    start = time.monotonic()
    asyncio.run(storm(server.port, small, storm_connections, 3, many))
    storm_seconds = time.monotonic() - start
    peak = sampler.stop()
    deadline = time.monotonic() + settle_seconds
    while server.open_fds() > fds_before + 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    return SlowAndStorm(
        warm=warm,
        slow=slow,
        fast=fast,
        many=many,
        storm_seconds=storm_seconds,
        rss_before_kb=rss_before,
        slow_peak_kb=slow_peak,
        peak_kb=peak,
        rss_after_kb=server.memory_kb()[0],
        fds_before=fds_before,
        fds_after=server.open_fds(),
        alive=server.alive(),
    )
