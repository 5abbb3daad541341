"""Hypothesis-driven requests against the whole ASGI app (``app.ops.server.build_app``).

Paths (traversal in every encoding, odd names, symlinks that escape or loop), ref names,
and the headers that select bytes (Range, If-Range, If-None-Match, Accept-Encoding, Host).
For every request:

- never a 5xx on this pristine repository, never an exception out of the app;
- never a byte from outside the tree (the marker files never appear) and never a redirect
  off-site (``Location`` is a local path, never ``//host``);
- ``Content-Length`` is the body's length; 304 has no body;
- every 200/206 for a file is exactly the blob its ETag names (decoded from gzip/deflate,
  or the right slice of the selected representation for single and multipart ranges), and
  that blob belongs to the repository's trees.

Deterministic: ``derandomize=True``, no example database, bounded ``max_examples``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from app.config import Settings
from app.ops.server import build_app
from tests.faults.asgi import AsgiDriver, AsgiResponse
from tests.faults.hostile import MARKERS, HostileRepo
from tests.faults.wire import decode

FUZZ = settings(
    derandomize=True,
    database=None,
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_ETAG_ID = re.compile(r'^(?:W/)?"([0-9a-f]{40})')
_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+)$")


@pytest.fixture(scope="module")
def driver(hostile: HostileRepo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsgiDriver]:
    """The production app composition over the hostile repository, lifespan running."""
    settings = Settings(
        repository=hostile.root,
        cache_dir=Path(tmp_path_factory.mktemp("fuzz-cache")),
        access_log="off",
        metrics=False,
    )
    with AsgiDriver(build_app(settings)) as running:
        yield running


# -- strategies ----------------------------------------------------------------------------

TRAVERSAL = [
    "..",
    ".",
    "%2e%2e",
    "%2E%2e",
    ".%2e",
    "%2e.",
    "%2e",
    "%2f",
    "%2F",
    "%5c",
    "%5C",
    "\\",
    "..\\..",
    "..%5c..",
    "%c0%ae%c0%ae",
    "%c0%af",
    "%e0%80%ae",
    "%c1%9c",
    "%00",
    "%00.txt",
    "%",
    "%zz",
    "%2",
    "",
    "~",
    "%252e%252e",
    "..%2f..%2f..%2fetc%2fpasswd",
    "%2e%2e%2f",
    "etc",
    "passwd",
    "/etc/passwd",
    "%2fetc%2fpasswd",
    ";",
    "%3b",
    "%3f",
    "%23",
    "%0d%0a",
    "%ff",
    "%fe%ff",
    "\u2025".encode().decode("latin-1"),
    "%e2%80%a5",
    "%ef%bc%8e%ef%bc%8e",
    ".git",
    "%2egit",
    ".git%2fconfig",
    "*",
    "%2a",
    "a" * 300,
    "%20",
    "+",
]


def _ascii_path(text: str) -> str:
    return quote(text, safe="/%\\;~*+")


def segments(repo: HostileRepo) -> st.SearchStrategy[str]:
    """One path segment: a real name, a traversal trick, or arbitrary text."""
    real = sorted({part for path in repo.paths for part in path.split("/")})
    return st.one_of(
        st.sampled_from([_ascii_path(name) for name in real]),
        st.sampled_from(TRAVERSAL),
        st.text(max_size=10).map(_ascii_path),
    )


def refs(repo: HostileRepo) -> st.SearchStrategy[str]:
    """A ref spelling: real, explicit, partial, revision syntax, or garbage."""
    return st.one_of(
        st.sampled_from(sorted(repo.refs)),
        st.sampled_from(
            [
                "refs/heads/main",
                "refs/tags/v1",
                "refs%2fheads%2fmain",
                "feature%2fx",
                "nonexist",
                "mai",
                "HEAD~1",
                "main^",
                "main@{0}",
                "main..feature",
                "%2e%2e",
                "-",
                "0000",
                "refs",
                "refs/heads",
                "v1^{}",
                "MAIN",
                "",
                "..",
            ]
        ),
        st.text(alphabet="0123456789abcdef", min_size=4, max_size=41),
    )


def paths(repo: HostileRepo) -> st.SearchStrategy[bytes]:
    """A raw request target (ASCII bytes)."""
    return st.builds(
        lambda ref, segs, sep, tail: ("/" + ref + "/" + sep.join(segs) + tail).encode(),
        refs(repo),
        st.lists(segments(repo), max_size=6),
        st.sampled_from(["/", "/", "/", "//", "\\", "%2f"]),
        st.sampled_from(["", "", "/", "?", "?x=1", "#frag", "%00"]),
    )


def ranges() -> st.SearchStrategy[str]:
    """Range header values: valid, overlapping, many, malformed, huge."""
    n = st.integers(min_value=0, max_value=400_000)
    one = st.one_of(
        st.builds(lambda a, b: f"{a}-{b}", n, n),
        st.builds(lambda a: f"{a}-", n),
        st.builds(lambda a: f"-{a}", n),
        st.sampled_from(
            [
                "0-0",
                "-1",
                "0-",
                "5-2",
                "-0",
                "00-01",
                "1-1",
                " 0-1",
                "0- 1",
                "99999999999999999999-",
                "-99999999999999999999",
                "a-b",
                "",
                "\u0660-\u0661",
            ]
        ),
    )
    return st.one_of(
        st.builds(lambda parts: "bytes=" + ",".join(parts), st.lists(one, min_size=1, max_size=5)),
        st.builds(lambda k: "bytes=" + ",".join(["0-0"] * k), st.integers(0, 300)),
        st.sampled_from(["items=0-1", "bytes", "bytes=", "BYTES=0-1", "bytes =0-1", "0-1"]),
        st.text(max_size=20),
    )


def etags(repo: HostileRepo) -> st.SearchStrategy[str]:
    """Entity tags: real blob ids (strong, weak, coded), lists, ``*``, junk."""
    ids = sorted(repo.blobs)[:20]
    tag = st.one_of(
        st.sampled_from(ids).map(lambda h: f'"{h}"'),
        st.sampled_from(ids).map(lambda h: f'W/"{h}"'),
        st.sampled_from(ids).map(lambda h: f'"{h}.gz.p0"'),
        st.sampled_from(['"x"', "*", "W/", '"', "", "unquoted"]),
    )
    return st.one_of(tag, st.lists(tag, max_size=4).map(", ".join), st.text(max_size=20))


def accept_encodings() -> st.SearchStrategy[str]:
    """Accept-Encoding values with q-values, wildcards and junk."""
    token = st.sampled_from(
        ["gzip", "deflate", "identity", "br", "*", "x-gzip", "compress", "zstd", "GZIP", ""]
    )
    q = st.sampled_from(
        [
            "",
            ";q=0",
            ";q=1",
            ";q=0.5",
            ";q=0.001",
            ";q=abc",
            ";q=1.5",
            ";q=-1",
            ";q=0.0000",
            "; q=0",
        ]
    )
    item = st.builds(lambda t, w: t + w, token, q)
    return st.one_of(st.lists(item, max_size=5).map(", ".join), st.text(max_size=15))


def dates() -> st.SearchStrategy[str]:
    """HTTP dates, valid and not."""
    return st.sampled_from(
        [
            "Mon, 14 Sep 2020 04:26:40 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT",
            "Fri, 31 Dec 9999 23:59:59 GMT",
            "yesterday",
            "",
            "Sun, 06 Nov 1994 08:49:37 GMT",
        ]
    )


def header_sets(repo: HostileRepo) -> st.SearchStrategy[list[tuple[bytes, bytes]]]:
    """A request's headers: Host plus any of the byte-selecting headers."""
    host = st.sampled_from(
        [
            b"127.0.0.1:8000",
            b"localhost",
            b"",
            b"a" * 300,
            b"evil.example",
            b"[::1]",
            b"ex ample",
            b"\xff\xfe",
            b"main.preview.example",
        ]
    )
    optional = st.fixed_dictionaries(
        {},
        optional={
            b"range": ranges(),
            b"if-range": st.one_of(etags(repo), dates()),
            b"if-none-match": etags(repo),
            b"if-modified-since": dates(),
            b"accept-encoding": accept_encodings(),
            b"accept": st.sampled_from(["application/json", "text/html", "*/*", "junk"]),
        },
    )
    return st.builds(
        lambda h, rest: [(b"host", h)] + [(k, v.encode("utf-8")) for k, v in rest.items()],
        host,
        optional,
    )


