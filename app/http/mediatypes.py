"""Content-Type from a file name, raw mode, and per-response security headers (RFC 9110 §8.3).

Rules of this module:
1. One fixed table, not ``mimetypes``: the stdlib table reads ``/etc/mime.types`` and so
   differs between hosts, and it lacks or gets wrong several modern types (mjs, wasm on old
   systems, webmanifest, avif, jxl, woff2). Types follow the IANA registry where one exists.
2. Extensions match case-insensitively on the last dot of the last path segment; names with no
   useful extension (README, LICENSE, Makefile, Dockerfile, ...) match whole, case-insensitive.
3. ``text/*`` and XML types get ``; charset=utf-8`` (UTF-8 is what repositories hold and what
   browsers would otherwise have to guess). JSON types do not: RFC 8259 §11 defines no charset
   parameter, JSON is always UTF-8.
4. Unknown: ``application/octet-stream`` — never guessed from content (we also send
   ``nosniff``).

Decisions:
- ``.ts`` is TypeScript, ``text/plain``, not ``video/mp2t``: in a Git repository ``.ts`` files
  are TypeScript sources far more often than MPEG transport streams, and a browser would offer
  to download (or try to play) source code. ``.mts``/``.cts`` are TypeScript modules too;
  ``.m2ts`` stays video.
- Source code in languages with no registered type (py, rs, go, c, h, tsx, jsx, vue, ...) is
  ``text/plain``: browsers display it, where ``text/x-*`` types make them download.
- Raw mode (untrusted branches): every type a browser would render as an active document or
  run as script — HTML, XHTML, SVG, XML and its feed/XSLT kin, JavaScript — becomes
  ``text/plain; charset=utf-8``, and every response carries ``RAW_MODE_CSP`` (Gitea's policy,
  peers.md). CSS keeps ``text/css``: it cannot run script, and other sites link our CSS, which
  nosniff would otherwise block. WebAssembly keeps its type: it runs only when a page on our
  origin loads it, and raw mode renders no pages.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

__all__ = [
    "OCTET_STREAM",
    "RAW_MODE_CSP",
    "content_type",
    "raw_content_type",
    "security_headers",
]

OCTET_STREAM: Final = "application/octet-stream"
TEXT_PLAIN: Final = "text/plain; charset=utf-8"
RAW_MODE_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; sandbox"
"""Content-Security-Policy sent on every raw-mode response: no script, no subresources."""

_UTF8 = "; charset=utf-8"

# Bare types; charset is added below for text/* and XML (rule 3).
_BY_EXTENSION: dict[str, str] = {
    # web documents, styles, scripts
    "html": "text/html", "htm": "text/html", "shtml": "text/html",
    "xhtml": "application/xhtml+xml", "xht": "application/xhtml+xml",
    "css": "text/css",
    "js": "text/javascript", "mjs": "text/javascript", "cjs": "text/javascript",  # RFC 9239
    "json": "application/json", "map": "application/json",
    "jsonld": "application/ld+json", "geojson": "application/geo+json",
    "webmanifest": "application/manifest+json",
    "wasm": "application/wasm",
    "xml": "application/xml", "xsd": "application/xml", "rdf": "application/rdf+xml",
    "xsl": "application/xslt+xml", "xslt": "application/xslt+xml",
    "rss": "application/rss+xml", "atom": "application/atom+xml",
    "svg": "image/svg+xml", "svgz": "image/svg+xml",
    # plain text and data
    "txt": "text/plain", "text": "text/plain", "log": "text/plain", "conf": "text/plain",
    "cfg": "text/plain", "ini": "text/plain", "properties": "text/plain", "env": "text/plain",
    "md": "text/markdown", "markdown": "text/markdown",  # RFC 7763
    "rst": "text/plain", "adoc": "text/plain", "asciidoc": "text/plain", "org": "text/plain",
    "tex": "text/plain", "bib": "text/plain",
    "csv": "text/csv", "tsv": "text/tab-separated-values",
    "yaml": "application/yaml", "yml": "application/yaml",  # RFC 9512
    "toml": "application/toml",
    "ics": "text/calendar", "ifb": "text/calendar", "vcf": "text/vcard",
    "vtt": "text/vtt", "srt": "text/plain",
    "diff": "text/plain", "patch": "text/plain",
    "pem": "text/plain", "crt": "application/pkix-cert", "der": "application/pkix-cert",
    "gitignore": "text/plain", "gitattributes": "text/plain", "gitmodules": "text/plain",
    "editorconfig": "text/plain", "npmrc": "text/plain", "nvmrc": "text/plain",
    "dockerignore": "text/plain", "npmignore": "text/plain", "mailmap": "text/plain",
    "prettierrc": "text/plain", "eslintrc": "text/plain", "babelrc": "text/plain",
    "bashrc": "text/plain", "zshrc": "text/plain", "profile": "text/plain",
    "json5": "text/plain", "jsonc": "text/plain", "lock": "text/plain",
    "sum": "text/plain", "mod": "text/plain",
    # source code (rule: text/plain, see module docstring)
    "ts": "text/plain", "mts": "text/plain", "cts": "text/plain", "tsx": "text/plain",
    "jsx": "text/plain", "vue": "text/plain", "svelte": "text/plain", "astro": "text/plain",
    "scss": "text/plain", "sass": "text/plain", "less": "text/plain", "styl": "text/plain",
    "sh": "text/plain", "bash": "text/plain", "zsh": "text/plain", "fish": "text/plain",
    "ps1": "text/plain", "bat": "text/plain", "cmd": "text/plain",
    "py": "text/plain", "pyi": "text/plain", "pyx": "text/plain", "ipynb": "application/json",
    "rb": "text/plain", "pl": "text/plain", "pm": "text/plain", "php": "text/plain",
    "lua": "text/plain", "r": "text/plain", "jl": "text/plain", "dart": "text/plain",
    "rs": "text/plain", "go": "text/plain", "zig": "text/plain", "nim": "text/plain",
    "c": "text/plain", "h": "text/plain", "cc": "text/plain", "cpp": "text/plain",
    "cxx": "text/plain", "hh": "text/plain", "hpp": "text/plain", "hxx": "text/plain",
    "m": "text/plain", "mm": "text/plain", "cs": "text/plain", "fs": "text/plain",
    "java": "text/plain", "kt": "text/plain", "kts": "text/plain", "scala": "text/plain",
    "groovy": "text/plain", "gradle": "text/plain", "clj": "text/plain", "swift": "text/plain",
    "hs": "text/plain", "ml": "text/plain", "mli": "text/plain", "ex": "text/plain",
    "exs": "text/plain", "erl": "text/plain", "elm": "text/plain", "sql": "text/plain",
    "graphql": "text/plain", "gql": "text/plain", "proto": "text/plain",
    "cmake": "text/plain", "mk": "text/plain", "nix": "text/plain", "tf": "text/plain",
    "hcl": "text/plain", "dockerfile": "text/plain", "s": "text/plain", "asm": "text/plain",
    "v": "text/plain", "sv": "text/plain", "vhd": "text/plain", "glsl": "text/plain",
    "wgsl": "text/plain", "hlsl": "text/plain",
    # images
    "png": "image/png", "apng": "image/apng", "gif": "image/gif",
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "jpe": "image/jpeg", "jfif": "image/jpeg",
    "webp": "image/webp", "avif": "image/avif", "jxl": "image/jxl",
    "heic": "image/heic", "heif": "image/heif", "bmp": "image/bmp",
    "ico": "image/vnd.microsoft.icon", "cur": "image/x-icon",
    "tif": "image/tiff", "tiff": "image/tiff", "psd": "image/vnd.adobe.photoshop",
    # fonts
    "woff": "font/woff", "woff2": "font/woff2", "ttf": "font/ttf", "otf": "font/otf",
    "ttc": "font/collection", "eot": "application/vnd.ms-fontobject",
    # audio and video
    "mp4": "video/mp4", "m4v": "video/mp4", "webm": "video/webm", "ogv": "video/ogg",
    "mov": "video/quicktime", "mkv": "video/x-matroska", "avi": "video/x-msvideo",
    "mpeg": "video/mpeg", "mpg": "video/mpeg", "m2ts": "video/mp2t", "3gp": "video/3gpp",
    "m3u8": "application/vnd.apple.mpegurl", "mpd": "application/dash+xml",
    "mp3": "audio/mpeg", "m4a": "audio/mp4", "aac": "audio/aac", "wav": "audio/wav",
    "flac": "audio/flac", "ogg": "audio/ogg", "oga": "audio/ogg", "opus": "audio/ogg",
    "weba": "audio/webm", "mid": "audio/midi", "midi": "audio/midi",
    # documents
    "pdf": "application/pdf", "epub": "application/epub+zip", "rtf": "application/rtf",
    "doc": "application/msword",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls": "application/vnd.ms-excel",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt": "application/vnd.ms-powerpoint",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "odp": "application/vnd.oasis.opendocument.presentation",
    # archives and packages (the file's own format; our Content-Encoding is separate)
    "zip": "application/zip", "gz": "application/gzip", "tgz": "application/gzip",
    "tar": "application/x-tar", "bz2": "application/x-bzip2", "xz": "application/x-xz",
    "zst": "application/zstd", "lz": "application/x-lzip", "lzma": "application/x-lzma",
    "7z": "application/x-7z-compressed",
    "rar": "application/vnd.rar", "jar": "application/java-archive",
    "war": "application/java-archive", "whl": "application/zip", "egg": "application/zip",
    "apk": "application/vnd.android.package-archive",
    "deb": "application/vnd.debian.binary-package", "rpm": "application/x-rpm",
    "dmg": "application/x-apple-diskimage", "iso": "application/x-iso9660-image",
    "exe": "application/vnd.microsoft.portable-executable",
    "msi": "application/x-msi", "crx": "application/x-chrome-extension",
    "xpi": "application/x-xpinstall",
    # 3D and other modern formats
    "glb": "model/gltf-binary", "gltf": "model/gltf+json", "usdz": "model/vnd.usdz+zip",
    "stl": "model/stl", "obj": "model/obj", "mtl": "model/mtl", "3mf": "model/3mf",
    "wgt": "application/widget", "sqlite": "application/vnd.sqlite3",
    "parquet": "application/vnd.apache.parquet", "arrow": "application/vnd.apache.arrow.file",
    "pbf": "application/x-protobuf",
    "kml": "application/vnd.google-earth.kml+xml", "kmz": "application/vnd.google-earth.kmz",
    "gpx": "application/gpx+xml",
}

# Whole file names (lower-cased) that are text by convention.
_WELL_KNOWN_NAMES = frozenset({
    "readme", "license", "licence", "copying", "copyright", "notice", "authors", "contributors",
    "changelog", "changes", "news", "history", "todo", "install", "thanks", "maintainers",
    "makefile", "gnumakefile", "dockerfile", "containerfile", "vagrantfile", "jenkinsfile",
    "procfile", "gemfile", "rakefile", "brewfile", "justfile", "pipfile", "codeowners",
    "cmakelists.txt", "version", "manifest", "owners",
})

# Types a browser renders as an active document or runs as script (raw mode, module doc).
_ACTIVE = frozenset({
    "text/html", "application/xhtml+xml", "image/svg+xml", "application/xml",
    "application/xslt+xml", "application/rss+xml", "application/atom+xml",
    "application/rdf+xml", "text/javascript", "application/dash+xml", "application/gpx+xml",
    "application/vnd.google-earth.kml+xml",
})


def _with_charset(media_type: str) -> str:
    if media_type.startswith("text/") or media_type.endswith("/xml") or (
        media_type.endswith("+xml") and media_type != "image/svg+xml"
    ):
        return media_type + _UTF8
    return media_type


_FULL_BY_EXTENSION: dict[str, str] = {ext: _with_charset(t) for ext, t in _BY_EXTENSION.items()}
_RAW_BY_EXTENSION: dict[str, str] = {
    ext: (TEXT_PLAIN if t in _ACTIVE else _FULL_BY_EXTENSION[ext])
    for ext, t in _BY_EXTENSION.items()
}


def _lookup(name: str, table: dict[str, str]) -> str:
    base = name.rpartition("/")[2]
    stem, dot, extension = base.rpartition(".")
    if dot:
        found = table.get(extension) or table.get(extension.lower())
        if found is not None:
            return found
    if base.lower() in _WELL_KNOWN_NAMES or stem.lower() in _WELL_KNOWN_NAMES:
        return TEXT_PLAIN  # README, LICENSE.old, Makefile, Dockerfile.dev ...
    return OCTET_STREAM


@lru_cache(maxsize=1024)
def content_type(name: str) -> str:
    """Content-Type for a file name or path (only the last segment counts).

    >>> content_type("dist/app.MJS")
    'text/javascript; charset=utf-8'
    >>> content_type("README")
    'text/plain; charset=utf-8'
    """
    return _lookup(name, _FULL_BY_EXTENSION)


@lru_cache(maxsize=1024)
def raw_content_type(name: str) -> str:
    """Content-Type in raw mode: like ``content_type`` but active types become text/plain."""
    return _lookup(name, _RAW_BY_EXTENSION)


_NORMAL_HEADERS: tuple[tuple[str, str], ...] = (("x-content-type-options", "nosniff"),)
_RAW_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", RAW_MODE_CSP),
)


def security_headers(raw_mode: bool) -> tuple[tuple[str, str], ...]:
    """The security headers for every response, as lower-case ``(name, value)`` pairs.

    Always ``X-Content-Type-Options: nosniff`` (browsers must trust our Content-Type, never
    guess a script out of a text file); in raw mode also ``Content-Security-Policy:
    RAW_MODE_CSP``, which sandboxes anything that still renders.
    """
    return _RAW_HEADERS if raw_mode else _NORMAL_HEADERS
