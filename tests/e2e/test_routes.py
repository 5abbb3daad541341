"""URL grammar end to end: redirects, indexes, listings, refs index, service endpoints,
bad input, raw mode, CORS, SPA fallback and 404 pages."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import INDEX_HTML, NOT_FOUND_HTML, SiteRepos
from tests.e2e.conftest import Servers
from tests.git.fixtures import git


def raw_request(base: str, target: bytes) -> tuple[int, bytes]:
    """Send a request line httpx would normalise (``..``, bad escapes) over a raw socket."""
    parts = urlsplit(base)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status = int(data.split(b" ", 2)[1])
    return status, data


def test_redirects_add_the_slash(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        for path, location in (
            ("/main", "/main/"),
            ("/main/docs", "/main/docs/"),
            ("/feature/x", "/feature/x/"),
            ("/main/docs?a=1", "/main/docs/?a=1"),
        ):
            response = client.get(path)
            assert response.status_code == 301, path
            assert response.headers["location"] == location
            assert response.headers["vary"] == "Accept-Encoding"
            assert "x-git-commit" in response.headers


def test_directory_index_and_listing(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        root = client.get("/main/")
        assert root.status_code == 200
        assert root.content == INDEX_HTML
        assert root.headers["content-type"] == "text/html; charset=utf-8"
        blog = client.get("/main/blog/")
        assert b"blog index" in blog.content
        listing = client.get("/main/docs/")
        assert listing.status_code == 200
        assert listing.headers["content-type"] == "text/html; charset=utf-8"
        assert b'href="guide.txt"' in listing.content
        assert b'href="deep/"' in listing.content
        as_json = client.get("/main/docs/", headers={"accept": "application/json"})
        assert as_json.headers["content-type"] == "application/json"
        names = {e["name"]: e for e in as_json.json()["entries"]}
        assert names["guide.txt"]["size"] == len(b"guide\n" * 50)
        assert names["deep"]["type"] == "tree"
        assert names["up-style.css"]["type"] == "symlink"
        assert client.get("/main/docs/?format=json").json() == as_json.json()
        revalidated = client.get("/main/docs/", headers={"if-none-match": listing.headers["etag"]})
        assert revalidated.status_code == 304
        # The JSON names the commit: another commit with the same docs/ tree must not
        # revalidate against this listing.
        commit = as_json.json()["commit"]
        assert commit[:16] in as_json.headers["etag"]
        assert as_json.headers["etag"] != listing.headers["etag"]


def test_listing_escapes_names(base: str) -> None:
    page = httpx.get(f"{base}/main/vendor/")
    assert page.status_code == 200
    assert b"sub (submodule)" in page.content
    root = httpx.get(f"{base}/v1/", headers={"accept": "application/json"})
    assert root.status_code == 200  # v1 has an index.html: the index wins over the listing
    listing = httpx.get(f"{base}/main/data/")
    assert b"<script>" not in listing.content


def test_listings_disabled(servers: Servers) -> None:
    base = servers("gc", listings=False)
    assert httpx.get(f"{base}/main/docs/").status_code == 404
    assert httpx.get(f"{base}/main/blog/").status_code == 200


def test_refs_index(base: str, site_repos: SiteRepos) -> None:
    page = httpx.get(f"{base}/")
    assert page.status_code == 200
    assert b"refs/heads/feature/x" in page.content
    doc = httpx.get(f"{base}/?format=json").json()
    main = git(site_repos.gc, "rev-parse", "main").strip().decode()
    assert doc["refs"]["refs/heads/main"] == main
    assert doc["head"] == "refs/heads/main"
    assert "refs/tags/v1" in doc["refs"]


def test_service_endpoints(base: str) -> None:
    health = httpx.get(f"{base}/-/healthz")
    assert health.status_code == 200
    assert health.text == "ok\n"
    assert httpx.get(f"{base}/-/nothing").status_code == 404


def test_files_names_and_symlinks(base: str) -> None:
    with httpx.Client(base_url=base) as client:
        assert client.get("/main/name%20with%20space.txt").text == "spaces\n"
        assert client.get("/main/%C3%BCn%C3%AFcode.txt").text == "unicode \u00fc\n"
        assert client.get("/main/percent%2541.txt").text == "percent\n"
        assert client.get("/main/link-readme").content.startswith(b"# fixture")
        assert client.get("/main/docs/up-style.css").content.startswith(b"#box")
        assert client.get("/feature%2Fx/feature.txt").text == "feature branch\n"
        assert client.get("/refs/heads/feature/x/feature.txt").text == "feature branch\n"
        assert client.get("/HEAD/README.md").status_code == 200
        wasm_like = client.get("/main/data/random.bin")
        assert wasm_like.headers["content-type"] == "application/octet-stream"
        assert client.get("/main/app.js").headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize(
    ("target", "status"),
    [
        (b"/main/nope.txt", 404),
        (b"/no-such-ref/README.md", 404),
        (b"/main/README.md/", 404),
        (b"/main/vendor/sub", 404),  # a submodule: its commit lives elsewhere
        (b"/main/loop", 404),
        (b"/main/escape", 404),
        (b"/main/../etc/passwd", 400),
        (b"/main/%2e%2e/etc/passwd", 400),
        (b"/main/a%zz", 400),
        (b"/main/a%", 400),
        (b"/main/%00", 400),
        (b"/main/%0a", 400),
        (b"/main/%ff", 400),
        (b"/main//README.md", 400),
        (b"/main/a\\b", 400),
        (b"/" + b"a" * 5000, 414),
        (b"/ma..in/README.md", 400),
        (b"/main.lock/README.md", 400),
        (b"/0000/README.md", 404),
    ],
)
def test_bad_input_is_a_clear_4xx(base: str, target: bytes, status: int) -> None:
    got, data = raw_request(base, target)
    assert got == status, data[:300]
    assert b"text/plain" in data


def test_method_not_allowed(base: str) -> None:
    response = httpx.post(f"{base}/main/README.md")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"


def test_not_acceptable(base: str) -> None:
    response = httpx.get(f"{base}/main/README.md", headers={"accept-encoding": "identity;q=0"})
    assert response.status_code == 406
    star = httpx.get(f"{base}/main/README.md", headers={"accept-encoding": "br, *;q=0"})
    assert star.status_code == 406
    fine = httpx.get(f"{base}/main/README.md", headers={"accept-encoding": "br"})
    assert fine.status_code == 200
    assert "content-encoding" not in fine.headers


def test_raw_mode(servers: Servers) -> None:
    base = servers("gc", raw_mode=True)
    page = httpx.get(f"{base}/main/index.html")
    assert page.headers["content-type"] == "text/plain; charset=utf-8"
    assert "sandbox" in page.headers["content-security-policy"]
    script = httpx.get(f"{base}/main/app.js")
    assert script.headers["content-type"] == "text/plain; charset=utf-8"
    assert httpx.get(f"{base}/main/style.css").headers["content-type"].startswith("text/css")


def test_cors(servers: Servers, base: str) -> None:
    assert httpx.get(f"{base}/main/README.md").headers["access-control-allow-origin"] == "*"
    closed = servers("gc", cors_origin=None)
    assert "access-control-allow-origin" not in httpx.get(f"{closed}/main/README.md").headers
    one = servers("gc", cors_origin="https://example.org")
    response = httpx.get(f"{one}/main/README.md")
    assert response.headers["access-control-allow-origin"] == "https://example.org"


def test_spa_fallback_and_404_page(servers: Servers) -> None:
    base = servers("gc", spa_fallback=True)
    routed = httpx.get(f"{base}/main/some/client/route")
    assert routed.status_code == 200
    assert routed.content == INDEX_HTML
    pages = servers("gc", not_found_page=True)
    # main has no 404.html: the plain 404 answers; feature/x has one.
    plain = httpx.get(f"{pages}/main/missing")
    assert plain.status_code == 404
    assert plain.headers["content-type"] == "text/plain; charset=utf-8"
    page = httpx.get(f"{pages}/feature/x/missing/deeper")
    assert page.status_code == 404
    assert page.content == NOT_FOUND_HTML
    assert page.headers["content-type"] == "text/html; charset=utf-8"


def test_refs_index_revalidates(base: str) -> None:
    page = httpx.get(f"{base}/")
    again = httpx.get(f"{base}/", headers={"if-none-match": page.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_spa_fallback_covers_directories_without_an_index(servers: Servers) -> None:
    base = servers("gc", spa_fallback=True, listings=False)
    routed = httpx.get(f"{base}/main/docs/")
    assert routed.status_code == 200
    assert routed.content == INDEX_HTML
