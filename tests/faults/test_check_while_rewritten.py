"""``verify_repository`` while the repository is pushed to, gc'd and repacked: git's own
temporaries and rename windows are not damage, so a pristine repository stays clean."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from app.git.verify import verify_repository
from tests.faults.rewrite import Writer, build_site

SECONDS = 5.0


@pytest.mark.timeout(120)
def test_verify_during_gc_reports_nothing(tmp_path: Path, fault_home: Path) -> None:
    site = build_site(tmp_path / "site", fault_home)
    writer = Writer(site, time.monotonic() + SECONDS, delete_at=time.monotonic() + SECONDS / 2)
    writer.start()
    runs, findings = 0, []
    while writer.is_alive() or runs == 0:
        report = verify_repository(site.served)
        runs += 1
        findings += [str(f) for f in report.findings]
    writer.join()
    assert writer.error is None, writer.error
    assert writer.actions["gc"] + writer.actions["repack -adf"] >= 2, writer.actions
    assert not findings, f"{len(findings)} false findings in {runs} runs: {findings[:5]}"
