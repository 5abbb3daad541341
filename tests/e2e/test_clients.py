"""Real clients against a real socket: curl (gzip and deflate), httpx, headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import SiteRepos, cat_blob, tree_files
from tests.e2e.conftest import Servers

# What Chromium sends on every request (checked below against the coding we choose).
CHROMIUM_ACCEPT_ENCODING = "gzip, deflate, br, zstd"


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (CI installs it with apt-get)")
    return path


def curl(*args: str) -> tuple[dict[str, str], bytes]:
    """Run curl, returning the final response's headers and its (decoded) body."""
    proc = subprocess.run([binary("curl"), "-sS", "-D", "-", *args], capture_output=True,
                          check=True, timeout=60)
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


@pytest.mark.parametrize("form", ["gc", "whole"])
def test_curl_compressed_gzip_and_deflate(servers: Servers, site_repos: SiteRepos,
                                          form: str) -> None:
    base = servers(form)
    git_dir = getattr(site_repos, form)
    for path in ("style.css", "data/big.txt", "data/log.txt", "data/random.bin", "empty.txt"):
        oid = tree_files(git_dir, "main")[path]
        expected = cat_blob(git_dir, oid)
        headers, body = curl("--compressed", f"{base}/main/{path}")
        assert headers["content-encoding"] == "gzip"
        assert body == expected
        headers, body = curl("--compressed", "-H", "Accept-Encoding: deflate",
                             f"{base}/main/{path}")
        assert headers["content-encoding"] == "deflate"
        assert body == expected
        headers, body = curl("-r", "0-99", f"{base}/main/{path}")
        assert body == expected[:100]


def test_httpx_decodes_both_codings(base: str, site_repos: SiteRepos) -> None:
    oid = tree_files(site_repos.gc, "main")["data/big.txt"]
    expected = cat_blob(site_repos.gc, oid)
    for coding in ("gzip", "deflate"):
        response = httpx.get(f"{base}/main/data/big.txt", headers={"accept-encoding": coding})
        assert response.headers["content-encoding"] == coding
        assert response.content == expected


def chromium_dom(url: str, profile: Path) -> str:
    proc = subprocess.run(
        [binary("chromium"), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--dump-dom", url],
        capture_output=True, check=True, timeout=120,
    )
    return proc.stdout.decode()


@pytest.mark.parametrize(
    ("codings", "expected"),
    [(None, "gzip"), (("deflate", "gzip", "identity"), "deflate")],
)
def test_chromium_renders_a_page_with_coded_css_and_js(
    servers: Servers, tmp_path: Path, codings: tuple[str, ...] | None, expected: str
) -> None:
    base = servers("gc", codings=codings) if codings else servers("gc")
    # The CSS and JS reach Chromium in the coding we expect for its Accept-Encoding...
    for asset in ("style.css", "app.js"):
        response = httpx.get(f"{base}/main/{asset}",
                             headers={"accept-encoding": CHROMIUM_ACCEPT_ENCODING})
        assert response.headers["content-encoding"] == expected
    # ...and it decodes them: the script ran and saw the stylesheet's colour.
    dom = chromium_dom(f"{base}/main/", tmp_path / "profile")
    assert "js-ran color=rgb(1, 2, 3)" in dom
