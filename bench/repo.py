"""The realistic repository: a history with many revisions per file, ``git gc``'d.

Real repositories store most tip blobs as deltas (``git gc`` keeps the largest version of a
file whole and stores the others, usually including the tip, as deltas against it), so the
generated history edits its files the way people do: small hunks inserted, replaced and
deleted, sizes wandering around a target. Two files are shaped on purpose: ``src/app.js``
(the medium file) shrinks in the last commit, so its tip is a delta, and ``src/bundle.js``
only ever grows, so its tip is the largest version and is stored whole; the pair, of about
the same size, is the delta-vs-whole workload. The large file gets records appended besides
its edits (a growing data file: its tip is stored whole, the pack passthrough path), the
huge one wanders (its tip is a delta: the resolved-and-cached path).

The generated repository (bare) and a checkout of the same ref are cached under a directory
keyed by the generator parameters, so reruns skip the minutes of generation.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.gitenv import built_once, git, git_env
from bench.plan import KB, RepoShape

# Bump when the generator changes in a way that changes its output.
_GENERATOR_VERSION = 4
BRANCH = "main"
_ZERO_OID = "0" * 40

_WORDS = (
    "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda sigma omega river stone "
    "cloud paper window garden engine signal vector buffer packet stream branch commit object "
    "index table column record value token parser render layout canvas shader socket thread "
    "worker queue cache store fetch merge delta patch tree blob hash scope frame event state"
).split()

ROLES = ("small", "medium", "large", "huge", "whole", "delta")


@dataclass(frozen=True, slots=True)
class TipFile:
    """A blob at the tip of the benchmarked ref, with how it is stored."""

    path: str
    oid: str
    size: int
    delta: bool  # stored as a delta in its pack (or loose: False)


@dataclass(frozen=True, slots=True)
class BenchRepo:
    """The repository every contender serves, and what the workloads fetch from it."""

    git_dir: Path
    checkout: Path
    ref: str
    commit: str
    roles: dict[str, TipFile]  # ROLES -> file
    tip_blobs: int
    tip_deltas: int

    @property
    def delta_fraction(self) -> float:
        """Fraction of the distinct tip blobs that are stored as deltas."""
        return self.tip_deltas / self.tip_blobs if self.tip_blobs else 0.0


# --- content -----------------------------------------------------------------------------

LineMaker = Callable[[random.Random], bytes]


def _prose(rng: random.Random) -> bytes:
    words = rng.choices(_WORDS, k=rng.randint(6, 14))
    return (" ".join(words).capitalize() + f" {rng.randint(0, 99999)}.\n").encode()


def _js(rng: random.Random) -> bytes:
    a, b, c = rng.choices(_WORDS, k=3)
    n = rng.randint(0, 1_000_000)
    form = rng.randrange(5)
    if form == 0:
        return f"function {a}_{b}{n}(x, y) {{\n".encode()
    if form == 1:
        return f"  const {a}{n} = {b}.{c}(x, {n % 977});\n".encode()
    if form == 2:
        return f"  if ({a}{n} > {b}_{c}) return {a}{n};\n".encode()
    if form == 3:
        return f"  // {a} {b} {c}: keep {n} in sync\n".encode()
    return b"}\n"


def _json(rng: random.Random) -> bytes:
    a, b, c = rng.choices(_WORDS, k=3)
    n = rng.randint(0, 10_000_000)
    score = n % 1000 / 7
    return f'  {{"id": {n}, "name": "{a} {b}", "tag": "{c}", "score": {score:.3f}}},\n'.encode()


def _sql(rng: random.Random) -> bytes:
    a, b, c = rng.choices(_WORDS, k=3)
    n = rng.randint(0, 100_000_000)
    return f"INSERT INTO {a} VALUES ({n}, '{b} {c}', {n % 10007}.{n % 97});\n".encode()


def _py(rng: random.Random) -> bytes:
    a, b = rng.choices(_WORDS, k=2)
    n = rng.randint(0, 100_000)
    form = rng.randrange(3)
    if form == 0:
        return f"def {a}_{b}_{n}(value):\n".encode()
    if form == 1:
        return f"    return value.{a}({b}={n})\n".encode()
    return f"    # {a} {b} {n}\n".encode()


class _File:
    """One file's current lines; edits are hunks, as in real histories."""

    def __init__(self, rng: random.Random, maker: LineMaker, size: int) -> None:
        self._rng = rng
        # Each file draws from its own pool of lines: distinct files never share lines, so
        # git cannot delta one file against another (it would, with a shared vocabulary of
        # whole lines, which real files do not have).
        avg = sum(len(maker(rng)) for _ in range(64)) / 64
        count = max(1, int(size / avg))
        if count > 50_000:
            pool = [maker(rng) for _ in range(50_000)]
            self._new: Callable[[], bytes] = lambda: rng.choice(pool)
            self.lines = rng.choices(pool, k=count)
        else:
            self._new = lambda: maker(rng)
            self.lines = [maker(rng) for _ in range(count)]

    def edit(self) -> None:
        """Apply 1-4 hunks, each inserting, replacing or deleting a few lines."""
        rng = self._rng
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(self.lines) + 1)
            count = rng.randint(1, max(1, min(40, len(self.lines) // 100)))
            op = rng.randrange(3)
            if op == 0 or len(self.lines) < 4:
                self.lines[at:at] = [self._new() for _ in range(count)]
            elif op == 1:
                self.lines[at : at + count] = [self._new() for _ in range(count)]
            else:
                del self.lines[at : at + count]

    def append(self, count: int) -> None:
        """Append ``count`` new lines (a file that only grows)."""
        self.lines.extend(self._new() for _ in range(count))

    def trim(self, fraction: float) -> None:
        """Delete ``fraction`` of the lines from the middle."""
        cut = max(1, int(len(self.lines) * fraction))
        mid = len(self.lines) // 2
        del self.lines[mid : mid + cut]

    def data(self) -> bytes:
        return b"".join(self.lines)


def _history(shape: RepoShape) -> Iterator[tuple[str, dict[str, bytes]]]:
    """Yield (message, {path: content}) per commit, oldest first."""
    rng = random.Random(shape.seed)
    small = _File(rng, _prose, shape.small_size)
    medium = _File(rng, _js, shape.medium_size)
    # Starts at half the medium size and grows to about the medium size.
    bundle = _File(rng, _js, shape.medium_size // 2)
    grow_per_commit = max(1, len(bundle.lines) // shape.commits)
    large_revisions = shape.commits // shape.large_every + 1
    large = _File(rng, _json, shape.large_size * 4 // 5)
    # More lines appended per revision than an edit can delete: the file only grows.
    large_append = 170 + len(large.lines) // 4 // large_revisions
    huge = _File(rng, _sql, shape.huge_size)
    modules = [
        _File(rng, _py, rng.randint(KB // 2, 12 * KB)) for _ in range(shape.small_files)
    ]
    huge_at = {
        round(i * (shape.commits - 1) / max(1, shape.huge_revisions - 1))
        for i in range(shape.huge_revisions)
    }
    for n in range(shape.commits):
        first, last = n == 0, n == shape.commits - 1
        changes: dict[str, bytes] = {}
        if first:
            changes.update({f"src/pkg/mod_{i:03d}.py": m.data() for i, m in enumerate(modules)})
        else:
            for i in rng.sample(range(len(modules)), k=min(3, len(modules))):
                modules[i].edit()
                changes[f"src/pkg/mod_{i:03d}.py"] = modules[i].data()
        if first or rng.random() < 0.5:
            if not first:
                small.edit()
            changes["docs/guide.md"] = small.data()
        if last:
            medium.trim(0.03)
        elif not first:
            medium.edit()
        changes["src/app.js"] = medium.data()
        if not first:
            bundle.append(grow_per_commit)
        changes["src/bundle.js"] = bundle.data()
        if first or n % shape.large_every == 0 or last:
            if not first:
                large.edit()
                large.append(large_append)
            changes["data/records.json"] = large.data()
        if n in huge_at:
            if not first:
                huge.edit()
            changes["data/dump.sql"] = huge.data()
        yield f"Change {n}: edit {len(changes)} files", changes


_ROLE_PATHS = {
    "small": "docs/guide.md",
    "medium": "src/app.js",
    "large": "data/records.json",
    "huge": "data/dump.sql",
    "whole": "src/bundle.js",
    "delta": "src/app.js",
}


def _fast_import(git_dir: Path, shape: RepoShape) -> None:
    proc = subprocess.Popen(
        ["git", f"--git-dir={git_dir}", "fast-import", "--quiet"],
        stdin=subprocess.PIPE,
        env=git_env(),
    )
    stdin = proc.stdin
    if stdin is None:
        raise RuntimeError("git fast-import has no stdin")
    try:
        for n, (message, changes) in enumerate(_history(shape)):
            when = 1_700_000_000 + n * 3600
            msg = message.encode()
            stdin.write(
                f"commit refs/heads/{BRANCH}\n"
                f"committer Bench <bench@example.invalid> {when} +0000\n"
                f"data {len(msg)}\n".encode()
                + msg
                + b"\n"
            )
            for path, content in sorted(changes.items()):
                stdin.write(f"M 100644 inline {path}\ndata {len(content)}\n".encode())
                stdin.write(content)
                stdin.write(b"\n")
        stdin.close()
    finally:
        if proc.wait() != 0:
            raise RuntimeError("git fast-import failed")


def _extract_checkout(git_dir: Path, commit: str, dest: Path) -> None:
    archive = git(git_dir, "archive", "--format=tar", commit)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")


def _shape_key(shape: RepoShape) -> str:
    text = json.dumps({"v": _GENERATOR_VERSION, **asdict(shape)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tip_files(git_dir: Path, commit: str) -> list[TipFile]:
    listing = git(git_dir, "ls-tree", "-r", "-l", "-z", commit)
    entries: list[tuple[str, str, int]] = []
    for record in listing.split(b"\0"):
        if not record:
            continue
        meta, path = record.split(b"\t", 1)
        _mode, kind, oid, size = meta.split()
        if kind == b"blob":
            entries.append((path.decode(), oid.decode(), int(size)))
    query = "".join(f"{oid}\n" for _, oid, _ in entries).encode()
    check = git(git_dir, "cat-file", "--batch-check=%(objectname) %(deltabase)", input=query)
    delta: dict[str, bool] = {}
    for line in check.decode().splitlines():
        name, base = line.split()
        delta[name] = base != _ZERO_OID
    return [TipFile(path, name, size, delta[name]) for path, name, size in entries]


def _nearest(files: list[TipFile], size: int) -> TipFile:
    return min(files, key=lambda f: (abs(math.log(max(f.size, 1) / size)), f.path))


def _pick_roles(files: list[TipFile], shape: RepoShape) -> dict[str, TipFile]:
    """Roles for a repository the benchmark did not generate: nearest sizes."""
    roles = {
        "small": _nearest(files, shape.small_size),
        "medium": _nearest(files, shape.medium_size),
        "large": _nearest(files, shape.large_size),
        "huge": _nearest(files, shape.huge_size),
    }
    deltas = [f for f in files if f.delta and f.size >= 16 * KB]
    wholes = [f for f in files if not f.delta and f.size >= 16 * KB]
    if not deltas or not wholes:
        raise RuntimeError("the repository needs a whole and a delta tip blob of >= 16 KB")
    roles["delta"] = _nearest(deltas, shape.medium_size)
    roles["whole"] = _nearest(wholes, roles["delta"].size)
    return roles


def _describe(git_dir: Path, checkout: Path, ref: str, roles: dict[str, TipFile] | None,
              shape: RepoShape) -> BenchRepo:
    commit = git(git_dir, "rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
    files = _tip_files(git_dir, commit)
    by_oid = {f.oid: f for f in files}
    if roles is None:
        roles = _pick_roles(files, shape)
    return BenchRepo(
        git_dir=git_dir,
        checkout=checkout,
        ref=ref,
        commit=commit,
        roles=roles,
        tip_blobs=len(by_oid),
        tip_deltas=sum(1 for f in by_oid.values() if f.delta),
    )


def generated(shape: RepoShape, cache_dir: Path, log: Callable[[str], None]) -> BenchRepo:
    """The generated repository for ``shape``, built once and cached."""
    home = cache_dir / f"repo-{_shape_key(shape)}"
    if not (home / "done").exists():
        log(f"generating the benchmark repository in {home} (once; cached) ...")

    def build(tmp: Path) -> None:
        git_dir = tmp / "repo.git"
        git(git_dir, "init", "--bare", "-q", f"--initial-branch={BRANCH}")
        _fast_import(git_dir, shape)
        # A fresh delta search (-f), as a full `git gc` of a pushed history produces;
        # then the gc itself, which reuses those deltas.
        git(git_dir, "repack", "-a", "-d", "-f", "-q")
        git(git_dir, "gc", "-q", "--prune=now")
        commit = git(git_dir, "rev-parse", BRANCH).decode().strip()
        _extract_checkout(git_dir, commit, tmp / "checkout")

    built_once(home, build)
    git_dir = home / "repo.git"
    commit = git(git_dir, "rev-parse", BRANCH).decode().strip()
    files = {f.path: f for f in _tip_files(git_dir, commit)}
    roles = {role: files[path] for role, path in _ROLE_PATHS.items()}
    return _describe(git_dir, home / "checkout", BRANCH, roles, shape)


def existing(path: Path, ref: str | None, shape: RepoShape, cache_dir: Path) -> BenchRepo:
    """A repository given with ``--repo``; its checkout is cached by commit id."""
    top = git(path, "rev-parse", "--absolute-git-dir") if (path / ".git").exists() else None
    git_dir = Path(top.decode().strip()) if top else path
    if ref is None:
        head = git(git_dir, "symbolic-ref", "-q", "HEAD").decode().strip()
        ref = head.removeprefix("refs/heads/")
    if "/" in ref:
        raise RuntimeError(f"--ref {ref!r}: the benchmark needs a branch name without '/'")
    commit = git(git_dir, "rev-parse", "--verify", f"{ref}^{{commit}}").decode().strip()
    home = built_once(
        cache_dir / f"checkout-{commit}",
        lambda tmp: _extract_checkout(git_dir, commit, tmp / "checkout"),
    )
    return _describe(git_dir, home / "checkout", ref, None, shape)
