"""Every file of several refs, in every storage form and coding, decodes to ``git cat-file``."""

from __future__ import annotations

import gzip
import zlib
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import SiteRepos, cat_blob, tree_files
from tests.e2e.conftest import Servers
from tests.git.fixtures import git

REFS = ("main", "feature/x", "v1", "light")


def raw_get(client: httpx.Client, url: str, coding: str) -> tuple[httpx.Response, bytes]:
    """GET without letting httpx decode the body: we check the coded bytes ourselves."""
    with client.stream("GET", url, headers={"accept-encoding": coding}) as response:
        body = b"".join(response.iter_raw())
    return response, body


def decode(response: httpx.Response, body: bytes) -> bytes:
    coding = response.headers.get("content-encoding")
    if coding == "gzip":
        return gzip.decompress(body)
    if coding == "deflate":
        # RFC 9110 §8.4.1.2: deflate is the zlib format; decompress() checks the Adler-32.
        return zlib.decompress(body)
    assert coding is None
    return body


@pytest.mark.parametrize("form", ["gc", "whole", "loose"])
def test_every_file_every_coding(servers: Servers, site_repos: SiteRepos, form: str) -> None:
    base = servers(form)
    git_dir = getattr(site_repos, form)
    with httpx.Client(base_url=base) as client:
        checked = 0
        for ref in REFS:
            files = tree_files(git_dir, ref)
            assert files
            for path, oid in files.items():
                expected = cat_blob(git_dir, oid)
                url = "/" + quote(ref) + "/" + quote(path)
                etags = set()
                for coding in ("identity", "gzip", "deflate"):
                    response, body = raw_get(client, url, coding)
                    assert response.status_code == 200, (url, coding)
                    wanted = None if coding == "identity" else coding
                    assert response.headers.get("content-encoding") == wanted
                    assert int(response.headers["content-length"]) == len(body)
                    assert "transfer-encoding" not in response.headers
                    assert response.headers["vary"] == "Accept-Encoding"
                    assert response.headers["accept-ranges"] == "bytes"
                    assert decode(response, body) == expected, (url, coding)
                    etags.add(response.headers["etag"])
                    checked += 1
                # One strong, distinct ETag per representation (RFC 9110 §8.8.1).
                assert len(etags) == 3
                assert f'"{oid}"' in etags
        assert checked > 100


def test_full_commit_id_url(base: str, site_repos: SiteRepos) -> None:
    oid = git(site_repos.gc, "rev-parse", "main").strip().decode()
    blob = git(site_repos.gc, "rev-parse", "main:README.md").strip().decode()
    response = httpx.get(f"{base}/{oid}/README.md")
    assert response.status_code == 200
    assert response.headers["cache-control"].startswith("public, max-age=31536000, immutable")
    assert response.headers["x-git-commit"] == oid
    assert response.content == cat_blob(site_repos.gc, blob)
    abbreviated = httpx.get(f"{base}/{oid[:10]}/README.md")
    assert abbreviated.status_code == 200
    assert abbreviated.headers["link"] == f'</{oid}/README.md>; rel="canonical"'


def test_delta_blob_is_served_from_a_stream_made_once(servers: Servers) -> None:
    """A delta-stored tip blob is deflated once; later answers send the same bytes."""
    base = servers("gc")
    first = httpx.get(f"{base}/main/data/log.txt", headers={"accept-encoding": "deflate"})
    again = httpx.get(f"{base}/main/data/log.txt", headers={"accept-encoding": "deflate"})
    # ".m" marks a stream we made (the tip of the shrinking log is a delta in the gc'd form).
    assert ".z.m" in first.headers["etag"]
    assert first.headers["etag"] == again.headers["etag"]
    assert first.content == again.content


@pytest.mark.parametrize("path", ["data/big.txt", "data/log.txt"], ids=["stored", "delta"])
def test_identity_stays_exact_while_its_inflated_copy_is_made(
    servers: Servers, site_repos: SiteRepos, path: str
) -> None:
    """Whole identity answers of a blob above the in-memory size, before, while and after
    the second one has an inflated copy made (then served from the copy's mapping)."""
    base = servers("gc")
    expected = cat_blob(site_repos.gc, git(site_repos.gc, "rev-parse", f"main:{path}")
                        .strip().decode())
    assert len(expected) > 64 * 1024
    with httpx.Client(base_url=base) as client:
        for _ in range(8):
            response, body = raw_get(client, f"/main/{path}", "identity")
            assert response.status_code == 200
            assert "content-encoding" not in response.headers
            assert body == expected
