"""The corrupt corpus served by a real ``packserve serve`` process on a real socket.

For every case: each URL the corruption affects answers a clear 5xx or 404 within
``REQUEST_SECONDS``; each unaffected URL answers 200 with git's exact bytes in identity,
gzip and deflate; the process survives, ``/-/healthz`` still answers, and its peak RSS stays
under ``PEAK_RSS_KB``. (``/-/healthz`` may answer 503 when the whole ref store is garbage.)
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.faults.corpus import CASES, Corrupted, State
from tests.faults.server import Server
from tests.faults.wire import decode

REQUEST_SECONDS = 10.0
PEAK_RSS_KB = 400 * 1024
SAMPLE = 15  # unaffected URLs per case (every affected URL is requested)
ENCODINGS = ("identity", "gzip", "deflate")


class Fetched:
    """One response read to the end, or the transport error that cut it short."""

    def __init__(
        self,
        status: int,
        headers: httpx.Headers,
        body: bytes,
        seconds: float,
        error: str | None = None,
    ) -> None:
        self.status = status
        self.headers = headers
        self.body = body
        self.seconds = seconds
        self.error = error

    def content(self) -> bytes:
        """The decoded body; raises when the coding does not decode exactly."""
        return decode(self.headers.get("content-encoding"), self.body)


def fetch(
    client: httpx.Client,
    path: str,
    encoding: str = "identity",
    headers: dict[str, str] | None = None,
) -> Fetched:
    """GET ``path`` with ``Accept-Encoding: encoding``; raw (undecoded) body."""
    start = time.monotonic()
    sent = {"accept-encoding": encoding, **(headers or {})}
    try:
        with client.stream("GET", path, headers=sent) as response:
            body = b"".join(response.iter_raw())
            return Fetched(response.status_code, response.headers, body, time.monotonic() - start)
    except httpx.HTTPError as exc:
        return Fetched(0, httpx.Headers(), b"", time.monotonic() - start, repr(exc))


def url_of(url_path: str) -> str:
    """The request path for a corpus URL (``<ref>/<path>``)."""
    return "/" + quote(url_path, safe="/")


def _sample(urls: list[str], count: int) -> list[str]:
    step = max(1, len(urls) // count)
    return urls[::step][:count]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_served_corpus(name: str, corrupt: Callable[[str], Corrupted], tmp_path: Path) -> None:
    corrupted = corrupt(name)
    base = corrupted.base
    passing = _sample(corrupted.urls_by_state(State.PASS), SAMPLE)
    plan = [(u, State.FAIL) for u in corrupted.urls_by_state(State.FAIL)]
    plan += [(u, State.MAY) for u in _sample(corrupted.urls_by_state(State.MAY), SAMPLE)]
    plan += [(u, State.PASS) for u in passing]
    problems: list[str] = []
    with (
        Server(corrupted.root, tmp_path / "server") as server,
        httpx.Client(base_url=server.url, timeout=REQUEST_SECONDS) as client,
    ):
        for url, state in plan:
            facts = base.urls.get(url)
            want = base.objects[facts.blob][1] if facts else None
            for encoding in ENCODINGS:
                got = fetch(client, url_of(url), encoding)
                what = f"{state.name} {url} [{encoding}]"
                if got.seconds >= REQUEST_SECONDS:
                    problems.append(f"{what}: took {got.seconds:.1f}s")
                clear_error = got.status == 404 or 500 <= got.status < 600
                if got.error is not None:
                    problems.append(f"{what}: transport error {got.error}")
                elif state == State.FAIL and not clear_error:
                    problems.append(f"{what}: answered {got.status}, not a clear 5xx/404")
                elif state == State.PASS and got.status != 200:
                    problems.append(f"{what}: answered {got.status}")
                elif got.status == 200:
                    try:
                        ok = got.content() == want
                    except (OSError, ValueError, zlib.error, EOFError) as exc:
                        ok, what = False, f"{what} ({exc!r})"
                    if not ok:
                        problems.append(f"{what}: 200 with wrong bytes")
                elif not clear_error:
                    problems.append(f"{what}: answered {got.status}")
        assert server.alive(), "the server process died"
        health = client.get("/-/healthz").status_code
        assert health == 200 or (corrupted.case.breaks_refs and health == 503), health
        for url in passing[:3]:
            assert fetch(client, url_of(url)).body == base.objects[base.urls[url].blob][1]
        peak = server.memory_kb()[1]
    assert not problems, "\n".join(problems[:40])
    assert peak < PEAK_RSS_KB, f"server peak RSS {peak // 1024} MiB"
