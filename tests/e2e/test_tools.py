"""Checks by tools we did not write: httplint on every response of a sweep, REDbot on
representative URLs (http-semantics.md §6). Neither may report anything BAD."""

from __future__ import annotations

import json
import shutil
import subprocess

import httpx
import pytest
from httplint import HttpRequestLinter, HttpResponseLinter
from httplint.note import levels

from tests.conftest import SiteRepos
from tests.git.fixtures import git

SWEEP_PATHS = (
    "/main/", "/main/style.css", "/main/app.js", "/main/data/big.txt", "/main/data/log.txt",
    "/main/data/random.bin", "/main/empty.txt", "/main/docs/", "/main/docs", "/main",
    "/main/nope", "/", "/-/healthz", "/v1/README.md", "/main/%zz",
)
SWEEP_HEADERS: tuple[dict[str, str], ...] = (
    {},
    {"accept-encoding": "gzip"},
    {"accept-encoding": "deflate"},
    {"accept-encoding": "identity", "range": "bytes=0-9"},
    {"accept-encoding": "gzip", "range": "bytes=0-9,20-29"},
    {"accept-encoding": "identity", "range": "bytes=0-9,20-29"},
    {"accept-encoding": "identity", "range": "bytes=999999999-"},
    {"accept-encoding": "identity;q=0"},
)


def lint(method: str, url: str, headers: dict[str, str], client: httpx.Client) -> list[str]:
    request = HttpRequestLinter()
    request.process_request_topline(method.encode(), url.encode(), b"HTTP/1.1")
    request.process_headers([(k.encode(), v.encode()) for k, v in headers.items()])
    request.finish_content(True)
    with client.stream(method, url, headers=headers) as response:
        body = b"".join(response.iter_raw())
    linter = HttpResponseLinter(_related=request, no_content=method == "HEAD")
    linter.process_response_topline(b"HTTP/1.1", str(response.status_code).encode(),
                                    response.reason_phrase.encode())
    linter.process_headers(response.headers.raw)
    linter.feed_content(body)
    linter.finish_content(True)
    names = [note.__class__.__name__ for note in linter.notes if note.level == levels.BAD]
    if response.headers.get("content-type", "").startswith("multipart/byteranges"):
        # httplint expects Content-Range on every 206; RFC 9110 §15.3.7.2 forbids it on the
        # multipart form (each part carries its own, which we check in test_ranges).
        names = [name for name in names if name != "PARTIAL_WITHOUT_RANGE"]
    return names


def test_httplint_sweep(base: str) -> None:
    problems = {}
    with httpx.Client(base_url=base) as client:
        for path in SWEEP_PATHS:
            for headers in SWEEP_HEADERS:
                for method in ("GET", "HEAD"):
                    bad = lint(method, base + path, headers, client)
                    if bad:
                        problems[(method, path, tuple(headers.items()))] = bad
    assert problems == {}


@pytest.fixture(scope="module")
def redbot() -> str:
    path = shutil.which("redbot")
    if path is None:
        pytest.skip("redbot is not installed (pip install redbot)")
    return path


def red_messages(redbot: str, url: str) -> list[tuple[str, str, str]]:
    out = subprocess.run([redbot, "-o", "har", url], capture_output=True, check=True,
                         timeout=120).stdout
    har = json.loads(out)
    found = []
    for entry in har["log"]["entries"]:
        for message in entry.get("_red_messages", []):
            found.append((message["level"], message["note_id"], message["summary"]))
    return found


def test_redbot_finds_nothing_bad(redbot: str, base: str, site_repos: SiteRepos) -> None:
    commit = git(site_repos.gc, "rev-parse", "main").strip().decode()
    urls = [
        f"{base}/main/style.css",  # a small blob (REDbot also revalidates and ranges it)
        f"{base}/main/data/big.txt",  # a large stored blob
        f"{base}/main/data/log.txt",  # a delta-stored blob, served from the made stream
        f"{base}/{commit}/app.js",  # immutable
        f"{base}/main/docs",  # a redirect
        f"{base}/main/docs/",  # a listing
    ]
    bad = {}
    for url in urls:
        messages = red_messages(redbot, url)
        assert messages, url
        found = [m for m in messages if m[0] == "BAD"]
        if found:
            bad[url] = found
    assert bad == {}