# -- the oracle ----------------------------------------------------------------------------


def _full_representation(
    driver: AsgiDriver, target: bytes, headers: list[tuple[bytes, bytes]], etag: str
) -> tuple[bytes, str | None]:
    """The whole selected representation and its coding (the request without ranges)."""
    keep = [
        (k, v)
        for k, v in headers
        if k not in (b"range", b"if-range", b"if-none-match", b"if-modified-since")
    ]
    full = driver.request(target, keep)
    assert full.status == 200, f"full representation answered {full.status}"
    assert full.header("etag") == etag, "the full representation has another ETag"
    return full.body, full.header("content-encoding")


def _multipart(resp: AsgiResponse) -> list[tuple[int, int, int, bytes]]:
    """(first, last, total, bytes) of each part of a multipart/byteranges body."""
    ctype = resp.header("content-type") or ""
    boundary = ctype.split("boundary=", 1)[1].strip('"').encode()
    parts = []
    for chunk in resp.body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, data = chunk.partition(b"\r\n\r\n")
        match = re.search(rb"content-range: bytes (\d+)-(\d+)/(\d+)", head, re.IGNORECASE)
        assert match, f"part without Content-Range: {head!r}"
        first, last, total = (int(g) for g in match.groups())
        parts.append((first, last, total, data[: last - first + 1]))
        assert data[last - first + 1 :] == b"\r\n", "part body longer than its range"
    return parts


