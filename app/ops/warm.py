"""``packserve warm [REPO] [REF…]``: prepare every file of some refs before the first visitor.

For each blob reachable from the refs' trees it runs the service's own representation
code (``app.http.representation.Representations``) against the service's own disk cache,
so whatever the service would compute on a first request is computed now and persisted:
delta-stored and loose blobs are resolved, deflated and stored (``<id>.zz``, with their
CRC-32), and large stored streams get their CRC-32 (``<id>.crc``). A service started on
the same ``cache_dir`` then answers those blobs' first requests without an inflate.

Rules: the tree walk visits each tree once across all refs (shared subtrees are common);
blobs are prepared several at a time in worker threads, bounded by a ``CapacityLimiter``;
a blob that fails is reported and skipped, and the exit status says so. Small stored
blobs (≤ ``representation.SMALL_BLOB``) are not persisted: the service inflates them into
memory on first use by design, which costs microseconds.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

import anyio

from app.config import ConfigError, RepositoryMount, Settings
from app.git import GitError, ObjectId, Repository
from app.http.gzipframe import StreamMismatch
from app.http.representation import Representations
from app.ops.metrics import CountingDiskCache

# Plans are not reused after the walk; keep the in-memory plan cache small.
_PLAN_MEMORY = 8 << 20


def reachable_blobs(repo: Repository, refs: Iterable[str]) -> dict[ObjectId, None]:
    """Every blob id in the trees of ``refs`` (URL names: ``main``, ``refs/tags/v1``, ids)."""
    blobs: dict[ObjectId, None] = {}
    seen_trees: set[ObjectId] = set()
    for ref in refs:
        commit = repo.resolve(ref).commit
        pending = [repo.lookup(commit, "").oid]
        while pending:
            tree = pending.pop()
            if tree in seen_trees:
                continue
            seen_trees.add(tree)
            for entry in repo.list_dir(tree):
                if entry.kind == "tree":
                    pending.append(entry.oid)
                elif entry.kind == "blob":
                    blobs[entry.oid] = None
    return blobs


class Progress:
    """A one-line progress bar on a terminal; a line per 10 % otherwise."""

    def __init__(self, label: str, total: int, out: TextIO | None) -> None:
        self.label = label
        self.total = total
        self.out = out
        self.done = 0
        self.bytes = 0
        self._tty = out is not None and out.isatty()
        self._shown = -1.0
        self._decile = -1

    def advance(self, size: int) -> None:
        """One more blob of ``size`` bytes prepared."""
        self.done += 1
        self.bytes += size
        if self.out is None:
            return
        now = time.monotonic()
        if self._tty and (now - self._shown > 0.1 or self.done == self.total):
            self._shown = now
            self.out.write("\r" + self._line())
            self.out.flush()
        elif not self._tty and self.done * 10 // max(self.total, 1) != self._decile:
            self._decile = self.done * 10 // max(self.total, 1)
            self.out.write(self._line() + "\n")

    def _line(self) -> str:
        width = 30
        filled = width * self.done // max(self.total, 1)
        bar = "#" * filled + "-" * (width - filled)
        return (f"warm {self.label} [{bar}] {self.done}/{self.total} blobs "
                f"{self.bytes / 1048576:.1f} MiB")

    def finish(self) -> None:
        """End the bar's line."""
        if self.out is not None and self._tty:
            self.out.write("\n")


@dataclass
class Outcome:
    """What a warm-up did."""

    blobs: int = 0
    failed: int = 0


async def prepare(reps: Representations, oids: Sequence[ObjectId], progress: Progress,
                  concurrency: int, errors: TextIO) -> Outcome:
    """Make every blob's plan and CRC-32 through ``reps``, ``concurrency`` at a time."""
    outcome = Outcome()
    queue = iter(oids)

    async def worker() -> None:
        for oid in queue:
            size = 0
            try:
                plan = await reps.plan(oid)
                size = plan.size
                if plan.crc is None:
                    await reps.ensure_crc(plan)
            except (GitError, StreamMismatch, OSError) as exc:
                outcome.failed += 1
                errors.write(f"\npackserve warm: blob {oid.hex()}: {exc}\n")
            outcome.blobs += 1
            progress.advance(size)

    async with anyio.create_task_group() as workers:
        for _ in range(concurrency):
            workers.start_soon(worker)
    return outcome


async def warm_repository(settings: Settings, repo: Repository, refs: Sequence[str],
                          label: str, out: TextIO | None) -> Outcome:
    """Prepare every blob of ``refs`` in ``repo`` in the disk cache of ``settings``."""
    oids = list(await anyio.to_thread.run_sync(reachable_blobs, repo, refs))
    progress = Progress(label, len(oids), out)
    concurrency = os.cpu_count() or 2
    limiter = anyio.CapacityLimiter(concurrency)
    disk = CountingDiskCache(settings.cache_dir, settings.cache_max_bytes)
    async with anyio.create_task_group() as background:

        def spawn(job: Callable[[], Awaitable[None]]) -> None:
            background.start_soon(_run, job)

        reps = Representations(repo, disk, limiter, spawn, memory_bytes=_PLAN_MEMORY)
        outcome = await prepare(reps, oids, progress, concurrency, sys.stderr)
    progress.finish()
    return outcome


async def _run(job: Callable[[], Awaitable[None]]) -> None:
    await job()


def _select(settings: Settings, repo_arg: str | None) -> list[RepositoryMount]:
    mounts = list(settings.mounts())
    if repo_arg is None:
        return mounts
    named = [m for m in mounts if m.name == repo_arg]
    if named:
        return named
    if not os.path.isdir(repo_arg):
        raise ConfigError(f"repository: {repo_arg!r} is neither a configured name nor a directory")
    return [RepositoryMount(name=os.path.basename(os.path.abspath(repo_arg)), path=Path(repo_arg))]


def main(settings: Settings, repo_arg: str | None, refs: Sequence[str], *,
         progress: bool = True) -> int:
    """Run the warm-up; 0 if every blob was prepared, 1 if some failed."""
    out = sys.stderr if progress else None
    failed = 0
    for mount in _select(settings, repo_arg):
        try:
            repo = Repository.open(mount.path, namespaces=settings.namespaces)
        except (GitError, OSError) as exc:
            raise ConfigError(f"repository: cannot open {str(mount.path)!r}: {exc}") from None
        with repo:
            names = list(refs) or sorted(repo.refs())
            try:
                outcome = anyio.run(warm_repository, settings, repo, names, mount.name, out)
            except GitError as exc:
                print(f"packserve warm: {mount.name}: {exc}", file=sys.stderr)
                return 1
        failed += outcome.failed
        failures = f", {outcome.failed} failed" if outcome.failed else ""
        print(f"packserve warm: {mount.name}: {outcome.blobs - outcome.failed} blobs prepared"
              f"{failures}", file=sys.stderr)
    return 1 if failed else 0
