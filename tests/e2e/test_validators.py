"""Conditional requests end to end: 304s, 412s, If-Modified-Since (RFC 9110 §13)."""

from __future__ import annotations

import httpx

URL = "/main/style.css"


def test_if_none_match_each_variant(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        for coding in ("identity", "gzip", "deflate"):
            first = client.get(URL, headers={"accept-encoding": coding})
            etag = first.headers["etag"]
            again = client.get(URL, headers={"accept-encoding": coding, "if-none-match": etag})
            assert again.status_code == 304
            assert again.content == b""
            assert again.headers["etag"] == etag
            for field in ("vary", "cache-control", "date", "x-git-commit", "last-modified"):
                assert field in again.headers
            assert "content-length" not in again.headers or again.headers["content-length"] == "0"


def test_if_none_match_weak_and_lists_and_star(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        identity = client.get(URL, headers={"accept-encoding": "identity"}).headers["etag"]
        gz = client.get(URL, headers={"accept-encoding": "gzip"}).headers["etag"]
        # Weak comparison (§13.1.2): W/ on the client's tag still matches.
        weak = client.get(URL, headers={"accept-encoding": "identity",
                                        "if-none-match": "W/" + identity})
        assert weak.status_code == 304
        # The client holds identity but now accepts gzip too: 304 names the variant it has.
        held = client.get(URL, headers={"accept-encoding": "gzip, identity",
                                        "if-none-match": f'"nope", {identity}'})
        assert held.status_code == 304
        assert held.headers["etag"] == identity
        # A variant the request does not accept does not match.
        refused = client.get(URL, headers={"accept-encoding": "identity",
                                           "if-none-match": gz})
        assert refused.status_code == 200
        star = client.get(URL, headers={"if-none-match": "*"})
        assert star.status_code == 304
        garbage = client.get(URL, headers={"if-none-match": "not-a-tag"})
        assert garbage.status_code == 200


def test_if_modified_since(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        first = client.get(URL)
        last_modified = first.headers["last-modified"]
        assert client.get(URL, headers={"if-modified-since": last_modified}).status_code == 304
        old = "Mon, 01 Jan 2001 00:00:00 GMT"
        assert client.get(URL, headers={"if-modified-since": old}).status_code == 200
        assert client.get(URL, headers={"if-modified-since": "yesterday"}).status_code == 200
        # If-None-Match takes precedence over If-Modified-Since (§13.2.2).
        both = client.get(URL, headers={"if-modified-since": last_modified,
                                        "if-none-match": '"other"'})
        assert both.status_code == 200


def test_if_match(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        etag = client.get(URL, headers={"accept-encoding": "identity"}).headers["etag"]
        ok = client.get(URL, headers={"accept-encoding": "identity", "if-match": etag})
        assert ok.status_code == 200
        failed = client.get(URL, headers={"accept-encoding": "identity", "if-match": '"x"'})
        assert failed.status_code == 412


def test_304_beats_range(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        etag = client.get(URL, headers={"accept-encoding": "identity"}).headers["etag"]
        response = client.get(URL, headers={"accept-encoding": "identity",
                                            "if-none-match": etag, "range": "bytes=0-3"})
        assert response.status_code == 304


def test_head_matches_get(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        for path in ("/main/style.css", "/main/data/big.txt", "/main/data/log.txt", "/main/"):
            for coding in ("identity", "gzip", "deflate"):
                headers = {"accept-encoding": coding}
                get = client.get(path, headers=headers)
                head = client.head(path, headers=headers)
                assert head.status_code == get.status_code == 200
                assert head.content == b""
                for name, value in get.headers.items():
                    if name != "date":
                        assert head.headers.get(name) == value, (path, coding, name)
        # HEAD with Range: Range is defined for GET only (§14.2) -> 200 headers.
        head = client.head("/main/style.css", headers={"range": "bytes=0-1"})
        assert head.status_code == 200
