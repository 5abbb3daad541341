"""Fixture repositories for the HTTP shell, built once per session with the real git.

One history (``build_site``) — a small website, texts, binaries, a large file, a file that
shrinks over time (so ``git gc`` stores its tip as a delta), symlinks, a submodule, odd
names, a branch with a slash, an annotated and a lightweight tag — in three storage forms:

- ``gc``: ``git gc --aggressive``; tip blobs that shrank are deltas (``Blob.stored is None``);
- ``whole``: ``git repack -adf --window=0``; every blob stored whole (passthrough);
- ``loose``: no pack at all.

``git cat-file`` is the oracle (``cat_blob``, ``tree_files``).
"""

from __future__ import annotations

import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.git.fixtures import git

APP_JS = b"""\
var box = document.getElementById("box");
var out = document.getElementById("out");
out.textContent = "js-ran color=" + getComputedStyle(box).color;
"""
STYLE_CSS = b"#box { color: rgb(1, 2, 3); }\n" + b"/* padding */\n" * 200
INDEX_HTML = b"""\
<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>fixture</title>
<link rel="stylesheet" href="style.css"></head>
<body><p id="box">box</p><p id="out">js-not-run</p>
<script src="app.js"></script></body></html>
"""
NOT_FOUND_HTML = b"<!DOCTYPE html><title>not here</title><p>custom 404</p>\n"


def _lines(rng: random.Random, count: int) -> bytes:
    words = [b"alpha", b"beta", b"gamma", b"delta", b"packfile", b"zlib", b"range", b"ref"]
    return b"".join(
        b"%06d " % i + b" ".join(rng.choice(words) for _ in range(8)) + b"\n"
        for i in range(count)
    )


def _write(root: Path, files: dict[str, bytes]) -> None:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def _commit(work: Path, message: str) -> None:
    git(work, "add", "-A")
    git(work, "commit", "-q", "-m", message)


def build_site(root: Path) -> Path:
    """The working tree (``<root>/work``) with the whole fixture history."""
    rng = random.Random(7)
    work = root / "work"
    work.mkdir(parents=True)
    git(work, "init", "-q", "-b", "main", ".")
    git(work, "config", "gc.auto", "0")
    log = _lines(rng, 8000)
    _write(work, {
        "index.html": INDEX_HTML,
        "style.css": STYLE_CSS,
        "app.js": APP_JS,
        "README.md": b"# fixture\n\nA repository served by packserve.\n",
        "empty.txt": b"",
        "docs/guide.txt": b"guide\n" * 50,
        "docs/deep/note.md": b"note\n",
        "blog/index.html": b"<!DOCTYPE html><title>blog</title><p>blog index</p>\n",
        "data/big.txt": _lines(rng, 60000),
        "data/random.bin": rng.randbytes(200_000),
        "data/small.bin": bytes(range(256)) * 4,
        "data/log.txt": log,
        "name with space.txt": b"spaces\n",
        "\u00fcn\u00efcode.txt": "unicode \u00fc\n".encode(),
        "percent%41.txt": b"percent\n",
        "<script>.html": b"<p>odd name</p>\n",
    })
    os.symlink("README.md", work / "link-readme")
    os.symlink("../style.css", work / "docs/up-style.css")
    os.symlink("loop", work / "loop")
    os.symlink("../../outside", work / "escape")
    _commit(work, "first")
    git(work, "tag", "-a", "v1", "-m", "version 1")
    # The log shrinks: git's delta search takes the larger, older version as the base, so
    # the tip version becomes a delta (as most tip blobs of a gc'd repository are).
    for step in range(1, 4):
        _write(work, {"data/log.txt": log[: len(log) - step * 40_000]})
        _commit(work, f"trim log {step}")
    sub = git(work, "rev-parse", "HEAD").strip().decode()
    git(work, "update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/sub")
    git(work, "commit", "-q", "-m", "add a submodule")
    git(work, "tag", "light")
    git(work, "checkout", "-q", "-b", "feature/x")
    _write(work, {"feature.txt": b"feature branch\n", "README.md": b"# fixture (feature)\n",
                  "404.html": NOT_FOUND_HTML})
    _commit(work, "feature work")
    git(work, "checkout", "-q", "main")
    return work


@dataclass(frozen=True)
class SiteRepos:
    """The git dirs of the three storage forms of the fixture history."""

    work: Path
    gc: Path
    whole: Path
    loose: Path


def _bare_copy(work: Path, dest: Path) -> Path:
    shutil.copytree(work / ".git", dest, symlinks=True)
    git(dest, "config", "core.bare", "true")
    return dest


@pytest.fixture(scope="session")
def site_repos(tmp_path_factory: pytest.TempPathFactory) -> SiteRepos:
    """The fixture history as a gc'd, a fully repacked and a loose repository."""
    root = tmp_path_factory.mktemp("site")
    work = build_site(root)
    loose = _bare_copy(work, root / "loose.git")
    gc = _bare_copy(work, root / "gc.git")
    git(gc, "gc", "-q", "--aggressive", "--prune=now")
    whole = _bare_copy(work, root / "whole.git")
    git(whole, "repack", "-adfq", "--window=0")
    git(whole, "prune-packed")
    return SiteRepos(work, gc, whole, loose)


def cat_blob(git_dir: Path, oid: str) -> bytes:
    """``git cat-file blob <oid>``: the oracle for every body we serve."""
    return git(git_dir, "cat-file", "blob", oid)


def tree_files(git_dir: Path, ref: str) -> dict[str, str]:
    """Every regular file of ``ref`` (recursively): path → blob id (``git ls-tree``)."""
    out = git(git_dir, "ls-tree", "-r", "-z", ref)
    files = {}
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, oid = meta.split()
        if kind == b"blob" and mode in (b"100644", b"100755"):
            files[path.decode()] = oid.decode()
    return files