def check(
    driver: AsgiDriver,
    repo: HostileRepo,
    target: bytes,
    headers: list[tuple[bytes, bytes]],
    method: str,
    resp: AsgiResponse,
) -> None:
    """Every property of the module docstring for one request/response."""
    what = f"{method} {target!r} {headers!r} -> {resp.status}"
    event(f"status {resp.status}")
    assert resp.status < 500, what
    everything = resp.body + b"".join(k + v for k, v in resp.headers)
    for marker in MARKERS:
        assert marker not in everything, f"{what}: content from outside the tree"
    location = resp.header("location")
    if location is not None:
        assert location.startswith("/") and not location.startswith(("//", "/\\")), (
            f"{what}: redirect off-site to {location!r}"
        )
    length = resp.header("content-length")
    # A body sent for HEAD is dropped by uvicorn itself, so it is not checked here.
    if resp.status == 304:
        assert resp.body == b"", f"{what}: body on a 304"
    elif method != "HEAD":
        assert length is not None and int(length) == len(resp.body), f"{what}: Content-Length"
    if resp.status not in (200, 206) or method == "HEAD":
        return
    match = _ETAG_ID.match(resp.header("etag") or "")
    if match is None or match.group(1) not in repo.blobs:
        return  # a listing or the refs page: not a file
    content = repo.blobs[match.group(1)]
    coding = resp.header("content-encoding")
    etag = resp.header("etag") or ""
    if resp.status == 200:
        assert decode(coding, resp.body) == content, f"{what}: wrong bytes"
        return
    # Slices of a coded variant are only meaningful with its coding named (RFC 9110
    # §15.3.7); test_multipart_of_a_coded_variant_is_labelled pins that down.
    coded = coding not in (None, "identity")
    rep, rep_coding = content, coding
    if coded:
        rep, rep_coding = _full_representation(driver, target, headers, etag)
    assert decode(rep_coding, rep) == content, f"{what}: representation does not decode"
    content_range = resp.header("content-range")
    if content_range is not None:
        found = _RANGE.match(content_range)
        assert found, f"{what}: Content-Range {content_range!r}"
        first, last, total = (int(g) for g in found.groups())
        assert total == len(rep) and resp.body == rep[first : last + 1], f"{what}: wrong slice"
        return
    for first, last, total, data in _multipart(resp):
        assert total == len(rep) and data == rep[first : last + 1], f"{what}: wrong part"


