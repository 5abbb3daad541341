"""Slow and many clients against ``packserve serve`` (CI-sized; ``soak.py`` has the full size).

Phase 1: ``SLOW_CLIENTS`` readers trickle a ``LARGE`` file (identity and deflate) through
tiny receive buffers for ``SLOW_SECONDS`` and then vanish mid-body, while a fast client
fetches a small file every 50 ms. Phase 2: ``STORM`` concurrent connections, three
keep-alive requests each. The server's resident memory must stay under ``RSS_LIMIT_KB``,
every fast request must succeed in time with exact bytes, and once everyone has gone the
server must hold no more descriptors than before.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.load import slow_then_storm
from tests.faults.rewrite import build_site
from tests.faults.server import Server

SLOW_CLIENTS = 50
LARGE = 20 << 20
SLOW_SECONDS = 8.0
STORM = 300
RSS_LIMIT_KB = 300 << 10
FAST_P99_SECONDS = 1.0


@pytest.mark.timeout(180)
def test_slow_and_many_clients(tmp_path: Path, fault_home: Path) -> None:
    site = build_site(tmp_path / "site", fault_home, large=LARGE)
    large = (site.work / "large.bin").read_bytes()
    small = [
        (f"/stable/{path}", (site.work / path).read_bytes())
        for path in sorted(site.files)
        if path != "large.bin"
    ]
    with Server(site.served, tmp_path / "server") as server:
        run = slow_then_storm(
            server, large, small, slow_clients=SLOW_CLIENTS, seconds=SLOW_SECONDS,
            storm_connections=STORM, chunk=1024, interval=0.01,
        )
    assert not run.warm.failed, run.warm.failed
    slow, fast, many = run.slow, run.fast, run.many
    storm_seconds, peak_kb, alive = run.storm_seconds, run.peak_kb, run.alive
    fds_before, fds_after = run.fds_before, run.fds_after
    report = (
        f"peak RSS {peak_kb >> 10} MiB; slow {slow.ok}/{SLOW_CLIENTS} read "
        f"{slow.bytes_read >> 10} KiB; fast {fast.latency_summary()}; storm "
        f"{many.ok} requests in {storm_seconds:.1f}s, {many.latency_summary()}; "
        f"fds {fds_before} -> {fds_after}"
    )
    assert alive, report
    assert not slow.failed, report + "\n" + "\n".join(slow.failed[:10])
    assert not fast.failed and fast.ok > 20, report + "\n" + "\n".join(fast.failed[:10])
    assert sorted(fast.latencies)[int(len(fast.latencies) * 0.99)] < FAST_P99_SECONDS, report
    assert not many.failed and many.ok == 3 * STORM, report + "\n" + "\n".join(many.failed[:10])
    assert peak_kb < RSS_LIMIT_KB, report
    assert fds_after <= fds_before + 2, report
