"""Engine micro-benchmark: open, object lookups, ref resolution and tree lookups, in-process.

Run ``python -m bench.engine`` (add ``--quick`` for a CI smoke run, ``--repo PATH`` to measure
an existing repository). It builds two synthetic repositories with ``git fast-import`` — one
of about 850k objects (240k small blobs in a three-level directory tree touched by 2,000
commits, so about 600k trees) and one of about 1k objects — caches them under the temp dir
(``$TMPDIR/packserve-bench-engine``) for later runs, and prints medians of
``time.perf_counter`` samples.

What is measured, and why it matters (DESIGN §2, §5):

- ``open``: ``Repository.open``; must be well under 10 ms and the same for 1k and 850k objects
  (only mmaps and header checks; no index parsing).
- ``object header`` / ``blob()``: a warm lookup by id (fan-out + binary search in the ``.idx``).
- ``resolve`` and ``lookup``: cold is the first call on a fresh ``Repository`` (reads the refs,
  inflates the commit and the trees on the path); warm is the cached hot path the HTTP shell
  runs on the event loop.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from app.git import ObjectId, Repository

CACHE = Path(tempfile.gettempdir()) / "packserve-bench-engine"
BIG = {"commits": 2000, "files_per_commit": 120}
SMALL = {"commits": 12, "files_per_commit": 20}
QUICK_BIG = {"commits": 60, "files_per_commit": 60}


def _path(n: int) -> str:
    # 64 × 16 × 16 leaf directories; consecutive n land in different directories.
    return f"a{n % 64:02x}/b{(n // 64) % 16:x}/c{(n // 1024) % 16:x}/f{n // 16384}.txt"


def _stream(commits: int, files_per_commit: int) -> bytes:
    out: list[bytes] = []
    n = 0
    for c in range(commits):
        out.append(f"commit refs/heads/main\nmark :{c + 1}\n"
                   f"committer Bench <bench@example.invalid> {1_700_000_000 + 60 * c} +0000\n"
                   f"data 9\ncommit {c % 10}\n".encode())
        if c:
            out.append(f"from :{c}\n".encode())
        for _ in range(files_per_commit):
            body = f"synthetic blob {n} of commit {c}\n".encode()
            out.append(f"M 100644 inline {_path(n)}\ndata {len(body)}\n".encode() + body + b"\n")
            n += 1
        if c % 100 == 99:
            out.append(f"reset refs/tags/v{c // 100}\nfrom :{c + 1}\n\n".encode())
    out.append(b"reset refs/heads/feature/bench\nfrom :1\n\n")
    return b"".join(out)


def build(name: str, commits: int, files_per_commit: int) -> Path:
    """A cached bare repository built by ``git fast-import``."""
    home = CACHE / f"{name}-{commits}x{files_per_commit}"
    git_dir = home / "repo.git"
    if (home / "done").exists():
        return git_dir
    if home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True)
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(home), "GIT_CONFIG_NOSYSTEM": "1"}
    started = time.perf_counter()
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(git_dir)], check=True,
                   env=env)
    subprocess.run(["git", f"--git-dir={git_dir}", "fast-import", "--quiet"], check=True,
                   env=env, input=_stream(commits, files_per_commit))
    (home / "done").write_text(f"{time.perf_counter() - started:.1f}s\n")
    return git_dir


def object_count(git_dir: Path) -> int:
    out = subprocess.run(["git", f"--git-dir={git_dir}", "count-objects", "-v"], check=True,
                         capture_output=True, text=True).stdout
    stats = dict(line.split(": ", 1) for line in out.splitlines())
    return int(stats["count"]) + int(stats["in-pack"])


def per_call(fn: Callable[[], object], *, rounds: int, inner: int) -> float:
    """Median over ``rounds`` of the mean time of ``inner`` back-to-back calls, in µs."""
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        samples.append((time.perf_counter() - start) / inner * 1e6)
    return statistics.median(samples)


def cold(setup: Callable[[], Callable[[], object]], *, rounds: int) -> float:
    """Median of one call on freshly set-up state, in µs (setup not timed)."""
    samples = []
    for _ in range(rounds):
        fn = setup()
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1e6)
    return statistics.median(samples)


def sample_path(repo: Repository, commit: ObjectId) -> str:
    """The deepest first-listed blob path of ``commit`` (so lookups walk several trees)."""
    parts: list[str] = []
    tree = repo.lookup(commit, "").oid
    while True:
        entries = repo.list_dir(tree)
        sub = next((e for e in entries if e.kind == "tree"), None)
        if sub is None:
            blob = next(e for e in entries if e.kind == "blob")
            return "/".join([*parts, blob.name])
        parts.append(sub.name)
        tree = sub.oid


def measure(git_dir: Path, quick: bool) -> dict[str, float]:
    rounds, inner = (5, 200) if quick else (15, 2000)
    cold_rounds = 5 if quick else 15
    results: dict[str, float] = {}

    def fresh() -> Repository:
        return Repository.open(git_dir)

    results["open (ms)"] = cold(lambda: fresh, rounds=cold_rounds * 2) / 1000
    repo = fresh()
    head = repo.head() or "HEAD"
    ref = head.removeprefix("refs/heads/").removeprefix("refs/tags/")
    commit = repo.resolve(ref).commit
    path = sample_path(repo, commit)
    url = f"{ref}/{path}"
    blob_id = repo.lookup(commit, path).oid
    repo.blob(blob_id)  # builds the pack order once (no .rev): not part of a warm lookup

    results["object header, warm (µs)"] = per_call(lambda: repo.object_size(blob_id),
                                                   rounds=rounds, inner=inner)
    results["blob() size+stream, warm (µs)"] = per_call(lambda: repo.blob(blob_id),
                                                        rounds=rounds, inner=inner)
    results["read_blob small, warm (µs)"] = per_call(lambda: repo.read_blob(blob_id),
                                                     rounds=rounds, inner=inner)
    def cold_resolve() -> Callable[[], object]:
        r = fresh()
        return lambda: r.resolve(url)

    results["resolve, cold (µs)"] = cold(cold_resolve, rounds=cold_rounds)
    results["resolve, warm (µs)"] = per_call(lambda: repo.resolve(url), rounds=rounds,
                                             inner=inner)

    def cold_lookup() -> Callable[[], object]:
        r = fresh()
        target = r.resolve(url)
        return lambda: r.lookup(target.commit, target.path)

    results["lookup, cold (µs)"] = cold(cold_lookup, rounds=cold_rounds)
    results["lookup, warm (µs)"] = per_call(lambda: repo.lookup(commit, path), rounds=rounds,
                                            inner=inner)

    def both() -> object:
        target = repo.resolve(url)
        return repo.lookup(target.commit, target.path)

    results["resolve+lookup, warm (µs)"] = per_call(both, rounds=rounds, inner=inner)
    results["depth of path"] = float(path.count("/") + 1)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small repositories, few rounds")
    parser.add_argument("--repo", type=Path, help="measure this repository only")
    args = parser.parse_args(argv)
    if args.repo is not None:
        repos = {"given": args.repo}
    else:
        big = QUICK_BIG if args.quick else BIG
        started = time.perf_counter()
        repos = {"small": build("small", **SMALL), "big": build("big", **big)}
        print(f"repositories ready in {time.perf_counter() - started:.1f}s (cache: {CACHE})",
              file=sys.stderr)
    table: dict[str, dict[str, float]] = {}
    counts: dict[str, int] = {}
    for name, git_dir in repos.items():
        counts[name] = object_count(git_dir)
        table[name] = measure(git_dir, args.quick)
    names = list(repos)
    print(f"{'metric':32}" + "".join(f"{f'{n} ({counts[n]:,} obj)':>22}" for n in names))
    for metric in table[names[0]]:
        print(f"{metric:32}" + "".join(f"{table[n][metric]:>22.2f}" for n in names))
    return 0


if __name__ == "__main__":
    sys.exit(main())
