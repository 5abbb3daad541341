"""A pristine repository whose *tree* is hostile: escaping symlinks, loops, odd names.

Beside it, outside the tree, sit files carrying ``OUTSIDE_MARKER``: one untracked in the
working tree, one next to the repository, and ``/etc/passwd`` (``ETC_MARKER``). A response
that ever contains one of the markers served a file from outside the tree.

Rules:
1. Built with the real ``git`` (``gitrepo.git_env``), deterministic.
2. ``blobs`` holds every blob reachable from every ref, straight from ``git cat-file``: a
   2xx body must be (a slice of) exactly the blob its ETag names, and that blob must be one
   of these.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from pathlib import Path

from tests.faults.gitrepo import git_env
from tests.git.fixtures import run_git

OUTSIDE_MARKER = b"OUTSIDE-THE-TREE-3f9a1c"
ETC_MARKER = b"root:x:0:0"
MARKERS = (OUTSIDE_MARKER, ETC_MARKER)

NAMES = (
    "README.md",
    "index.html",
    "docs/guide.md",
    "docs/deep/note.txt",
    "back\\slash.txt",
    "percent%2e%2e.txt",
    "percent%2fslash.txt",
    "dot..dot.txt",
    "...",
    " spaced name .txt",
    "\u00fcnic\u00f6de-\u20ac.txt",
    "question?.txt",
    "hash#.txt",
    "semi;colon.txt",
    "big.bin",
)
SYMLINKS = {
    "link-ok": "README.md",
    "docs/link-up-ok": "../README.md",
    "dir-link": "docs",
    "escape-up": "../outside.txt",
    "escape-deep": "../../../../../../../../etc/passwd",
    "docs/escape-dotdot": "../../outside.txt",
    "escape-abs": "/etc/passwd",
    "escape-untracked": "UNTRACKED-SECRET.txt",
    "escape-git": ".git/config",
    "loop-a": "loop-b",
    "loop-b": "loop-a",
    "loop-self": "loop-self",
    "dir-dotdot": "..",
    "dir-dot": ".",
    "docs/deep/to-root": "../..",
    "dangling": "no/such/file",
}
CHAIN = 45  # symlink hops: more than the engine's 40


@dataclass
class HostileRepo:
    """The repository, what git says about it, and the vocabulary fuzzers draw from."""

    root: Path
    refs: dict[str, str] = field(default_factory=dict)  # URL ref spelling -> commit hex
    blobs: dict[str, bytes] = field(default_factory=dict)  # every blob of every ref
    paths: list[str] = field(default_factory=list)  # every path of main (files, dirs, links)
    files: dict[str, str] = field(default_factory=dict)  # path in main -> blob hex


def build_hostile(root: Path, home: Path) -> HostileRepo:
    """Build the hostile-tree repository under ``root / "repo"``."""
    env = git_env(home)
    work = root / "repo"
    work.mkdir(parents=True)
    (root / "outside.txt").write_bytes(b"secret " + OUTSIDE_MARKER + b"\n")
    run_git(work, "init", "-q", "-b", "main", ".", env=env)
    run_git(work, "config", "gc.auto", "0", env=env)
    rnd = random.Random(99)
    for name in NAMES:
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if name == "big.bin":
            path.write_bytes(rnd.randbytes(300_000))
        else:
            path.write_bytes(f"content of {name}\n".encode() * (1 + len(name)))
    for name, target in SYMLINKS.items():
        os.symlink(target, work / name)
    for hop in range(CHAIN):
        os.symlink(f"chain{hop + 1}" if hop + 1 < CHAIN else "README.md", work / f"chain{hop}")
    run_git(work, "add", "-A", env=env)
    run_git(work, "commit", "-q", "-m", "hostile tree", env=env)
    run_git(work, "tag", "-a", "v1", "-m", "v1", env=env)
    run_git(work, "checkout", "-q", "-b", "feature/x", env=env)
    (work / "feature.txt").write_bytes(b"feature\n")
    run_git(work, "add", "-A", env=env)
    run_git(work, "commit", "-q", "-m", "feature", env=env)
    run_git(work, "checkout", "-q", "main", env=env)
    run_git(work, "gc", "-q", "--prune=now", env=env)
    (work / "UNTRACKED-SECRET.txt").write_bytes(OUTSIDE_MARKER + b"\n")
    repo = HostileRepo(work)
    for line in (
        run_git(work, "for-each-ref", "--format=%(refname:short) %(objectname)", env=env)
        .decode()
        .splitlines()
    ):
        short, _ = line.split()
        peeled = run_git(work, "rev-parse", f"{short}^{{commit}}", env=env)
        repo.refs[short] = peeled.decode().strip()
    main = repo.refs["main"]
    repo.refs["HEAD"] = main
    repo.refs[main] = main
    repo.refs[main[:7]] = main
    for ref in set(repo.refs.values()):
        listing = run_git(work, "ls-tree", "-r", "-t", "-z", ref, env=env)
        for record in listing.split(b"\0"):
            if not record:
                continue
            meta, _, raw_name = record.partition(b"\t")
            _mode, kind, hex_id = meta.decode().split()
            if ref == main:
                repo.paths.append(raw_name.decode())
                if kind == "blob":
                    repo.files[raw_name.decode()] = hex_id
            if kind == "blob":
                repo.blobs[hex_id] = run_git(work, "cat-file", "blob", hex_id, env=env)
    return repo
