"""Byte ranges end to end on all three representations (RFC 9110 §14, §15.3.7, §15.5.17)."""

from __future__ import annotations

import gzip
import re
import zlib

import httpx
import pytest

from tests.conftest import SiteRepos, cat_blob
from tests.e2e.conftest import Servers
from tests.git.fixtures import git

FILES = ("style.css", "data/big.txt", "data/log.txt", "data/random.bin")


def representation(coding: str, content: bytes, client: httpx.Client, url: str) -> bytes:
    """The full bytes of the selected representation, fetched raw and checked."""
    with client.stream("GET", url, headers={"accept-encoding": coding}) as response:
        body = b"".join(response.iter_raw())
    if coding == "gzip":
        assert gzip.decompress(body) == content
    elif coding == "deflate":
        assert zlib.decompress(body) == content
    else:
        assert body == content
    return body


def raw(client: httpx.Client, url: str, headers: dict[str, str]) -> tuple[httpx.Response, bytes]:
    with client.stream("GET", url, headers=headers) as response:
        body = b"".join(response.iter_raw())
    return response, body


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    boundary = re.search(r"boundary=(\S+)", content_type)
    assert boundary is not None
    delimiter = b"--" + boundary.group(1).encode()
    assert body.endswith(delimiter + b"--\r\n")
    parts = []
    for chunk in body.split(b"\r\n" + delimiter)[:-1]:
        chunk = chunk.removeprefix(delimiter)
        head, _, data = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        parts.append((fields[b"Content-Range"].decode(), data))
    return parts


@pytest.mark.parametrize("coding", ["identity", "gzip", "deflate"])
@pytest.mark.parametrize("form", ["gc", "whole"])
def test_single_and_multi_ranges(
    servers: Servers, site_repos: SiteRepos, form: str, coding: str
) -> None:
    base = servers(form)
    git_dir = getattr(site_repos, form)
    with httpx.Client(base_url=base) as client:
        for path in FILES:
            url = f"/main/{path}"
            content = cat_blob(git_dir, git(git_dir, "rev-parse", f"main:{path}").strip().decode())
            full = representation(coding, content, client, url)
            n = len(full)
            cases = {"bytes=0-0": (0, 1), "bytes=5-99": (5, min(100, n)),
                     f"bytes=-{n // 3}": (n - n // 3, n), f"bytes={n // 2}-": (n // 2, n),
                     f"bytes=10-{n * 5}": (10, n)}
            for spec, (start, stop) in cases.items():
                response, body = raw(client, url, {"accept-encoding": coding, "range": spec})
                assert response.status_code == 206, (url, spec)
                assert response.headers["content-range"] == f"bytes {start}-{stop - 1}/{n}"
                assert int(response.headers["content-length"]) == stop - start
                assert body == full[start:stop]
                assert response.headers["vary"] == "Accept-Encoding"
            # Several ranges, overlapping ones merged, kept in request order: multipart on
            # identity; a coded variant answers them with its whole 200 (RFC 9110 §14.2).
            spec = f"bytes={n - 10}-{n - 1},0-9,5-19"
            response, body = raw(client, url, {"accept-encoding": coding, "range": spec})
            assert int(response.headers["content-length"]) == len(body)
            if coding != "identity":
                assert response.status_code == 200
                assert response.headers["content-encoding"] == coding
                assert body == full
            else:
                assert response.status_code == 206
                assert "content-range" not in response.headers
                parts = parse_multipart(response.headers["content-type"], body)
                assert parts == [
                    (f"bytes {n - 10}-{n - 1}/{n}", full[n - 10:]),
                    (f"bytes 0-19/{n}", full[:20]),
                ]
            unsatisfiable, _ = raw(client, url, {"accept-encoding": coding,
                                                 "range": f"bytes={n}-"})
            assert unsatisfiable.status_code == 416
            assert unsatisfiable.headers["content-range"] == f"bytes */{n}"


def test_ignored_ranges_give_200(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        specs: list[bytes] = [b"bytes=abc", b"bytes=5-4", b"items=0-1", b"bytes=--1",
                              "bytes=\u0663-4".encode(), b"bytes=" + b",".join([b"0-0"] * 1000)]
        for spec in specs:
            response = client.get("/main/style.css", headers={b"range": spec})
            assert response.status_code == 200, spec


def test_if_range(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        headers = {"accept-encoding": "identity"}
        full = client.get("/main/style.css", headers=headers)
        etag = full.headers["etag"]
        hit = client.get("/main/style.css", headers={**headers, "range": "bytes=0-3",
                                                     "if-range": etag})
        assert hit.status_code == 206
        assert hit.content == full.content[:4]
        for stale in ('"other"', "W/" + etag, full.headers["last-modified"]):
            miss = client.get("/main/style.css", headers={**headers, "range": "bytes=0-3",
                                                          "if-range": stale})
            assert miss.status_code == 200
            assert miss.content == full.content


def test_empty_file_ignores_range(base: str) -> None:
    response = httpx.get(f"{base}/main/empty.txt",
                         headers={"range": "bytes=0-0", "accept-encoding": "identity"})
    assert response.status_code == 200
    assert response.content == b""


def test_identity_ranges_on_a_hot_large_blob_use_an_inflated_copy(base: str,
                                                                    site_repos: SiteRepos) -> None:
    path = "data/big.txt"
    content = cat_blob(site_repos.gc, git(site_repos.gc, "rev-parse", f"main:{path}")
                       .strip().decode())
    with httpx.Client(base_url=f"{base}/main/") as client:
        for i in range(6):
            start = len(content) // 2 + i * 1000
            response = client.get(path, headers={"accept-encoding": "identity",
                                                 "range": f"bytes={start}-{start + 99}"})
            assert response.status_code == 206
            assert response.content == content[start:start + 100]
