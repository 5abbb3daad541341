"""Full-size soak: the issue's numbers, run by hand (not in CI), figures printed.

    python -m tests.faults.soak                      # everything, default sizes
    python -m tests.faults.soak --slow 200 --size-mb 50 --seconds 60 --storm 500
    python -m tests.faults.soak --rewrite-seconds 30 --readers 8

1. Slow clients: ``--slow`` readers of a ``--size-mb`` file at one byte per millisecond
   (50 bytes every 50 ms) through 4 KiB receive buffers for ``--seconds``, then gone
   mid-body; a fast client fetches a small file every 50 ms throughout.
2. Storm: ``--storm`` concurrent connections, three keep-alive requests each.
3. Rewrite: ``--readers`` clients for ``--rewrite-seconds`` while pushes, branch moves and
   deletes, ``git gc`` and ``git repack -adf`` run in a loop (``rewrite.py``).

Prints peak server RSS, latencies, request counts and failures; exits 1 on any failure.
Everything runs on 127.0.0.1 and every process started is stopped.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.load import slow_then_storm
from tests.faults.rewrite import Oracle, Reader, Writer, build_site
from tests.faults.server import Server


def _slow_and_storm(args: argparse.Namespace, root: Path, home: Path) -> bool:
    site = build_site(root / "slow-site", home, large=args.size_mb << 20)
    large = (site.work / "large.bin").read_bytes()
    small = [
        (f"/stable/{p}", (site.work / p).read_bytes())
        for p in sorted(site.files)
        if p != "large.bin"
    ]
    with Server(site.served, root / "slow-server") as server:
        run = slow_then_storm(
            server, large, small, slow_clients=args.slow, seconds=args.seconds,
            storm_connections=args.storm, chunk=50, interval=0.05, sample_every=0.25,
            settle_seconds=15,
        )
    slow, fast, many, alive = run.slow, run.fast, run.many, run.alive
    fds_before, fds_after = run.fds_before, run.fds_after
    rss_before, slow_peak, peak, rss_after = (
        run.rss_before_kb, run.slow_peak_kb, run.peak_kb, run.rss_after_kb
    )
    storm_seconds = run.storm_seconds
    print(
        f"slow clients: {args.slow} x {args.size_mb} MiB at 1 byte/ms for {args.seconds:.0f}s: "
        f"{slow.ok} ok, {len(slow.failed)} failed, {slow.bytes_read >> 10} KiB read in all"
    )
    print(
        f"  fast client meanwhile: {fast.ok} ok, {len(fast.failed)} failed; "
        f"{fast.latency_summary()}"
    )
    print(f"  server RSS: {rss_before >> 10} MiB before, peak {slow_peak >> 10} MiB during")
    print(
        f"storm: {args.storm} connections x 3 requests: {many.ok} ok, {len(many.failed)} failed "
        f"in {storm_seconds:.1f}s; {many.latency_summary()}"
    )
    print(
        f"  server RSS peak overall {peak >> 10} MiB, {rss_after >> 10} MiB after; "
        f"descriptors {fds_before} -> {fds_after}; alive: {alive}"
    )
    for line in (slow.failed + fast.failed + many.failed)[:10]:
        print("  FAILED", line)
    return (
        alive and not (slow.failed or fast.failed or many.failed) and (fds_after <= fds_before + 2)
    )


def _rewrite(args: argparse.Namespace, root: Path, home: Path) -> bool:
    site = build_site(root / "rewrite-site", home)
    stable = site.stable_commit
    fixed = {"stable": stable, "v1": stable, stable: stable}
    oracle = Oracle()
    with Server(site.served, root / "rewrite-server") as server:
        start = time.monotonic()
        deadline = start + args.rewrite_seconds
        writer = Writer(site, deadline, delete_at=start + args.rewrite_seconds / 3)
        readers = [
            Reader(
                server.url, [*fixed, "moving", "doomed"], sorted(site.files), oracle, deadline, seed
            )
            for seed in range(args.readers)
        ]
        for thread in [writer, *readers]:
            thread.start()
        for thread in [writer, *readers]:
            thread.join()
        alive = server.alive()
    problems = oracle.verify(site, fixed)
    counts = oracle.counts()
    on_fixed = sum(1 for r in oracle.records if r.ref in fixed)
    print(
        f"rewrite under load: {sum(counts.values())} requests in {args.rewrite_seconds:.0f}s "
        f"by {args.readers} readers ({on_fixed} on refs that exist throughout): "
        f"{dict(sorted(counts.items()))}; wrong or failed: {len(problems)}"
    )
    print(f"  writer: {dict(writer.actions)}; error: {writer.error!r}; server alive: {alive}")
    for line in problems[:10]:
        print("  FAILED", line)
    return alive and writer.error is None and not problems


def main(argv: list[str] | None = None) -> int:
    """Run the soak; 0 when every check held."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.faults.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--slow", type=int, default=200, help="slow clients (200)")
    parser.add_argument("--size-mb", type=int, default=50, help="large file size (50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="slow phase length (60)")
    parser.add_argument("--storm", type=int, default=500, help="concurrent connections (500)")
    parser.add_argument("--readers", type=int, default=8, help="readers while rewriting (8)")
    parser.add_argument(
        "--rewrite-seconds", type=float, default=30.0, help="rewrite phase length (30)"
    )
    parser.add_argument("--skip", choices=["slow", "rewrite"], action="append", default=[])
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="packserve-soak-") as tmp:
        root = Path(tmp)
        home = root / "home"
        home.mkdir()
        if "slow" not in args.skip:
            ok &= _slow_and_storm(args, root, home)
        if "rewrite" not in args.skip:
            ok &= _rewrite(args, root, home)
    print("soak:", "ok" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
