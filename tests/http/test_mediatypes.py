"""Content-Type table, raw mode and security headers."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.http.mediatypes import (
    OCTET_STREAM,
    RAW_MODE_CSP,
    content_type,
    raw_content_type,
    security_headers,
)

U = "; charset=utf-8"

CONTENT_TYPE_CASES = [
    ("index.html", "text/html" + U),
    ("a.htm", "text/html" + U),
    ("a.xhtml", "application/xhtml+xml" + U),
    ("style.css", "text/css" + U),
    ("app.js", "text/javascript" + U),  # RFC 9239
    ("app.mjs", "text/javascript" + U),
    ("app.cjs", "text/javascript" + U),
    ("data.json", "application/json"),  # no charset parameter for JSON (RFC 8259 §11)
    ("app.js.map", "application/json"),
    ("site.webmanifest", "application/manifest+json"),
    ("feed.xml", "application/xml" + U),
    ("logo.svg", "image/svg+xml"),
    ("notes.txt", "text/plain" + U),
    ("README.md", "text/markdown" + U),
    ("data.csv", "text/csv" + U),
    ("data.tsv", "text/tab-separated-values" + U),
    ("mod.wasm", "application/wasm"),
    ("a.avif", "image/avif"),
    ("a.webp", "image/webp"),
    ("a.png", "image/png"),
    ("a.jpg", "image/jpeg"),
    ("a.jpeg", "image/jpeg"),
    ("a.gif", "image/gif"),
    ("favicon.ico", "image/vnd.microsoft.icon"),
    ("a.bmp", "image/bmp"),
    ("a.tiff", "image/tiff"),
    ("a.apng", "image/apng"),
    ("a.jxl", "image/jxl"),
    ("f.woff", "font/woff"),
    ("f.woff2", "font/woff2"),
    ("f.ttf", "font/ttf"),
    ("f.otf", "font/otf"),
    ("f.eot", "application/vnd.ms-fontobject"),
    ("v.mp4", "video/mp4"),
    ("v.webm", "video/webm"),
    ("a.ogg", "audio/ogg"),
    ("a.oga", "audio/ogg"),
    ("v.ogv", "video/ogg"),
    ("a.mp3", "audio/mpeg"),
    ("a.wav", "audio/wav"),
    ("a.flac", "audio/flac"),
    ("a.m4a", "audio/mp4"),
    ("a.opus", "audio/ogg"),
    ("doc.pdf", "application/pdf"),
    ("a.zip", "application/zip"),
    ("a.gz", "application/gzip"),
    ("a.tar.gz", "application/gzip"),
    ("a.tgz", "application/gzip"),
    ("a.tar", "application/x-tar"),
    ("a.bz2", "application/x-bzip2"),
    ("a.xz", "application/x-xz"),
    ("a.zst", "application/zstd"),
    ("a.7z", "application/x-7z-compressed"),
    ("a.jar", "application/java-archive"),
    ("pkg-1.0-py3-none-any.whl", "application/zip"),
    ("c.yaml", "application/yaml"),
    ("c.yml", "application/yaml"),
    ("pyproject.toml", "application/toml"),
    ("setup.ini", "text/plain" + U),
    ("run.sh", "text/plain" + U),
    ("main.py", "text/plain" + U),
    ("lib.rs", "text/plain" + U),
    ("main.go", "text/plain" + U),
    ("a.c", "text/plain" + U),
    ("a.h", "text/plain" + U),
    ("index.ts", "text/plain" + U),  # TypeScript, not video/mp2t
    ("types.d.ts", "text/plain" + U),
    ("App.tsx", "text/plain" + U),
    ("App.jsx", "text/plain" + U),
    ("App.vue", "text/plain" + U),
    ("clip.m2ts", "video/mp2t"),
    ("cal.ics", "text/calendar" + U),
    ("subs.vtt", "text/vtt" + U),
    ("subs.srt", "text/plain" + U),
    ("feed.rss", "application/rss+xml" + U),
    ("feed.atom", "application/atom+xml" + U),
    ("book.epub", "application/epub+zip"),
    ("m.glb", "model/gltf-binary"),
    ("m.gltf", "model/gltf+json"),
    ("m.usdz", "model/vnd.usdz+zip"),
    # case-insensitive extensions, paths
    ("INDEX.HTML", "text/html" + U),
    ("Photo.JPG", "image/jpeg"),
    ("dir.d/sub/app.Mjs", "text/javascript" + U),
    ("x.json/file", OCTET_STREAM),  # only the last segment counts
    # well-known names
    ("README", "text/plain" + U),
    ("LICENSE", "text/plain" + U),
    ("license", "text/plain" + U),
    ("COPYING", "text/plain" + U),
    ("Makefile", "text/plain" + U),
    ("Dockerfile", "text/plain" + U),
    ("Dockerfile.dev", "text/plain" + U),
    ("docs/CHANGELOG", "text/plain" + U),
    ("LICENSE.md", "text/markdown" + U),  # the extension wins when known
    (".gitignore", "text/plain" + U),
    (".editorconfig", "text/plain" + U),
    # unknown
    ("a.unknownext", OCTET_STREAM),
    ("binaryblob", OCTET_STREAM),
    ("", OCTET_STREAM),
    ("trailingdot.", OCTET_STREAM),
    ("a.", OCTET_STREAM),
]


@pytest.mark.parametrize(("name", "expected"), CONTENT_TYPE_CASES)
def test_content_type(name: str, expected: str) -> None:
    assert content_type(name) == expected


RAW_CASES = [
    ("index.html", "text/plain" + U),
    ("a.htm", "text/plain" + U),
    ("a.xhtml", "text/plain" + U),
    ("logo.svg", "text/plain" + U),
    ("feed.xml", "text/plain" + U),
    ("t.xsl", "text/plain" + U),
    ("feed.rss", "text/plain" + U),
    ("feed.atom", "text/plain" + U),
    ("app.js", "text/plain" + U),
    ("app.mjs", "text/plain" + U),
    ("app.cjs", "text/plain" + U),
    # unchanged in raw mode
    ("style.css", "text/css" + U),
    ("data.json", "application/json"),
    ("a.png", "image/png"),
    ("mod.wasm", "application/wasm"),
    ("doc.pdf", "application/pdf"),
    ("README", "text/plain" + U),
    ("blob", OCTET_STREAM),
]


@pytest.mark.parametrize(("name", "expected"), RAW_CASES)
def test_raw_content_type(name: str, expected: str) -> None:
    assert raw_content_type(name) == expected


def test_raw_mode_never_serves_an_active_type() -> None:
    active = ("html", "xhtml+xml", "svg", "javascript", "xml")
    for name, _ in CONTENT_TYPE_CASES:
        raw = raw_content_type(name)
        assert not any(word in raw for word in active), (name, raw)


def test_text_types_carry_charset() -> None:
    for name, _ in CONTENT_TYPE_CASES:
        value = content_type(name)
        if value.startswith("text/"):
            assert value.endswith("; charset=utf-8"), name


def test_security_headers() -> None:
    assert security_headers(False) == (("x-content-type-options", "nosniff"),)
    assert security_headers(True) == (
        ("x-content-type-options", "nosniff"),
        ("content-security-policy", "default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    )
    assert RAW_MODE_CSP == "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@given(st.text(max_size=60))
def test_arbitrary_names_never_raise(name: str) -> None:
    assert content_type(name)
    assert raw_content_type(name)
