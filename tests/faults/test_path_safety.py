"""Path safety on a real socket: traversal in every encoding, escaping and looping symlinks.

The requests are written byte for byte to a ``packserve serve`` process (an HTTP client
would normalise ``..`` away before sending). Every answer must come within
``ANSWER_SECONDS``, never be a 5xx, never contain a byte of a file outside the tree
(``hostile.MARKERS``), and be a 200 only for a path that really is inside the tree, with
git's bytes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.hostile import CHAIN, MARKERS, HostileRepo
from tests.faults.server import Server
from tests.faults.wire import ANSWER_SECONDS, raw_get

# Targets that try to leave the tree (or the URL space) and must not answer 200.
ESCAPES = [
    "/main/../../../../etc/passwd",
    "/main/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/main/%2E%2E/%2E%2E/etc/passwd",
    "/main/.%2e/.%2e/etc/passwd",
    "/main/..%2f..%2f..%2fetc%2fpasswd",
    "/main/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "/main/..\\..\\..\\etc\\passwd",
    "/main/..%5c..%5c..%5cetc%5cpasswd",
    "/main/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "/main/%c0%ae%c0%ae%c0%af%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
    "/main/%e0%80%ae%e0%80%ae/etc/passwd",
    "/main/%252e%252e/%252e%252e/etc/passwd",
    "/main/%ef%bc%8e%ef%bc%8e/etc/passwd",
    "/main/README.md%00",
    "/main/README.md%00.txt",
    "/main/%00/../../etc/passwd",
    "/main/escape-up",
    "/main/escape-deep",
    "/main/escape-abs",
    "/main/escape-untracked",
    "/main/escape-git",
    "/main/docs/escape-dotdot",
    "/main/dir-dotdot/outside.txt",
    "/main/dir-dotdot/",
    "/main/dir-dotdot/repo/UNTRACKED-SECRET.txt",
    "/main/docs/deep/to-root/../outside.txt",
    "/main/loop-a",
    "/main/loop-b",
    "/main/loop-self",
    "/main/loop-a/x",
    "/main/chain0",
    "/main/dangling",
    "/main/.git/config",
    "/main/UNTRACKED-SECRET.txt",
    "/.git/config",
    "//etc/passwd",
    "/../etc/passwd",
    "/%2e%2e/etc/passwd",
    "/main%2f..%2f..%2fetc/passwd",
    "/refs/heads/../../../etc/passwd",
    "/main/" + "../" * 2000 + "etc/passwd",
    "/main/" + "a/" * 3000 + "b",
    "/main/" + "%2e%2e/" * 500 + "etc/passwd",
    "http://127.0.0.1/../../etc/passwd",
    "http://evil.example/main/escape-abs",
]

# Targets that stay inside the tree by a legitimate route: 200 with these files' bytes.
INSIDE = {
    "/main/link-ok": "README.md",
    "/main/docs/link-up-ok": "README.md",
    "/main/dir-link/guide.md": "docs/guide.md",
    "/main/dir-dot/README.md": "README.md",
    "/main/docs/deep/to-root/README.md": "README.md",
    f"/main/chain{CHAIN - 40}": "README.md",
    "/main/percent%252e%252e.txt": "percent%2e%2e.txt",
    "/main/dot..dot.txt": "dot..dot.txt",
    "/main/...": "...",
}

# Targets a server may refuse as suspicious (dot segments a client should have removed,
# RFC 3986 §5.2.4; a backslash) but, if it answers 200, must answer with these files' bytes.
REFUSABLE = {
    "/main/docs/./guide.md": "docs/guide.md",
    "/main/docs/deep/../guide.md": "docs/guide.md",
    "/main/back%5Cslash.txt": "back\\slash.txt",
    "/main/back\\slash.txt": "back\\slash.txt",
}


@pytest.fixture(scope="module")
def served(hostile: HostileRepo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``packserve serve`` on the hostile repository."""
    with Server(hostile.root, Path(tmp_path_factory.mktemp("path-safety"))) as server:
        yield server


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", ESCAPES)
def test_escape_is_refused(served: Server, target: str) -> None:
    start = time.monotonic()
    status, head, body = raw_get(served.port, target)
    assert time.monotonic() - start < ANSWER_SECONDS
    assert status != 0, f"no HTTP answer: {head[:200]!r}"
    assert status != 200 or b"text/html" in head or b"application/json" in head, status
    assert status < 500, status
    for marker in MARKERS:
        assert marker not in head + body
    location = next(
        (line for line in head.split(b"\r\n") if line.lower().startswith(b"location:")), None
    )
    if location is not None:
        value = location.split(b":", 1)[1].strip()
        assert value.startswith(b"/") and not value.startswith((b"//", b"/\\")), value


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", sorted(INSIDE))
def test_inside_routes_serve_git_bytes(served: Server, hostile: HostileRepo, target: str) -> None:
    status, _head, body = raw_get(served.port, target)
    assert status == 200
    assert body == hostile.blobs[hostile.files[INSIDE[target]]]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("target", sorted(REFUSABLE))
def test_suspicious_inside_routes(served: Server, hostile: HostileRepo, target: str) -> None:
    status, _head, body = raw_get(served.port, target)
    assert status == 200 or 400 <= status < 500, status
    if status == 200:
        assert body == hostile.blobs[hostile.files[REFUSABLE[target]]]


def test_server_survived(served: Server) -> None:
    assert served.alive()
    assert raw_get(served.port, "/-/healthz")[0] == 200
