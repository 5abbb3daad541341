"""The benchmark's smoke mode runs in CI: every contender starts and answers correctly.

Speed is never asserted here (issue 4: ratios come from the benchmark, side by side, not from
a timed unit test); this only proves the harness and packserve's place in it still work.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(600)
def test_benchmark_smoke_run(tmp_path: Path) -> None:
    if shutil.which("wrk") is None or shutil.which("nginx") is None:
        pytest.skip("wrk and nginx (Debian packages, installed by .ci/run) are needed")
    results = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--smoke", "--strict",
         "--results", str(results), "--cache-dir", str(tmp_path / "cache")],
        cwd=ROOT, capture_output=True, text=True, timeout=540,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    table = (results / "latest.md").read_text()
    assert "| workload (req/s) | packserve |" in table
    # --strict already fails on a wrong packserve answer; no contender may be wrong either.
    assert not re.search(r"\|\s*WRONG", table), table