# -- tests ---------------------------------------------------------------------------------


@pytest.mark.timeout(180)
def test_fuzzed_requests(driver: AsgiDriver, hostile: HostileRepo) -> None:
    @FUZZ
    @given(
        target=paths(hostile),
        headers=header_sets(hostile),
        method=st.sampled_from(["GET", "GET", "GET", "HEAD"]),
    )
    def run(target: bytes, headers: list[tuple[bytes, bytes]], method: str) -> None:
        resp = driver.request(target, headers, method)
        check(driver, hostile, target, headers, method, resp)

    run()


@pytest.mark.timeout(180)
def test_fuzzed_headers_on_real_files(driver: AsgiDriver, hostile: HostileRepo) -> None:
    """Header fuzzing aimed at URLs that exist, so ranges and codings are really exercised."""
    files = [p for p in hostile.paths if "." in p.rsplit("/", 1)[-1]]

    @FUZZ
    @given(
        ref=st.sampled_from(sorted(hostile.refs)),
        path=st.sampled_from(files),
        headers=header_sets(hostile),
    )
    def run(ref: str, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        target = ("/" + ref + "/" + quote(path)).encode()
        resp = driver.request(target, headers)
        check(driver, hostile, target, headers, "GET", resp)

    run()


@pytest.mark.timeout(180)
def test_fuzzed_ranges_on_every_coding(driver: AsgiDriver, hostile: HostileRepo) -> None:
    """Ranges (single, multiple, If-Range) on each coding, where slices are easiest to get
    wrong: a gzip or deflate range indexes the coded bytes, not the content."""
    files = [p for p in hostile.paths if p.endswith((".txt", ".md", ".bin", ".html"))]
    coding = st.sampled_from(
        [
            "gzip",
            "deflate",
            "identity",
            "gzip, deflate",
            "deflate;q=0.9",
            "gzip;q=0.1, identity;q=0",
        ]
    )

    @FUZZ
    @given(
        ref=st.sampled_from(sorted(hostile.refs)),
        path=st.sampled_from(files),
        accept=coding,
        spec=ranges(),
        if_range=st.one_of(st.none(), etags(hostile)),
    )
    def run(ref: str, path: str, accept: str, spec: str, if_range: str | None) -> None:
        target = ("/" + ref + "/" + quote(path)).encode()
        headers = [
            (b"host", b"127.0.0.1"),
            (b"accept-encoding", accept.encode()),
            (b"range", spec.encode()),
        ]
        if if_range is not None:
            headers.append((b"if-range", if_range.encode()))
        check(driver, hostile, target, headers, "GET", driver.request(target, headers))

    run()


def test_multipart_of_a_coded_variant_is_labelled(driver: AsgiDriver, hostile: HostileRepo) -> None:
    """Several ranges with gzip acceptable: whatever comes back must say how it is coded."""
    target = b"/main/README.md"
    headers = [(b"host", b"127.0.0.1"), (b"accept-encoding", b"gzip"), (b"range", b"bytes=0-0,2-")]
    resp = driver.request(target, headers)
    content = hostile.blobs[hostile.files["README.md"]]
    if resp.status == 200:
        assert decode(resp.header("content-encoding"), resp.body) == content
        return
    assert resp.status == 206
    coding = resp.header("content-encoding")
    rep = (
        content
        if coding in (None, "identity")
        else _full_representation(driver, target, headers, resp.header("etag") or "")[0]
    )
    for first, last, _total, data in _multipart(resp):
        assert data == rep[first : last + 1], "parts are not slices of the labelled coding"
