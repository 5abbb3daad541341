"""Synthetic repositories of a given object count, for the start-up measurement.

One commit whose tree holds ``count`` small distinct blobs in directories of 1000, built
with ``git fast-import`` (a million objects in well under a minute) and cached by count.
Start-up must not depend on the size of the repository: opening one of 1M objects must
cost what opening one of 1k costs. Packs written by fast-import (and by git before 2.41
unless ``pack.writeReverseIndex`` is set) have no ``.rev``; the ``rev`` variant adds one
(``git index-pack --rev-index``), to tell the cost of building the pack order from the rest.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import IO

from bench.gitenv import built_once, git, git_env

PER_DIR = 1000
BRANCH = "main"
PROBE_PATH = "d0000/f0000.txt"  # the file the start-up probe fetches


def _write_stream(stdin: IO[bytes], count: int) -> None:
    write = stdin.write
    write(
        f"commit refs/heads/{BRANCH}\n"
        "committer Bench <bench@example.invalid> 1700000000 +0000\n"
        "data 10\nsynthetic\n".encode()
    )
    for i in range(count):
        body = f"synthetic object {i}\n".encode()
        path = f"d{i // PER_DIR:04d}/f{i % PER_DIR:04d}.txt"
        write(f"M 100644 inline {path}\ndata {len(body)}\n".encode() + body + b"\n")
    stdin.close()


def synthetic(count: int, cache_dir: Path, log: Callable[[str], None], *,
              rev: bool = False) -> Path:
    """A bare repository of about ``count`` objects (blobs + trees + 1 commit), cached;
    with ``rev``, its pack has a reverse index."""
    home = cache_dir / f"synthetic-{count}{'-rev' if rev else ''}"
    if not (home / "done").exists():
        log(f"building a synthetic repository of {count:,} objects (once; cached) ...")

    def build(tmp: Path) -> None:
        git_dir = tmp / "repo.git"
        git(git_dir, "init", "--bare", "-q", f"--initial-branch={BRANCH}")
        proc = subprocess.Popen(
            ["git", f"--git-dir={git_dir}", "fast-import", "--quiet"],
            stdin=subprocess.PIPE,
            env=git_env(),
        )
        try:
            if proc.stdin is None:
                raise RuntimeError("git fast-import has no stdin")
            _write_stream(proc.stdin, count)
        finally:
            if proc.wait() != 0:
                raise RuntimeError("git fast-import failed")
        if rev:
            for pack in (git_dir / "objects" / "pack").glob("*.pack"):
                git(git_dir, "index-pack", "--rev-index", str(pack))

    built_once(home, build)
    return home / "repo.git"


def object_count(git_dir: Path) -> int:
    """Objects stored in the repository's packs and loose directory."""
    stats = dict(
        line.split(": ", 1) for line in git(git_dir, "count-objects", "-v").decode().splitlines()
    )
    return int(stats["count"]) + int(stats["in-pack"])
