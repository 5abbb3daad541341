"""Rewriting a served repository under load: writer, readers and the oracle they share.

A bare repository is served; a working clone pushes to it. The ``Writer`` pushes new
commits, force-moves a branch back and forth, deletes a branch, and runs ``git gc`` and
``git repack -adf`` in a loop. ``Reader`` threads fetch files meanwhile and record what they
got; ``Oracle.verify`` checks every body afterwards against ``git cat-file`` (one batch).

Refs that exist throughout (``stable``, tag ``v1``, a full commit id) must never fail; the
moving branch may answer 404 for a path its new commit lacks, but any 200 must be right.

Rules:
1. Bounded: readers and writer stop at a deadline; every thread is joined.
2. Nothing is judged during the run except transport: bodies are hashed, and the hashes are
   compared with git's bytes at the end, so the checking never slows the load.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.faults.gitrepo import git_env
from tests.faults.wire import decode
from tests.git.fixtures import parse_cat_file_batch, run_git

FILES = 24


@dataclass
class Site:
    """The served bare repository, the clone that writes to it, and its fixed facts."""

    served: Path
    work: Path
    env: dict[str, str]
    stable_commit: str
    files: dict[str, str]  # path -> blob hex in the stable commit


def build_site(root: Path, home: Path, *, large: int = 0) -> Site:
    """A bare repository with ``stable``, ``moving``, ``doomed``, tag ``v1``; a clone."""
    env = git_env(home)
    work = root / "work"
    served = root / "served.git"
    work.mkdir(parents=True)
    run_git(work, "init", "-q", "-b", "main", ".", env=env)
    run_git(work, "config", "gc.auto", "0", env=env)
    rnd = random.Random(5)
    for i in range(FILES):
        (work / "src").mkdir(exist_ok=True)
        lines = [f"{i:03d} line {n} {rnd.random()}\n" for n in range(50 * (i + 1))]
        (work / "src" / f"f{i:02d}.txt").write_text("".join(lines))
    (work / "README.md").write_text("# served while rewritten\n")
    if large:
        (work / "large.bin").write_bytes(rnd.randbytes(large))
    run_git(work, "add", "-A", env=env)
    run_git(work, "commit", "-q", "-m", "base", env=env)
    for branch in ("stable", "moving", "doomed"):
        run_git(work, "branch", branch, env=env)
    run_git(work, "tag", "-a", "v1", "-m", "v1", env=env)
    run_git(root, "init", "-q", "--bare", str(served), env=env)
    run_git(served, "config", "gc.auto", "0", env=env)
    run_git(work, "remote", "add", "origin", str(served), env=env)
    run_git(work, "push", "-q", "origin", "main", "stable", "moving", "doomed", "v1", env=env)
    run_git(served, "symbolic-ref", "HEAD", "refs/heads/main", env=env)
    run_git(served, "gc", "-q", env=env)
    commit = run_git(work, "rev-parse", "stable", env=env).decode().strip()
    files = {}
    for line in run_git(work, "ls-tree", "-r", commit, env=env).decode().splitlines():
        meta, path = line.split("\t", 1)
        files[path] = meta.split()[2]
    return Site(served, work, env, commit, files)


@dataclass
class Record:
    """What one request got: enough to check it afterwards."""

    ref: str
    path: str
    status: int
    etag: str
    commit: str
    digest: str  # sha256 of the decoded body
    at: float  # time.monotonic() when the answer was complete
    error: str | None = None


@dataclass
class Oracle:
    """Every record of a run, and the verdicts."""

    records: list[Record] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, record: Record) -> None:
        with self.lock:
            self.records.append(record)

    def verify(self, site: Site, fixed_refs: dict[str, str]) -> list[str]:
        """Problems: any transport error, a non-200 on a ref that always exists, a 200
        whose bytes are not git's for the blob its ETag names (or, on a fixed ref, not the
        blob and commit that ref names), any status but 200/404 elsewhere."""
        blobs = {r.etag[:40] for r in self.records if r.status == 200}
        truth = _git_digests(site, blobs)
        problems = []
        for r in self.records:
            where = f"{r.ref}/{r.path}"
            fixed = fixed_refs.get(r.ref)
            if r.error is not None:
                problems.append(f"{where}: {r.error}")
            elif r.status == 200:
                if truth.get(r.etag[:40]) != r.digest:
                    problems.append(f"{where}: wrong bytes for ETag {r.etag}")
                elif fixed and (r.etag[:40], r.commit) != (site.files[r.path], fixed):
                    problems.append(f"{where}: blob {r.etag[:40]} of commit {r.commit}")
            elif fixed or r.status != 404:
                problems.append(f"{where}: answered {r.status}")
        return problems

    def counts(self) -> Counter[str]:
        """Requests by outcome, for the report."""
        return Counter("error" if r.error else str(r.status) for r in self.records)


def _git_digests(site: Site, blobs: set[str]) -> dict[str, str]:
    query = "".join(f"{b}\n" for b in sorted(blobs)).encode()
    out = run_git(site.work, "cat-file", "--batch", env=site.env, input=query)
    return {
        hex_id: hashlib.sha256(content).hexdigest()
        for hex_id, _, content in parse_cat_file_batch(out)
    }


class Reader(threading.Thread):
    """Fetches random files of random refs until ``deadline``; records everything."""

    def __init__(
        self,
        base_url: str,
        refs: list[str],
        paths: list[str],
        oracle: Oracle,
        deadline: float,
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.refs = refs
        self.paths = paths
        self.oracle = oracle
        self.deadline = deadline
        self.rnd = random.Random(seed)

    def run(self) -> None:
        with httpx.Client(base_url=self.base_url, timeout=30) as client:
            while time.monotonic() < self.deadline:
                ref = self.rnd.choice(self.refs)
                path = self.rnd.choice(self.paths)
                coding = self.rnd.choice(["identity", "gzip", "deflate"])
                self.oracle.add(fetch_record(client, ref, path, coding))


def fetch_record(client: httpx.Client, ref: str, path: str, coding: str) -> Record:
    """GET ``/<ref>/<path>`` and reduce the answer to a ``Record``."""
    try:
        with client.stream(
            "GET", f"/{ref}/{path}", headers={"accept-encoding": coding}
        ) as response:
            raw = b"".join(response.iter_raw())
            body = (
                decode(response.headers.get("content-encoding"), raw)
                if response.status_code == 200
                else b""
            )
            return Record(
                ref,
                path,
                response.status_code,
                response.headers.get("etag", "").strip('"'),
                response.headers.get("x-git-commit", ""),
                hashlib.sha256(body).hexdigest(),
                time.monotonic(),
            )
    except (httpx.HTTPError, OSError, EOFError, ValueError, zlib.error) as exc:
        return Record(ref, path, 0, "", "", "", time.monotonic(), repr(exc))


class Writer(threading.Thread):
    """Pushes, moves and deletes branches, gc's and repacks until ``deadline``."""

    def __init__(self, site: Site, deadline: float, delete_at: float) -> None:
        super().__init__(daemon=True)
        self.site = site
        self.deadline = deadline
        self.delete_at = delete_at
        self.deleted_at: float | None = None
        self.actions: Counter[str] = Counter()
        self.error: BaseException | None = None

    def git_work(self, *args: str) -> None:
        run_git(self.site.work, *args, env=self.site.env)

    def git_served(self, *args: str) -> None:
        run_git(self.site.served, *args, env=self.site.env)

    def run(self) -> None:
        try:
            self._loop()
        except BaseException as exc:  # reported by the test, not lost in the thread
            self.error = exc

    def _loop(self) -> None:
        step = 0
        first = self.site.stable_commit
        while time.monotonic() < self.deadline:
            step += 1
            self.git_work("checkout", "-q", "moving")
            target = self.site.work / "src" / f"f{step % FILES:02d}.txt"
            target.write_text(target.read_text() + f"edit {step}\n")
            (self.site.work / f"new-{step}.txt").write_text(f"new file {step}\n" * step)
            self.git_work("add", "-A")
            self.git_work("commit", "-q", "-m", f"step {step}")
            self.git_work("push", "-q", "-f", "origin", "moving")
            self.actions["push"] += 1
            if step % 4 == 0:
                self.git_work("push", "-q", "-f", "origin", f"{first}:refs/heads/moving")
                self.actions["move back"] += 1
            if self.deleted_at is None and time.monotonic() >= self.delete_at:
                self.git_work("push", "-q", "origin", ":doomed")
                self.deleted_at = time.monotonic()
                self.actions["delete"] += 1
            if step % 2:
                self.git_served("gc", "-q", "--prune=now")
                self.actions["gc"] += 1
            else:
                self.git_served("repack", "-q", "-a", "-d", "-f")
                self.actions["repack -adf"] += 1
