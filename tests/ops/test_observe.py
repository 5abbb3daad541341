"""Metrics, the observing middleware and the access log, around a hand-written app."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from app.ops import accesslog
from app.ops.accesslog import AccessLog
from app.ops.metrics import CountingDiskCache, Metrics, endpoint
from app.ops.observe import ObserveRequests
from tests.servers import serving

GZ = gzip.compress(b"hello, world", mtime=0)


async def files(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers ``/gz`` gzip-coded in two body messages, ``/boom`` by raising, else 404."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/boom":
        raise RuntimeError("boom")
    if scope["path"] == "/gz":
        length = str(len(GZ)).encode()
        headers = [(b"content-encoding", b"gzip"), (b"content-length", length)]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": GZ[:5], "more_body": True})
        await send({"type": "http.response.body", "body": GZ[5:]})
        return
    await send({"type": "http.response.start", "status": 418, "headers": []})
    await send({"type": "http.response.body", "body": b"teapot"})


def scrape(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse a Prometheus text exposition: (name, sorted labels) -> value."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def requests(samples: dict[Any, float], status: str, representation: str) -> float:
    key = (("representation", representation), ("status", status))
    return samples[("packserve_requests_total", key)]


def test_requests_are_counted_by_status_and_representation() -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    scrape_app = endpoint(registry)

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == "/-/metrics":
            await scrape_app(scope, receive, send)
        else:
            await files(scope, receive, send)

    out = io.StringIO()
    log = AccessLog("json", out)
    observed = ObserveRequests(app, metrics=metrics, access_log=log)
    with serving(observed) as client:
        client.get("/gz")
        client.get("/gz", headers={"user-agent": 'quote"agent'})
        client.get("/tea?x=1")
        assert client.get("/boom").status_code == 500
        samples = scrape(client.get("/-/metrics").text)
    assert requests(samples, "200", "gzip") == 2
    assert requests(samples, "418", "identity") == 1
    assert requests(samples, "500", "identity") == 1
    gzip_label = (("representation", "gzip"),)
    assert samples[("packserve_response_body_bytes_total", gzip_label)] == 2 * len(GZ)
    assert samples[("packserve_request_duration_seconds_count", gzip_label)] == 2
    log.flush()  # what exit does for lines still waiting for their timer
    logged = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [(r["target"], r["status"], r["bytes"], r["representation"]) for r in logged[:4]] == [
        ("/gz", 200, len(GZ), "gzip"), ("/gz", 200, len(GZ), "gzip"),
        ("/tea?x=1", 418, 6, "identity"), ("/boom", 500, 0, "identity"),
    ]
    assert logged[1]["user_agent"] == 'quote"agent' and logged[0]["client"] == "127.0.0.1"


def test_one_process_and_shared_workers_expose_the_same_request_metrics() -> None:
    # The lock-free tally (one process) and prometheus-client's children (workers sharing
    # files) must be indistinguishable to a scraper, edge cases included: a latency exactly
    # on a bucket bound, one past the last bound, an unforeseen status and coding.
    responses = [(200, "gzip", 1924, 0.00004), (200, "gzip", 1924, 0.001),
                 (304, "identity", 0, 0.0002), (418, "br", 7, 30.0), (200, "deflate", 9, 2.5)]
    exposed = []
    for shared in (False, True):
        registry = CollectorRegistry()
        metrics = Metrics(registry, shared=shared)
        for response in responses:
            metrics.request(*response)
        samples = scrape(generate_latest(registry).decode())
        exposed.append({k: v for k, v in samples.items() if not k[0].endswith("_created")})
    tally, children = exposed
    assert tally == children
    le_1ms = (("le", "0.001"), ("representation", "gzip"))
    assert tally[("packserve_request_duration_seconds_bucket", le_1ms)] == 2
    odd = (("representation", "br"), ("status", "418"))
    assert tally[("packserve_requests_total", odd)] == 1
    assert tally[("packserve_request_duration_seconds_bucket",
                  (("le", "10.0"), ("representation", "br")))] == 0
    assert tally[("packserve_request_duration_seconds_count", (("representation", "br"),))] == 1
    assert requests(tally, "404", "deflate") == 0  # known series exist before they happen


def request_scope(
    raw_path: str, *, client: tuple[str, int] | None, host: bytes, agent: bytes = b""
) -> dict[str, Any]:
    """The ASGI scope of a GET the access log is told about."""
    headers = [(b"host", host), (b"accept", b"*/*")]
    if agent:
        headers.append((b"user-agent", agent))
    return {"type": "http", "method": "GET", "http_version": "1.1", "client": client,
            "path": raw_path, "raw_path": raw_path.encode(), "query_string": b"",
            "headers": headers}


def test_text_lines_follow_the_combined_format_and_escape_client_text() -> None:
    out = io.StringIO()
    log = AccessLog("text", out)
    log.request(request_scope("/main/a b", client=("10.0.0.1", 4321), host=b"h.example",
                              agent=b'evil"\nagent'), 206, 10, 0.0015, "identity")
    # Outside an event loop nothing waits: the line is written at once.
    (line,) = out.getvalue().splitlines()
    assert line.startswith('10.0.0.1 - - [')
    assert line.endswith(
        '] "GET /main/a b HTTP/1.1" 206 10 "-" "evil\\"\\nagent" 0.001500 identity h.example'
    )
    with pytest.raises(ValueError):
        AccessLog("xml")


def test_disk_cache_lookups_and_derivations_are_counted(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    disk = CountingDiskCache(tmp_path, 1 << 20, metrics)
    assert disk.map("ab" * 20 + ".crc") is None
    disk.put("ab" * 20 + ".crc", [b"12345678"])
    assert disk.read("ab" * 20 + ".crc", 64) == b"12345678"
    disk.put("cd" * 20 + ".zz", [b"stream"])
    disk.put("ef" * 20 + ".raw", [b"content"])

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("packserve_cache_lookups_total", cache="crc", result="miss") == 1
    assert value("packserve_cache_lookups_total", cache="crc", result="hit") == 1
    assert value("packserve_inflates_total", reason="crc") == 1
    assert value("packserve_inflates_total", reason="raw") == 1
    assert value("packserve_delta_resolutions_total") == 1


def test_lines_are_written_together_and_soon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accesslog, "FLUSH_DELAY", 0.05)
    monkeypatch.setattr(accesslog, "MAX_PENDING", 3)
    out = io.StringIO()
    log = AccessLog("text", out)
    scope = request_scope("/", client=None, host=b"h")

    def write() -> None:
        log.request(scope, 200, 1, 0.0, "identity")

    async def serve() -> list[int]:
        seen = []
        write()
        write()
        seen.append(len(out.getvalue().splitlines()))  # buffered: no syscall per line
        await anyio.sleep(0.2)
        seen.append(len(out.getvalue().splitlines()))  # the timer wrote them
        for _ in range(3):
            write()
        seen.append(len(out.getvalue().splitlines()))  # a full buffer is written at once
        return seen

    assert anyio.run(serve) == [0, 2, 5]
